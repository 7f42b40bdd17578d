"""The Slack channel: the Events API at /slack/events or Socket Mode, Block Kit out, on slack-bolt's
request parsing and slack_sdk's clients. Without credentials it runs as its sandbox.

SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET (Slack calls us over HTTP), or with SLACK_APP_TOKEN
(we hold a Socket Mode socket: no public URL needed). docs/slack.md says how to make the app.
"""

from __future__ import annotations

import time

from channels.sandbox import sandboxed
from channels.slack.blocks import conversation_of
from channels.slack.codec import SlackCodec
from core.channels import Channel
from core.errors import Misconfigured
from core.settings import Settings


def slack(settings: Settings) -> Channel:
    bot, secret, app = (
        s.get_secret_value() if s is not None else ""
        for s in (settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token)
    )
    if not (bot or secret or app):
        return sandboxed(SlackCodec(), conversations=_new_thread)
    if not bot:
        given = " and ".join(
            n for n, v in (("SLACK_SIGNING_SECRET", secret), ("SLACK_APP_TOKEN", app)) if v
        )
        raise Misconfigured(
            f"slack: {given} is set but SLACK_BOT_TOKEN is not: set it too, or unset {given}"
            " to run Slack as its sandbox"
        )
    if not (secret or app):
        raise Misconfigured(
            "slack: SLACK_BOT_TOKEN is set, but neither SLACK_SIGNING_SECRET (Slack calls"
            " /slack/events) nor SLACK_APP_TOKEN (Socket Mode): set one of them"
        )
    from channels.slack.socket import SocketModeListener
    from channels.slack.transport import SlackTransport

    codec = SlackCodec(secret or None)
    transport = SlackTransport(bot, settings.slack_api_url)
    listener = SocketModeListener(codec, app, settings.slack_api_url) if app else None
    return Channel(
        codec,
        transport,
        listener=listener,
        check=transport.check,
        respond=transport.respond,
        name_of=transport.name_of,
    )


def _new_thread(address: str) -> str:
    """A sandbox conversation: a new thread in a channel, named by its timestamp."""
    return conversation_of("C0SANDBOX", f"{time.time():.6f}")
