"""A loopback Discord: its REST API under `/api/v10/` and its gateway WebSocket at `/gateway`.

`DiscordDouble` is a real HTTP server on 127.0.0.1, so the real discord.py client goes through
its whole path against it: `Authorization: Bot <token>`, JSON bodies, status codes and
Discord's error JSON, its 429 handling, and the gateway protocol (HELLO, IDENTIFY, READY,
heartbeats, RESUME with replay, close codes). Verified with discord.py 2.7 in
tests/test_discord_double.py.

discord.py has no base URL option, so point it at the double with two class attributes (the
channel's transport and gateway listener set them from DISCORD_API_URL and DISCORD_GATEWAY_URL);
the double puts back whatever they held when it started, as it stops::

    discord.http.Route.BASE = double.api_url  # REST, including webhooks and interactions
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(double.gateway_url)

The second is needed because `Client.connect` never asks `GET /gateway/bot` (only the
AutoShardedClient does): it dials `DEFAULT_GATEWAY`, then whatever `resume_gateway_url` READY
gave it. It asks for `compress=zlib-stream` but only decompresses binary frames, so the double
answers in uncompressed text frames and discord.py reads them as they are.

It runs on the test's event loop. Everything it received is public state for assertions:
`calls`, `messages`, `interaction_responses`, `followups`, `identify_payloads`, `resumes`,
`heartbeats`. Faults are scripted with `fail_next`, `rate_limit_next` and `reject_identify`;
the gateway's turns with `drop`, `reconnect` and `invalidate_session`.
The module's functions build what Discord sends to the bot (`message_create`,
`component_click`, `modal_submit`, `guild` with its threads) for `DiscordDouble.dispatch`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import json
import uuid
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import WSMsgType, web

with warnings.catch_warnings():  # discord.py imports audioop (voice), deprecated since 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.double.switchboard-discord-double"
APPLICATION_ID = "1100000000000000001"
BOT_USER_ID = APPLICATION_ID
"""As on Discord, the bot user of an application has the application's id."""
BOT_NAME = "switchboard"
API_PREFIX = "/api/v10"
HEARTBEAT_INTERVAL_MS = 41250
MESSAGE_CONTENT_INTENT = 1 << 15  # a gateway intent
GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19  # an application flag: the portal's switch is on

# Gateway opcodes.
DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, RESUME, RECONNECT = 0, 1, 2, 3, 6, 7
INVALID_SESSION, HELLO, HEARTBEAT_ACK = 9, 10, 11

# Discord's limits on a message.
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
MAX_ACTION_ROWS = 5
MAX_CUSTOM_ID = 100

_BODY = web.RequestKey("body", object)
_snowflakes = itertools.count(1_200_000_000_000_000_000)


def snowflake() -> str:
    """A fresh id, increasing like Discord's."""
    return str(next(_snowflakes))


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


@dataclass(frozen=True, slots=True)
class DiscordUser:
    """A person (or bot) in the double's directory."""

    username: str
    global_name: str | None = None
    bot: bool = False

    def as_discord(self, user_id: str) -> dict[str, Any]:
        return user(user_id, self.username, global_name=self.global_name, bot=self.bot)


@dataclass(frozen=True, slots=True)
class RestCall:
    """One REST request as received. `route` is the template, e.g.
    "POST /channels/{channel_id}/messages"; `path` is without the `/api/v10` prefix."""

    method: str
    route: str
    path: str
    json: Any
    headers: dict[str, str]
    query: dict[str, str]


@dataclass(slots=True)
class PostedMessage:
    """A message the bot created; edits change `payload` in place and count in `edits`."""

    channel_id: str
    id: str
    payload: dict[str, Any]
    data: dict[str, Any]
    edits: int = 0

    @property
    def content(self) -> str | None:
        content = self.payload.get("content")
        return None if content is None else str(content)

    @property
    def components(self) -> list[dict[str, Any]]:
        return list(self.payload.get("components") or [])


@dataclass(frozen=True, slots=True)
class InteractionResponse:
    """A `POST /interactions/{id}/{token}/callback`: `type` 4 message, 5 deferred message,
    6 deferred update, 7 update message, 9 modal."""

    interaction_id: str
    token: str
    type: int
    data: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class WebhookCall:
    """A follow-up (`POST /webhooks/{app}/{token}`) or an edit of the original response."""

    token: str
    kind: str
    payload: dict[str, Any]
    message_id: str


@dataclass(frozen=True, slots=True)
class _Fault:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class DiscordError(Exception):
    """An error answer, in Discord's JSON shape."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.body: dict[str, Any] = {"code": code, "message": message}
        if errors is not None:
            self.body["errors"] = errors


def _invalid(errors: dict[str, Any]) -> DiscordError:
    return DiscordError(400, 50035, "Invalid Form Body", errors)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


class DiscordDouble:
    """Discord's REST API and gateway on 127.0.0.1 (ephemeral port) while the context is open.

    `users` is the directory (id → username or `DiscordUser`): a DM can be opened with them.
    `guilds` are GUILD_CREATE payloads (see `guild`), sent after every READY as Discord does,
    and their channels are where the bot can post, besides DMs.
    """

    def __init__(
        self,
        *,
        token: str = TOKEN,
        application_id: str = APPLICATION_ID,
        bot_user_id: str = BOT_USER_ID,
        bot_name: str = BOT_NAME,
        users: Mapping[str, str | DiscordUser] | None = None,
        guilds: Sequence[Mapping[str, Any]] = (),
        heartbeat_interval_ms: int = HEARTBEAT_INTERVAL_MS,
        message_content: bool = True,
    ) -> None:
        self.token = token
        self.message_content = message_content
        """Whether the Developer Portal's Message Content switch is on: off, the application's
        flags say so and an IDENTIFY asking for that intent is closed with 4014."""
        self.application_id = application_id
        self.bot_user_id = bot_user_id
        self.bot_name = bot_name
        self.users: dict[str, DiscordUser] = {
            user_id: DiscordUser(u) if isinstance(u, str) else u
            for user_id, u in (users or {}).items()
        }
        self.guilds: list[dict[str, Any]] = [dict(g) for g in guilds]
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.calls: list[RestCall] = []
        self.messages: list[PostedMessage] = []
        self.dm_channels: dict[str, str] = {}
        """user id → the id of the bot's DM channel with them, once opened."""
        self.interactions: dict[str, dict[str, Any]] = {}
        """INTERACTION_CREATE payloads dispatched, by interaction id."""
        self.interaction_responses: list[InteractionResponse] = []
        self.followups: list[WebhookCall] = []
        self.identify_payloads: list[dict[str, Any]] = []
        self.resume_payloads: list[dict[str, Any]] = []
        self.gateway_queries: list[dict[str, str]] = []
        self.heartbeats = 0
        self.identify_close_code: int | None = None
        """When set, every IDENTIFY is answered by closing with this code (see
        `reject_identify`)."""
        self.session_id: str | None = None
        self.sequence = 0
        self._log: list[dict[str, Any]] = []
        self._socket: web.WebSocketResponse | None = None
        self._sockets_ever = 0
        self._faults: dict[str, deque[_Fault]] = {}
        self._originals: dict[str, str] = {}
        self._changed = asyncio.Event()
        app = web.Application(middlewares=[self._middleware])
        routes: list[tuple[str, str, Callable[[web.Request], Awaitable[dict[str, Any]]]]] = [
            ("GET", "/gateway", self._gateway_info),
            ("GET", "/gateway/bot", self._gateway_bot),
            ("GET", "/users/@me", self._me),
            ("GET", "/oauth2/applications/@me", self._application),
            ("GET", "/applications/@me", self._application),
            ("POST", "/users/@me/channels", self._open_dm),
            ("POST", "/channels/{channel_id}/messages", self._create_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._callback),
            ("POST", "/webhooks/{application_id}/{token}", self._followup),
            ("PATCH", "/webhooks/{application_id}/{token}/messages/@original", self._original),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, API_PREFIX + path, self._json_handler(handler))
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._unknown)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/gateway/", self._gateway)
        app.on_shutdown.append(self._close_socket)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        self._port: int | None = None

    # Lifecycle and addresses.

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError(
                "the Discord double is not running: use `async with DiscordDouble()`"
            )
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """What `discord.http.Route.BASE` should be."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """What `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY` should be."""
        return f"ws://127.0.0.1:{self._port}/gateway"

    async def __aenter__(self) -> DiscordDouble:
        self._pointed = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)  # put back on exit
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
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._pointed

    @property
    def bot_user(self) -> dict[str, Any]:
        return user(self.bot_user_id, self.bot_name, bot=True)

    @property
    def identifies(self) -> int:
        return len(self.identify_payloads)

    @property
    def resumes(self) -> int:
        return len(self.resume_payloads)

    @property
    def intents(self) -> int | None:
        """The intents of the latest IDENTIFY."""
        if not self.identify_payloads:
            return None
        intents = self.identify_payloads[-1].get("intents")
        return None if intents is None else int(intents)

    # Scripting.

    def fail_next(
        self, route: str, status: int, code: int, message: str, *, times: int = 1
    ) -> None:
        """The next `times` calls to `route` ("POST /channels/{channel_id}/messages", as in
        `RestCall.route`) answer `status` with `{"code": code, "message": message}`; e.g. 403
        50007 "Cannot send messages to this user", 404 10003 "Unknown Channel", 403 50001
        "Missing Access"."""
        fault = _Fault(status, {"code": code, "message": message})
        self._faults.setdefault(_route_key(route), deque()).extend([fault] * times)

    def rate_limit_next(
        self, route: str, retry_after: float = 0.5, *, is_global: bool = False, times: int = 1
    ) -> None:
        """The next `times` calls to `route` answer 429 as Discord does: the JSON body with
        `retry_after` (which discord.py sleeps), `Retry-After`, the `X-RateLimit-*` headers and
        the `Via` header without which discord.py takes the 429 for a Cloudflare ban."""
        body = {"message": "You are being rate limited.", "retry_after": retry_after}
        body["global"] = is_global
        headers = {
            "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": str(retry_after),
            "X-RateLimit-Bucket": uuid.uuid5(uuid.NAMESPACE_URL, route).hex,
            "X-RateLimit-Scope": "global" if is_global else "user",
            "Via": "1.1 google",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        fault = _Fault(429, body, headers)
        self._faults.setdefault(_route_key(route), deque()).extend([fault] * times)

    def reject_identify(self, code: int = 4004) -> None:
        """Answer every IDENTIFY by closing the socket with `code`: 4004 authentication failed,
        4013 invalid intents, 4014 disallowed intents. `None`-able via `identify_close_code`."""
        self.identify_close_code = code

    # Queries.

    def calls_to(self, route: str) -> list[RestCall]:
        key = _route_key(route)
        return [call for call in self.calls if call.route == key]

    def messages_in(self, channel_id: str) -> list[PostedMessage]:
        """The bot's messages in a channel; a user id in `users` means the DM with them."""
        channel_id = self.dm_channels.get(channel_id, channel_id)
        return [m for m in self.messages if m.channel_id == channel_id]

    def message(self, message_id: str) -> PostedMessage:
        for posted in self.messages:
            if posted.id == message_id:
                return posted
        raise KeyError(message_id)

    def dm_channel(self, user_id: str) -> str:
        """The bot's DM channel with `user_id`: stable, and the same one `POST
        /users/@me/channels` answers."""
        if user_id not in self.dm_channels:
            self.dm_channels[user_id] = snowflake()
        return self.dm_channels[user_id]

    # Gateway control.

    async def connected(
        self, *, identifies: int = 1, resumes: int = 0, within: float = 5.0
    ) -> None:
        """Wait until a client has sent `identifies` IDENTIFYs and `resumes` RESUMEs and its
        session is live (READY or RESUMED sent on an open socket)."""
        await self._until(
            lambda: self.identifies >= identifies and self.resumes >= resumes and self._live(),
            within,
            f"a session after {identifies} identifies and {resumes} resumes",
        )

    async def heartbeated(self, count: int = 1, within: float = 5.0) -> None:
        """Wait until the client has sent `count` heartbeats (all acknowledged)."""
        await self._until(lambda: self.heartbeats >= count, within, f"{count} heartbeats")

    async def disconnected(self, within: float = 5.0) -> None:
        """Wait until no gateway socket is open."""
        await self._until(lambda: self._socket is None, within, "the gateway socket closing")

    async def dispatch(self, event: str, data: Mapping[str, Any], within: float = 5.0) -> int:
        """Send event `event` (e.g. "MESSAGE_CREATE") with `data` in the current session; its
        sequence number. Waits for a session; if the socket is down the event is kept and
        replayed on RESUME, as Discord does."""
        await self._until(lambda: self.session_id is not None, within, "a gateway session")
        payload = dict(data)
        if event == "INTERACTION_CREATE":
            self.interactions[str(payload["id"])] = payload
        await self._send_event(event, payload)
        return self.sequence

    def sent_over_http(self, interaction: Mapping[str, Any]) -> bytes:
        """An interaction Discord posts to the application's endpoint instead of the gateway: its
        token is known here from now on (for follow-ups); the body, as Discord would post it."""
        self.interactions[str(interaction["id"])] = dict(interaction)
        return json.dumps(interaction).encode()

    async def drop(self, code: int | None = 4000) -> None:
        """Close the gateway socket from Discord's side (with `code`, or with no close frame at
        all when None), keeping the session so the client can RESUME."""
        socket = self._socket
        if socket is None:
            return
        self._socket = None
        self._notify()
        if code is None:
            transport = socket._req.transport if socket._req is not None else None
            if transport is not None:
                transport.abort()
        else:
            await socket.close(code=code, message=b"dropped by the double")

    async def reconnect(self) -> None:
        """Ask the client to reconnect and resume (op 7), as Discord does before maintenance."""
        if self._socket is not None:
            await self._socket.send_json({"op": RECONNECT, "d": None, "s": None, "t": None})

    async def invalidate_session(self) -> None:
        """Forget the session and close the socket, as Discord does when a session expires: the
        client's RESUME is answered INVALID_SESSION (not resumable) and it must IDENTIFY afresh;
        nothing from the old session is replayed."""
        self.session_id = None
        await self.drop()

    # Internals: waiting.

    def _live(self) -> bool:
        return self._socket is not None and self.session_id is not None

    async def _until(self, predicate: Callable[[], bool], within: float, what: str) -> None:
        try:
            async with asyncio.timeout(within):
                changed = self._changed
                while not predicate():
                    await changed.wait()
                    changed = self._changed
        except TimeoutError:
            raise TimeoutError(f"the Discord double saw no {what} within {within}s") from None

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # Internals: REST.

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        body: Any = None
        if request.can_read_body:
            text = await request.text()
            try:
                body = json.loads(text) if text else None
            except ValueError:
                body = text
        info = request.match_info
        template = info.route.resource.canonical if info.route.resource is not None else ""
        route = f"{request.method} {template.removeprefix(API_PREFIX)}"
        if "{tail" in route:
            route = f"{request.method} {request.path.removeprefix(API_PREFIX)}"
        call = RestCall(
            method=request.method,
            route=route,
            path=request.path.removeprefix(API_PREFIX),
            json=body,
            headers=dict(request.headers),
            query=dict(request.query),
        )
        self.calls.append(call)
        self._notify()
        request[_BODY] = body
        if not _unauthenticated(template) and request.headers.get("Authorization") != (
            f"Bot {self.token}"
        ):
            return _json_response({"code": 0, "message": "401: Unauthorized"}, status=401)
        faults = self._faults.get(route)
        if faults:
            fault = faults.popleft()
            return _json_response(fault.body, status=fault.status, headers=fault.headers)
        return await handler(request)

    def _json_handler(
        self, handler: Callable[[web.Request], Awaitable[dict[str, Any]]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def respond(request: web.Request) -> web.StreamResponse:
            try:
                answer = await handler(request)
            except DiscordError as e:
                return _json_response(e.body, status=e.status)
            if answer.get("__no_content__"):
                return web.Response(status=204)
            return _json_response(answer)

        return respond

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        return _json_response({"code": 0, "message": "404: Not Found"}, status=404)

    async def _gateway_info(self, request: web.Request) -> dict[str, Any]:
        return {"url": self.gateway_url}

    async def _gateway_bot(self, request: web.Request) -> dict[str, Any]:
        return {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000 - self.identifies,
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        }

    async def _me(self, request: web.Request) -> dict[str, Any]:
        return {**self.bot_user, "verified": True, "mfa_enabled": False, "flags": 0}

    async def _application(self, request: web.Request) -> dict[str, Any]:
        return {
            "id": self.application_id,
            "name": self.bot_name,
            "icon": None,
            "description": "",
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": user("1100000000000000099", "owner"),
            "verify_key": "0" * 64,
            "flags": GATEWAY_MESSAGE_CONTENT_LIMITED if self.message_content else 0,
            "team": None,
            "bot": self.bot_user,
        }

    async def _open_dm(self, request: web.Request) -> dict[str, Any]:
        body = _body(request)
        recipient = str(body.get("recipient_id", ""))
        if recipient not in self.users:
            raise DiscordError(400, 50033, "Invalid Recipient(s)")
        return {
            "id": self.dm_channel(recipient),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [self.users[recipient].as_discord(recipient)],
        }

    def _channel(self, channel_id: str) -> dict[str, Any]:
        """The channel (type, guild_id) or Unknown Channel."""
        if channel_id in self.dm_channels.values():
            return {"id": channel_id, "type": 1}
        for g in self.guilds:
            for channel in [*g.get("channels", []), *g.get("threads", [])]:
                if str(channel["id"]) == channel_id:
                    return {**channel, "guild_id": str(g["id"])}
        raise DiscordError(404, 10003, "Unknown Channel")

    def _message_data(
        self, channel_id: str, message_id: str, payload: Mapping[str, Any], guild_id: str | None
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": message_id,
            "channel_id": channel_id,
            "author": self.bot_user,
            "content": payload.get("content") or "",
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": list(payload.get("embeds") or []),
            "components": list(payload.get("components") or []),
            "pinned": False,
            "type": 0,
            "flags": int(payload.get("flags") or 0),
        }
        if guild_id is not None:
            data["guild_id"] = guild_id
        if "message_reference" in payload:
            data["message_reference"] = payload["message_reference"]
            data["type"] = 19
        return data

    def _post(self, channel_id: str, payload: dict[str, Any]) -> PostedMessage:
        guild_id = self._channel(channel_id).get("guild_id") if channel_id else None
        message_id = snowflake()
        data = self._message_data(channel_id, message_id, payload, guild_id)
        posted = PostedMessage(channel_id, message_id, payload, data)
        self.messages.append(posted)
        self._notify()
        return posted

    def _edit(self, posted: PostedMessage, payload: Mapping[str, Any]) -> dict[str, Any]:
        validate_message(payload, partial=True)
        posted.payload.update(payload)
        for key in ("content", "embeds", "components", "flags"):
            if key in payload:
                posted.data[key] = payload[key] if payload[key] is not None else []
        if posted.data.get("content") is None:
            posted.data["content"] = ""
        posted.data["edited_timestamp"] = now_iso()
        posted.edits += 1
        self._notify()
        return posted.data

    async def _create_message(self, request: web.Request) -> dict[str, Any]:
        channel_id = request.match_info["channel_id"]
        self._channel(channel_id)
        payload = _body(request)
        validate_message(payload)
        return self._post(channel_id, payload).data

    async def _edit_message(self, request: web.Request) -> dict[str, Any]:
        channel_id = request.match_info["channel_id"]
        self._channel(channel_id)
        try:
            posted = self.message(request.match_info["message_id"])
        except KeyError:
            raise DiscordError(404, 10008, "Unknown Message") from None
        if posted.channel_id != channel_id:
            raise DiscordError(404, 10008, "Unknown Message")
        return self._edit(posted, _body(request))

    async def _callback(self, request: web.Request) -> dict[str, Any]:
        interaction_id = request.match_info["interaction_id"]
        token = request.match_info["token"]
        body = _body(request)
        if any(r.interaction_id == interaction_id for r in self.interaction_responses):
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        kind = int(body.get("type", 0))
        data = body.get("data")
        if kind in (4, 7) and isinstance(data, dict):
            validate_message(data, partial=kind == 7)
        self.interaction_responses.append(InteractionResponse(interaction_id, token, kind, data))
        self._notify()
        interaction = self.interactions.get(interaction_id, {})
        answer: dict[str, Any] = {
            "interaction": {
                "id": interaction_id,
                "type": int(interaction.get("type", 3)),
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool((data or {}).get("flags", 0) & 64),
            }
        }
        channel_id = str(interaction.get("channel_id", ""))
        if kind == 4 and isinstance(data, dict):
            posted = self._post_as_response(channel_id, data, token)
            answer["interaction"]["response_message_id"] = posted.id
            answer["resource"] = {"type": kind, "message": posted.data}
        elif kind == 7 and isinstance(data, dict):
            message_id = str((interaction.get("message") or {}).get("id", ""))
            try:
                updated = self._edit(self.message(message_id), data)
            except KeyError:
                updated = self._message_data(channel_id, message_id or snowflake(), data, None)
            answer["resource"] = {"type": kind, "message": updated}
        else:
            answer["resource"] = {"type": kind}
        return answer

    def _post_as_response(
        self, channel_id: str, data: dict[str, Any], token: str, *, original: bool = True
    ) -> PostedMessage:
        message_id = snowflake()
        message_data = self._message_data(channel_id, message_id, data, None)
        message_data["webhook_id"] = self.application_id
        posted = PostedMessage(channel_id, message_id, dict(data), message_data)
        self.messages.append(posted)
        if original:
            self._originals[token] = message_id
        return posted

    async def _followup(self, request: web.Request) -> dict[str, Any]:
        self._own_webhook(request)
        token = request.match_info["token"]
        payload = _body(request)
        validate_message(payload)
        interaction = self._interaction_by_token(token)
        if not interaction:  # never issued (or, on Discord, past its 15 minutes)
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        channel_id = str(interaction.get("channel_id", ""))
        posted = self._post_as_response(channel_id, payload, token, original=False)
        self.followups.append(WebhookCall(token, "followup", payload, posted.id))
        self._notify()
        if request.query.get("wait", "").lower() not in ("true", "1"):
            return {"__no_content__": True}
        return posted.data

    async def _original(self, request: web.Request) -> dict[str, Any]:
        self._own_webhook(request)
        token = request.match_info["token"]
        payload = _body(request)
        message_id = self._originals.get(token)
        if message_id is None:
            interaction = self._interaction_by_token(token)
            message_id = str((interaction.get("message") or {}).get("id", ""))
        try:
            posted = self.message(message_id)
        except KeyError:
            raise DiscordError(404, 10008, "Unknown Message") from None
        data = self._edit(posted, payload)
        self.followups.append(WebhookCall(token, "original", payload, posted.id))
        return data

    def _own_webhook(self, request: web.Request) -> None:
        if request.match_info["application_id"] != self.application_id:
            raise DiscordError(404, 10015, "Unknown Webhook")

    def _interaction_by_token(self, token: str) -> dict[str, Any]:
        for interaction in self.interactions.values():
            if interaction.get("token") == token:
                return interaction
        return {}

    # Internals: gateway.

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        if query.get("encoding", "json") != "json":
            return web.Response(status=400, text="the double speaks JSON only")
        self.gateway_queries.append(query)
        socket = web.WebSocketResponse(timeout=1.0)
        await socket.prepare(request)
        if self._socket is not None:
            await self._socket.close(code=4000)
        self._socket = socket
        self._sockets_ever += 1
        self._notify()
        await socket.send_json(
            {
                "op": HELLO,
                "d": {"heartbeat_interval": self.heartbeat_interval_ms},
                "s": None,
                "t": None,
            }
        )
        try:
            async for frame in socket:
                if frame.type is WSMsgType.TEXT and await self._receive(socket, frame.data):
                    break
        finally:
            if self._socket is socket:
                self._socket = None
            self._notify()
        return socket

    async def _receive(self, socket: web.WebSocketResponse, text: str) -> bool:
        """Handle one client frame; True when the double closed the socket."""
        message = json.loads(text)
        op, data = message.get("op"), message.get("d")
        if op == HEARTBEAT:
            self.heartbeats += 1
            self._notify()
            await socket.send_json({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == IDENTIFY:
            self.identify_payloads.append(dict(data))
            self._notify()
            if data.get("token") != self.token:
                await socket.close(code=4004, message=b"Authentication failed.")
                return True
            if self.identify_close_code is not None:
                await socket.close(code=self.identify_close_code, message=b"Rejected.")
                return True
            if int(data.get("intents") or 0) & MESSAGE_CONTENT_INTENT and not self.message_content:
                await socket.close(code=4014, message=b"Disallowed intent(s).")
                return True
            await self._ready(socket)
        elif op == RESUME:
            self.resume_payloads.append(dict(data))
            self._notify()
            if data.get("token") != self.token:
                await socket.close(code=4004, message=b"Authentication failed.")
                return True
            if data.get("session_id") != self.session_id or self.session_id is None:
                await socket.send_json({"op": INVALID_SESSION, "d": False, "s": None, "t": None})
                return False
            after = int(data.get("seq") or 0)
            for frame in self._log:
                if frame["s"] > after:
                    await socket.send_json(frame)
            await self._send_event("RESUMED", {})
        return False

    async def _ready(self, socket: web.WebSocketResponse) -> None:
        self.session_id = uuid.uuid4().hex
        self.sequence = 0
        self._log.clear()
        ready = {
            "v": 10,
            "user": {**self.bot_user, "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(g["id"]), "unavailable": True} for g in self.guilds],
            "session_id": self.session_id,
            "resume_gateway_url": self.gateway_url,
            "session_type": "normal",
            "shard": [0, 1],
            "application": {"id": self.application_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
        }
        await self._send_event("READY", ready)
        for g in self.guilds:
            await self._send_event("GUILD_CREATE", g)
        self._notify()

    async def _send_event(self, event: str, data: dict[str, Any]) -> None:
        self.sequence += 1
        frame = {"op": DISPATCH, "d": data, "s": self.sequence, "t": event}
        self._log.append(frame)
        socket = self._socket
        if socket is not None and not socket.closed:
            with contextlib.suppress(ConnectionError):
                await socket.send_json(frame)
        self._notify()

    async def _close_socket(self, app: web.Application) -> None:
        if self._socket is not None:
            await self._socket.close(code=1001)


def _json_response(
    body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """JSON with the bare `application/json` Discord sends: discord.py's `json_or_text` compares
    the content type exactly, and takes `application/json; charset=utf-8` for text."""
    return web.Response(
        body=json.dumps(body).encode(),
        status=status,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def _body(request: web.Request) -> dict[str, Any]:
    body = request[_BODY]
    return dict(body) if isinstance(body, dict) else {}


def _route_key(route: str) -> str:
    method, _, path = route.strip().partition(" ")
    return f"{method.upper()} {path.strip()}"


def _unauthenticated(template: str) -> bool:
    """Interaction callbacks and webhooks are authorized by their token, not the bot's."""
    path = template.removeprefix(API_PREFIX)
    return path.startswith("/interactions/") or path.startswith("/webhooks/")


def validate_message(payload: Mapping[str, Any], *, partial: bool = False) -> None:
    """Discord's checks on a message body, raising its 400 Invalid Form Body (50035), or 50006
    for an empty message when not `partial` (an edit)."""
    errors: dict[str, Any] = {}
    content = payload.get("content")
    if content is not None and len(str(content)) > MAX_CONTENT:
        errors["content"] = _error(
            "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length."
        )
    embeds = list(payload.get("embeds") or [])
    if len(embeds) > MAX_EMBEDS:
        errors["embeds"] = _error(
            "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length."
        )
    elif sum(_embed_size(e) for e in embeds) > MAX_EMBED_TOTAL:
        errors["embeds"] = _error(
            "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}"
        )
    components = list(payload.get("components") or [])
    if len(components) > MAX_ACTION_ROWS:
        errors["components"] = _error(
            "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_ACTION_ROWS} or fewer in length."
        )
    else:
        component_errors = _custom_id_errors(components)
        if component_errors:
            errors["components"] = component_errors
    if errors:
        raise _invalid(errors)
    if (
        not partial
        and not (
            content or embeds or components or payload.get("sticker_ids") or payload.get("poll")
        )
        and not payload.get("attachments")
    ):
        raise DiscordError(400, 50006, "Cannot send an empty message")


def _embed_size(embed: Mapping[str, Any]) -> int:
    size = len(str(embed.get("title") or "")) + len(str(embed.get("description") or ""))
    size += len(str((embed.get("footer") or {}).get("text") or ""))
    size += len(str((embed.get("author") or {}).get("name") or ""))
    for f in embed.get("fields") or []:
        size += len(str(f.get("name") or "")) + len(str(f.get("value") or ""))
    return size


def _custom_id_errors(components: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    for index, component in enumerate(components):
        own: dict[str, Any] = {}
        custom_id = component.get("custom_id")
        if custom_id is not None and len(str(custom_id)) > MAX_CUSTOM_ID:
            own["custom_id"] = _error(
                "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CUSTOM_ID} or fewer in length."
            )
        children = _custom_id_errors(component.get("components") or [])
        if children:
            own["components"] = children
        if own:
            errors[str(index)] = own
    return errors


# Payloads Discord sends to the bot.


def user(
    user_id: str, username: str, *, global_name: str | None = None, bot: bool = False
) -> dict[str, Any]:
    """A user object."""
    data: dict[str, Any] = {
        "id": user_id,
        "username": username,
        "global_name": global_name,
        "discriminator": "0",
        "avatar": None,
        "public_flags": 0,
    }
    if bot:
        data["bot"] = True
    return data


def member(user_data: Mapping[str, Any], *, roles: Sequence[str] = ()) -> dict[str, Any]:
    """A guild member object wrapping `user_data`."""
    return {
        "user": dict(user_data),
        "nick": None,
        "avatar": None,
        "roles": list(roles),
        "joined_at": "2024-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "permissions": "2248473465835073",
    }


def guild(
    guild_id: str,
    name: str,
    channels: Mapping[str, str] | None = None,
    *,
    owner_id: str = "1100000000000000099",
    threads: Mapping[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """A GUILD_CREATE payload with text `channels` (id → name), the @everyone role, and active
    public `threads` (id → (parent channel id, name)): channels of their own, as on Discord."""
    return {
        "id": guild_id,
        "name": name,
        "icon": None,
        "owner_id": owner_id,
        "unavailable": False,
        "large": False,
        "member_count": 2,
        "features": [],
        "emojis": [],
        "stickers": [],
        "roles": [
            {
                "id": guild_id,
                "name": "@everyone",
                "permissions": "2248473465835073",
                "position": 0,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
                "flags": 0,
            }
        ],
        "channels": [
            {
                "id": channel_id,
                "type": 0,
                "guild_id": guild_id,
                "name": channel_name,
                "position": position,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
                "topic": None,
                "last_message_id": None,
                "rate_limit_per_user": 0,
            }
            for position, (channel_id, channel_name) in enumerate((channels or {}).items())
        ],
        "threads": [
            thread(thread_id, parent_id, thread_name, guild_id=guild_id, owner_id=owner_id)
            for thread_id, (parent_id, thread_name) in (threads or {}).items()
        ],
        "members": [],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "joined_at": "2024-01-01T00:00:00+00:00",
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "system_channel_id": None,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
    }


def thread(
    thread_id: str, parent_id: str, name: str, *, guild_id: str, owner_id: str
) -> dict[str, Any]:
    """A public thread (channel type 11) in the text channel `parent_id`."""
    return {
        "id": thread_id,
        "type": 11,
        "guild_id": guild_id,
        "parent_id": parent_id,
        "owner_id": owner_id,
        "name": name,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": "2024-01-01T00:00:00+00:00",
            "locked": False,
        },
    }


def message_create(
    author_id: str,
    channel_id: str,
    content: str,
    *,
    guild_id: str | None = None,
    mentions: Sequence[str | Mapping[str, Any]] = (),
    bot: bool = False,
    message_id: str | None = None,
    username: str | None = None,
    referenced_message_id: str | None = None,
) -> dict[str, Any]:
    """A MESSAGE_CREATE payload: `author_id` wrote `content` in `channel_id` (a guild channel
    when `guild_id` is given, with the `member` Discord adds there; else a DM). `mentions` are
    user ids (or user objects); write `<@id>` in `content` too, as Discord's client does."""
    author = user(author_id, username or f"user{author_id[-4:]}", bot=bot)
    mentioned = [user(m, f"user{m[-4:]}") if isinstance(m, str) else dict(m) for m in mentions]
    data: dict[str, Any] = {
        "id": message_id or snowflake(),
        "channel_id": channel_id,
        "author": author,
        "content": content,
        "timestamp": now_iso(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": mentioned,
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "components": [],
        "pinned": False,
        "type": 0,
        "flags": 0,
        "nonce": None,
    }
    if guild_id is not None:
        data["guild_id"] = guild_id
        m = member(author)
        del m["user"]
        data["member"] = m
    if referenced_message_id is not None:
        data["type"] = 19
        data["message_reference"] = {
            "type": 0,
            "message_id": referenced_message_id,
            "channel_id": channel_id,
            **({"guild_id": guild_id} if guild_id else {}),
        }
    return data


def interaction_create(
    kind: int,
    user_id: str,
    channel_id: str,
    data: Mapping[str, Any],
    *,
    message: Mapping[str, Any] | None = None,
    guild_id: str | None = None,
    interaction_id: str | None = None,
    token: str | None = None,
    application_id: str = APPLICATION_ID,
    username: str | None = None,
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload of type `kind` (3 component, 5 modal submit) by
    `user_id`: in a guild it carries `member` (with the user inside), in a DM `user`."""
    interaction_id = interaction_id or snowflake()
    who = user(user_id, username or f"user{user_id[-4:]}")
    payload: dict[str, Any] = {
        "id": interaction_id,
        "application_id": application_id,
        "type": kind,
        "data": dict(data),
        "channel_id": channel_id,
        "channel": {"id": channel_id, "type": 0 if guild_id else 1},
        "token": token or f"interaction-token-{interaction_id}",
        "version": 1,
        "locale": "en-US",
        "app_permissions": "2248473465835073",
        "entitlements": [],
        "authorizing_integration_owners": {"0": guild_id} if guild_id else {"1": user_id},
        "context": 0 if guild_id else 1,
        "attachment_size_limit": 10 * 1024 * 1024,
    }
    if guild_id is not None:
        payload["guild_id"] = guild_id
        payload["guild_locale"] = "en-US"
        payload["member"] = member(who)
        # A server channel comes whole, as Discord sends it (discord.py reads its name).
        payload["channel"].update(
            guild_id=guild_id,
            name=f"channel-{channel_id[-4:]}",
            position=0,
            permission_overwrites=[],
            parent_id=None,
            nsfw=False,
            topic=None,
            rate_limit_per_user=0,
            last_message_id=None,
            flags=0,
            permissions=payload["app_permissions"],
        )
    else:
        payload["user"] = who
    if message is not None:
        payload["message"] = dict(message)
    return payload


def component_click(
    user_id: str,
    message: Mapping[str, Any],
    custom_id: str,
    *,
    guild_id: str | None = None,
    component_type: int = 2,
    values: Sequence[str] | None = None,
    interaction_id: str | None = None,
    token: str | None = None,
    application_id: str = APPLICATION_ID,
) -> dict[str, Any]:
    """`user_id` clicked the button (`component_type` 2) or chose `values` in the select (3)
    `custom_id` on `message` (a message object, e.g. `PostedMessage.data`)."""
    data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
    if values is not None:
        data["values"] = list(values)
    return interaction_create(
        3,
        user_id,
        str(message["channel_id"]),
        data,
        message=message,
        guild_id=guild_id or message.get("guild_id"),
        interaction_id=interaction_id,
        token=token,
        application_id=application_id,
    )


def modal_submit(
    user_id: str,
    channel_id: str,
    custom_id: str,
    fields: Mapping[str, str],
    *,
    message: Mapping[str, Any] | None = None,
    guild_id: str | None = None,
    interaction_id: str | None = None,
    token: str | None = None,
    application_id: str = APPLICATION_ID,
) -> dict[str, Any]:
    """`user_id` submitted the modal `custom_id` with text inputs `fields` (custom id →
    value), each in its own action row as Discord sends them."""
    data = {
        "custom_id": custom_id,
        "components": [
            {
                "type": 1,
                "components": [{"type": 4, "custom_id": field_id, "value": value}],
            }
            for field_id, value in fields.items()
        ],
    }
    return interaction_create(
        5,
        user_id,
        channel_id,
        data,
        message=message,
        guild_id=guild_id,
        interaction_id=interaction_id,
        token=token,
        application_id=application_id,
    )
