"""Where the migrations live: the platform's, and each installed agent's own.

An agent owns its tables: their revisions sit in a `migrations` folder in the agent's package
(the package of the module its `switchboard.agents` entry point names), as an Alembic branch
of their own. Storage finds them through the entry points at run time and imports no agent.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from importlib.util import find_spec
from pathlib import Path

PLATFORM = Path(__file__).with_name("migrations")  # env.py, and the platform's branch
PLATFORM_VERSIONS = PLATFORM / "versions"


def agent_migrations() -> list[Path]:
    """The `migrations` folder of each installed agent that has one (without importing it)."""
    folders: list[Path] = []
    for ep in entry_points(group="switchboard.agents"):
        package = _package_dir(ep.module)
        if package is not None and (package / "migrations").is_dir():
            folders.append(package / "migrations")
    return sorted(set(folders))  # two agents of one package share its folder


def version_locations() -> list[Path]:
    return [PLATFORM_VERSIONS, *agent_migrations()]


def _package_dir(module: str) -> Path | None:
    spec = find_spec(module)
    if spec is None:
        raise LookupError(f"the agent module {module} is not installed")
    if spec.submodule_search_locations:  # a package: its own folder
        return Path(next(iter(spec.submodule_search_locations)))
    if spec.parent and spec.origin:  # a module in a package: the package's folder
        return Path(spec.origin).parent
    return None  # a top-level module has no package to keep migrations in
