"""A real SMTP server for the email channel's tests: aiosmtpd on 127.0.0.1, capturing mail.

`SmtpDouble` runs on the test's event loop, on an ephemeral port, in one of three `Security`
modes: plain, STARTTLS (required before MAIL), or implicit TLS (TLS from the first byte, "SMTPS",
port 465's way). TLS uses a throwaway CA and certificate made by trustme for `localhost` and
127.0.0.1; `client_context()` trusts it (`ca_pem` is the CA, for a client set up from a file).
Given `credentials`, it offers AUTH PLAIN and LOGIN (after STARTTLS in that mode, as real
servers do) and refuses mail from a client that has not logged in (530 5.7.0)::

    async with SmtpDouble(Security.STARTTLS, credentials=("bot", "secret")) as smtp:
        await aiosmtplib.send(message, hostname=smtp.host, port=smtp.port, start_tls=True,
                              tls_context=smtp.client_context(), username="bot", password="secret")
        assert smtp.received[0].message["Subject"] == ...

Every accepted message is kept in `received`, envelope and raw bytes, parsed with the email
package's modern policy. Faults are scripted with `fail_next`: the next messages (at DATA) or
recipients (at RCPT) are answered with the given code, such as 451 4.7.1, 550 5.1.1 or 552.
"""

from __future__ import annotations

import asyncio
import email.policy
import enum
import ssl
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import Any, Literal

import trustme
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
HOSTNAME = "smtp.switchboard.test"
"""What the server calls itself in its greeting and EHLO answer (never looked up)."""

Stage = Literal["RCPT", "DATA"]


class Security(enum.Enum):
    PLAIN = "plain"
    STARTTLS = "starttls"
    IMPLICIT_TLS = "implicit-tls"


@dataclass(frozen=True, slots=True)
class ReceivedMail:
    """An accepted message: its envelope, raw bytes as sent after DATA, and how it came."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    login: str | None
    tls: bool

    @property
    def message(self) -> EmailMessage:
        """The message parsed with the modern policy. CRLFs become "\\n" first: the parser
        keeps line endings as it finds them, in headers' and bodies' text."""
        raw = self.raw.replace(b"\r\n", b"\n")
        parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass(frozen=True, slots=True)
class _Fault:
    stage: Stage
    reply: str


class SmtpDouble:
    """An SMTP server on 127.0.0.1 (ephemeral port) while the context is open."""

    def __init__(
        self,
        security: Security = Security.PLAIN,
        *,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.security = security
        self.credentials = credentials
        self.host = HOST
        self.received: list[ReceivedMail] = []
        self._faults: deque[_Fault] = deque()
        self._ca = trustme.CA()
        self._server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert("localhost", HOST).configure_cert(self._server_context)
        self._server: asyncio.Server | None = None
        self._sessions: list[SMTP] = []

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the SMTP double is not running: use `async with SmtpDouble()`")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def ca_pem(self) -> bytes:
        """The throwaway CA's certificate, PEM."""
        return self._ca.cert_pem.bytes()

    def client_context(self) -> ssl.SSLContext:
        """A client's default TLS context that trusts the server's certificate."""
        context = ssl.create_default_context()
        self._ca.configure_trust(context)
        return context

    async def __aenter__(self) -> SmtpDouble:
        implicit = self.security is Security.IMPLICIT_TLS
        self._server = await asyncio.get_running_loop().create_server(
            self._session, HOST, 0, ssl=self._server_context if implicit else None
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for session in self._sessions:
            if session.transport is not None:
                session.transport.close()
        await self._server.wait_closed()
        self._server = None

    def fail_next(self, code: int, text: str, *, times: int = 1, at: Stage = "DATA") -> None:
        """Answer the next `times` messages (at the end of DATA) or recipients (at RCPT TO) with
        `code` and `text`, e.g. 451 "4.7.1 Try again later", 550 "5.1.1 No such user",
        552 "5.3.4 Message too big"; other commands and stages go on as usual."""
        self._faults.extend([_Fault(at, f"{code} {text}")] * times)

    def _session(self) -> SMTP:
        starttls = self.security is Security.STARTTLS
        session = SMTP(
            self,
            hostname=HOSTNAME,
            tls_context=self._server_context if starttls else None,
            require_starttls=starttls,
            # aiosmtpd only knows of TLS it negotiated itself (STARTTLS); on implicit TLS, and
            # on plain connections, it must be told AUTH may go ahead without it. Refusing mail
            # to clients that did not log in is done in handle_MAIL: aiosmtpd's own
            # `auth_required` warns (an error here) when TLS is not also required.
            auth_require_tls=starttls,
            authenticator=self._authenticate,
            loop=asyncio.get_running_loop(),
        )
        self._sessions.append(session)
        return session

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        # PLAIN and LOGIN, aiosmtpd's own mechanisms, both hand over a LoginPassword.
        assert isinstance(data, LoginPassword)
        login, password = data.login.decode(), data.password.decode()
        # handled=False: aiosmtpd answers 235 or 535 itself (by default it expects us to have).
        ok = (login, password) == self.credentials
        return AuthResult(success=ok, handled=False, auth_data=login)

    # aiosmtpd's handler hooks.

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if fault := self._fault("RCPT"):
            return fault
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if fault := self._fault("DATA"):
            return fault
        raw = envelope.original_content or b""
        self.received.append(
            ReceivedMail(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                raw=raw,
                login=session.auth_data if session.authenticated else None,
                tls=session.ssl is not None or self.security is Security.IMPLICIT_TLS,
            )
        )
        return "250 2.0.0 OK: queued"

    def _fault(self, stage: Stage) -> str | None:
        if self._faults and self._faults[0].stage == stage:
            return self._faults.popleft().reply
        return None
