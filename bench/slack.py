"""Slack's webhook with Slack real: signed Events API callbacks to `POST /slack/events`.

The server runs with SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_API_URL, the last pointing
at the tests' loopback Slack (tests/doubles/slack.py), which runs on the bench's event loop for as
long as the server does: `serve` asks it `auth.test` at start-up, and the outbox posts the agents'
replies and the refusals' notices to it (chat.postMessage, chat.postEphemeral) at Slack's pace of
one message a second per channel, so it answers a few calls a second beside the load (counted).

Each message is an `event_callback` in the shape Slack posts, signed with the signing secret as it
is sent (v0, the current timestamp), each with its own `ts` and event id: none is a duplicate. The
conversations are the sandbox bench's (bench.inbound.payloads): n/4 of them, interleaved over the
n messages, in 8 channels. A known person's first message in one is an `app_mention` in a channel
(`<@U0BOT> deploy api 2.4.1 to staging`), which starts a thread at its ts; the rest are
`app_mention`s in that thread, which continue it; every fifth message is a direct message (a
`message` event, channel_type `im`) from someone not in the directory, refused and told so. The
server verifies the signature, parses the callback, stores it through the inbox and answers an
empty 200; only then does the bench count it, once it finds it in the inbox.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable

from bench.http import Connection, Reply
from bench.inbound import KNOWN, TEXTS
from tests.doubles import slack as double
from tests.doubles.slack import BOT_TOKEN, BOT_USER_ID, SlackDouble, SlackUser

EVENTS = "/slack/events"
SECRET = "bench-signing-secret-0f6a7c2e9d41"
CHANNELS = tuple(f"C0BENCH{k}" for k in range(8))
MENTION = f"<@{BOT_USER_ID}>"
PEOPLE = {  # deploy/people.demo.toml's Slack ids, as the workspace knows them
    "U0BOB": SlackUser("Bob Example", email="bob@example.com"),
    "U0ALICE": SlackUser("Alice Example", email="alice@example.com"),
    "U0CAROL": SlackUser("Carol Example", email="carol@example.com"),
    "U0ERIN": SlackUser("Erin Example", email="erin@example.com"),
}
_serials = itertools.count(1)
_EPOCH = int(time.time())


def _ts() -> str:
    """A Slack timestamp no other message of this process has."""
    k = next(_serials)
    return f"{_EPOCH + k // 1_000_000}.{k % 1_000_000:06d}"


def _guest(i: int) -> str:
    return f"U0GUEST{i}"


def callbacks(n: int) -> list[double.Inbound]:
    """n Events API callbacks over n/4 conversations, interleaved (see the module's docstring)."""
    conversations = max(1, n // 4)
    roots: dict[int, str] = {}  # conversation → the ts of the mention that started its thread
    out = []
    for i in range(n):
        c, at = i % conversations, _ts()
        channel, person = CHANNELS[c % len(CHANNELS)], KNOWN[c % len(KNOWN)]
        if i % 5 == 4:
            guest = _guest(i)
            event = double.message_im(guest, double.dm_channel(guest), "can you deploy?", at)
        elif c in roots:
            text = f"{MENTION} any news?"
            event = double.app_mention(person, channel, text, at, thread_ts=roots[c])
        else:
            roots[c] = at
            event = double.app_mention(person, channel, f"{MENTION} {TEXTS[c % len(TEXTS)]}", at)
        out.append(double.event_callback(event))
    return out


class SlackWebhook:
    """`POST /slack/events` on a server with Slack real, calling a loopback Slack."""

    name = "slack_webhook"
    label = "Slack webhook"
    channel = "slack"
    path = EVENTS
    token: str | None = None  # Slack signs its requests; it has no API token of ours
    accepted = 200

    def __init__(self) -> None:
        self.slack: SlackDouble | None = None

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[dict[str, str]]:
        async with SlackDouble(users=PEOPLE) as slack:
            self.slack = slack
            try:
                yield {
                    "SLACK_BOT_TOKEN": BOT_TOKEN,
                    "SLACK_SIGNING_SECRET": SECRET,
                    "SLACK_API_URL": slack.api_url,
                }
            finally:
                self.slack = None

    def messages(self, n: int, tag: str) -> list[double.Inbound]:
        # `tag` is not needed: every ts (hence every message's id) is new to the server.
        if self.slack is not None:  # the guests are in the workspace, not in the directory
            for i in range(4, n, 5):
                self.slack.users.setdefault(_guest(i), SlackUser(f"Guest {i}"))
        return callbacks(n)

    def send(self, connection: Connection, message: double.Inbound) -> Awaitable[Reply]:
        return connection.post(self.path, message.body, message.headers(SECRET))

    def calls(self) -> int | None:
        """Web API calls the server has made to the loopback Slack so far."""
        return None if self.slack is None else len(self.slack.calls)


SLACK_WEBHOOK = SlackWebhook()
