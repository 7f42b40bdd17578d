"""The deploy agent's Alembic revisions (branch `deploy`), run by `switchboard db upgrade`."""
