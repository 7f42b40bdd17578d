"""The email codec: a request's mail carries its token, a reply to it decides (or, without the
token or a trusted DKIM pass, decides nothing), threads hold together by their first Message-ID
and subject, bounces fail the delivery they are about, and auto-replies are no answers."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default

import pytest

from channels.email.codec import EmailCodec, parse_conversation
from channels.email.compose import mime
from channels.email.mailbox import MailboxListener
from channels.email.transport import SmtpTransport
from channels.sandbox import sandboxed
from core.channels import (
    Acknowledged,
    Action,
    Channel,
    Codec,
    DeliveryFailed,
    DeliveryStatus,
    Inbound,
    InboundMessage,
    OutboundMessage,
    RawRequest,
    RequestContext,
)
from core.errors import Misconfigured
from core.events import AnswerRefused
from core.humans import Approve, Reject
from core.inbox import interpret
from core.previews import Button
from core.records import Person
from core.settings import Settings
from core.timeline import describe
from tests.contract.contract import ChannelContract, Kit
from tests.doubles.dovecot import DOVECOT, Dovecot, running_dovecot
from tests.doubles.smtp import Security, SmtpDouble
from tests.fixtures import eventually, running, service_settings, simulator
from tests.test_inbox import request

CODEC = EmailCodec("Switchboard <agents@example.com>", b"test-secret")
TRUSTING = EmailCodec(
    "Switchboard <agents@example.com>", b"test-secret", trusted_authserv_id="mx.example.com"
)
ALICE = "alice@example.com"
APPROVAL = OutboundMessage(
    kind="request",
    text="Approve deploy api 2.4.1 to production?",
    address=ALICE,
    request_id="req-0000000001",
    request_kind="approval",
    idempotency_key="outbox:7:0",
    reply_code="417",
    context=RequestContext(
        question="Approve deploy api 2.4.1 to production?",
        requester="Bob",
        agent="deploy",
        tool="deploy",
        arguments={"service": "api", "version": "2.4.1"},
    ),
)
NOW = datetime(2026, 11, 30, 9, 12, tzinfo=UTC)


def sent(message: OutboundMessage = APPROVAL) -> EmailMessage:
    """The mail as it left: the payload, written out."""
    return mime(CODEC.render(message), date=NOW)


def reply(
    to: EmailMessage,
    body: str,
    *,
    sender: str = f"Alice Example <{ALICE}>",
    address: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """A reply as Gmail writes it: to the Reply-To, threaded under the mail, quoting it."""
    mail = EmailMessage(policy=default)
    mail["From"] = sender
    mail["To"] = address or str(to["Reply-To"] or to["From"])
    mail["Subject"] = f"Re: {to['Subject']}"
    mail["Date"] = NOW
    mail["Message-ID"] = "<CAF=reply-1@mail.gmail.com>"
    mail["In-Reply-To"] = str(to["Message-ID"])
    mail["References"] = str(to["Message-ID"])
    for name, value in (headers or {}).items():
        mail[name] = value
    quoted = "\n".join(f"> {line}" for line in (to.get_body(("plain",)).get_content()).splitlines())  # type: ignore[union-attr]
    mail.set_content(
        f"{body}\n\nOn Mon, 30 Nov 2026 at 09:12, Switchboard <agents@example.com> wrote:\n{quoted}\n"
    )
    return bytes(mail)


def one(items: list[object]) -> InboundMessage:
    [item] = items
    assert isinstance(item, InboundMessage)
    return item


def test_a_reply_approve_to_the_requests_address_approves_it_in_its_thread() -> None:
    asked = sent()
    assert str(asked["Reply-To"]).startswith("agents+req-0000000001.")
    read = one(CODEC.read(reply(asked, "APPROVE")))
    assert read.action == Action(request_id="req-0000000001")  # the token: which request
    assert read.unvouched == "" and read.sender == ALICE and read.sender_name == "Alice Example"
    assert read.conversation == CODEC.render(APPROVAL)["conversation"]
    assert read.text == "APPROVE"  # the quoted request is not part of it
    assert interpret(read, request()) == Approve("")  # and the inbox reads it as any reply

    greeted = one(CODEC.read(reply(asked, "Hi Switchboard,\n\nApprove\n\nThanks, Alice")))
    assert greeted.text == "Approve"  # the greeting above it and the sign-off below: gone
    assert interpret(greeted, request()) == Approve("")
    rejected = one(CODEC.read(reply(asked, "Reject: not during the freeze, please")))
    assert rejected.action == Action(request_id="req-0000000001")
    assert interpret(rejected, request()) == Reject("not during the freeze, please")


def test_without_its_token_a_reply_decides_nothing() -> None:
    asked = sent()
    forwarded = one(CODEC.read(reply(asked, "APPROVE", sender="Mallory <mallory@example.net>")))
    guessed = one(
        CODEC.read(
            reply(asked, "APPROVE", address="agents+req-0000000001.0000000000000000@example.com")
        )
    )
    plain = one(CODEC.read(reply(asked, "APPROVE", address="agents@example.com")))
    accented = one(CODEC.read(reply(asked, "APPROVE", address="agents+réq-1.00ü@example.com")))
    for read in (forwarded, guessed, plain, accented):
        assert read.action is None and read.text == "APPROVE"
        assert read.unvouched == (
            "it came without the request's token: reply to the request's own email"
        )


def test_with_a_trusted_authserv_id_only_its_dkim_or_dmarc_pass_vouches() -> None:
    asked = mime(TRUSTING.render(APPROVAL), date=NOW)
    trusted = "mx.example.com; dkim=pass header.d=example.com; dmarc=pass header.from=example.com"
    claimed = "evil.example.net; dkim=pass header.d=example.com; dmarc=pass header.from=example.com"
    passed = one(
        TRUSTING.read(reply(asked, "APPROVE", headers={"Authentication-Results": trusted}))
    )
    assert passed.action is not None and passed.unvouched == ""
    forged = one(
        TRUSTING.read(reply(asked, "APPROVE", headers={"Authentication-Results": claimed}))
    )
    assert forged.action is None
    assert forged.unvouched == "mx.example.com did not vouch for it (no DKIM or DMARC pass)"


def test_a_thread_is_its_first_message_id_and_subject_and_our_answers_join_it() -> None:
    started = EmailMessage(policy=default)
    started["From"] = "Bob Example <bob@example.com>"
    started["To"] = "agents@example.com"
    started["Subject"] = "deploy api 2.4.1 to production"
    started["Message-ID"] = "<first@example.com>"
    started.set_content("Please, before noon.\n\n-- \nBob\n")
    read = one(CODEC.read(bytes(started)))
    assert read.conversation == "<first@example.com> deploy api 2.4.1 to production"
    assert (
        read.text == "Please, before noon." and read.unvouched
    )  # no request: talks, decides nothing

    answer = OutboundMessage(
        kind="reply",
        text="Deployed.",
        address="bob@example.com",
        conversation=read.conversation,
        idempotency_key="outbox:9:0",
        agent="deploy",
    )
    payload = CODEC.render(answer)
    assert payload["subject"] == "Re: deploy api 2.4.1 to production"
    assert (payload["in_reply_to"], payload["references"]) == (
        "<first@example.com>",
        ["<first@example.com>"],
    )
    assert payload["conversation"] == read.conversation and payload["reply_to"] is None
    assert payload["message_id"] == CODEC.render(answer)["message_id"]  # a retry: the same mail

    del started["Subject"]  # a mail without one: our answers keep it so, or they would be apart
    untitled = one(CODEC.read(bytes(started)))
    answer = answer.model_copy(update={"conversation": untitled.conversation})
    assert CODEC.render(answer)["subject"] == "Re:"
    assert CODEC.render(answer)["conversation"] == untitled.conversation == "<first@example.com>"


def test_a_bounce_fails_the_delivery_and_an_auto_reply_is_no_answer() -> None:
    asked = sent()
    bounce = f"""From: Mail Delivery Subsystem <mailer-daemon@example.com>
To: agents@example.com
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce-1@mx.example.com>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

This is the mail system at host mx.example.com. I'm sorry to have to inform you
that your message could not be delivered to one or more recipients.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; alice@example.com
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <alice@example.com>: no such user

--b1
Content-Type: text/rfc822-headers

From: Switchboard <agents@example.com>
To: alice@example.com
Subject: {asked["Subject"]}
Message-ID: {asked["Message-ID"]}

--b1--
""".replace("\n", "\r\n").encode()
    [failed] = CODEC.read(bounce)
    assert isinstance(failed, DeliveryStatus)
    assert (failed.message_id, failed.status, failed.unreachable) == (
        str(asked["Message-ID"]),
        "failed",
        True,
    )
    assert "5.1.1" in failed.error

    away = reply(
        asked, "I am out of the office until Monday.", headers={"Auto-Submitted": "auto-replied"}
    )
    [ignored] = CODEC.read(away)
    assert isinstance(ignored, Acknowledged) and "auto-replied" in ignored.what


# --- SMTP, against a real server on loopback (aiosmtpd) ------------------------------------------


@pytest.mark.parametrize(
    ("security", "mode"),
    [
        (Security.PLAIN, "none"),
        (Security.STARTTLS, "starttls"),
        (Security.IMPLICIT_TLS, "tls"),
    ],
)
async def test_mail_goes_out_as_the_server_takes_it(security: Security, mode: str) -> None:
    async with SmtpDouble(security, credentials=("agents", "app-password")) as smtp:
        transport = SmtpTransport(
            smtp.host,
            smtp.port,
            mode,
            "agents",
            "app-password",
            tls_context=smtp.client_context(),  # type: ignore[arg-type]
        )
        await transport.check()
        receipt = await transport.send(APPROVAL, CODEC.render(APPROVAL))
    [mail] = smtp.received
    assert mail.rcpt_tos == (ALICE,) and mail.login == "agents" and mail.tls == (mode != "none")
    got = mail.message
    assert got["Message-ID"] == receipt.message_id == CODEC.render(APPROVAL)["message_id"]
    assert got["Auto-Submitted"] == "auto-generated"
    assert str(got["Reply-To"]).startswith("agents+req-0000000001.")
    assert receipt.conversation == CODEC.render(APPROVAL)["conversation"]


async def test_smtps_answers_are_sorted_retried_sent_elsewhere_or_dead() -> None:
    """4xx: later; a mailbox that does not exist: the person's next channel; other 5xx: dead."""
    async with SmtpDouble(Security.PLAIN) as smtp:
        transport = SmtpTransport(smtp.host, smtp.port, "none")
        sorted_ = []
        for code, text, at in [
            (451, "4.7.1 greylisted, try again later", "RCPT"),
            (550, "5.1.1 no such user", "RCPT"),
            (552, "5.3.4 message too big", "DATA"),
        ]:
            smtp.fail_next(code, text, at=at)  # type: ignore[arg-type]
            with pytest.raises(DeliveryFailed) as failed:
                await transport.send(APPROVAL, CODEC.render(APPROVAL))
            sorted_.append((failed.value.retry, failed.value.unreachable, str(failed.value)))
        await transport.send(APPROVAL, CODEC.render(APPROVAL))
    assert sorted_ == [
        (True, False, "SMTP 451: 4.7.1 greylisted, try again later"),
        (False, True, "SMTP 550: 5.1.1 no such user"),
        (False, False, "SMTP 552: 5.3.4 message too big"),
    ]
    assert len(smtp.received) == 1


async def test_a_refused_login_stops_the_start_in_one_line() -> None:
    async with SmtpDouble(Security.STARTTLS, credentials=("agents", "app-password")) as smtp:
        transport = SmtpTransport(
            smtp.host, smtp.port, "starttls", "agents", "wrong", tls_context=smtp.client_context()
        )
        with pytest.raises(Misconfigured, match="refused SMTP_USERNAME and SMTP_PASSWORD"):
            await transport.check()
        untrusted = SmtpTransport(smtp.host, smtp.port, "starttls", "agents", "app-password")
        with pytest.raises(Misconfigured, match="cannot reach SMTP"):
            await untrusted.check()  # its certificate is no one the system trusts


# --- IMAP, against Dovecot on loopback -----------------------------------------------------------

needs_dovecot = pytest.mark.skipif(
    not DOVECOT.exists(),
    reason="needs Debian's Dovecot at /usr/sbin/dovecot (`make test` installs dovecot-imapd)",
)
MAILBOX_USER = "agents@example.com"


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot({MAILBOX_USER: "mailbox-pw"}) as server:
        yield server


class KeptCursor:
    """The listener's place, as the service keeps it (here, in memory)."""

    def __init__(self) -> None:
        self.position: str | None = None

    async def get(self) -> str | None:
        return self.position

    async def save(self, position: str) -> None:
        self.position = position


def incoming(n: int, subject: str = "status?") -> bytes:
    mail = EmailMessage(policy=default)
    mail["From"] = "Bob Example <bob@example.com>"
    mail["To"] = MAILBOX_USER
    mail["Subject"] = f"{subject} #{n}"
    mail["Message-ID"] = f"<incoming-{n}-{uuid.uuid4().hex[:8]}@example.com>"
    mail.set_content(f"message {n}\n")
    return bytes(mail)


@contextlib.asynccontextmanager
async def reading(
    dovecot: Dovecot,
    cursor: KeptCursor,
    read: Callable[[bytes], list[Inbound]] = CODEC.read,
    **options: float,
) -> AsyncIterator[list[InboundMessage]]:
    """The listener on the mailbox, handing in what it reads."""
    taken: list[InboundMessage] = []

    async def deliver(item: object) -> None:
        assert isinstance(item, InboundMessage)
        taken.append(item)

    listener = MailboxListener(
        read, dovecot.host, dovecot.port, "none", MAILBOX_USER, "mailbox-pw", **options
    )
    task = asyncio.create_task(listener.listen(deliver, cursor))
    try:
        yield taken
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def arrived(taken: list[InboundMessage], n: int) -> list[InboundMessage]:
    async def enough() -> list[InboundMessage]:
        return taken if len(taken) >= n else []

    return await eventually(enough)


@needs_dovecot
async def test_the_mailbox_is_read_once_across_restarts_and_idle_wakes_it(
    dovecot: Dovecot,
) -> None:
    """Its history is left alone; then what comes is read once, across a restart, unread."""
    await dovecot.append(incoming(0, "from before"), user=MAILBOX_USER)
    cursor = KeptCursor()
    validity = await dovecot.uidvalidity(user=MAILBOX_USER)
    async with reading(dovecot, cursor) as taken:

        async def started() -> str | None:
            return cursor.position

        await eventually(started)
        for n in range(1, 4):  # while it IDLEs
            await dovecot.append(incoming(n), user=MAILBOX_USER)
        first = [m.text for m in await arrived(taken, 3)]
    assert first == ["message 1", "message 2", "message 3"]
    newest = max(m.uid for m in await dovecot.messages(user=MAILBOX_USER))
    assert (cursor.position or "").startswith(f"{validity}:{newest}:")

    for n in range(4, 6):  # arrived while the service was down
        await dovecot.append(incoming(n), user=MAILBOX_USER)
    async with reading(dovecot, cursor) as taken:
        again = [m.text for m in await arrived(taken, 2)]
        await asyncio.sleep(0.3)  # anything read twice would be here by now
        assert again == ["message 4", "message 5"] and len(taken) == 2
    stored = await dovecot.messages(user=MAILBOX_USER)
    assert all("\\Seen" not in m.flags for m in stored)  # read with BODY.PEEK[]: left unread


@needs_dovecot
async def test_without_idle_it_polls_and_passes_over_a_mail_that_breaks_the_reader(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server that offers no IDLE is asked again and again; a crafted mail that finds
    a bug in the reader is logged and left in the mailbox, and the next one is read."""

    def read(raw: bytes) -> list[Inbound]:
        if b"crafted" in raw:
            raise TypeError("a bug the crafted mail found")
        return CODEC.read(raw)

    cursor = KeptCursor()

    async def started() -> str | None:
        return cursor.position

    with running_dovecot({MAILBOX_USER: "mailbox-pw"}, idle=False) as polled:
        async with reading(polled, cursor, read, poll_seconds=0.2) as taken:
            await eventually(started)
            await polled.append(incoming(1, "crafted"), user=MAILBOX_USER)
            await polled.append(incoming(2), user=MAILBOX_USER)
            [read_one] = await arrived(taken, 1)
        assert read_one.text == "message 2"
        assert len(await polled.messages(user=MAILBOX_USER)) == 2  # the crafted one: kept
    assert "could not be read: passed over" in caplog.text


@needs_dovecot
async def test_a_changed_uidvalidity_reads_again_what_came_since_the_last_read(
    dovecot: Dovecot,
) -> None:
    cursor = KeptCursor()
    async with reading(dovecot, cursor) as taken:

        async def started() -> str | None:
            return cursor.position

        await eventually(started)
        await dovecot.append(incoming(9, "resync"), user=MAILBOX_USER)
        await arrived(taken, 1)
    validity = await dovecot.change_uidvalidity(user=MAILBOX_USER)
    today = len(await dovecot.messages(user=MAILBOX_USER))  # every one of them came today
    async with reading(dovecot, cursor) as taken:
        assert len(await arrived(taken, today)) == today  # the inbox drops the repeats
    assert (cursor.position or "").startswith(f"{validity}:")


# --- the whole service: SMTP out, Dovecot in --------------------------------------------------

ERIN_MAIL = "erin@example.com"


def mail_settings(database_url: str, smtp: SmtpDouble, dovecot: Dovecot) -> Settings:
    """Email real: out through the SMTP double, in from the agents' mailbox on Dovecot."""
    return service_settings(
        database_url,
        email_from=f"Switchboard <{MAILBOX_USER}>",
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_security="none",
        imap_host=dovecot.host,
        imap_port=dovecot.port,
        imap_security="none",
        imap_username=MAILBOX_USER,
        imap_password="mailbox-pw",
    )


@needs_dovecot
async def test_an_approver_replies_approve_by_email_and_the_tool_runs(
    dovecot: Dovecot, database_url: str
) -> None:
    """Erin prefers email: the request reaches her with its token; her reply APPROVE, put in
    the agents' mailbox, wakes the listener's IDLE; the tool runs, and she gets the outcome in
    the same thread."""
    erin = Person(
        id="erin",
        name="Erin Example",
        roles=["deploy-approver"],
        channels=["email"],
        identities={"email": ERIN_MAIL},
    )
    bob = Person(id="bob", name="Bob", identities={"slack": "U0BOB"})
    async with (
        SmtpDouble(Security.PLAIN) as smtp,
        running(mail_settings(database_url, smtp, dovecot), [erin, bob]) as service,
    ):
        assert not service.channels["email"].sandbox
        await service.check_channels()
        slack = simulator(service, "slack")
        await service.inbox.accept(
            slack.simulate(
                sender="U0BOB", conversation="C1:1", text="deploy api 2.4.1 to production"
            )
        )

        async def asked() -> list[EmailMessage]:
            return [m.message for m in smtp.received if ERIN_MAIL in m.rcpt_tos]

        [request] = await eventually(asked)
        assert "Reply APPROVE" in request.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        await dovecot.append(
            reply(request, "Approve", sender=f"Erin <{ERIN_MAIL}>"), user=MAILBOX_USER
        )

        async def approved() -> list[object]:
            return await service.app.store.requests(status="approved")

        [decided] = await eventually(approved)
        assert (decided.decided_by, decided.decided_via) == ("erin", "email")

        async def settled() -> list[EmailMessage]:
            found = await asked()
            return found if len(found) == 2 else []

        _, outcome = await eventually(settled)
        assert outcome["In-Reply-To"] == request["Message-ID"]
        assert outcome["Subject"] == f"Re: {request['Subject']}"
        assert "Approved by Erin Example via email" in outcome.get_body(("plain",)).get_content()  # type: ignore[union-attr]


# --- the channel contract ------------------------------------------------------------------------


def keyed(_settings: object) -> Channel:
    return Channel(CODEC, sandboxed(CODEC).transport)


def genuine(codec: Codec, body: bytes) -> RawRequest:
    return RawRequest("imap:INBOX", {}, body)  # what the mailbox listener hands the codec


def thread_with(sender: str) -> str:
    return f"<root-{uuid.uuid4().hex[:8]}@example.com> deploy"


def says(sender: str, conversation: str, text: str) -> bytes:
    root, subject = parse_conversation(conversation)
    mail = EmailMessage(policy=default)
    mail["From"] = sender
    mail["To"] = "agents@example.com"
    mail["Subject"] = f"Re: {subject}"
    mail["Message-ID"] = f"<{uuid.uuid4().hex}@example.com>"
    mail["References"] = root
    mail.set_content(text + "\n")
    return bytes(mail)


def presses(button: Button, sender: str, conversation: str) -> bytes:
    raise AssertionError("a mail has no buttons")


KIT = Kit(
    "email",
    keyed,
    genuine,
    says,
    presses,
    garbage=(b"From: a@example.com\n\nno Message-ID", b"Message-ID: <x@y>\n\nno From"),
    conversation_with=thread_with,
    # Mail comes from the mailbox, and is vouched for (or not) inside: over HTTP, never.
    forgeries=lambda genuine: [RawRequest("https://switchboard.test/email", {}, genuine.body)],
)


class TestEmailKeepsTheContract(ChannelContract):
    @pytest.fixture
    def kit(self) -> Kit:
        return KIT


@needs_dovecot
async def test_a_restart_in_the_middle_of_fifty_mails_loses_and_repeats_nothing(
    dovecot: Dovecot,
) -> None:
    cursor = KeptCursor()
    kept: dict[str, int] = {}  # by Message-ID, as the inbox keeps them: a repeat is dropped

    async def started() -> str | None:
        return cursor.position

    async with reading(dovecot, cursor) as taken:
        await eventually(started)
        for n in range(50):
            await dovecot.append(incoming(n, "batch"), user=MAILBOX_USER)
        await arrived(taken, 20)  # stopped in the middle of the mailbox
    for m in taken:
        kept[m.external_id] = kept.get(m.external_id, 0) + 1
    async with reading(dovecot, cursor) as taken:
        await arrived(taken, 50 - len(kept))
        await asyncio.sleep(0.3)  # a repeat would be here by now
    for m in taken:
        kept[m.external_id] = kept.get(m.external_id, 0) + 1
    assert len(kept) == 50 and max(kept.values()) == 1


@needs_dovecot
async def test_out_of_office_spoofs_and_bounces_decide_nothing_and_a_bounce_asks_elsewhere(
    dovecot: Dovecot, database_url: str
) -> None:
    """Erin's out-of-office reply is neither an answer nor answered; Mallory's APPROVE from
    Erin's address, without the token, decides nothing; then Erin's mail bounces for good and
    she is asked on Slack."""
    erin = Person(
        id="erin",
        name="Erin Example",
        roles=["deploy-approver"],
        channels=["email", "slack"],
        identities={"email": ERIN_MAIL, "slack": "U0ERIN"},
    )
    bob = Person(id="bob", name="Bob", identities={"slack": "U0BOB"})
    async with (
        SmtpDouble(Security.PLAIN) as smtp,
        running(mail_settings(database_url, smtp, dovecot), [erin, bob]) as service,
    ):
        slack = simulator(service, "slack")
        await service.inbox.accept(
            slack.simulate(
                sender="U0BOB", conversation="C1:1", text="deploy api 2.4.1 to production"
            )
        )

        async def asked() -> list[EmailMessage]:
            return [m.message for m in smtp.received if ERIN_MAIL in m.rcpt_tos]

        [request] = await eventually(asked)
        away = reply(
            request,
            "I am out of the office until Monday.",
            sender=f"Erin <{ERIN_MAIL}>",
            headers={"Auto-Submitted": "auto-replied"},
        )
        spoofed = reply(request, "APPROVE", sender=f"Erin <{ERIN_MAIL}>", address=MAILBOX_USER)
        for raw in (away, spoofed):
            await dovecot.append(raw, user=MAILBOX_USER)

        async def refused() -> list[object]:
            rows = await service.app.store.inbox(channel="email")
            return [r for r in rows if r.outcome == "refused"]

        [spoof] = await eventually(refused)
        assert "without the request's token" in spoof.detail  # type: ignore[attr-defined]
        [asking] = await service.app.store.requests()
        timeline = [e.event for e in await service.app.store.events(asking.thread_id)]
        [attempt] = [e for e in timeline if isinstance(e, AnswerRefused)]
        assert (attempt.by, attempt.via, attempt.request_id) == ("erin", "email", asking.id)
        assert "without the request's token" in attempt.reason
        assert "was not taken" in describe(attempt)  # as the console's timeline reads it
        assert await service.app.store.requests(status="approved") == []
        assert len(await service.app.store.inbox(channel="email")) == 1  # the away mail: kept out

        bounce = f"""From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: {MAILBOX_USER}
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce-{uuid.uuid4().hex[:8]}@mx.example.com>
Return-Path: <>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Your message could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; {ERIN_MAIL}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--b1
Content-Type: text/rfc822-headers

Message-ID: {request["Message-ID"]}
Subject: {request["Subject"]}

--b1--
""".replace("\\n", "\\r\\n").encode()
        await dovecot.append(bounce, user=MAILBOX_USER)

        async def on_slack() -> list[object]:
            rows = await service.app.store.outbox(channel="slack")
            return [
                r
                for r in rows
                if r.kind == "request" and r.recipient == "erin" and r.status == "sent"
            ]

        await eventually(on_slack)
        [dead] = await service.app.store.outbox(channel="email", status="dead")
        assert dead.last_error is not None and "5.1.1" in dead.last_error
