"""Agents outside, each with a key of its own: who they are, whom they may ask.

A key is shown once, when it is made; the store keeps its SHA-256 (a key is 256 random bits:
no salt or slow hash needed to keep it from being guessed back). The operator's API token stays
the operator's: a caller's key asks people and reads its own requests, nothing else.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from core.errors import NotAllowed, Taken
from core.records import Caller, Person
from core.routing import expand
from core.store import Callers

KEY_PREFIX = "sbk_"  # tells a caller's key from the operator's token at a glance (and in a leak)
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
ANYONE = "*"
OPERATOR_CALLER = "operator"  # who asks with the API token; no key's name


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode(errors="surrogatepass")).hexdigest()


def looks_like_a_key(value: str | None) -> bool:
    return value is not None and value.startswith(KEY_PREFIX)


@dataclass(frozen=True, slots=True)
class NewCaller:
    caller: Caller
    key: str  # shown once


async def add(store: Callers, name: str, scope: Sequence[str], now: datetime) -> NewCaller:
    """A new caller with a fresh key; ValueError for a name or scope that cannot be, Taken
    when the name is taken (a revoked caller's too: names in the timeline stay unambiguous)."""
    if not NAME.match(name) or name == OPERATOR_CALLER:
        raise ValueError(
            f"{name!r} cannot name a caller: lower-case letters, digits, '.', '_' and '-'"
        )
    if not scope:
        raise ValueError("a caller needs a scope: the people or role:NAMEs it may ask, or '*'")
    caller = Caller(
        name=name, scope=list(dict.fromkeys(scope)), created_at=now, secret=secrets.token_hex(32)
    )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    if not await store.add_caller(caller, key_hash(key)):
        raise Taken(f"there is a caller named {name} already: choose another name")
    return NewCaller(caller, key)


def may_ask(caller: Caller, entry: str, people: Sequence[Person]) -> bool:
    """Whether `entry` (a person id or `role:NAME`) is within the caller's scope: a role only
    when the scope names it; a person when the scope names them or a role of theirs."""
    if ANYONE in caller.scope or entry in caller.scope:
        return True
    if entry.startswith("role:"):
        return False
    return any(f"role:{role}" in caller.scope for p in expand(entry, people) for role in p.roles)


def check_scope(caller: Caller, to: Sequence[str], people: Sequence[Person]) -> None:
    outside = [entry for entry in to if not may_ask(caller, entry, people)]
    if outside:
        raise NotAllowed(
            f"the caller {caller.name} may not ask {', '.join(outside)}: its scope is"
            f" {', '.join(caller.scope)}"
        )
