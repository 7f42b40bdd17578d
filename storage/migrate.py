"""Alembic, driven from code: `switchboard db upgrade` (storage/schema.py checks the revisions).

One history per owner: the platform's branch, and one branch per installed agent that has
tables (storage/locations.py). Upgrading takes every branch to its head.
"""

from __future__ import annotations

import os

from alembic import command
from alembic.config import Config

from core.errors import Misconfigured
from storage.engine import normalize_url
from storage.locations import PLATFORM, version_locations
from storage.schema import unknown_versions


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(PLATFORM))
    config.set_main_option("path_separator", "os")
    config.set_main_option(
        "version_locations", os.pathsep.join(str(p).replace("%", "%%") for p in version_locations())
    )
    config.set_main_option("sqlalchemy.url", normalize_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    unknown = unknown_versions(database_url)
    if unknown:
        raise Misconfigured(
            f"the database is at schema revisions that neither Switchboard nor an installed agent"
            f" has ({', '.join(sorted(unknown))}): install the agent that made them again, or run"
            " the Switchboard that migrated this database"
        )
    command.upgrade(alembic_config(database_url), "heads")
