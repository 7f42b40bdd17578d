"""Mail in: the mailbox read over IMAP with aioimaplib, as the email channel's listener.

It logs in, selects IMAP_MAILBOX and reads every message after the last one it stored, by UID,
with `BODY.PEEK[]` (the mailbox's own \\Seen flags are left as the person set them). Its place is
`<UIDVALIDITY>:<last UID>:<day>` in the listener's cursor: saved after each message is handed in
and stored, so a restart neither skips nor repeats one (a message handed in twice, after a crash
in between, is dropped by the inbox as a duplicate). At its very first start it reads only what
arrives from then on: a mailbox's history is not answered. When the server says the mailbox's
UIDVALIDITY changed (it was rebuilt), its UIDs mean nothing any more: what arrived since the day
of the last read is read again, and the inbox drops what it already has. Then it waits: IMAP
IDLE, begun again before the 29 minutes after which a server may drop it; a server without IDLE
is asked again every POLL_SECONDS.

A dropped connection raises, and the service opens it again after a backoff. On PostgreSQL one
process reads the mailbox at a time (the lock below).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

import aioimaplib

from core.channels import Cursor, Deliver, Inbound, Malformed

log = logging.getLogger("switchboard.email")

IDLE_SECONDS = 25 * 60  # begun again before the 29 minutes a server may drop an IDLE after
POLL_SECONDS = 60.0  # a server without IDLE is asked this often
TIMEOUT = 30.0
GOODBYE_SECONDS = 2.0  # how long a closing connection waits for the server's goodbye
UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")

Security = Literal["none", "tls"]


class MailboxError(ConnectionError):
    """The server said no (a login, a SELECT, a FETCH): the listener starts again later."""


class MailboxListener:
    lock = "email-mailbox"

    def __init__(
        self,
        read: Callable[[bytes], list[Inbound]],
        host: str,
        port: int,
        security: Security,
        username: str,
        password: str,
        mailbox: str = "INBOX",
        *,
        tls_context: ssl.SSLContext | None = None,
        idle_seconds: float = IDLE_SECONDS,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.read = read  # the codec's reading of one raw message
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.mailbox = mailbox
        self.tls_context = tls_context
        self.idle_seconds = idle_seconds
        self.poll_seconds = poll_seconds

    async def listen(self, deliver: Deliver, cursor: Cursor) -> None:
        lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def hung_up(_error: Exception | None) -> None:
            if not lost.done():
                lost.set_result(None)

        client = await self._open(hung_up)
        try:
            validity = await self._select(client)
            last = await self._resume(client, cursor, validity)
            while True:
                for uid in await self._after(client, last):
                    await self._take(client, uid, deliver)
                    last = uid
                    await cursor.save(_position(validity, last))
                await self._wait(client)
        finally:
            # Logged out, the socket closes once the server's goodbye is read: wait for that,
            # and close it ourselves if the server says nothing (a command was cut short).
            with contextlib.suppress(TimeoutError, aioimaplib.Abort, OSError):
                if not lost.done():
                    await asyncio.wait_for(client.logout(), GOODBYE_SECONDS)
                await asyncio.wait_for(asyncio.shield(lost), GOODBYE_SECONDS)
            if not lost.done() and client.protocol.transport is not None:
                client.protocol.transport.close()

    async def _open(self, hung_up: Callable[[Exception | None], object]) -> aioimaplib.IMAP4:
        if self.security == "tls":
            context = self.tls_context or ssl.create_default_context()
            client: aioimaplib.IMAP4 = aioimaplib.IMAP4_SSL(
                self.host, self.port, timeout=TIMEOUT, ssl_context=context
            )
            client.protocol.conn_lost_cb = hung_up
        else:
            client = aioimaplib.IMAP4(self.host, self.port, timeout=TIMEOUT, conn_lost_cb=hung_up)
        await client.wait_hello_from_server()
        _ok(await client.login(self.username, self.password), "LOGIN")
        return client

    async def _select(self, client: aioimaplib.IMAP4) -> str:
        selected = _ok(await client.select(self.mailbox), f"SELECT {self.mailbox}")
        for line in selected.lines:
            found = UIDVALIDITY.search(line if isinstance(line, bytes) else bytes(line))
            if found:
                return found.group(1).decode()
        raise MailboxError(f"{self.mailbox}: the server gave no UIDVALIDITY")

    async def _resume(self, client: aioimaplib.IMAP4, cursor: Cursor, validity: str) -> int:
        """The last UID read. At the first start, the newest there: mail from before
        Switchboard read this mailbox is left alone. When UIDVALIDITY changed (the mailbox was
        rebuilt), the UID before the first mail that arrived since the day of the last read:
        those are read again, and the inbox drops the ones it already has."""
        saved = await cursor.get()
        was, _, rest = (saved or "").partition(":")
        last, _, day = rest.partition(":")
        if saved is not None and was == validity and last.isdigit():
            return int(last)
        if saved is None or not day:
            newest = max(await self._search(client, "ALL"), default=0)
            log.info(
                "email: reading %s from now on: the %d messages already there are left alone",
                self.mailbox,
                newest,
            )
            await cursor.save(_position(validity, newest))
            return newest
        since = await self._search(client, "SINCE", day)
        log.warning(
            "email: %s's UIDVALIDITY changed (%s, was %s): reading again what arrived since %s;"
            " the inbox drops what it already has",
            self.mailbox,
            validity,
            was,
            day,
        )
        return min(since, default=max(await self._search(client, "ALL"), default=1)) - 1

    async def _search(self, client: aioimaplib.IMAP4, *criteria: str) -> list[int]:
        found = _ok(await client.uid_search(*criteria), f"UID SEARCH {' '.join(criteria)}")
        return [int(u) for line in found.lines[:-1] for u in bytes(line).split() if u.isdigit()]

    async def _after(self, client: aioimaplib.IMAP4, last: int) -> list[int]:
        """The UIDs after `last`, in order ("n:*" names the newest message even below n)."""
        return sorted(
            u for u in set(await self._search(client, "UID", f"{last + 1}:*")) if u > last
        )

    async def _take(self, client: aioimaplib.IMAP4, uid: int, deliver: Deliver) -> None:
        fetched = _ok(await client.uid("fetch", str(uid), "(BODY.PEEK[])"), f"UID FETCH {uid}")
        raw = next((bytes(line) for line in fetched.lines if isinstance(line, bytearray)), None)
        if raw is None:
            log.warning("email: message %d is gone from %s before it was read", uid, self.mailbox)
            return
        try:
            items = await asyncio.to_thread(self.read, raw)  # a crafted mail costs CPU: not here
        except Malformed as e:  # kept in the mailbox, logged, passed over
            log.warning("email: message %d in %s is not a mail: %s", uid, self.mailbox, e)
            return
        except Exception:  # a mail that breaks the reader must not stop the mailbox at it
            log.exception(
                "email: message %d in %s could not be read: passed over", uid, self.mailbox
            )
            return
        for item in items:
            await deliver(item)

    async def _wait(self, client: aioimaplib.IMAP4) -> None:
        """Until the server says something changed, or it is time to ask again."""
        if not client.has_capability("IDLE"):
            await asyncio.sleep(self.poll_seconds)
            _ok(await client.noop(), "NOOP")
            return
        idle = await client.idle_start(timeout=self.idle_seconds)
        try:
            await client.wait_server_push(timeout=self.idle_seconds)
        except TimeoutError:
            pass  # begun again: a server may drop an IDLE older than 29 minutes
        finally:
            client.idle_done()
            await asyncio.wait_for(idle, TIMEOUT)


def _position(validity: str, last: int) -> str:
    """UIDVALIDITY, the last UID read, and the day it was read (IMAP's SINCE takes days)."""
    return f"{validity}:{last}:{datetime.now(UTC):%d-%b-%Y}"


def _ok(response: aioimaplib.Response, what: str) -> aioimaplib.Response:
    if response.result != "OK":
        said = b" ".join(bytes(line) for line in response.lines).decode(errors="replace")
        raise MailboxError(f"{what}: {response.result} {said}")
    return response
