"""The Slack double against the real slack_sdk and slack_bolt: if these pass, a test that drives
our Slack channel through the double exercises the same client paths production does."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from types import SimpleNamespace
from typing import Any

import pytest
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_async_handlers
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.doubles import slack as sd
from tests.doubles.slack import APP_TOKEN, BOT_TOKEN, Inbound, SlackDouble, SlackUser

SECRET = "signing-secret-double"
ADA, BOB = "U1ADA", "U2BOB"
GENERAL = "C0GENERAL"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*deploy* api 2.4.1?"}}]


@pytest.fixture
async def slack() -> AsyncIterator[SlackDouble]:
    users: dict[str, str | SlackUser] = {
        ADA: SlackUser("Ada Lovelace", display_name="ada", email="ada@example.com"),
        BOB: "Bob",
    }
    async with SlackDouble(users=users) as double:
        yield double


def web(slack: SlackDouble, token: str | None = BOT_TOKEN, **kwargs: Any) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=slack.api_url, **kwargs)


async def slack_error(call: Awaitable[Any]) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


async def test_auth_test_answers_for_the_bot_token_only(slack: SlackDouble) -> None:
    me = await web(slack).auth_test()
    assert (me["user_id"], me["bot_id"], me["team_id"]) == ("U0BOT", "B0BOT", "T0TEAM")
    assert slack.calls[-1].token == BOT_TOKEN

    wrong = await slack_error(web(slack, "xoxb-not-ours").auth_test())
    assert (wrong.response.status_code, wrong.response["error"]) == (200, "invalid_auth")
    app_token = await slack_error(web(slack, APP_TOKEN).auth_test())
    assert app_token.response["error"] == "not_allowed_token_type"
    anonymous = await slack_error(web(slack, None).auth_test())
    assert anonymous.response["error"] == "not_authed"


async def test_users_info_reads_the_directory(slack: SlackDouble) -> None:
    ada = (await web(slack).users_info(user=ADA))["user"]
    assert ada["real_name"] == "Ada Lovelace"
    assert ada["profile"]["display_name"] == "ada"
    assert ada["profile"]["email"] == "ada@example.com"
    bob = (await web(slack).users_info(user=BOB))["user"]
    assert (bob["name"], bob["profile"]["display_name"]) == ("bob", "")
    assert (slack.calls[-1].http_method, slack.calls[-1].args) == ("GET", {"user": BOB})

    missing = await slack_error(web(slack).users_info(user="U9NOBODY"))
    assert missing.response["error"] == "user_not_found"


async def test_a_message_to_a_person_lands_in_their_dm_with_increasing_ts(
    slack: SlackDouble,
) -> None:
    client = web(slack)
    first = await client.chat_postMessage(channel=ADA, text="deploy?", blocks=BLOCKS)
    reply = await client.chat_postMessage(channel=ADA, text="done", thread_ts=first["ts"])

    assert first["channel"] == reply["channel"] == sd.dm_channel(ADA) == "D1ADA"
    assert float(reply["ts"]) > float(first["ts"])
    assert first["message"]["blocks"] == BLOCKS
    assert reply["message"]["thread_ts"] == first["ts"]
    assert [m.text for m in slack.messages_in(ADA)] == ["deploy?", "done"]
    assert [m.ts for m in slack.messages_in("D1ADA", thread_ts=first["ts"])] == [reply["ts"]]
    assert slack.calls_to("chat.postMessage")[0].content_type == "application/json"


async def test_posting_where_the_bot_cannot_fails_as_slack_does(slack: SlackDouble) -> None:
    slack.archived_channels.add("C0OLD")
    slack.channels_without_bot.add("C0PRIVATE")
    client = web(slack)
    errors = [
        (await slack_error(client.chat_postMessage(channel=channel, text="hi"))).response["error"]
        for channel in ("U9NOBODY", "C0OLD", "C0PRIVATE")
    ]
    assert errors == ["channel_not_found", "is_archived", "not_in_channel"]
    # chat_postMessage without text warns (an error under pytest), so the raw call:
    no_text = await slack_error(client.api_call("chat.postMessage", json={"channel": GENERAL}))
    assert no_text.response["error"] == "no_text"
    assert slack.messages == []


async def test_update_edits_the_stored_message(slack: SlackDouble) -> None:
    client = web(slack)
    posted = await client.chat_postMessage(channel=GENERAL, text="deploy?", blocks=BLOCKS)
    updated = await client.chat_update(channel=GENERAL, ts=posted["ts"], text="approved", blocks=[])

    assert updated["ts"] == posted["ts"]
    assert updated["message"]["edited"]["user"] == "U0BOT"
    [message] = slack.messages
    assert (message.text, message.blocks, message.edits) == ("approved", [], 1)
    missing = await slack_error(client.chat_update(channel=GENERAL, ts="1.000000", text="x"))
    assert missing.response["error"] == "message_not_found"


async def test_ephemerals_and_views_are_recorded_apart_from_messages(slack: SlackDouble) -> None:
    client = web(slack)
    ephemeral = await client.chat_postEphemeral(
        channel=GENERAL, user=ADA, text="only you", thread_ts="1700000000.000100"
    )
    view = {"type": "modal", "callback_id": "why", "title": {"type": "plain_text", "text": "Why"}}
    opened = await client.views_open(trigger_id="1337.42.abc", view=view)

    [recorded] = slack.ephemerals
    assert (recorded.user, recorded.text, recorded.message_ts) == (
        ADA,
        "only you",
        ephemeral["message_ts"],
    )
    assert opened["view"]["id"].startswith("V")
    assert opened["view"]["callback_id"] == "why"
    assert [(v.view_id, v.trigger_id) for v in slack.views] == [
        (opened["view"]["id"], "1337.42.abc")
    ]
    assert slack.messages == []


async def test_form_bodies_and_body_tokens_are_read_as_slack_reads_them(slack: SlackDouble) -> None:
    form = {"token": BOT_TOKEN, "channel": GENERAL, "text": "hi", "blocks": json.dumps(BLOCKS)}
    posted = await web(slack, None).api_call("chat.postMessage", data=form)
    assert posted["message"]["blocks"] == BLOCKS
    [call] = slack.calls
    assert (call.token, call.content_type) == (BOT_TOKEN, "application/x-www-form-urlencoded")
    assert call.args == {"channel": GENERAL, "text": "hi", "blocks": BLOCKS}


async def test_an_unknown_method_says_so(slack: SlackDouble) -> None:
    error = await slack_error(web(slack).api_call("conversations.list"))
    assert error.response["error"] == "unknown_method"


async def test_fail_next_fails_one_call_then_slack_recovers(slack: SlackDouble) -> None:
    slack.fail_next("chat.postMessage", "channel_not_found")
    client = web(slack)
    error = await slack_error(client.chat_postMessage(channel=GENERAL, text="hi"))
    assert (error.response.status_code, error.response["error"]) == (200, "channel_not_found")
    assert (await client.chat_postMessage(channel=GENERAL, text="hi"))["ok"]
    assert len(slack.calls_to("chat.postMessage")) == 2


async def test_a_rate_limit_surfaces_as_429_with_retry_after(slack: SlackDouble) -> None:
    """slack_sdk's default retry handlers only retry connection errors, so a 429 reaches the
    caller as SlackApiError unless AsyncRateLimitErrorRetryHandler is configured."""
    slack.rate_limit_next("chat.postMessage", retry_after=3)
    client = web(slack)
    error = await slack_error(client.chat_postMessage(channel=GENERAL, text="hi"))
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "3"
    assert error.response["error"] == "ratelimited"
    assert (await client.chat_postMessage(channel=GENERAL, text="hi"))["ok"]


async def test_the_rate_limit_retry_handler_waits_and_retries(
    slack: SlackDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler sleeps Retry-After plus random() seconds; the jitter is pinned to 0 here."""
    monkeypatch.setattr(builtin_async_handlers, "random", SimpleNamespace(random=lambda: 0.0))
    slack.rate_limit_next("chat.postMessage", retry_after=0)
    client = web(slack, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    assert (await client.chat_postMessage(channel=GENERAL, text="hi"))["ok"]
    assert len(slack.calls_to("chat.postMessage")) == 2
    assert len(slack.messages) == 1


def test_sign_matches_slacks_verifier() -> None:
    body = b'{"type":"event_callback"}'
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(body, sd.sign(body, SECRET))
    assert not verifier.is_valid_request(body + b" ", sd.sign(body, SECRET))
    assert not verifier.is_valid_request(body, sd.sign(body, "another-secret"))
    assert not verifier.is_valid_request(body, sd.sign(body, SECRET, int(time.time()) - 600))


INBOUND: dict[str, Inbound] = {
    "url_verification": sd.url_verification("challenge-42"),
    "app_mention": sd.event_callback(
        sd.app_mention(ADA, GENERAL, "<@U0BOT> deploy api", "1700000001.000100")
    ),
    "message_im": sd.event_callback(sd.message_im(ADA, "D1ADA", "hi", "1700000002.000100")),
    "thread_reply": sd.event_callback(
        sd.thread_reply(ADA, GENERAL, "yes", "1700000003.000100", "1700000001.000100")
    ),
    "message_changed": sd.event_callback(
        sd.message_changed(ADA, GENERAL, "1700000003.000100", "no", "yes", event_ts="1700000004.1")
    ),
    "message_deleted": sd.event_callback(
        sd.message_deleted(ADA, GENERAL, "1700000003.000100", "no", event_ts="1700000005.1")
    ),
    "bot_message": sd.event_callback(sd.bot_message(GENERAL, "beep", "1700000006.1", bot_id="B9")),
    "channel_join": sd.event_callback(sd.channel_join(BOB, GENERAL, "1700000007.1")),
    "own_echo": sd.event_callback(sd.bot_message(GENERAL, "on it", "1700000008.1", user="U0BOT")),
    "block_actions": sd.block_actions(
        ADA,
        GENERAL,
        "1700000000.000100",
        "approve",
        "req-1",
        trigger_id="1337.42.abc",
        response_url="http://127.0.0.1:9/respond/1",
    ),
    "view_submission": sd.view_submission(
        ADA, {"callback_id": "why", "state": {"values": {"b": {"a": {"value": "risky"}}}}}
    ),
    "slash_command": sd.slash_command(
        ADA,
        GENERAL,
        "status",
        trigger_id="1337.42.abc",
        response_url="http://127.0.0.1:9/respond/2",
    ),
}


@pytest.mark.parametrize("name", INBOUND)
def test_inbound_bodies_decode_to_their_payload_as_bolt_reads_them(name: str) -> None:
    inbound = INBOUND[name]
    assert parse_body(inbound.body.decode(), inbound.content_type) == inbound.payload
    assert SignatureVerifier(SECRET).is_valid_request(inbound.body, inbound.headers(SECRET))


def bolt_request(inbound: Inbound, tamper: bytes = b"") -> AsyncBoltRequest:
    headers: dict[str, str | Sequence[str]] = dict(inbound.headers(SECRET))
    return AsyncBoltRequest(body=(inbound.body + tamper).decode(), headers=headers)


def bolt_app(slack: SlackDouble, seen: list[str]) -> AsyncApp:
    app = AsyncApp(client=web(slack), signing_secret=SECRET, process_before_response=True)

    @app.event("app_mention")
    async def mentioned(event: dict[str, Any], say: Callable[..., Awaitable[Any]]) -> None:
        seen.append("app_mention")
        await say(text="on it", thread_ts=event["ts"])

    @app.event("message")
    async def messaged(event: dict[str, Any]) -> None:
        seen.append(f"message/{event.get('subtype') or event['channel_type']}")

    @app.action("approve")
    async def approved(
        ack: Callable[[], Awaitable[None]], respond: Callable[..., Awaitable[Any]]
    ) -> None:
        await ack()
        seen.append("block_actions")
        await respond(text="approved")

    @app.view("why")
    async def submitted(ack: Callable[[], Awaitable[None]], view: dict[str, Any]) -> None:
        await ack()
        seen.append(f"view_submission/{view['state']['values']['b']['a']['value']}")

    @app.command("/switchboard")
    async def commanded(ack: Callable[..., Awaitable[None]], command: dict[str, str]) -> None:
        await ack(text="ok")
        seen.append(f"slash_command/{command['text']}")

    return app


async def test_bolt_routes_every_signed_inbound_to_its_listener(slack: SlackDouble) -> None:
    seen: list[str] = []
    app = bolt_app(slack, seen)
    inbound = dict(INBOUND)
    inbound["block_actions"] = sd.block_actions(
        ADA,
        GENERAL,
        "1700000000.000100",
        "approve",
        "req-1",
        trigger_id="1337.42.abc",
        response_url=slack.response_url(),
    )
    statuses = {}
    for name, request in inbound.items():
        response = await app.async_dispatch(bolt_request(request))
        statuses[name] = response.status
    assert set(statuses.values()) == {200}, statuses
    assert seen == [
        "app_mention",
        "message/im",
        "message/channel",
        "message/message_changed",
        "message/message_deleted",
        "message/bot_message",
        "message/channel_join",
        # own_echo: bolt drops the bot's own events (by its auth.test identity, from the double)
        "block_actions",
        "view_submission/risky",
        "slash_command/status",
    ]
    [answer] = slack.messages_in(GENERAL, thread_ts="1700000001.000100")
    assert answer.text == "on it"
    assert [r.body["text"] for r in slack.responses] == ["approved"]

    forged = INBOUND["app_mention"]
    unsigned = await app.async_dispatch(bolt_request(forged, tamper=b" "))
    assert unsigned.status == 401


Received = list[tuple[AsyncBaseSocketModeClient, SocketModeRequest]]


@contextlib.asynccontextmanager
async def socket_mode(slack: SlackDouble, received: Received) -> AsyncIterator[SocketModeClient]:
    """The real aiohttp Socket Mode client, acking each request (echoing the payload's `echo`)."""
    client = SocketModeClient(app_token=APP_TOKEN, web_client=web(slack, None))

    async def listener(client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        received.append((client, request))
        echo = request.payload.get("echo")
        response = SocketModeResponse(request.envelope_id, None if echo is None else {"echo": echo})
        await client.send_socket_mode_response(response)

    client.socket_mode_request_listeners.append(listener)
    try:
        await client.connect()  # type: ignore[no-untyped-call]
        yield client
    finally:
        await client.close()  # type: ignore[no-untyped-call]


async def test_socket_mode_hello_push_ack(slack: SlackDouble) -> None:
    received: Received = []
    hellos: list[dict[str, Any]] = []

    async def on_message(
        client: AsyncBaseSocketModeClient, message: dict[str, Any], raw: str | None
    ) -> None:
        if message.get("type") == "hello":
            hellos.append(message)

    async with socket_mode(slack, received) as client:
        client.message_listeners.append(on_message)
        await slack.connected()
        event = INBOUND["app_mention"].payload
        envelope_id = await slack.push("events_api", event)
        assert await slack.acked(envelope_id) == {"envelope_id": envelope_id}
        [(_, request)] = received
        assert (request.type, request.payload, request.accepts_response_payload) == (
            "events_api",
            event,
            False,
        )

        interactive = await slack.push("interactive", {"type": "block_actions", "echo": "hi"})
        assert (await slack.acked(interactive))["payload"] == {"echo": "hi"}
        assert received[-1][1].accepts_response_payload is True
    assert slack.calls_to("apps.connections.open")[0].token == APP_TOKEN
    assert slack.connections.ever == 1


async def test_socket_mode_reconnects_after_disconnect_and_after_a_drop(slack: SlackDouble) -> None:
    received: Received = []
    async with socket_mode(slack, received):
        await slack.connected()
        await slack.disconnect_all()
        await slack.connected(ever=2)
        await slack.acked(await slack.push("events_api", {"n": 1}))
        await slack.drop_all()
        await slack.connected(ever=3)
        await slack.acked(await slack.push("events_api", {"n": 2}))
        assert [request.payload for _, request in received] == [{"n": 1}, {"n": 2}]
        assert len(slack.calls_to("apps.connections.open")) == 3


async def test_waiting_for_what_never_comes_times_out_with_a_reason(slack: SlackDouble) -> None:
    with pytest.raises(TimeoutError, match="Socket Mode connection"):
        await slack.push("events_api", {}, within=0.05)
    with pytest.raises(TimeoutError, match="the ack of nope"):
        await slack.acked("nope", within=0.05)
