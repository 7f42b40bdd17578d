"""People sign in to the console as themselves: a one-time link, then a session of their own.

A link carries a random code; the server keeps only the code's hash, with the person and when it
expires, in the service settings (every process shares them), and removes it on first use, in the
same statement that reads it: two clicks racing on one link sign in once. A
session is a cookie naming the person and its expiry, signed with a key drawn from the API token:
changing the token ends every session. The API token itself stays the operator's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from core.store import Coordination

LINK_SECONDS = 15 * 60  # a sign-in link works this long, once
SESSION_SECONDS = 12 * 60 * 60


def _key(code: str) -> str:
    return "signin:" + hashlib.sha256(code.encode(errors="surrogatepass")).hexdigest()


async def new_code(store: Coordination, person_id: str, *, now: float | None = None) -> str:
    """A fresh one-time code for `person_id`, valid for LINK_SECONDS."""
    code = secrets.token_urlsafe(24)
    until = (now or time.time()) + LINK_SECONDS
    await store.save_service_setting(_key(code), f"{person_id} {until:.0f}")
    return code


async def sign_in_link(store: Coordination, public_url: str, person_id: str) -> str:
    """A one-time sign-in link for `person_id` on the console at `public_url`."""
    code = await new_code(store, person_id)
    return f"{public_url.rstrip('/')}/login/link?code={code}"  # token_urlsafe: nothing to quote


async def redeem(store: Coordination, code: str, *, now: float | None = None) -> str | None:
    """The person a code signs in, once; None for a code unknown, used or expired."""
    kept = await store.take_service_setting(_key(code))
    if kept is None:
        return None
    person_id, _, until = kept.rpartition(" ")
    return person_id if (now or time.time()) <= float(until) else None


def session_key(api_token: str) -> bytes:
    return hashlib.sha256(b"switchboard person sessions\n" + api_token.encode()).digest()


def session(key: bytes, person_id: str, *, now: float | None = None) -> str:
    """A signed session value for `person_id`, valid for SESSION_SECONDS."""
    body = f"{person_id}|{(now or time.time()) + SESSION_SECONDS:.0f}"
    return f"{body}|{_mac(key, body)}"


def session_person(key: bytes, value: str | None, *, now: float | None = None) -> str | None:
    """Whom a session value names, if it is ours and not expired."""
    if not value or value.count("|") != 2:
        return None
    body, _, mac = value.rpartition("|")
    if not hmac.compare_digest(mac.encode(errors="surrogatepass"), _mac(key, body).encode()):
        return None
    person_id, _, until = body.rpartition("|")
    try:
        fresh = (now or time.time()) <= float(until)
    except ValueError:
        return None
    return person_id if fresh else None


def _mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(errors="surrogatepass"), hashlib.sha256).hexdigest()
