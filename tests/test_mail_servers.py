"""The email channel's loopback mail servers, proven with the client libraries the channel uses:
aiosmtplib against the aiosmtpd double in its three modes, with and without AUTH, refusing as
scripted; aioimaplib against a real Dovecot: LOGIN, SELECT, UID FETCH, IDLE woken by another
client's APPEND, and a new UIDVALIDITY."""

from __future__ import annotations

import asyncio
import email.policy
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import aioimaplib
import aiosmtplib
import pytest

from tests.doubles.dovecot import DOVECOT, Dovecot, running_dovecot
from tests.doubles.smtp import Security, SmtpDouble

CREDENTIALS = ("switchboard", "smtp-double-password")
RECIPIENT = "alice@example.com"
# One mailbox per IMAP test, on one Dovecot for the module (it takes a second to stop).
READER, IDLER, RESYNCER = (
    "reader@switchboard.test",
    "idler@switchboard.test",
    "resync@switchboard.test",
)

needs_dovecot = pytest.mark.skipif(
    not DOVECOT.exists(),
    reason="needs Debian's Dovecot at /usr/sbin/dovecot (`make test` installs dovecot-imapd)",
)


def approval_request(subject: str = "Approve deploy 417?") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Switchboard <approvals@switchboard.test>"
    message["To"] = RECIPIENT
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="switchboard.test")
    message.set_content("Reply APPROVE or DENY.\n")
    return message


async def send(
    smtp: SmtpDouble, message: EmailMessage, *, login: tuple[str, str] | None = None, **options: Any
) -> dict[str, aiosmtplib.SMTPResponse]:
    """Send as the email channel would: TLS as the server's mode wants it, trusting its CA."""
    errors, _ = await aiosmtplib.send(
        message,
        hostname=smtp.host,
        port=smtp.port,
        use_tls=smtp.security is Security.IMPLICIT_TLS,
        start_tls=smtp.security is Security.STARTTLS,
        tls_context=smtp.client_context(),
        username=login and login[0],
        password=login and login[1],
        local_hostname="client.switchboard.test",
        timeout=5,
        **options,
    )
    return errors


# SMTP.


@pytest.mark.parametrize("login", [False, True], ids=["anonymous", "login"])
@pytest.mark.parametrize("security", list(Security), ids=lambda s: s.value)
async def test_aiosmtplib_sends_in_every_mode(security: Security, login: bool) -> None:
    credentials = CREDENTIALS if login else None
    async with SmtpDouble(security, credentials=credentials) as smtp:
        errors = await send(smtp, approval_request(), login=credentials)

    assert errors == {}
    [mail] = smtp.received
    assert (mail.mail_from, mail.rcpt_tos) == ("approvals@switchboard.test", (RECIPIENT,))
    assert mail.message["Subject"] == "Approve deploy 417?"
    assert mail.message.get_content() == "Reply APPROVE or DENY.\n"
    assert mail.login == (CREDENTIALS[0] if login else None)
    assert mail.tls is (security is not Security.PLAIN)


@pytest.mark.parametrize("security", list(Security), ids=lambda s: s.value)
async def test_a_server_with_credentials_refuses_mail_without_them(security: Security) -> None:
    async with SmtpDouble(security, credentials=CREDENTIALS) as smtp:
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as anonymous:
            await send(smtp, approval_request())
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as wrong:
            await send(smtp, approval_request(), login=(CREDENTIALS[0], "wrong"))

    assert anonymous.value.code == 530
    assert wrong.value.code == 535
    assert smtp.received == []


async def test_starttls_mode_refuses_mail_before_starttls() -> None:
    async with SmtpDouble(Security.STARTTLS) as smtp:
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
            await aiosmtplib.send(
                approval_request(), hostname=smtp.host, port=smtp.port, start_tls=False, timeout=5
            )

    assert refused.value.code == 530
    assert "STARTTLS" in refused.value.message


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (451, "4.7.1 Try again later"),
        (550, "5.1.1 No such user"),
        (552, "5.3.4 Message too big for system"),
    ],
)
async def test_scripted_refusals_at_data_then_acceptance(code: int, text: str) -> None:
    async with SmtpDouble(Security.STARTTLS, credentials=CREDENTIALS) as smtp:
        smtp.fail_next(code, text, times=2)
        for _ in range(2):
            with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
                await send(smtp, approval_request(), login=CREDENTIALS)
            assert isinstance(refused.value, aiosmtplib.SMTPDataError)
            assert (refused.value.code, refused.value.message) == (code, text)
        await send(smtp, approval_request("Approve deploy 418?"), login=CREDENTIALS)

    [mail] = smtp.received
    assert mail.message["Subject"] == "Approve deploy 418?"


async def test_scripted_refusals_at_rcpt() -> None:
    """aiosmtplib raises only when every recipient is refused; otherwise it reports the refused
    ones and sends to the others."""
    async with SmtpDouble() as smtp:
        smtp.fail_next(550, "5.1.1 No such user", at="RCPT")
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await send(smtp, approval_request())
        smtp.fail_next(450, "4.2.1 Mailbox busy", at="RCPT")
        errors = await send(smtp, approval_request(), recipients=["ghost@example.com", RECIPIENT])

    [recipient] = refused.value.recipients
    assert (recipient.code, recipient.message, recipient.recipient) == (
        550,
        "5.1.1 No such user",
        RECIPIENT,
    )
    assert {address: answer.code for address, answer in errors.items()} == {
        "ghost@example.com": 450
    }
    [mail] = smtp.received
    assert mail.rcpt_tos == (RECIPIENT,)


# IMAP.


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot({READER: "reader-pw", IDLER: "idler-pw", RESYNCER: "resync-pw"}) as server:
        yield server


@dataclass(frozen=True, slots=True)
class Connection:
    """An aioimaplib client logged in to Dovecot, and a future set when the server hangs up:
    aioimaplib leaves a pending command waiting for its timeout when the connection drops."""

    imap: aioimaplib.IMAP4
    lost: asyncio.Future[Exception | None]


Connect = Callable[[str], Awaitable[Connection]]


@pytest.fixture
async def connect(dovecot: Dovecot) -> AsyncIterator[Connect]:
    opened: list[Connection] = []

    async def login(user: str) -> Connection:
        lost: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()

        def hung_up(error: Exception | None) -> None:
            if not lost.done():
                lost.set_result(error)

        imap = aioimaplib.IMAP4(dovecot.host, dovecot.port, timeout=5, conn_lost_cb=hung_up)
        opened.append(Connection(imap, lost))
        await imap.wait_hello_from_server()
        assert (await imap.login(user, dovecot.users[user])).result == "OK"
        return opened[-1]

    yield login
    for connection in opened:
        if not connection.lost.done():
            await connection.imap.logout()
        # The transport closes when Dovecot's hang-up is read, after LOGOUT's answer: wait for
        # it, or the test's loop may close first and leave the socket open.
        await asyncio.wait_for(connection.lost, 5)


def uidvalidity(select: aioimaplib.Response) -> int:
    """UIDVALIDITY from a SELECT's untagged `OK [UIDVALIDITY n]`."""
    for line in select.lines:
        if found := re.search(rb"\[UIDVALIDITY (\d+)\]", line):
            return int(found.group(1))
    raise AssertionError(f"no UIDVALIDITY in {select.lines!r}")


@needs_dovecot
@pytest.mark.slow
async def test_aioimaplib_selects_and_fetches_by_uid(dovecot: Dovecot, connect: Connect) -> None:
    second = approval_request("Re: Approve deploy 418?")
    await dovecot.append(approval_request("Re: Approve deploy 417?"), user=READER)
    uid = await dovecot.append(second, user=READER)
    imap = (await connect(READER)).imap

    selected = await imap.select("INBOX")
    fetched = await imap.uid("fetch", str(uid), "(UID BODY.PEEK[])")

    assert selected.result == "OK"
    assert b"2 EXISTS" in selected.lines
    assert uidvalidity(selected) == await dovecot.uidvalidity(user=READER)
    assert fetched.result == "OK"
    # A FETCH answer comes as its first line, the literal (a bytearray), and the closing ")".
    assert fetched.lines[0].startswith(f"2 FETCH (UID {uid} BODY[]".encode())
    assert fetched.lines[1] == second.as_bytes(policy=email.policy.SMTP)
    # PEEK: nothing was marked read.
    assert all("\\Seen" not in m.flags for m in await dovecot.messages(user=READER))


@needs_dovecot
@pytest.mark.slow
async def test_idle_wakes_when_another_connection_appends(
    dovecot: Dovecot, connect: Connect
) -> None:
    imap = (await connect(IDLER)).imap
    await imap.select("INBOX")
    idle = await imap.idle_start(timeout=30)

    uid = await dovecot.append(approval_request("Re: Approve deploy 417?"), user=IDLER)
    pushed = await imap.wait_server_push(timeout=5)
    imap.idle_done()
    done = await asyncio.wait_for(idle, 5)
    fetched = await imap.uid("fetch", str(uid), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")

    assert b"1 EXISTS" in pushed
    assert done.result == "OK"
    assert bytes(fetched.lines[1]).strip() == b"Subject: Re: Approve deploy 417?"


@needs_dovecot
@pytest.mark.slow
async def test_a_new_uidvalidity_hangs_up_and_shows_on_the_next_select(
    dovecot: Dovecot, connect: Connect
) -> None:
    await dovecot.append(approval_request("Re: Approve deploy 417?"), user=RESYNCER)
    before = await connect(RESYNCER)
    old = uidvalidity(await before.imap.select("INBOX"))
    idle = await before.imap.idle_start(timeout=30)

    new = await dovecot.change_uidvalidity(user=RESYNCER)
    # The idling session learns of it when something wakes it: the next message.
    await dovecot.append(approval_request("Re: Approve deploy 418?"), user=RESYNCER)
    pushed = await before.imap.wait_server_push(timeout=5)
    idle.cancel()  # Dovecot hung up: the IDLE's tagged answer never comes
    after = (await connect(RESYNCER)).imap
    selected = await after.select("INBOX")
    listed = await after.uid_search("ALL")

    assert new != old
    assert pushed == [b"BYE IMAP session state is inconsistent, please relogin."]
    assert await asyncio.wait_for(before.lost, 5) is None
    assert uidvalidity(selected) == new
    assert listed.lines[0].split() == [b"1", b"2"]
