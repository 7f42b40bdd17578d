"""Mail out through SMTP with aiosmtplib, and the server checked at start-up.

Each payload (compose.py) becomes its MIME message here, dated as it leaves; its Message-ID comes
from the outbox row's idempotency key, so a retried send is the same mail to its recipient, who
sees it once. SMTP_SECURITY says how the connection is protected: `tls` from the first byte
(port 465), `starttls` upgraded (port 587), `none` (a relay on the same host); with
SMTP_USERNAME set, it logs in.

SMTP's answers are sorted once, here: a 4xx (try later, greylisted) and a dropped connection
are retried by the outbox; a 5xx for the recipient (no such mailbox, 550/551/553) means the person
cannot be reached by mail, and a request goes to their next channel; any other 5xx is permanent,
with the server's words. A mail sent cannot be changed: an outcome is a new mail in the thread.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import aiosmtplib

from channels.email.compose import mime
from core.channels import DeliveryFailed, OutboundMessage, Receipt
from core.errors import Misconfigured

TIMEOUT = 30.0
UNREACHABLE = frozenset({550, 551, 553})  # the mailbox does not exist, or is not taken here

Security = Literal["none", "starttls", "tls"]


class SmtpTransport:
    def __init__(
        self,
        host: str,
        port: int,
        security: Security,
        username: str | None = None,
        password: str | None = None,
        *,
        tls_context: ssl.SSLContext | None = None,  # the system's trust by default
    ) -> None:
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.tls_context = tls_context

    async def check(self) -> None:
        """The server answers, its TLS is trusted, and it takes the login."""
        client = aiosmtplib.SMTP(**self._connection())
        try:
            await client.connect()
            if self.username is not None:
                await client.login(self.username, self.password or "")
            await client.quit()
        except aiosmtplib.SMTPAuthenticationError:
            raise Misconfigured(
                f"email: {self.host} refused SMTP_USERNAME and SMTP_PASSWORD (an app password,"
                " where the provider asks for one: see docs/email.md)"
            ) from None
        except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as e:
            raise Misconfigured(
                f"email: cannot reach SMTP at {self.host}:{self.port}"
                f" (SMTP_SECURITY={self.security}): {e or type(e).__name__}"
            ) from None

    async def send(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        try:
            mail = mime(payload, date=datetime.now(UTC))
        except ValueError as e:  # an address mail cannot carry: no retry, nor this channel
            raise DeliveryFailed(f"not a mail: {e}", retry=False, unreachable=True) from None
        try:
            await aiosmtplib.send(
                mail,
                username=self.username,
                password=self.password,
                **self._connection(),
            )
        except aiosmtplib.SMTPRecipientsRefused as e:
            [refused, *_] = e.recipients
            raise _refused(refused.code, refused.message) from None
        except aiosmtplib.SMTPResponseException as e:
            raise _refused(e.code, e.message) from None
        except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as e:
            raise DeliveryFailed(f"SMTP unreachable: {e or type(e).__name__}") from None
        return Receipt(str(payload["message_id"]), str(payload["conversation"]))

    async def edit(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        """A mail cannot be changed once sent: an outcome is a new one, in the same thread."""
        return await self.send(message, payload)

    async def close(self) -> None:
        return None  # a connection per mail: nothing is kept open

    def _connection(self) -> Mapping[str, Any]:
        return {
            "hostname": self.host,
            "port": self.port,
            "use_tls": self.security == "tls",
            "start_tls": self.security == "starttls",
            "tls_context": self.tls_context,
            "timeout": TIMEOUT,
        }


def _refused(code: int, text: str) -> DeliveryFailed:
    failure = f"SMTP {code}: {text}"
    if 400 <= code < 500:
        return DeliveryFailed(failure)
    return DeliveryFailed(failure, retry=False, unreachable=code in UNREACHABLE)
