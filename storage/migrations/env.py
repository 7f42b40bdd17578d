"""Alembic environment: migrations run on the engine our settings build."""

from alembic import context
from sqlmodel import SQLModel

import storage.tables  # noqa: F401 - registers the platform's tables on SQLModel.metadata
from core.agent import discover_agents
from storage.engine import make_engine


def run() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    # Each installed agent's tables join the metadata as its modules load (for autogenerate).
    discover_agents()
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=SQLModel.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
