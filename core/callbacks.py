"""A caller's callback: its settled request, posted to the URL it gave, signed.

The body is the request's record (RequestInfo, JSON). The `Switchboard-Signature` header is
`t=<unix seconds>,v1=<hex>`, where the hex is HMAC-SHA256, keyed with the caller's webhook secret
(shown once by `switchboard callers add`), over `<t>.<body>`. A receiver recomputes it, compares
in constant time, and refuses a `t` too far from its clock. Requests the operator asked with the
API token are signed with a key drawn from the token (`operator_secret`).

Deliveries are outbox rows on the channel `callback`: retried with backoff when the receiver
fails (5xx, 408, 429, no answer), dead after a 4xx, and shown in the console like any other.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Protocol

import httpx

from core.channels import DeliveryFailed
from core.records import OutboxItem
from core.store import Callers, Queries, Sending

CALLBACK = "callback"  # the outbox's channel name for callback deliveries
TIMEOUT = 10.0  # seconds a receiver has to answer


def operator_secret(api_token: str) -> str:
    return hashlib.sha256(b"switchboard callbacks\n" + api_token.encode()).hexdigest()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


class CallbackStore(Queries, Sending, Callers, Protocol):
    """What a delivery reads: the request and its caller's secret; and where it records."""


class Callbacks:
    def __init__(self, store: CallbackStore, operator: str) -> None:
        self.store = store
        self.operator = operator  # the operator's secret (operator_secret)
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        """Made at the first callback: its TLS set-up costs 0.1 s, which no CLI command pays."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=TIMEOUT)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def send(self, item: OutboxItem) -> None:
        """Post the settled request; DeliveryFailed for the outbox to retry or bury."""
        request = await self.store.request(item.request_id or "")
        if request is None or not item.address:
            raise DeliveryFailed("nothing to post: the request or its URL is gone", retry=False)
        caller = await self.store.caller(request.caller) if request.caller else None
        secret = caller.secret if caller is not None else self.operator
        body = request.model_dump_json().encode()
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Switchboard-Event": "request.settled",
            "Switchboard-Delivery": str(item.id),  # the same on each retry: receivers dedupe
            "Switchboard-Signature": f"t={stamp},v1={signature(secret, stamp, body)}",
        }
        try:
            answer = await self.client.post(item.address, content=body, headers=headers)
        except httpx.HTTPError as e:
            raise DeliveryFailed(f"{item.address} did not answer: {type(e).__name__}") from None
        if answer.is_success:
            await self.store.outbox_sent(
                item.id,
                message_id=f"{CALLBACK}-{item.id}",
                conversation="",
                payload={"status": answer.status_code},
            )
            return
        again = answer.status_code >= 500 or answer.status_code in (408, 429)
        wait = answer.headers.get("retry-after", "")
        raise DeliveryFailed(
            f"{item.address} answered {answer.status_code}",
            retry=again,
            retry_after=float(wait) if wait.isdigit() else None,
        )
