"""Checking a callback from Switchboard: `Switchboard-Signature: t=<unix seconds>,v1=<hex>`,
HMAC-SHA256 over `<t>.<body>` keyed with the caller's webhook secret."""

from __future__ import annotations

import hashlib
import hmac
import time

from switchboard_client.models import Decision

TOLERANCE = 300  # seconds a signature stays good: a replay after that is refused


def verify(secret: str, header: str, body: bytes, *, tolerance: int = TOLERANCE) -> bool:
    """Whether `body` came from Switchboard, signed with `secret`, within `tolerance` seconds."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        stamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(time.time() - stamp) <= tolerance and hmac.compare_digest(given, expected)


def decision_of(secret: str, header: str, body: bytes) -> Decision:
    """The settled request a callback carries; ValueError if it is not Switchboard's."""
    if not verify(secret, header, body):
        raise ValueError("not signed by Switchboard with this secret, or too old")
    return Decision.model_validate_json(body)
