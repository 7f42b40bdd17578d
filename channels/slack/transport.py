"""Slack's Web API, through slack_sdk's AsyncWebClient: post, post to one person only, update,
open a dialog, a person's display name (once each); and `auth.test` at start-up.

A message's id is `<channel>:<ts>`, all `chat.update` needs. Slack asks apps to post about one
message a second into one channel: posts into the same channel wait their turn. Its errors are
sorted once, here: a rate limit is retried after its Retry-After, a network fault or a Slack
outage is retried with the outbox's backoff, and an error no retry can mend (no such channel,
archived, a revoked token) goes to the dead letters with Slack's own code.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from channels.slack.blocks import conversation_of, parse_conversation
from channels.slack.codec import REJECT_DIALOG
from core.channels import Acknowledged, DeliveryFailed, OutboundMessage, Receipt
from core.errors import Misconfigured

PER_CHANNEL_SECONDS = 1.0
TIMEOUT_SECONDS = 10
# Slack's errors that say the message can never go where it was sent, or with this token.
PERMANENT = frozenset(
    {
        "account_inactive",
        "cant_update_message",
        "channel_not_found",
        "edit_window_closed",
        "invalid_auth",
        "invalid_blocks",
        "is_archived",
        "message_not_found",
        "missing_scope",
        "msg_too_long",
        "no_text",
        "not_authed",
        "not_in_channel",
        "restricted_action",
        "token_revoked",
        "user_not_found",
        "user_not_in_channel",
    }
)


class SlackTransport:
    def __init__(
        self,
        token: str,
        api_url: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.api_url = api_url
        self.client = AsyncWebClient(token=token, base_url=api_url, timeout=TIMEOUT_SECONDS)
        self.bot_user: str | None = None  # learnt from auth.test
        self._clock = clock
        self._sleep = sleep
        self._posted: dict[str, float] = {}  # channel → when its last post went out
        self._turns: dict[str, asyncio.Lock] = {}
        self._names: dict[str, str | None] = {}  # user id → display name, from users.info

    # --- the outbox ---------------------------------------------------------------------------

    async def send(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        channel = str(payload["channel"])
        if "user" in payload:  # seen by one person only, and not kept by Slack: nothing to edit
            sent = await self._call("chat_postEphemeral", channel, _message(payload, "user"))
            return Receipt(f"{channel}:{sent['message_ts']}", message.conversation or channel)
        sent = await self._call("chat_postMessage", channel, _message(payload))
        posted_in, ts = str(sent["channel"]), str(sent["ts"])
        for more in payload.get("continued") or ():
            await self._call("chat_postMessage", posted_in, _message({**payload, **more}))
        # A message that starts a conversation (a request to someone) is the root of its thread:
        # a written answer is a reply there.
        return Receipt(f"{posted_in}:{ts}", message.conversation or conversation_of(posted_in, ts))

    async def edit(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        if message.edit_of is None:
            return await self.send(message, payload)
        channel, ts = parse_conversation(message.edit_of)
        update = {k: v for k, v in payload.items() if k in ("text", "blocks")}
        await self._call("chat_update", channel, {"channel": channel, "ts": ts, **update})
        return Receipt(message.edit_of, message.conversation or message.edit_of)

    async def close(self) -> None:
        session = getattr(self.client, "session", None)
        if session is not None:
            await session.close()

    # --- start-up and interactions -------------------------------------------------------------

    async def check(self) -> None:
        """`auth.test`: the token is the bot's, and Slack answers at SLACK_API_URL."""
        try:
            answer = await self.client.auth_test()
        except SlackApiError as e:
            raise Misconfigured(
                f"slack: Slack refused SLACK_BOT_TOKEN (auth.test: {_error(e)}): see docs/slack.md"
            ) from None
        except (aiohttp.ClientError, TimeoutError) as e:
            raise Misconfigured(
                f"slack: cannot reach Slack's Web API at {self.api_url} ({e or type(e).__name__})"
            ) from None
        self.bot_user = str(answer["user_id"])

    async def name_of(self, user: str) -> str | None:
        """How Slack shows `user`: asked once (users.info), then remembered."""
        if user not in self._names:
            try:
                found = (await self.client.users_info(user=user))["user"]
            except SlackApiError:  # Slack says it cannot: no need to ask again
                self._names[user] = None
                return None
            profile = found.get("profile") or {}
            self._names[user] = (
                profile.get("display_name") or profile.get("real_name") or found.get("real_name")
            )
        return self._names[user]

    async def respond(self, item: Acknowledged) -> None:
        """Open the dialog asking a rejecting approver why, with the click's trigger id."""
        asked = item.payload or {}
        if item.what != "reject":
            return
        view = reject_dialog(str(asked["request_id"]), str(asked["conversation"]))
        await self.client.views_open(trigger_id=str(asked["trigger_id"]), view=view)

    # --- the Web API ---------------------------------------------------------------------------

    async def _call(self, method: str, channel: str, arguments: Mapping[str, Any]) -> Any:
        async with self._turns.setdefault(channel, asyncio.Lock()):
            wait = self._posted.get(channel, -PER_CHANNEL_SECONDS) + PER_CHANNEL_SECONDS
            if (delay := wait - self._clock()) > 0:
                await self._sleep(delay)
            try:
                return (await getattr(self.client, method)(**arguments)).data
            except SlackApiError as e:
                raise _failed(method, e) from None
            except (aiohttp.ClientError, TimeoutError) as e:
                raise DeliveryFailed(f"{method}: {e or type(e).__name__}") from None
            finally:
                self._posted[channel] = self._clock()


def _message(payload: Mapping[str, Any], *extra: str) -> dict[str, Any]:
    keys = ("channel", "text", "blocks", "thread_ts", *extra)
    return {k: payload[k] for k in keys if payload.get(k) is not None}


def _error(e: SlackApiError) -> str:
    return str(e.response.get("error") or f"HTTP {e.response.status_code}")


def _failed(method: str, e: SlackApiError) -> DeliveryFailed:
    error, status = _error(e), e.response.status_code
    if status == 429:
        retry_after = e.response.headers.get("Retry-After") or e.response.headers.get("retry-after")
        return DeliveryFailed(
            f"{method}: rate limited by Slack",
            retry_after=float(retry_after) if retry_after else None,
        )
    return DeliveryFailed(f"{method}: {error}", retry=error not in PERMANENT)


def reject_dialog(request_id: str, conversation: str) -> dict[str, Any]:
    """The dialog a Reject click opens: the reason goes with the rejection."""
    return {
        "type": "modal",
        "callback_id": REJECT_DIALOG,
        "private_metadata": json.dumps({"request_id": request_id, "conversation": conversation}),
        "title": {"type": "plain_text", "text": "Reject"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "label": {"type": "plain_text", "text": f"Why reject {request_id}?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "reason",
                    "multiline": True,
                    "max_length": 2000,
                },
            }
        ],
    }
