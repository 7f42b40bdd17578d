"""A loopback Slack: its Web API, its Socket Mode WebSocket, and the requests it would send us.

`SlackDouble` is a real HTTP server on 127.0.0.1, so the real `slack_sdk` clients go through
their whole path against it: request encoding (slack_sdk sends some methods as JSON, some as
query parameters), bearer tokens, status codes, `Retry-After`, JSON decoding and the Socket
Mode handshake (`apps.connections.open`, `hello`, envelopes, acks, `disconnect`). Verified with
`AsyncWebClient(token=..., base_url=slack.api_url)` and the aiohttp Socket Mode client
(`slack_sdk.socket_mode.aiohttp.SocketModeClient`); see tests/test_slack_double.py. The
websockets client (`slack_sdk.socket_mode.websockets`) also gets hello, envelopes, acks and
`disconnect` right, but after an abrupt close it logs errors and reconnects only at its next
`ping_interval` tick.

It runs on the test's event loop, so the code under test must use the async clients (or run a
sync one in a thread). The module's functions build what Slack sends to *us* (Events API
callbacks, interactivity, slash commands), signed as Slack signs them; the same payloads go
into Socket Mode envelopes through `SlackDouble.push`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, NamedTuple
from urllib.parse import urlencode

from aiohttp import WSMsgType, web

BOT_TOKEN = "xoxb-switchboard-double"
APP_TOKEN = "xapp-1-switchboard-double"
TEAM_ID = "T0TEAM"
TEAM_DOMAIN = "switchboard-test"
APP_ID = "A0APP"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
VERIFICATION_TOKEN = "verification-token-double"
"""The deprecated verification token Slack still puts in payloads; nothing should trust it."""

EnvelopeType = Literal["events_api", "interactive", "slash_commands"]
JSON_IN_FORMS = frozenset({"blocks", "attachments", "view", "metadata"})
"""Arguments Slack takes as JSON text when the request is form-encoded."""


def dm_channel(user_id: str) -> str:
    """The stable id of the bot's DM with `user_id`, as `chat.postMessage(channel=user_id)`
    answers it."""
    return "D" + user_id[1:]


@dataclass(frozen=True, slots=True)
class SlackUser:
    """A person in the double's directory. `display_name` defaults to "" because that is what
    Slack sends for people who never set one; code should fall back to `real_name`."""

    real_name: str
    name: str | None = None
    display_name: str = ""
    email: str | None = None
    is_bot: bool = False

    def as_slack(self, user_id: str, team_id: str) -> dict[str, Any]:
        name = self.name or self.real_name.split()[0].lower()
        profile: dict[str, Any] = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.display_name,
            "display_name_normalized": self.display_name,
        }
        if self.email is not None:
            profile["email"] = self.email
        return {
            "id": user_id,
            "team_id": team_id,
            "name": name,
            "real_name": self.real_name,
            "deleted": False,
            "is_bot": self.is_bot,
            "profile": profile,
        }


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One Web API request as received: `args` merges query, form and JSON body."""

    method: str
    args: dict[str, Any]
    token: str | None
    http_method: str
    content_type: str


@dataclass(slots=True)
class PostedMessage:
    """A message the bot posted; `chat.update` edits it in place and counts in `edits`."""

    channel: str
    ts: str
    text: str | None
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None
    args: dict[str, Any]
    edits: int = 0
    edited_ts: str | None = None


@dataclass(frozen=True, slots=True)
class Ephemeral:
    channel: str
    user: str
    message_ts: str
    text: str | None
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None


@dataclass(frozen=True, slots=True)
class OpenedView:
    view_id: str
    trigger_id: str
    view: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Envelope:
    """A Socket Mode envelope as pushed to the app."""

    envelope_id: str
    type: EnvelopeType
    payload: dict[str, Any]
    accepts_response_payload: bool
    retry_attempt: int
    retry_reason: str

    def as_slack(self) -> dict[str, Any]:
        return {
            "envelope_id": self.envelope_id,
            "type": self.type,
            "payload": self.payload,
            "accepts_response_payload": self.accepts_response_payload,
            "retry_attempt": self.retry_attempt,
            "retry_reason": self.retry_reason,
        }


@dataclass(frozen=True, slots=True)
class ResponsePost:
    """A POST to a `response_url` the double issued."""

    url: str
    body: dict[str, Any]


class SocketCounts(NamedTuple):
    open: int
    ever: int


@dataclass(frozen=True, slots=True)
class _Fault:
    error: str
    status: int = 200
    retry_after: int | None = None


class _SlackError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class SlackDouble:
    """Slack's Web API and Socket Mode on 127.0.0.1 (ephemeral port) while the context is open.

    Everything it received and holds is public state for assertions: `calls`, `messages`,
    `ephemerals`, `views`, `envelopes`, `acks`, `responses`. Tests shape the world through
    `users`, `archived_channels` and `channels_without_bot`, and script faults with
    `fail_next` and `rate_limit_next`. As on Slack, posting to a user id opens the DM
    (`dm_channel`) and fails with `channel_not_found` for someone not in `users`.
    """

    def __init__(
        self,
        *,
        bot_token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        users: Mapping[str, str | SlackUser] | None = None,
        team_id: str = TEAM_ID,
        team_domain: str = TEAM_DOMAIN,
        app_id: str = APP_ID,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.team_domain = team_domain
        self.app_id = app_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.users: dict[str, SlackUser] = {
            user_id: SlackUser(user) if isinstance(user, str) else user
            for user_id, user in (users or {}).items()
        }
        self.archived_channels: set[str] = set()
        self.channels_without_bot: set[str] = set()
        self.calls: list[ApiCall] = []
        self.messages: list[PostedMessage] = []
        self.ephemerals: list[Ephemeral] = []
        self.views: list[OpenedView] = []
        self.envelopes: list[Envelope] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.responses: list[ResponsePost] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._serial = itertools.count(1)
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._sockets_ever = 0
        self._changed = asyncio.Event()
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "users.info": self._users_info,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "views.open": self._views_open,
            "apps.connections.open": self._connections_open,
        }
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/socket", self._socket)
        app.router.add_post("/respond/{key}", self._respond)
        app.on_shutdown.append(self._close_sockets)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        self._port: int | None = None

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("the Slack double is not running: use `async with SlackDouble()`")
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """What `AsyncWebClient` takes as `base_url`."""
        return f"{self.base_url}/api/"

    @property
    def connections(self) -> SocketCounts:
        """Socket Mode connections open now, and ever accepted."""
        return SocketCounts(len(self._sockets), self._sockets_ever)

    async def __aenter__(self) -> SlackDouble:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._runner.cleanup()
        self._port = None

    def fail_next(self, method: str, error: str = "channel_not_found", *, times: int = 1) -> None:
        """The next `times` calls to `method` answer `{"ok": false, "error": error}`."""
        self._faults.setdefault(method, deque()).extend([_Fault(error)] * times)

    def rate_limit_next(self, method: str, retry_after: int = 3, *, times: int = 1) -> None:
        """The next `times` calls to `method` answer HTTP 429 with `Retry-After: retry_after`."""
        fault = _Fault("ratelimited", status=429, retry_after=retry_after)
        self._faults.setdefault(method, deque()).extend([fault] * times)

    def calls_to(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    def messages_in(self, channel: str, thread_ts: str | None = None) -> list[PostedMessage]:
        """The bot's messages in `channel` (a user id means the DM), or in one of its threads."""
        channel = _dm_if_user(channel)
        return [
            message
            for message in self.messages
            if message.channel == channel and (thread_ts is None or message.thread_ts == thread_ts)
        ]

    def response_url(self) -> str:
        """A fresh `response_url` for interactive payloads; POSTs to it land in `responses`."""
        return f"{self.base_url}/respond/{next(self._serial)}"

    async def push(
        self,
        envelope_type: EnvelopeType,
        payload: Mapping[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        within: float = 5.0,
    ) -> str:
        """Send an envelope on the newest open connection (waiting for one); its envelope id.

        Like Slack, interactive and slash-command envelopes accept a response payload and
        events do not, unless `accepts_response_payload` says otherwise.
        """
        await self._until(lambda: bool(self._sockets), within, "a Socket Mode connection")
        envelope = Envelope(
            envelope_id=str(uuid.uuid4()),
            type=envelope_type,
            payload=dict(payload),
            accepts_response_payload=(
                envelope_type != "events_api"
                if accepts_response_payload is None
                else accepts_response_payload
            ),
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
        )
        self.envelopes.append(envelope)
        await self._sockets[-1].send_json(envelope.as_slack())
        return envelope.envelope_id

    async def acked(self, envelope_id: str, within: float = 2.0) -> dict[str, Any]:
        """The app's ack of an envelope (with its `payload`, if it sent one), once it comes."""
        await self._until(lambda: envelope_id in self.acks, within, f"the ack of {envelope_id}")
        return self.acks[envelope_id]

    async def connected(self, ever: int = 1, within: float = 5.0) -> None:
        """Wait until `ever` connections have been accepted and one is open."""
        await self._until(
            lambda: self._sockets_ever >= ever and bool(self._sockets),
            within,
            f"Socket Mode connection number {ever}",
        )

    async def disconnect_all(self, reason: str = "refresh_requested") -> None:
        """Ask every connected app to reconnect, as Slack does before it drops a socket. The
        sockets stay open: the client closes the old one once it has a new one."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "double"}}
        for socket in list(self._sockets):
            await socket.send_json(message)

    async def drop_all(self) -> None:
        """Close every socket from Slack's side without a `disconnect` first."""
        for socket in list(self._sockets):
            await socket.close()

    async def _until(self, predicate: Callable[[], bool], within: float, what: str) -> None:
        try:
            async with asyncio.timeout(within):
                changed = self._changed
                while not predicate():
                    await changed.wait()
                    changed = self._changed
        except TimeoutError:
            raise TimeoutError(f"the Slack double saw no {what} within {within}s") from None

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            args = await _arguments(request)
        except ValueError:
            return web.json_response({"ok": False, "error": "invalid_json"})
        token = _bearer(request.headers.get("Authorization"))
        if token is None and "token" in args:
            token = str(args.pop("token"))
        self.calls.append(ApiCall(method, args, token, request.method, request.content_type))
        faults = self._faults.get(method)
        if faults:
            fault = faults.popleft()
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            body = {"ok": False, "error": fault.error}
            return web.json_response(body, status=fault.status, headers=headers)
        handler = self._methods.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        try:
            self._authorize(method, token)
            return web.json_response(handler(args))
        except _SlackError as e:
            return web.json_response({"ok": False, "error": e.error})

    def _authorize(self, method: str, token: str | None) -> None:
        if token is None:
            raise _SlackError("not_authed")
        wanted = self.app_token if method == "apps.connections.open" else self.bot_token
        if token == wanted:
            return
        if token in (self.bot_token, self.app_token):
            raise _SlackError("not_allowed_token_type")
        raise _SlackError("invalid_auth")

    def _next_ts(self) -> str:
        seconds, micros = divmod(next(self._serial) * 100, 1_000_000)
        return f"{1_700_000_000 + seconds}.{micros:06d}"

    def _channel(self, args: Mapping[str, Any]) -> str:
        channel = str(args.get("channel") or "")
        if not channel or (channel[0] in "UW" and channel not in self.users):
            raise _SlackError("channel_not_found")
        channel = _dm_if_user(channel)
        if channel in self.archived_channels:
            raise _SlackError("is_archived")
        if channel in self.channels_without_bot:
            raise _SlackError("not_in_channel")
        return channel

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_domain,
            "user": "switchboard",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = str(args.get("user") or "")
        if user_id == self.bot_user_id:
            user = SlackUser("Switchboard", name="switchboard", is_bot=True)
        elif user_id in self.users:
            user = self.users[user_id]
        else:
            raise _SlackError("user_not_found")
        return {"ok": True, "user": user.as_slack(user_id, self.team_id)}

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if not (args.get("text") or args.get("blocks") or args.get("attachments")):
            raise _SlackError("no_text")
        message = PostedMessage(
            channel=channel,
            ts=self._next_ts(),
            text=args.get("text"),
            blocks=args.get("blocks"),
            thread_ts=args.get("thread_ts"),
            args=args,
        )
        self.messages.append(message)
        return {"ok": True, "channel": channel, "ts": message.ts, "message": self._seen(message)}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        ts = args.get("ts")
        found = [m for m in self.messages if m.channel == channel and m.ts == ts]
        if not found:
            raise _SlackError("message_not_found")
        message = found[0]
        if "text" in args:
            message.text = args["text"]
        if "blocks" in args:
            message.blocks = args["blocks"]
        message.edits += 1
        message.edited_ts = self._next_ts()
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "text": message.text or "",
            "message": self._seen(message),
        }

    def _seen(self, message: PostedMessage) -> dict[str, Any]:
        """A message as Slack echoes it back in API responses."""
        seen: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": message.text or "",
            "ts": message.ts,
        }
        if message.blocks is not None:
            seen["blocks"] = message.blocks
        if message.thread_ts is not None:
            seen["thread_ts"] = message.thread_ts
        if message.edited_ts is not None:
            seen["edited"] = {"user": self.bot_user_id, "ts": message.edited_ts}
        return seen

    def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        user = str(args.get("user") or "")
        if user not in self.users:
            raise _SlackError("user_not_in_channel")
        ephemeral = Ephemeral(
            channel=channel,
            user=user,
            message_ts=self._next_ts(),
            text=args.get("text"),
            blocks=args.get("blocks"),
            thread_ts=args.get("thread_ts"),
        )
        self.ephemerals.append(ephemeral)
        return {"ok": True, "message_ts": ephemeral.message_ts}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger_id = str(args.get("trigger_id") or "")
        if not trigger_id:
            raise _SlackError("invalid_arguments")
        view = args.get("view")
        if not isinstance(view, dict):
            raise _SlackError("invalid_arguments")
        view_id = f"V{next(self._serial):010d}"
        opened = {
            "id": view_id,
            "team_id": self.team_id,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
            "root_view_id": view_id,
            "previous_view_id": None,
            "hash": f"{view_id}.hash",
            "state": {"values": {}},
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            **view,
        }
        self.views.append(OpenedView(view_id, trigger_id, opened))
        return {"ok": True, "view": opened}

    def _connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        url = f"ws://127.0.0.1:{self._port}/socket?ticket={ticket}&app_id={self.app_id}"
        return {"ok": True, "url": url}

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="unknown or used ticket")
        self._tickets.discard(ticket)
        socket = web.WebSocketResponse(timeout=1.0)
        await socket.prepare(request)
        self._sockets_ever += 1
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets) + 1,
                "debug_info": {"host": "double", "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }
        )
        self._sockets.append(socket)
        self._notify()
        try:
            async for frame in socket:
                if frame.type is WSMsgType.TEXT:
                    self._receive(frame.data)
        finally:
            self._sockets.remove(socket)
            self._notify()
        return socket

    def _receive(self, text: str) -> None:
        message = json.loads(text)
        if isinstance(message, dict) and "envelope_id" in message:
            self.acks[str(message["envelope_id"])] = message
            self._notify()

    async def _close_sockets(self, app: web.Application) -> None:
        for socket in list(self._sockets):
            await socket.close()

    async def _respond(self, request: web.Request) -> web.Response:
        self.responses.append(ResponsePost(str(request.url), await request.json()))
        return web.json_response({"ok": True})


def _dm_if_user(channel: str) -> str:
    return dm_channel(channel) if channel[:1] in ("U", "W") else channel


def _bearer(authorization: str | None) -> str | None:
    if authorization is None or not authorization.startswith("Bearer "):
        return None
    return authorization.removeprefix("Bearer ").strip()


async def _arguments(request: web.Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            args.update(body)
    elif request.can_read_body:
        form = await request.post()
        for name, value in form.items():
            if not isinstance(value, str):
                continue
            args[name] = json.loads(value) if name in JSON_IN_FORMS else value
    return args


# Requests Slack sends to us.


@dataclass(frozen=True, slots=True)
class Inbound:
    """What Slack would POST to our endpoint, and `payload` as a Socket Mode envelope carries
    the same thing (for `SlackDouble.push`)."""

    body: bytes
    content_type: str
    payload: dict[str, Any]

    def headers(self, secret: str, timestamp: int | None = None) -> dict[str, str]:
        """Content type and signature headers, as Slack sends them with `body`."""
        return {"Content-Type": self.content_type, **sign(self.body, secret, timestamp)}


def sign(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Slack's request signature: HMAC-SHA256 of `v0:{timestamp}:{body}` under the signing
    secret. The timestamp defaults to now, since receivers reject ones over five minutes old."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + stamp.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


_serials = itertools.count(1)


def _json(payload: dict[str, Any]) -> Inbound:
    return Inbound(json.dumps(payload).encode(), "application/json", payload)


def _form(fields: Mapping[str, str], payload: dict[str, Any]) -> Inbound:
    return Inbound(urlencode(fields).encode(), "application/x-www-form-urlencoded", payload)


def _interactive(payload: dict[str, Any]) -> Inbound:
    return _form({"payload": json.dumps(payload)}, payload)


def url_verification(challenge: str) -> Inbound:
    """The handshake Slack sends when the Events API request URL is set."""
    payload = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    return _json(payload)


def event_callback(
    event: Mapping[str, Any],
    *,
    event_id: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    bot_user_id: str = BOT_USER_ID,
    event_time: int | None = None,
) -> Inbound:
    """An Events API delivery of `event`; `event_id` defaults to a fresh one (reuse one to
    play Slack's redelivery)."""
    when = event.get("event_ts") or event.get("ts")
    payload = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_serials):010d}",
        "event_time": event_time or int(float(when) if when else time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    return _json(payload)


def message(
    user: str,
    channel: str,
    text: str,
    ts: str,
    *,
    thread_ts: str | None = None,
    channel_type: str = "channel",
    team: str = TEAM_ID,
) -> dict[str, Any]:
    """A `message` event a person posted."""
    event: dict[str, Any] = {
        "type": "message",
        "user": user,
        "text": text,
        "ts": ts,
        "team": team,
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
        "client_msg_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{channel}/{ts}")),
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def message_im(user: str, channel: str, text: str, ts: str) -> dict[str, Any]:
    """A person writing to the bot in its DM (`channel` is the D... id)."""
    return message(user, channel, text, ts, channel_type="im")


def thread_reply(
    user: str, channel: str, text: str, ts: str, thread_ts: str, *, channel_type: str = "channel"
) -> dict[str, Any]:
    """A person's reply in the thread under `thread_ts`."""
    return message(user, channel, text, ts, thread_ts=thread_ts, channel_type=channel_type)


def app_mention(
    user: str, channel: str, text: str, ts: str, thread_ts: str | None = None
) -> dict[str, Any]:
    """`text` should contain `<@U0BOT>`, as Slack only sends this when the bot is mentioned."""
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": ts,
        "team": TEAM_ID,
        "channel": channel,
        "event_ts": ts,
        "client_msg_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{channel}/{ts}")),
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def message_changed(
    user: str,
    channel: str,
    ts: str,
    text: str,
    previous_text: str,
    *,
    event_ts: str,
    channel_type: str = "channel",
) -> dict[str, Any]:
    """A person edited their message `ts`; Slack reports it at a new `event_ts`."""
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": channel,
        "channel_type": channel_type,
        "ts": event_ts,
        "event_ts": event_ts,
        "message": {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "edited": {"user": user, "ts": event_ts},
        },
        "previous_message": {"type": "message", "user": user, "text": previous_text, "ts": ts},
    }


def message_deleted(
    user: str,
    channel: str,
    deleted_ts: str,
    previous_text: str,
    *,
    event_ts: str,
    channel_type: str = "channel",
) -> dict[str, Any]:
    """The message `deleted_ts` was deleted."""
    return {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": channel,
        "channel_type": channel_type,
        "ts": event_ts,
        "event_ts": event_ts,
        "deleted_ts": deleted_ts,
        "previous_message": {
            "type": "message",
            "user": user,
            "text": previous_text,
            "ts": deleted_ts,
        },
    }


def bot_message(
    channel: str,
    text: str,
    ts: str,
    *,
    bot_id: str = BOT_ID,
    user: str | None = None,
    thread_ts: str | None = None,
    channel_type: str = "channel",
) -> dict[str, Any]:
    """A bot's message. With `user` (an app's bot user, e.g. our own U0BOT echoing back) it has
    no subtype, as Slack sends it; without, it is a legacy `bot_message`."""
    event: dict[str, Any] = {
        "type": "message",
        "bot_id": bot_id,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
    }
    if user is None:
        event["subtype"] = "bot_message"
        event["username"] = "a bot"
    else:
        event["user"] = user
        event["app_id"] = APP_ID
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def channel_join(user: str, channel: str, ts: str, *, inviter: str | None = None) -> dict[str, Any]:
    """`user` joined `channel`; with the bot's own id it is the bot being added, which bolt
    drops as the bot's own event."""
    event: dict[str, Any] = {
        "type": "message",
        "subtype": "channel_join",
        "user": user,
        "text": f"<@{user}> has joined the channel",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "channel_type": "channel",
    }
    if inviter is not None:
        event["inviter"] = inviter
    return event


def _user(user: str, team_id: str) -> dict[str, Any]:
    return {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team_id}


def block_actions(
    user: str,
    channel: str,
    message_ts: str,
    action_id: str,
    value: str,
    *,
    trigger_id: str,
    response_url: str,
    thread_ts: str | None = None,
    block_id: str = "actions",
    message_text: str = "",
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
) -> Inbound:
    """`user` pressed the button `action_id` (carrying `value`) on the bot's message."""
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel,
        "is_ephemeral": False,
    }
    bot_post: dict[str, Any] = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "app_id": api_app_id,
        "text": message_text,
        "ts": message_ts,
    }
    if thread_ts is not None:
        container["thread_ts"] = thread_ts
        bot_post["thread_ts"] = thread_ts
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user, team_id),
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": channel.lower()},
        "message": bot_post,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "text": {"type": "plain_text", "text": value},
                "action_ts": f"{int(time.time())}.000001",
            }
        ],
    }
    return _interactive(payload)


def view_submission(
    user: str,
    view: Mapping[str, Any],
    *,
    trigger_id: str = "0000000000.0000000000.double",
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
) -> Inbound:
    """`user` submitted a modal. `view` needs at least `callback_id` and `state.values`
    (`{block_id: {action_id: {"type": ..., "value": ...}}}`); the rest is filled in."""
    view_id = f"V{next(_serials):010d}"
    submitted = {
        "id": view_id,
        "team_id": team_id,
        "type": "modal",
        "blocks": [],
        "private_metadata": "",
        "callback_id": "",
        "state": {"values": {}},
        "hash": f"{view_id}.hash",
        "title": {"type": "plain_text", "text": "Switchboard"},
        "root_view_id": view_id,
        "previous_view_id": None,
        "app_id": api_app_id,
        "external_id": "",
        "bot_id": BOT_ID,
        **view,
    }
    payload: dict[str, Any] = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user, team_id),
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "view": submitted,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _interactive(payload)


def slash_command(
    user: str,
    channel: str,
    text: str,
    *,
    trigger_id: str,
    response_url: str,
    command: str = "/switchboard",
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
) -> Inbound:
    """`user` typed `{command} {text}` in `channel`. The payload is the form's fields, as a
    Socket Mode `slash_commands` envelope carries them."""
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel,
        "channel_name": "directmessage" if channel.startswith("D") else channel.lower(),
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    return _form(fields, dict(fields))
