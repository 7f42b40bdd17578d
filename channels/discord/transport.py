"""Discord's REST API through discord.py's HTTP client, whose rate-limit buckets wait out a 429:
post (into a channel, or a person's DM, opened first), edit, answer a person privately (a notice
about their click, as a follow-up to it only they see); and at start-up, the token and the
Message Content intent checked.

discord.py takes its REST base from a class attribute (`discord.http.Route.BASE`): the
DISCORD_API_URL of this process is set there when the transport logs in. A message's id is
`<channel id>:<message id>`, all an edit needs. Discord's errors are sorted once, here: where
the person cannot be reached (no access, no such channel or user, a person who takes no DMs) a
request is asked on their next channel; what no retry can mend goes to the dead letters with
Discord's code; the others are retried by the outbox.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Mapping
from typing import Any

import aiohttp

from channels.discord.components import parse_conversation
from core.channels import DeliveryFailed, OutboundMessage, Receipt
from core.errors import Misconfigured

with warnings.catch_warnings():  # discord.py imports audioop (voice), deprecated since 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    import discord
    from discord.http import HTTPClient, Route

# Discord's JSON error codes that say the person can never be reached where it was sent.
UNREACHABLE = frozenset(
    {
        10003,  # Unknown Channel
        10013,  # Unknown User
        50001,  # Missing Access
        50007,  # Cannot send messages to this user (DMs closed)
        50013,  # Missing Permissions
    }
)
# And those that say this message can never be sent, wherever it goes.
PERMANENT = frozenset(
    {
        10008,  # Unknown Message (an edit of a message deleted since)
        10015,  # Unknown Webhook (a follow-up to an interaction past its 15 minutes)
        50027,  # Invalid Webhook Token (likewise)
        50035,  # Invalid Form Body
    }
)
SENDABLE = ("content", "embeds", "components", "allowed_mentions", "flags")
# The application's flags that say the Developer Portal lets the bot read message content.
MESSAGE_CONTENT = (1 << 18) | (1 << 19)  # GATEWAY_MESSAGE_CONTENT, GATEWAY_MESSAGE_CONTENT_LIMITED


class DiscordTransport:
    def __init__(self, token: str, api_url: str) -> None:
        self.token = token
        self.api_url = api_url.rstrip("/")
        self.http: HTTPClient | None = None
        self.bot_user: str | None = None  # learnt at login
        self._login = asyncio.Lock()

    async def check(self) -> None:
        """Log in (the token is a bot's, and Discord answers at DISCORD_API_URL), and read the
        application: without the Message Content intent the gateway would refuse the session."""
        http = await self._client()
        try:
            application = await http.application_info()
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as e:
            raise Misconfigured(f"discord: cannot read the bot's application ({e})") from None
        if not int(application.get("flags") or 0) & MESSAGE_CONTENT:
            raise Misconfigured(
                "discord: the bot may not read message content: enable the Message Content"
                " intent in the Developer Portal (Bot → Privileged Gateway Intents)"
            )

    async def send(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        http = await self._client()
        if message.private_reply:  # seen by that person alone, below what they clicked
            return await self._follow_up(http, message, payload)
        channel = str(payload.get("channel_id") or "")
        if not channel:  # a person with no conversation yet: their DM
            opened = await self._call(http.start_private_message(int(payload["user_id"])))
            channel = str(opened["id"])
        sent = await self._post(http, channel, payload)
        for more in payload.get("continued") or ():
            await self._post(http, channel, more)
        return Receipt(f"{channel}:{sent['id']}", message.conversation or channel)

    async def edit(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        if message.edit_of is None:
            return await self.send(message, payload)
        http = await self._client()
        channel, message_id = parse_conversation(message.edit_of)
        route = Route(
            "PATCH",
            "/channels/{channel_id}/messages/{message_id}",
            channel_id=channel,
            message_id=message_id,
        )
        await self._call(http.request(route, json=_sendable(payload)))
        return Receipt(message.edit_of, message.conversation or channel)

    async def _follow_up(
        self, http: HTTPClient, message: OutboundMessage, payload: Mapping[str, Any]
    ) -> Receipt:
        application, token = message.private_reply.split(":", 1)
        route = Route(
            "POST",
            "/webhooks/{webhook_id}/{webhook_token}",
            webhook_id=application,
            webhook_token=token,
        )
        sent = await self._call(
            http.request(route, json=_sendable(payload), params={"wait": "true"})
        )
        conversation = str(sent["channel_id"])
        return Receipt(f"{conversation}:{sent['id']}", message.conversation or conversation)

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()

    async def _client(self) -> HTTPClient:
        async with self._login:
            if self.http is None:
                Route.BASE = self.api_url
                http = HTTPClient(asyncio.get_running_loop())
                try:
                    me = await http.static_login(self.token)
                except BaseException as e:  # its session is open: close it, cancelled or not
                    await http.close()
                    raise _login_failed(e, self.api_url) from None
                self.http, self.bot_user = http, str(me["id"])
            return self.http

    async def _post(self, http: HTTPClient, channel: str, payload: Mapping[str, Any]) -> Any:
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel)
        return await self._call(http.request(route, json=_sendable(payload)))

    @staticmethod
    async def _call(request: Any) -> Any:
        try:
            return await request
        except discord.HTTPException as e:
            failure = f"Discord {e.status} {e.code}: {e.text}"
            unreachable = e.code in UNREACHABLE
            raise DeliveryFailed(
                failure, retry=e.code not in PERMANENT, unreachable=unreachable
            ) from None
        except (aiohttp.ClientError, TimeoutError) as e:
            raise DeliveryFailed(f"Discord unreachable: {e or type(e).__name__}") from None


def _login_failed(error: BaseException, api_url: str) -> BaseException:
    """What a failed login means: a refused token, Discord out of reach, or (cancelled) itself."""
    if isinstance(error, discord.LoginFailure):
        return Misconfigured(
            "discord: Discord refused DISCORD_BOT_TOKEN: copy the bot's token again"
            " (Developer Portal → Bot → Reset Token)"
        )
    if isinstance(error, aiohttp.ClientError | discord.HTTPException | TimeoutError):
        return Misconfigured(f"discord: cannot reach Discord's API at {api_url} ({error})")
    return error


def _sendable(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {k: payload[k] for k in SENDABLE if k in payload}
