"""The support agent's Alembic revisions (branch `support`), run by `switchboard db upgrade`."""
