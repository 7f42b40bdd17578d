"""The channel protocol: what every channel (Slack, Discord, SMS, email, the sandbox) implements.

A channel is four small pieces: `verify` (is this request really from the platform), `parse`
(platform payload → `InboundMessage`, pure), `render` (`OutboundMessage` → the platform's payload,
pure) and a transport that sends what `render` made. Core never imports a channel; start-up finds
them through the `switchboard.channels` entry points.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.events import utcnow, with_storable_text
from core.text import Name, Text

Decision = Literal["approve", "reject", "answer"]


class Action(BaseModel):
    """A button press or a command: which request, which decision or option, and why."""

    model_config = ConfigDict(frozen=True)

    request_id: Name | None = None  # an explicit reference: button id, reply token, reply code
    decision: Decision
    value: Text = ""  # the chosen option or the answer's text
    reason: Text = ""


class Attachment(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: Text
    content_type: Text = "application/octet-stream"
    size: int = 0
    url: str | None = None


class InboundMessage(BaseModel):
    """One message or action from a platform, as the channel's `parse` made it.

    Whatever the channel, text from outside meets one rule here (core/text.py): names (ids,
    addresses) with a control character are refused (a ValidationError: the channel's Malformed),
    and what the person wrote is kept minus what a database cannot store, counted in `altered`.
    """

    model_config = ConfigDict(frozen=True)

    channel: Name
    external_id: Name  # the platform's own id: deduplication key together with the channel
    sender: Name  # the sender's address on that channel (user id, E.164 number, email address)
    conversation: Name  # where it was said: a Slack thread, a Discord channel, an email thread
    text: str = ""
    altered: int = 0  # characters of `text` removed or replaced to make it storable
    action: Action | None = None
    attachments: tuple[Attachment, ...] = ()
    received_at: datetime = Field(default_factory=utcnow)
    raw: Text = ""  # a reference to the raw payload (or the payload itself, kept small)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return with_storable_text(data)


class OutboundMessage(BaseModel):
    """What the outbox asks a channel to render and send."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["reply", "request", "notice", "outcome"]
    text: str
    address: str  # the recipient's address on this channel
    conversation: str | None = None  # reply into this conversation (a thread), or a new one
    request_id: str | None = None
    request_kind: Literal["question", "approval"] | None = None
    options: tuple[str, ...] = ()
    edit_of: str | None = None  # for an outcome: the platform message id of the copy to update
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the platform said it did: needed to update the message later."""

    message_id: str
    conversation: str


class DeliveryFailed(Exception):
    """A send that failed. `retry` says whether trying again may help; `retry_after` in seconds."""

    def __init__(self, message: str, *, retry: bool = True, retry_after: float | None = None):
        super().__init__(message)
        self.retry = retry
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class RawRequest:
    """A platform's webhook call, as it arrived: what `verify` and `parse` see."""

    url: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True, slots=True)
class Ack:
    """What the webhook answers the platform, at once."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"


class Forged(Exception):
    """The request does not carry the platform's valid signature."""


class Malformed(ValueError):
    """The payload is not what the platform sends."""


class Channel(Protocol):
    name: str
    sandbox: bool  # True when the channel has no credentials: it renders, but sends nowhere
    webhooks: tuple[str, ...]  # the HTTP paths the platform calls, e.g. ("/slack/events",)

    def verify(self, request: RawRequest) -> None:
        """Raise Forged unless the request is really from the platform."""
        ...

    def parse(self, request: RawRequest) -> list[InboundMessage]:
        """The messages in a verified request: pure; raises Malformed."""
        ...

    def ack(self, request: RawRequest, accepted: list[InboundMessage]) -> Ack:
        """The immediate answer to the platform once the messages are stored."""
        ...

    def render(self, message: OutboundMessage) -> dict[str, Any]:
        """The platform payload for `message`: pure, and what the sandbox preview shows."""
        ...

    async def send(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        """Deliver `payload`, or update the message `edit_of`; raises DeliveryFailed."""
        ...

    def simulate(
        self, *, sender: str, conversation: str, text: str = "", action: Action | None = None
    ) -> InboundMessage:
        """For the sandbox: the message `parse` would produce for this person's text or click."""
        ...

    async def close(self) -> None: ...


def discover_channels() -> dict[str, Any]:
    """Every installed channel factory, by name (entry points `switchboard.channels`)."""
    return {ep.name: ep.load() for ep in entry_points(group="switchboard.channels")}
