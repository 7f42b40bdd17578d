"""Alembic environment: migrations run on the engine our settings build."""

from alembic import context
from sqlmodel import SQLModel

import agents.deploy.tables
import agents.support.tables
import storage.tables  # noqa: F401 - registers the tables on SQLModel.metadata
from storage.engine import make_engine

_ = (agents.deploy.tables, agents.support.tables)


def run() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
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
