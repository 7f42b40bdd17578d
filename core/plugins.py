"""Implementations found by name at start-up: core declares protocols and never imports them."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Protocol

from core.errors import Misconfigured
from core.store import Store


class Backend(Protocol):
    def open(self, database_url: str) -> Store: ...

    def upgrade(self, database_url: str) -> None: ...

    def is_current(self, database_url: str) -> bool: ...


def load_backend(name: str = "sql") -> Backend:
    found = {ep.name: ep for ep in entry_points(group="switchboard.backends")}
    if name not in found:
        raise Misconfigured(f"no storage backend {name!r}; installed: {', '.join(found) or 'none'}")
    backend: Backend = found[name].load()
    return backend
