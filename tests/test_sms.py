"""The SMS channel through the whole service: Switchboard served on loopback (Twilio must reach
its webhooks), the real `twilio` client sending to a loopback Twilio, and Twilio's webhooks
signed as Twilio signs them. Erin approves by text; a bare YES with two requests open is answered
with both codes; STOP sends her requests elsewhere; reports come in any order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.sandbox import sandboxed
from channels.sms import sms
from channels.sms.codec import HELP_TEXT, SmsCodec, conversation_of
from channels.sms.transport import SmsTransport
from core.channels import Channel, Codec, Consent, DeliveryFailed, OutboundMessage, RawRequest
from core.errors import Misconfigured
from core.events import MessageReceived
from core.previews import Button
from core.records import OutboxItem, Person
from core.serve import bind, http_server
from core.service import Service
from core.timeline import describe
from tests.contract.contract import SETTINGS, ChannelContract, Kit
from tests.doubles import twilio as td
from tests.doubles.twilio import ACCOUNT_SID, AUTH_TOKEN, PHONE_NUMBER, TwilioDouble
from tests.fixtures import eventually, running, service_settings, simulator
from tests.server import free_port

ERIN, BOB = "+15550100005", "+15550100002"
DEPLOY = "deploy api 2.4.1 to production"
PEOPLE = [
    Person(
        id="erin",
        name="Erin",
        roles=["deploy-approver"],
        channels=["sms", "slack"],
        identities={"sms": ERIN, "slack": "U0ERIN"},
    ),
    Person(id="bob", name="Bob", channels=["slack"], identities={"slack": "U0BOB", "sms": BOB}),
]


@dataclass
class Switchboard:
    service: Service
    twilio: TwilioDouble
    url: str  # where Twilio posts: SWITCHBOARD_PUBLIC_URL
    http: httpx.AsyncClient

    async def texts(
        self, sender: str, body: str, media: tuple[str, ...] = (), **extra: str
    ) -> httpx.Response:
        """`sender` texts `body` (with pictures or files of these `media` types) to our number:
        Twilio's POST to /twilio/sms, signed."""
        params = td.inbound_message(sender, body, media=media, extra=extra)
        return await self.posts("/twilio/sms", params)

    async def posts(
        self, path: str, params: dict[str, str], token: str = AUTH_TOKEN
    ) -> httpx.Response:
        signed = td.webhook_request(self.url + path, params, token)
        return await self.http.post(path, content=signed.body, headers=dict(signed.headers))

    async def sent_to(self, number: str, n: int = 1) -> list[td.SentMessage]:
        async def arrived() -> list[td.SentMessage]:
            found = self.twilio.sent_to(number)
            return found if len(found) >= n else []

        return await eventually(arrived)

    async def rows(self, **where: Any) -> list[OutboxItem]:
        return await self.service.app.store.outbox(**where)


@contextlib.asynccontextmanager
async def switchboard(database_url: str, **options: str | None) -> AsyncIterator[Switchboard]:
    """The service with SMS real, served on a loopback port (Twilio posts its webhooks there)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with TwilioDouble() as twilio:
        configured = service_settings(
            database_url,
            **{
                "switchboard_public_url": url,
                "twilio_account_sid": ACCOUNT_SID,
                "twilio_auth_token": AUTH_TOKEN,
                "twilio_from_number": PHONE_NUMBER,
                "twilio_api_url": twilio.base_url,
                **options,
            },
        )
        async with running(configured, people=PEOPLE) as service:
            await service.check_channels()
            server = http_server(service)
            serving = asyncio.create_task(server.serve(sockets=[bind("127.0.0.1", port)]))
            try:
                async with httpx.AsyncClient(base_url=url) as http:
                    yield Switchboard(service, twilio, url, http)
            finally:
                server.should_exit = True
                await serving


async def asks_erin(board: Switchboard) -> td.SentMessage:
    """Bob asks for a deploy on Slack (the sandbox); the approval reaches Erin by text."""
    slack = simulator(board.service, "slack")
    await board.service.inbox.accept(
        slack.simulate(sender="U0BOB", conversation="C1:1", text=DEPLOY)
    )
    [asked] = await board.sent_to(ERIN)
    return asked


def code_in(text: str) -> str:
    """The request's code, as the text tells Erin to reply with it ("YES 417")."""
    word = text.split("Reply YES ", 1)[1].split()[0]
    assert word.isdecimal() and len(word) == 3, text
    return word


async def thread_done(service: Service) -> None:
    [thread] = await service.app.store.threads(agent="deploy")

    async def done() -> bool:
        found = await service.app.store.thread(thread.id)
        return found is not None and found.status == "done"

    await eventually(done)


# --- the flows ---------------------------------------------------------------------------------


async def test_an_approver_texts_yes_and_the_code_and_the_tool_runs(database_url: str) -> None:
    async with switchboard(database_url) as board:
        asked = await asks_erin(board)
        assert asked.status_callback == board.url + "/twilio/status"
        assert asked.params["From"] == PHONE_NUMBER
        code = code_in(asked.body)
        assert "NO " + code in asked.body  # how to reject, with the same code

        # A number in no directory: the public support agent talks to it; it approves nothing.
        stranger = await board.texts("+15550109999", f"YES {code}")
        assert stranger.status_code == 200
        assert await board.service.app.store.requests(status="approved") == []

        answered = await board.texts(ERIN, f"yes {code}")
        assert answered.status_code == 200
        assert answered.headers["content-type"].startswith("text/xml")
        assert "<Message>" not in answered.text  # nothing to say at once: the inbox has it
        await thread_done(board.service)
        [decided] = await board.service.app.store.requests(status="approved")
        assert (decided.decided_by, decided.decided_via) == ("erin", "sms")
        _, confirmed = await board.sent_to(ERIN, 2)  # a text cannot be edited: a new one
        assert "Approved by Erin via sms" in confirmed.body


async def test_a_bare_yes_with_two_requests_open_is_told_both_codes(database_url: str) -> None:
    async with switchboard(database_url) as board:
        slack = simulator(board.service, "slack")
        for conversation in ("C1:1", "C1:2"):
            await board.service.inbox.accept(
                slack.simulate(sender="U0BOB", conversation=conversation, text=DEPLOY)
            )
        first, second = await board.sent_to(ERIN, 2)

        async def both_recorded() -> bool:  # Twilio has them; the outbox records them after
            rows = await board.rows(channel="sms")
            return {first.sid, second.sid} <= {r.message_id for r in rows if r.status == "sent"}

        await eventually(both_recorded)
        await board.texts(ERIN, "YES!")
        told = (await board.sent_to(ERIN, 3))[2].body
        for asked in (first, second):
            assert f"{code_in(asked.body)}:" in told
        assert await board.service.app.store.requests(status="approved") == []

        await board.texts(ERIN, f"y {code_in(second.body)}")

        async def one_approved() -> list[Any]:
            return await board.service.app.store.requests(status="approved")

        [approved] = await eventually(one_approved)
        assert len(await board.service.app.store.requests(status="open")) == 1
        row = next(r for r in await board.rows(channel="sms") if r.message_id == second.sid)
        assert row.request_id == approved.id


async def test_stop_sends_her_requests_to_her_next_channel_and_start_brings_them_back(
    database_url: str,
) -> None:
    async with switchboard(database_url) as board:
        stopped = await board.texts(ERIN, "Stop")
        assert stopped.status_code == 200 and "<Message>" not in stopped.text  # Twilio confirms
        await asks_erin_on_slack(board)
        assert board.twilio.sent_to(ERIN) == []
        assert (
            await board.service.app.store.inbox(channel="sms") == []
        )  # STOP: no message, no answer

        helped = await board.texts(ERIN, "help")
        assert helped.text.count("<Message>") == 1 and "STOP" in helped.text

        await board.texts(ERIN, "START")
        await asks_erin(board)


async def test_stop_with_a_request_open_is_no_answer_and_sends_it_elsewhere(
    database_url: str,
) -> None:
    """STOP while Erin's approval waits by text: it approves or rejects nothing, no more texts
    reach her, and the next request goes to her next channel (Slack)."""
    async with switchboard(database_url) as board:
        await asks_erin(board)
        await board.texts(ERIN, "STOP")
        [still] = await board.service.app.store.requests(status="open")
        assert still.decided_by is None
        await asks_erin_on_slack(board)
        assert len(board.twilio.sent_to(ERIN)) == 1


@pytest.mark.parametrize(
    ("word", "allowed"),
    [(w, False) for w in ("STOPALL", "unsubscribe", "Cancel", "END", "quit.")]
    + [(w, True) for w in ("UNSTOP", "start")],
)
def test_every_opt_out_and_opt_in_word_is_consent_never_a_message(word: str, allowed: bool) -> None:
    codec = SmsCodec(AUTH_TOKEN, PUBLIC)
    [consent] = codec.parse(genuine(codec, says(ERIN, conversation_of(ERIN), word)))
    assert consent == Consent(channel="sms", address=ERIN, allowed=allowed, at=consent.at)


async def test_texts_come_from_a_messaging_service_when_one_is_set(sqlite_url: str) -> None:
    service_sid = td.MESSAGING_SERVICE_SID
    async with switchboard(
        sqlite_url, twilio_from_number=None, twilio_messaging_service_sid=service_sid
    ) as board:
        asked = await asks_erin(board)
    assert asked.params["MessagingServiceSid"] == service_sid
    assert asked.params.get("From") is None


async def test_a_picture_by_text_is_noted_in_the_thread(sms_board: Switchboard) -> None:
    """Bob texts a screenshot: the thread (and so the agent and the timeline) notes the picture,
    its type and where Twilio keeps it is in the inbox."""
    await sms_board.texts(BOB, "this is what I see", media=("image/png",))

    async def started() -> list[Any]:
        return await sms_board.service.app.store.threads()

    [thread] = await eventually(started)
    events = await sms_board.service.app.store.events(thread.id)
    [said] = [e.event for e in events if isinstance(e.event, MessageReceived)]
    assert (said.text, said.attachments) == ("this is what I see", ("media 1 (image/png)",))
    assert describe(said).endswith("this is what I see (attached: media 1 (image/png))")


async def asks_erin_on_slack(board: Switchboard) -> None:
    slack = simulator(board.service, "slack")
    await board.service.inbox.accept(
        slack.simulate(sender="U0BOB", conversation="C9:1", text=DEPLOY)
    )

    async def on_slack() -> list[OutboxItem]:
        rows = await board.rows(channel="slack")
        return [
            r for r in rows if r.kind == "request" and r.recipient == "erin" and r.status == "sent"
        ]

    await eventually(on_slack)


async def test_reports_come_in_any_order_and_a_failure_is_retried_or_sent_elsewhere(
    database_url: str,
) -> None:
    async with switchboard(database_url) as board:
        asked = await asks_erin(board)
        statuses: tuple[td.Status, ...] = ("delivered", "sent", "queued")
        for status in statuses:  # a late "sent" says less: it is kept out
            report = await board.twilio.status(asked.sid, status)
            assert report is not None and report.answered == 200
        [row] = [r for r in await board.rows(channel="sms") if r.message_id == asked.sid]
        assert row.delivery == "delivered"
        shown = await board.http.get(
            f"/api/v1/requests/{row.request_id}", headers={"authorization": "Bearer test-token"}
        )
        [copy] = [d for d in shown.json()["deliveries"] if d["message_id"] == asked.sid]
        assert copy["delivery"] == "delivered"  # the API and the console show the report

        # A second request: Erin's phone is off (30003), then her carrier filters the text.
        slack = simulator(board.service, "slack")
        await board.service.inbox.accept(
            slack.simulate(sender="U0BOB", conversation="C1:2", text=DEPLOY)
        )
        _, second = await board.sent_to(ERIN, 2)
        await board.twilio.status(second.sid, "undelivered", error_code=30003)
        await board.twilio.status(second.sid, "undelivered", error_code=30003)  # once is enough
        # 30003: worth another try, after the outbox's backoff (a second or two).
        third = (await board.sent_to(ERIN, 3))[2]
        assert third.body == second.body and third.sid != second.sid

        await board.twilio.status(
            third.sid, "undelivered", error_code=30007
        )  # a carrier filtered it

        async def on_slack() -> list[OutboxItem]:
            rows = await board.rows(channel="slack")
            return [r for r in rows if r.kind == "request" and r.recipient == "erin"]

        [elsewhere] = await eventually(on_slack)
        dead = next(r for r in await board.rows(channel="sms") if r.message_id == third.sid)
        assert dead.status == "dead" and dead.last_error is not None
        assert "30007" in dead.last_error and "next channel" in dead.last_error
        assert elsewhere.request_id == dead.request_id


async def test_twilio_refusals_are_sorted_retried_or_sent_elsewhere(database_url: str) -> None:
    async with switchboard(database_url) as board:
        board.twilio.fail_next(429, 20429, "Too Many Requests", retry_after=1)
        asked = await asks_erin(board)  # the 429 waited out: sent once
        assert len(board.twilio.sent_to(ERIN)) == 1 and asked.body

        board.twilio.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")
        await asks_erin_on_slack(board)
        [dead] = await board.rows(status="dead")
        assert dead.channel == "sms" and "21610" in (dead.last_error or "")


async def test_a_forged_or_tampered_webhook_is_refused_and_changes_nothing(
    database_url: str,
) -> None:
    async with switchboard(database_url) as board:
        params = td.inbound_message(ERIN, "hello")
        forged = await board.posts("/twilio/sms", params, token="not-the-token")
        signed = td.webhook_request(board.url + "/twilio/sms", params, AUTH_TOKEN)
        tampered = await board.http.post(
            "/twilio/sms",
            content=signed.body.replace(b"hello", b"goodbye"),
            headers=dict(signed.headers),
        )
        unsigned = await board.http.post(
            "/twilio/sms",
            content=signed.body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert [r.status_code for r in (forged, tampered, unsigned)] == [403, 403, 403]
        assert await board.service.app.store.inbox() == []

        mms = td.inbound_message(ERIN, "the graph", media=["image/png"])
        for _ in range(2):  # Twilio retries: the same MessageSid twice is one message
            assert (await board.posts("/twilio/sms", mms)).status_code == 200
        [kept] = await board.service.app.store.inbox()
        assert kept.sender == ERIN and kept.text == "the graph"


async def test_behind_a_proxy_the_signature_covers_the_public_url(database_url: str) -> None:
    """Twilio calls https://sb.example.com/twilio/sms; the server sees http://127.0.0.1:…"""
    async with switchboard(database_url) as board:
        codec = SmsCodec(AUTH_TOKEN, "https://sb.example.com")
        params = td.inbound_message(ERIN, "hi")
        as_twilio_signed = td.webhook_request(
            "https://sb.example.com/twilio/sms", params, AUTH_TOKEN
        )
        seen = RawRequest(
            board.url + "/twilio/sms",
            {k.lower(): v for k, v in as_twilio_signed.headers.items()},
            as_twilio_signed.body,
        )
        codec.verify(seen)  # no Forged: the public URL is what Twilio signed


async def test_wrong_credentials_stop_the_start_in_one_line() -> None:
    async with TwilioDouble() as twilio:
        channel = sms(
            service_settings(
                "sqlite://",
                twilio_account_sid=ACCOUNT_SID,
                twilio_auth_token="not-the-token",
                twilio_from_number=PHONE_NUMBER,
                twilio_api_url=twilio.base_url,
            )
        )
        assert channel.check is not None
        try:
            with pytest.raises(Misconfigured, match="Twilio refused TWILIO_ACCOUNT_SID"):
                await channel.check()
        finally:
            await channel.transport.close()
    with pytest.raises(Misconfigured, match="TWILIO_FROM_NUMBER"):
        sms(
            service_settings(
                "sqlite://", twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN
            )
        )
    assert sms(service_settings("sqlite://")).sandbox


# --- the contract, and the fuzz ----------------------------------------------------------------

PUBLIC = SETTINGS.switchboard_public_url


def keyed(_settings: object) -> Channel:
    """SMS's codec taking webhooks signed with the double's token (the contract sends nothing)."""
    return Channel(SmsCodec(AUTH_TOKEN, PUBLIC), sandboxed(SmsCodec(public_url=PUBLIC)).transport)


def genuine(codec: Codec, body: bytes) -> RawRequest:
    from urllib.parse import parse_qsl

    params = dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))
    headers = {"x-twilio-signature": td.signature(PUBLIC + "/twilio/sms", params, AUTH_TOKEN)}
    return RawRequest(PUBLIC + "/twilio/sms", headers, body)


def says(sender: str, conversation: str, text: str) -> bytes:
    from urllib.parse import urlencode

    return urlencode(td.inbound_message(sender, text)).encode()


def presses(button: Button, sender: str, conversation: str) -> bytes:
    raise AssertionError("a text has no buttons")


KIT = Kit(
    "sms",
    keyed,
    genuine,
    says,
    presses,
    garbage=(b"From=%2B1&Body=x", b"MessageSid=SM1&From=not+a+number", b"Body=%ff%fe"),
    conversation_with=conversation_of,
)


class TestSmsKeepsTheContract(ChannelContract):
    @pytest.fixture
    def kit(self) -> Kit:
        return KIT


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(["/twilio/sms", "/twilio/status"]),
    params=st.dictionaries(
        st.sampled_from(
            [
                "MessageSid",
                "From",
                "To",
                "Body",
                "NumMedia",
                "MediaUrl0",
                "MessageStatus",
                "ErrorCode",
            ]
        ),
        st.text(max_size=12),
        max_size=6,
    ),
    signed=st.booleans(),
)
async def test_anything_posted_to_the_twilio_webhooks_is_never_a_server_error(
    sms_board: Switchboard, path: str, params: dict[str, str], signed: bool
) -> None:
    if signed:
        response = await sms_board.posts(path, params)
    else:
        response = await sms_board.http.post(path, data=params)
    assert response.status_code in (200, 400, 403), (response.status_code, response.text)


@pytest.fixture
async def sms_board(sqlite_url: str) -> AsyncIterator[Switchboard]:
    async with switchboard(sqlite_url) as board:
        yield board


def test_help_fits_one_text_and_says_how_to_stop() -> None:
    assert "STOP" in HELP_TEXT and len(HELP_TEXT) <= 160


async def test_the_transport_sorts_twilios_refusals() -> None:
    """5xx and 429 (with the wait Twilio asks) are worth another try; a bad or opted-out number
    is unreachable (the next channel); any other refusal is permanent, with Twilio's code."""
    text = OutboundMessage(kind="reply", text="hi", address=ERIN)
    payload = {"to": ERIN, "body": "hi"}
    async with TwilioDouble() as twilio:
        transport = SmsTransport(
            ACCOUNT_SID, AUTH_TOKEN, PHONE_NUMBER, twilio.base_url, "http://sb.test/twilio/status"
        )
        try:
            sorted_: list[tuple[bool, bool, float | None, str]] = []
            for status, code, wait in [
                (503, 20500, None),
                (429, 20429, 7),
                (400, 21211, None),
                (400, 21610, None),
                (400, 21606, None),
            ]:
                twilio.fail_next(status, code, "refused", retry_after=wait)
                with pytest.raises(DeliveryFailed) as failed:
                    await transport.send(text, payload)
                e = failed.value
                sorted_.append((e.retry, e.unreachable, e.retry_after, str(e).split(":")[0]))
            receipt = await transport.send(text, payload)
        finally:
            await transport.close()
    assert sorted_ == [
        (True, False, None, "Twilio 503 20500"),
        (True, False, 7.0, "Twilio 429"),
        (False, True, None, "Twilio 400 21211"),
        (False, True, None, "Twilio 400 21610"),
        (False, False, None, "Twilio 400 21606"),
    ]
    [sent] = twilio.sent_to(ERIN)
    assert receipt.message_id == sent.sid and receipt.conversation == f"dm:{ERIN}"
