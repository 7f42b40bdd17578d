"""The Slack channel against a loopback Slack (tests/doubles/slack.py): the real slack_sdk clients
call its Web API and hold its Socket Mode socket, and requests reach /slack/events signed exactly
as Slack signs them, in the shapes Slack documents."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.slack import slack
from channels.slack.blocks import answer_value, conversation_of, render
from channels.slack.transport import SlackTransport
from core.channels import Action, Channel, Codec, OutboundMessage, RawRequest
from core.errors import Misconfigured
from core.events import MessageEdited, MessageReceived
from core.humans import cancel
from core.previews import Button
from core.records import Person
from core.service import Service
from tests.contract.contract import ChannelContract, Kit
from tests.doubles import slack as double
from tests.doubles.slack import BOT_TOKEN, SlackDouble, dm_channel
from tests.fixtures import eventually, running, service_settings
from tests.test_api import client_for

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
EVENTS = "/slack/events"
OPS = "C0OPS"
MENTION = "<@U0BOT> deploy api 2.4.1 to production"

ALICE = Person(
    id="alice", name="Alice Example", roles=["deploy-approver"], identities={"slack": "U0ALICE"}
)
ERIN = Person(
    id="erin",
    name="Erin",
    roles=["deploy-approver"],
    channels=["discord"],
    identities={"discord": "1005", "slack": "U0ERIN"},
)
BOB = Person(id="bob", name="Bob", roles=["engineer"], identities={"slack": "U0BOB"})
DANA = Person(id="dana", name="Dana", identities={"slack": "U0DANA"})


_last_ts = [0.0]


def ts() -> str:
    """A fresh Slack timestamp: now, and later than every one made before (Slack's are unique)."""
    _last_ts[0] = max(time.time(), _last_ts[0] + 1e-6)
    return f"{_last_ts[0]:.6f}"


@asynccontextmanager
async def slack_service(
    database_url: str, people: list[Person] | None = None, **settings: Any
) -> AsyncIterator[tuple[Service, SlackDouble, httpx.AsyncClient]]:
    """The service with Slack real, talking to a loopback Slack, and an HTTP client for Slack's
    calls to us."""
    users = {"U0ALICE": "Alice Example", "U0BOB": "Bob", "U0DANA": "Dana", "U0ERIN": "Erin"}
    async with SlackDouble(users=users) as slack_api:
        configured = service_settings(
            database_url,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SECRET,
            slack_api_url=slack_api.api_url,
            **settings,
        )
        async with (
            running(configured, people=people or [ALICE, BOB, DANA]) as service,
            client_for(service) as http,
        ):
            await service.check_channels()
            yield service, slack_api, http


async def post(http: httpx.AsyncClient, inbound: double.Inbound, **headers: str) -> httpx.Response:
    return await http.post(
        EVENTS, content=inbound.body, headers={**inbound.headers(SECRET), **headers}
    )


def mention(
    text: str = MENTION, *, at: str | None = None, event_id: str | None = None
) -> double.Inbound:
    event = double.app_mention("U0BOB", OPS, text, at or ts())
    return double.event_callback(event, event_id=event_id)


def click(user: str, message: double.PostedMessage, action_id: str, value: str) -> double.Inbound:
    return double.block_actions(
        user,
        message.channel,
        message.ts,
        action_id,
        value,
        trigger_id=f"trigger-{uuid.uuid4().hex}",
        response_url="https://hooks.slack.test/actions/x",
        thread_ts=message.thread_ts,
    )


def buttons(message: double.PostedMessage) -> dict[str, str]:
    """action_id → value of every button on a posted message."""
    return {
        element["action_id"]: element.get("value", "")
        for block in message.blocks or []
        if block.get("type") == "actions"
        for element in block["elements"]
    }


async def request_to(
    slack_api: SlackDouble, user: str, service: Service | None = None
) -> double.PostedMessage:
    """The request Slack got for `user`; with `service`, once its outbox row says where it went
    (what an answer in its thread is matched by: a person takes longer than that)."""

    async def posted() -> list[double.PostedMessage]:
        return [m for m in slack_api.messages_in(dm_channel(user)) if buttons(m)]

    [message] = await eventually(posted)
    if service is not None:

        async def recorded() -> bool:
            rows = await service.app.store.outbox(channel="slack", status="sent")
            return any(r.kind == "request" and r.message_id for r in rows)

        await eventually(recorded)
    return message


async def replies_in(slack_api: SlackDouble, channel: str, thread_ts: str | None) -> list[str]:
    async def said() -> list[str]:
        return [m.text for m in slack_api.messages_in(channel, thread_ts) if not buttons(m)]

    return await eventually(said)


# --- the channel contract ----------------------------------------------------------------------


def real_slack(_settings: object) -> Channel:
    """Slack with credentials (its transport is never used by the contract)."""
    return slack(
        service_settings("sqlite://", slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET)
    )


def genuine(codec: Codec, body: bytes) -> RawRequest:
    form = body.startswith((b"payload=", b"command=", b"token="))
    kind = "application/x-www-form-urlencoded" if form else "application/json"
    headers = {k.lower(): v for k, v in double.sign(body, SECRET).items()}
    return RawRequest(f"https://switchboard.test{EVENTS}", {**headers, "content-type": kind}, body)


def says(sender: str, conversation: str, text: str) -> bytes:
    """A direct message: its conversation is the DM channel."""
    return double.event_callback(double.message_im(sender, conversation, text, ts())).body


def presses(button: Button, sender: str, conversation: str) -> bytes:
    """Approve or an option: the click; Reject: the click's dialog, sent without a reason."""
    action = button.action
    request_id = action.request_id or ""
    if action.decision == "reject":
        metadata = {"request_id": request_id, "conversation": conversation}
        view = {"callback_id": "switchboard:reject", "private_metadata": json.dumps(metadata)}
        return double.view_submission(sender, view).body
    channel, _, root = conversation.partition(":")
    if action.decision == "approve":
        action_id, value = "switchboard:approve", request_id
    else:
        action_id, value = "switchboard:answer:0", answer_value(request_id, action.value)
    return double.block_actions(
        sender,
        channel,
        root,
        action_id,
        value,
        trigger_id=f"trigger-{uuid.uuid4().hex}",
        response_url="https://hooks.slack.test/actions/x",
    ).body


KIT = Kit(
    "slack",
    real_slack,
    genuine,
    says,
    presses,
    garbage=(
        b'{"type": "event_callback"}',
        b'{"type": "event_callback", "event": {}}',
        b'{"type": "event_callback", "event_id": "E1", "event": {"type": "app_mention"}}',
        b'{"type": "block_actions", "actions": []}',
        b'{"type": "view_submission", "view": {"callback_id": "switchboard:reject"}}',
        b"payload=%7B%22type%22%3A+%22block_actions%22%7D",
        b"payload=not+json",
        b"command=%2Fswitchboard&text=hi",
    ),
)


class TestSlackKeepsTheContract(ChannelContract):
    @pytest.fixture
    def kit(self) -> Kit:
        return KIT


# --- the flows people use -----------------------------------------------------------------------


async def test_a_mention_asks_an_approver_whose_click_runs_the_tool_and_answers_in_the_thread(
    database_url: str,
) -> None:
    async with slack_service(database_url) as (service, slack_api, http):
        assert [c.method for c in slack_api.calls][:1] == ["auth.test"]
        started = ts()
        response = await post(http, mention(at=started))
        assert response.status_code == 200

        asked = await request_to(slack_api, "U0ALICE")
        assert "api" in asked.text and "production" in asked.text
        shown = str(asked.blocks)
        assert "Bob" in shown and "2.4.1" in shown  # who asks, and the exact arguments
        approve = buttons(asked)["switchboard:approve"]
        assert (
            await post(http, click("U0ALICE", asked, "switchboard:approve", approve))
        ).status_code == 200

        [reply] = await replies_in(slack_api, OPS, started)
        assert reply.endswith("Deployed api 2.4.1 to production.")

        async def updated() -> bool:
            return bool(asked.edits) and not buttons(asked)

        await eventually(updated)
        assert "Approved by Alice Example" in asked.text
        thread = (await service.app.store.threads())[0]
        assert (thread.status, thread.conversation) == ("done", conversation_of(OPS, started))


async def test_a_direct_message_is_a_conversation_of_its_own(database_url: str) -> None:
    async with slack_service(database_url) as (service, slack_api, http):
        dm = dm_channel("U0BOB")
        event = double.message_im("U0BOB", dm, "what is deployed on staging?", ts())
        assert (await post(http, double.event_callback(event))).status_code == 200

        [thread] = await eventually(service.app.store.threads)
        assert thread.conversation == dm
        await replies_in(slack_api, dm, None)  # the agent answers in the DM, not in a thread


async def test_rejecting_asks_why_and_the_reason_goes_with_the_decision(database_url: str) -> None:
    async with slack_service(database_url) as (service, slack_api, http):
        started = ts()
        await post(http, mention(at=started))
        asked = await request_to(slack_api, "U0ALICE")
        request_id = buttons(asked)["switchboard:reject"]

        assert (
            await post(http, click("U0ALICE", asked, "switchboard:reject", request_id))
        ).status_code == 200
        [dialog] = slack_api.views
        assert dialog.view["callback_id"] == "switchboard:reject"
        request = await service.app.store.request(request_id)
        assert request is not None and request.status == "open"  # nothing decided by the click

        state = {"reason": {"reason": {"type": "plain_text_input", "value": "freeze week"}}}
        submitted = double.view_submission(
            "U0ALICE",
            {
                "callback_id": dialog.view["callback_id"],
                "private_metadata": dialog.view["private_metadata"],
                "state": {"values": state},
            },
        )
        assert (await post(http, submitted)).status_code == 200

        async def rejected() -> bool:
            found = await service.app.store.request(request_id)
            return found is not None and found.status == "rejected"

        await eventually(rejected)
        decided = await service.app.store.request(request_id)
        assert decided is not None and decided.answer == "freeze week"


async def test_a_click_by_someone_who_may_not_decide_or_too_late_is_told_only_them(
    database_url: str,
) -> None:
    async with slack_service(database_url) as (service, slack_api, http):
        await post(http, mention())
        asked = await request_to(slack_api, "U0ALICE")
        approve = buttons(asked)["switchboard:approve"]

        await post(http, click("U0DANA", asked, "switchboard:approve", approve))

        async def told_dana() -> list[str]:
            return [e.text for e in slack_api.ephemerals if e.user == "U0DANA"]

        [told] = await eventually(told_dana)
        assert "may not answer" in told
        request = await service.app.store.request(approve)
        assert request is not None and request.status == "open"

        await post(http, click("U0ALICE", asked, "switchboard:approve", approve))
        await post(http, click("U0ALICE", asked, "switchboard:approve", approve))

        async def told_alice() -> list[str]:
            return [e.text for e in slack_api.ephemerals if e.user == "U0ALICE"]

        [late] = await eventually(told_alice)
        assert "Already settled" in late and "Alice Example" in late


async def test_asked_in_slack_approved_from_the_discord_sandbox_updates_the_slack_copy(
    database_url: str,
) -> None:
    async with slack_service(database_url, people=[ALICE, ERIN, BOB]) as (service, slack_api, http):
        await post(http, mention())
        asked = await request_to(slack_api, "U0ALICE")
        request_id = buttons(asked)["switchboard:approve"]
        discord = service.channels["discord"]
        assert discord.simulator is not None
        approved = discord.simulator.simulate(
            sender="1005",
            conversation="dm:1005",
            action=Action(request_id=request_id, decision="approve"),
        )
        assert (await service.ingress.take(approved)) is not None

        async def updated() -> bool:
            return bool(asked.edits) and not buttons(asked)

        await eventually(updated)
        assert "Approved by Erin via discord" in asked.text


# --- what Slack sends, and what it must not be able to do -------------------------------------


async def test_forged_stale_and_unsigned_requests_get_401_and_change_nothing(
    database_url: str,
) -> None:
    async with slack_service(database_url) as (service, _slack_api, http):
        inbound = mention()
        stale = inbound.headers(SECRET, timestamp=int(time.time()) - 6 * 60)
        forged = inbound.headers("not-the-secret")
        tampered = (inbound.headers(SECRET), inbound.body.replace(b"production", b"prod-eu-1"))
        for headers, body in (
            (stale, inbound.body),
            (forged, inbound.body),
            ({"content-type": "application/json"}, inbound.body),
            tampered,
        ):
            response = await http.post(EVENTS, content=body, headers=headers)
            assert response.status_code == 401
        assert await service.app.store.inbox() == []
        assert await service.app.store.threads() == []


async def test_url_verification_is_answered(database_url: str) -> None:
    async with slack_service(database_url) as (_service, _slack_api, http):
        response = await post(http, double.url_verification("3eZbrw1aBm2rZgRNFdxV"))
        assert response.status_code == 200
        assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV"}


async def test_a_retried_event_is_kept_once_and_a_retry_whose_first_was_lost_is_kept(
    database_url: str,
) -> None:
    async with slack_service(database_url) as (service, _slack_api, http):
        first = mention(at=ts(), event_id="Ev0000000001")
        assert (await post(http, first)).status_code == 200
        retry = {"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"}
        assert (await post(http, first, **retry)).status_code == 200
        # The same message also comes as a `message` event (another event id): kept once too.
        event = first.payload["event"]
        as_message = double.message("U0BOB", OPS, event["text"], event["ts"])
        assert (await post(http, double.event_callback(as_message))).status_code == 200
        # A retry of a delivery that never reached us is the first we hear of it: kept.
        lost = mention(at=ts(), event_id="Ev0000000002")
        assert (await post(http, lost, **retry)).status_code == 200

        outcomes = [m.outcome for m in await service.app.store.inbox()]
        assert outcomes == ["started", "started"]  # the inbox keeps no row for a duplicate


async def test_the_bots_own_messages_other_bots_and_noise_are_acknowledged_and_dropped(
    database_url: str,
) -> None:
    async with slack_service(database_url) as (service, _slack_api, http):
        noise = [
            double.bot_message(OPS, "I am the bot", ts(), user="U0BOT"),
            double.bot_message(OPS, "I am another bot", ts()),
            double.channel_join("U0BOB", OPS, ts()),
            double.message("U0BOB", OPS, "chatter, not to the agent", ts()),
            double.thread_reply("U0BOB", OPS, "a reply in someone else's thread", ts(), "1.0"),
        ]
        for event in noise:
            assert (await post(http, double.event_callback(event))).status_code == 200
        assert await service.app.store.threads() == []
        assert await service.app.store.inbox() == []  # no one else's conversation is kept


async def test_garbage_from_slack_is_a_400_never_a_500(database_url: str) -> None:
    async with slack_service(database_url) as (_service, _slack_api, http):
        for body in (b"", b"{}", b'{"type": "event_callback"}', b"payload=%7B%7D", b"[" * 10000):
            headers = double.sign(body, SECRET)
            response = await http.post(EVENTS, content=body, headers=headers)
            assert response.status_code == 400, body[:40]


# --- failures on the way out -------------------------------------------------------------------


async def test_a_rate_limit_is_waited_out_and_a_dead_channel_is_a_dead_letter(
    database_url: str,
) -> None:
    async with slack_service(database_url) as (service, slack_api, http):
        slack_api.rate_limit_next("chat.postMessage", retry_after=1)
        await post(http, mention())
        await request_to(slack_api, "U0ALICE")  # after the 429, once its second has passed

        async def sent() -> list[tuple[str, int]]:
            rows = await service.app.store.outbox(channel="slack", status="sent")
            return [(r.kind, r.attempts) for r in rows if r.kind == "request"]

        assert await eventually(sent) == [("request", 2)]

        slack_api.fail_next("chat.postMessage", "channel_not_found")
        await post(http, mention(text="<@U0BOT> deploy web 1.0.0 to production"))

        async def dead() -> list[str]:
            rows = await service.app.store.outbox(channel="slack", status="dead")
            return [r.last_error or "" for r in rows]

        assert await eventually(dead) == ["chat_postMessage: channel_not_found"]


# --- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        (
            {"slack_signing_secret": SECRET},
            "SLACK_SIGNING_SECRET is set but SLACK_BOT_TOKEN is not",
        ),
        ({"slack_app_token": "xapp-1"}, "SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN is not"),
        ({"slack_bot_token": BOT_TOKEN}, "neither SLACK_SIGNING_SECRET"),
    ],
)
def test_half_the_credentials_is_one_clear_line(settings: dict[str, str], says: str) -> None:
    with pytest.raises(Misconfigured, match=says):
        slack(service_settings("sqlite://", **settings))


def test_no_credentials_is_the_sandbox_and_both_are_real() -> None:
    assert slack(service_settings("sqlite://")).sandbox
    real = slack(
        service_settings("sqlite://", slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET)
    )
    assert not real.sandbox and real.listener is None and real.check is not None


async def test_a_refused_token_stops_the_start_in_one_line() -> None:
    async with SlackDouble() as slack_api:
        channel = slack(
            service_settings(
                "sqlite://",
                slack_bot_token="xoxb-wrong",
                slack_signing_secret=SECRET,
                slack_api_url=slack_api.api_url,
            )
        )
        assert channel.check is not None
        try:
            with pytest.raises(Misconfigured, match="invalid_auth"):
                await channel.check()
        finally:
            await channel.transport.close()


# --- Socket Mode ------------------------------------------------------------------------------


async def test_the_same_flow_over_socket_mode_with_a_reconnect(database_url: str) -> None:
    users = {"U0ALICE": "Alice Example", "U0BOB": "Bob"}
    async with SlackDouble(users=users) as slack_api:
        configured = service_settings(
            database_url,
            slack_bot_token=BOT_TOKEN,
            slack_app_token=double.APP_TOKEN,
            slack_api_url=slack_api.api_url,
        )
        async with running(configured, people=[ALICE, BOB]) as service:
            assert service.channels["slack"].listener is not None
            await slack_api.connected()
            started = ts()
            envelope = await slack_api.push("events_api", mention(at=started).payload)
            await slack_api.acked(envelope)
            asked = await request_to(slack_api, "U0ALICE")

            await slack_api.disconnect_all()  # Slack refreshes the socket: the client reconnects
            await slack_api.connected(ever=2)
            approve = buttons(asked)["switchboard:approve"]
            pressed = click("U0ALICE", asked, "switchboard:approve", approve)
            await slack_api.acked(await slack_api.push("interactive", pressed.payload))

            [reply] = await replies_in(slack_api, OPS, started)
            assert reply.endswith("Deployed api 2.4.1 to production.")
            garbage = await slack_api.push("events_api", {"type": "event_callback"})
            await slack_api.acked(garbage)  # acknowledged, so Slack does not send it again
            assert len(await service.app.store.threads()) == 1


# --- whatever reaches the webhook ---------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
SLACKISH = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["event_callback", "block_actions", "view_submission", "url_verification", "x"]
        )
    },
    optional={
        "event": JSON,
        "event_id": JSON,
        "actions": st.lists(JSON, max_size=2),
        "view": JSON,
        "user": JSON,
        "container": JSON,
        "challenge": JSON,
        "authorizations": JSON,
    },
)
BODIES = st.one_of(
    st.binary(max_size=300),
    JSON.map(lambda v: json.dumps(v).encode()),
    SLACKISH.map(lambda v: json.dumps(v).encode()),
    SLACKISH.map(lambda v: b"payload=" + json.dumps(v).encode()),
    st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=4).map(
        lambda d: "&".join(f"{k}={v}" for k, v in d.items()).encode()
    ),
)
HEADERS = st.dictionaries(
    st.sampled_from(
        ["x-slack-signature", "x-slack-request-timestamp", "content-type", "x-slack-retry-num"]
    ),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)


@pytest.fixture
async def webhook(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with slack_service(database_url) as (_service, _slack_api, http):
        yield http


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=BODIES, headers=HEADERS, signed=st.booleans())
async def test_anything_posted_to_the_webhook_is_answered_never_a_server_error(
    webhook: httpx.AsyncClient, body: bytes, headers: dict[str, str], signed: bool
) -> None:
    if signed:
        headers = {**headers, **double.sign(body, SECRET)}
    response = await webhook.post(EVENTS, content=body, headers=headers)
    assert response.status_code in (200, 400, 401), (response.status_code, response.text)


async def test_posts_into_one_channel_go_about_one_a_second() -> None:
    """Slack's pace for one channel; other channels do not wait."""
    now, slept = [100.0], []

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        now[0] += seconds

    async with SlackDouble(users={"U0ALICE": "Alice"}) as slack_api:
        transport = SlackTransport(BOT_TOKEN, slack_api.api_url, clock=lambda: now[0], sleep=sleep)
        try:
            reply = OutboundMessage(kind="reply", text="hi", address="", conversation="C0OPS:1.0")
            elsewhere = reply.model_copy(update={"conversation": "C0DEV:1.0"})
            for message in (reply, reply, elsewhere):
                await transport.send(message, render(message))
                now[0] += 0.25
        finally:
            await transport.close()
    assert slept == [0.75]  # a second after the first post, which went out 0.25 s before
    assert [m.channel for m in slack_api.messages] == ["C0OPS", "C0OPS", "C0DEV"]


async def test_an_edit_is_taken_and_slacks_own_updates_of_a_message_are_not(
    database_url: str,
) -> None:
    async with slack_service(database_url) as (service, _slack_api, http):
        dm, first = dm_channel("U0BOB"), ts()
        said = double.message_im("U0BOB", dm, "what runs on staging?", first)
        await post(http, double.event_callback(said))
        edit = double.message_changed(
            "U0BOB", dm, first, "what runs on prod?", "what runs on staging?", event_ts=ts()
        )
        edit["channel_type"] = "im"
        await post(http, double.event_callback(edit))
        unfurled = double.message_changed(
            "U0BOB", dm, first, "what runs on prod?", "what runs on prod?", event_ts=ts()
        )
        unfurled["message"].pop("edited")
        await post(http, double.event_callback(unfurled))

        texts = [m.text for m in await service.app.store.inbox() if m.outcome != "refused"]
        assert texts == ["what runs on staging?", "what runs on prod?"]


async def test_a_slash_command_talks_to_the_agent_and_is_answered_at_once(
    database_url: str,
) -> None:
    async with slack_service(database_url) as (service, slack_api, http):
        command = double.slash_command(
            "U0BOB",
            OPS,
            "deploy api 2.4.1 to production",
            trigger_id="trigger-command-1",
            response_url="https://hooks.slack.test/commands/x",
        )
        response = await post(http, command)
        assert response.status_code == 200 and response.json()["response_type"] == "ephemeral"
        [thread] = await eventually(service.app.store.threads)
        assert (thread.agent, thread.conversation) == ("deploy", OPS)
        await request_to(slack_api, "U0ALICE")


async def test_an_approver_may_answer_in_the_requests_thread_in_words(database_url: str) -> None:
    async with slack_service(database_url) as (service, slack_api, http):
        started = ts()
        await post(http, mention(at=started))
        asked = await request_to(slack_api, "U0ALICE", service)
        request_id = buttons(asked)["switchboard:approve"]
        reply = double.thread_reply(
            "U0ALICE", asked.channel, "yes", ts(), asked.ts, channel_type="im"
        )
        assert (await post(http, double.event_callback(reply))).status_code == 200

        [answer] = await replies_in(slack_api, OPS, started)
        assert answer.endswith("Deployed api 2.4.1 to production.")
        request = await service.app.store.request(request_id)
        assert request is not None and (request.status, request.decided_via) == (
            "approved",
            "slack",
        )


async def test_an_edit_the_agent_has_not_read_takes_the_messages_place(database_url: str) -> None:
    """Bob adds to his thread while it waits for Alice, then corrects himself: the agent, when it
    reads on, sees the corrected words in the message's place."""
    async with slack_service(database_url) as (service, slack_api, http):
        started = ts()
        await post(http, mention(at=started))
        await request_to(slack_api, "U0ALICE", service)  # the thread waits: nobody reads on
        said = ts()
        await post(
            http,
            double.event_callback(double.thread_reply("U0BOB", OPS, "and web 1.0", said, started)),
        )
        edit = double.message_changed(
            "U0BOB", OPS, said, "and web 1.1", "and web 1.0", event_ts=ts()
        )
        edit["message"]["thread_ts"] = started
        assert (await post(http, double.event_callback(edit))).status_code == 200

        [thread] = await service.app.store.threads()
        stored = await service.app.store.events(thread.id)
        [added] = [
            e for e in stored if isinstance(e.event, MessageReceived) and "web" in e.event.text
        ]
        [edited] = [e.event for e in stored if isinstance(e.event, MessageEdited)]
        assert (edited.seq, edited.text, edited.sender) == (added.seq, "and web 1.1", "bob")


async def test_a_stranger_is_named_as_slack_shows_them_asked_once(database_url: str) -> None:
    """A public agent talks to people outside the directory: it and the timeline see the name
    Slack shows for them (users.info, asked once per person)."""
    async with slack_service(database_url, switchboard_channel_agents="slack=support") as (
        service,
        slack_api,
        http,
    ):
        slack_api.users["U0ZED"] = double.SlackUser("Zed Stranger", display_name="zed")
        dm = dm_channel("U0ZED")
        for text in ("where is my order 1001?", "it is late"):
            await post(http, double.event_callback(double.message_im("U0ZED", dm, text, ts())))

        [thread] = await eventually(service.app.store.threads)
        received = [
            e.event
            for e in await service.app.store.events(thread.id)
            if isinstance(e.event, MessageReceived)
        ]
        assert {(m.sender, m.sender_name) for m in received} == {("slack:U0ZED", "zed")}
        ghost = dm_channel("U0GHOST")  # Slack knows no such user: asked once all the same
        for text in ("hello?", "anyone?"):
            await post(http, double.event_callback(double.message_im("U0GHOST", ghost, text, ts())))
        asked = [c.args["user"] for c in slack_api.calls_to("users.info")]
        assert sorted(asked) == ["U0GHOST", "U0ZED"]


async def test_an_edit_in_a_cancelled_thread_is_answered_and_changes_nothing(
    database_url: str,
) -> None:
    async with slack_service(database_url) as (service, slack_api, http):
        started = ts()
        await post(http, mention(at=started))
        await request_to(slack_api, "U0ALICE", service)
        said = ts()
        await post(
            http, double.event_callback(double.thread_reply("U0BOB", OPS, "and web", said, started))
        )
        [thread] = await service.app.store.threads()
        await cancel(service.app.store, thread.id, by="alice", reason="wrong day")
        edit = double.message_changed("U0BOB", OPS, said, "and web 1.1", "and web", event_ts=ts())
        edit["message"]["thread_ts"] = started
        assert (await post(http, double.event_callback(edit))).status_code == 200

        stored = await service.app.store.events(thread.id)
        assert not [e for e in stored if isinstance(e.event, MessageEdited)]
        assert (await service.app.store.inbox())[-1].text == "and web"  # the edit was not kept
