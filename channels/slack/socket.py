"""Socket Mode: Slack pushes events and interactions over a WebSocket, so no public URL is needed.

slack_sdk's client opens the socket with the app token (`apps.connections.open`) and opens a new
one by itself when Slack asks for a refresh or the socket drops. Each envelope carries the body
Slack would have posted to /slack/events; the codec reads it, what it holds is handed in (stored),
and only then is the envelope acknowledged: one Slack has not heard back on, it sends again.
On PostgreSQL one process holds the socket (the lock below).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic import ValidationError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from channels.slack.codec import SlackCodec
from core.channels import Cursor, Deliver, InboundMessage, Malformed

log = logging.getLogger("switchboard.slack")

ENVELOPES = ("events_api", "interactive", "slash_commands")


class SocketModeListener:
    lock = "slack-socket-mode"

    def __init__(self, codec: SlackCodec, app_token: str, api_url: str) -> None:
        self.codec = codec
        self.app_token = app_token
        self.api_url = api_url

    async def listen(self, deliver: Deliver, cursor: Cursor) -> None:
        web = AsyncWebClient(base_url=self.api_url)
        client = SocketModeClient(self.app_token, web_client=web, logger=log)

        async def on_request(client: SocketModeClient, request: SocketModeRequest) -> None:
            answer = await self.take(request, deliver)
            response = SocketModeResponse(envelope_id=request.envelope_id, payload=answer)
            await client.send_socket_mode_response(response)

        client.socket_mode_request_listeners.append(on_request)  # type: ignore[arg-type]
        try:
            await client.connect()  # type: ignore[no-untyped-call]
            await asyncio.Event().wait()  # the client reconnects by itself until cancelled
        finally:
            await client.close()  # type: ignore[no-untyped-call]
            if web.session is not None:
                await web.session.close()

    async def take(self, request: SocketModeRequest, deliver: Deliver) -> Any:
        """Hand in what the envelope carries; the answer that goes with its acknowledgement."""
        if request.type not in ENVELOPES:
            return None
        try:
            items = self.codec.read(request.payload)
        except (
            Malformed,
            ValidationError,
        ) as e:  # acknowledged all the same: Slack would resend it
            log.warning("slack: a Socket Mode %s envelope was malformed: %s", request.type, e)
            return None
        for item in items:
            await deliver(item)
        if any(isinstance(i, InboundMessage) and i.raw == "slash_command" for i in items):
            return {"response_type": "ephemeral", "text": "On it."}
        return None
