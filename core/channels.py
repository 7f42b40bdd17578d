"""The channel seam: what every channel (Slack, Discord, SMS, email, a user's own) provides.

A channel is a bundle of small parts, each used by one consumer:
- a `Codec`, pure: `verify` and `parse` a platform's request into `Inbound` items and `ack` it
  (the webhook route), `render` an `OutboundMessage` into the platform's payload (the outbox),
  `preview` such a payload for the console, `normalize` a person's address (the directory);
- a `Transport` that sends and edits what `render` made (the outbox);
- an optional `Listener` for platforms that push over a long-lived connection (Slack Socket
  Mode, the Discord gateway, IMAP IDLE): the service runs it, restarts it when it drops and, on
  PostgreSQL, holds it in one process at a time;
- optionally, a `check` of its credentials at start-up, a `respond` for interactions the
  platform wants answered through its API at once, and a `name_of` for senders its payloads do
  not name (plain async callables);
- a `Simulator`, only when the channel is a sandbox (no credentials: channels/sandbox.py wraps
  the codec with a fake transport): the console and the API act as people through it.

Core never imports a channel; start-up finds the factories through the `switchboard.channels`
entry points, or import paths in SWITCHBOARD_CHANNELS.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.errors import Misconfigured
from core.events import utcnow, with_storable_text
from core.text import Name, Text

if TYPE_CHECKING:  # annotations only: core.previews imports Action from here
    from core.previews import Look, Preview
    from core.settings import Settings

Decision = Literal["approve", "reject", "answer"]


class Action(BaseModel):
    """A button press or a command: which request, which decision or option, and why. Without a
    decision it is the reference alone (a reply to a request's own mail): the words decide."""

    model_config = ConfigDict(frozen=True)

    request_id: Name | None = None  # an explicit reference: button id, reply token, reply code
    decision: Decision | None = None
    value: Text = ""  # the chosen option or the answer's text
    reason: Text = ""


class Attachment(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: Text
    content_type: Text = "application/octet-stream"
    size: int = 0
    url: str | None = None

    @property
    def described(self) -> str:
        """In words, for the thread's timeline and the model: "photo.jpg (image/jpeg, 12 kB)"."""
        about = [self.content_type] + (
            [f"{max(1, round(self.size / 1000))} kB"] if self.size else []
        )
        return f"{self.name} ({', '.join(about)})"


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
    sender_name: Text = ""  # how the platform names them, where it says ("Dana Smith")
    conversation: Name  # where it was said: a Slack thread, a Discord channel, an email thread
    text: str = ""
    altered: int = 0  # characters of `text` removed or replaced to make it storable
    action: Action | None = None
    attachments: tuple[Attachment, ...] = ()
    received_at: datetime = Field(default_factory=utcnow)
    raw: Text = ""  # a reference to the raw payload (or the payload itself, kept small)
    # False for a message overheard rather than addressed to the agent (a reply in a platform
    # thread): it continues a conversation the agent is in, or answers a request, but starts none.
    addressed: bool = True
    # The `external_id` of the message this one edits: it takes that message's place if the
    # agent has not read it yet, and is a message of its own if it has.
    edits: Name | None = None
    # Why the platform cannot vouch that this message answers for its sender (an email without
    # its request's token, or without a trusted DKIM pass): it may talk, but decides nothing.
    unvouched: Text = ""
    # A platform's short-lived handle for answering this sender alone (a Discord interaction's
    # token): a notice to them (why a click was refused) goes through it, seen by no one else.
    private_reply: str = ""

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return with_storable_text(data)


class RequestContext(BaseModel):
    """What a person deciding a request needs beside its question: who asks, through which agent,
    to do what (an approval's tool and its exact arguments), and by when. An outcome carries it
    too, with the question, for channels that show the request again, settled."""

    model_config = ConfigDict(frozen=True)

    question: str = ""
    requester: str | None = None  # the person the agent works for, by name
    agent: str = ""
    tool: str | None = None
    arguments: dict[str, Any] = {}
    deadline: datetime | None = None
    # An approval's: who may decide it ("role:deploy-approver (not Bob, who asked)"), and, while
    # it is open and needs several approvals, how far it is ("1 of 2: approved by Alice via
    # discord; waiting for one more"): an outcome with progress is a step, not the outcome.
    deciders: str = ""
    progress: str = ""
    context: str = ""  # what an outside caller tells the decider, beside the question


class OutboundMessage(BaseModel):
    """What the outbox asks a channel to render and send."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["reply", "request", "notice", "outcome"]
    text: str
    address: str  # the recipient's address on this channel
    conversation: str | None = None  # reply into this conversation (a thread), or a new one
    thread_id: str | None = None  # the thread it belongs to: the console shows it whole
    agent: str = ""  # who speaks: the thread's agent
    request_id: str | None = None
    request_kind: Literal["question", "approval"] | None = None
    options: tuple[str, ...] = ()
    reply_code: str = ""  # how a text reply names the request ("YES 417"), for a request
    edit_of: str | None = None  # for an outcome: the platform message id of the copy to update
    idempotency_key: str = ""
    context: RequestContext | None = None  # for a request or its outcome
    private_reply: str = ""  # for a notice: the handle its InboundMessage gave, if any


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the platform said it did: needed to update the message later."""

    message_id: str
    conversation: str


class DeliveryFailed(Exception):
    """A send that failed. `retry` says whether trying again may help; `retry_after` in seconds.

    `unreachable`: the recipient cannot be reached on this channel at all (they take no direct
    messages, opted out, no such user, no access): a request is asked on their next channel.
    """

    def __init__(
        self,
        message: str,
        *,
        retry: bool = True,
        retry_after: float | None = None,
        unreachable: bool = False,
    ):
        super().__init__(message)
        self.retry = retry and not unreachable
        self.retry_after = retry_after
        self.unreachable = unreachable


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
    """The request does not carry the platform's valid signature: refused with `status`, as
    the platform's documentation asks (401 for most; Twilio's asks 403)."""

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


class Malformed(ValueError):
    """The payload is not what the platform sends."""


DELIVERY_ORDER = ("sent", "delivered", "read")  # each later word says more than the one before


class DeliveryStatus(BaseModel):
    """The platform's word on a message already sent: it left, arrived, was read, or never
    arrived. Reports come in any order and more than once; the furthest one counts.

    For a failure, `retry` says whether sending it again may help (a phone switched off), and
    `unreachable` that the person cannot get messages there at all (a landline, opted out): a
    request is asked on their next channel. Neither: the message goes to the dead letters."""

    model_config = ConfigDict(frozen=True)

    channel: Name
    message_id: Name  # the platform's id for the message, as its Receipt gave it
    status: Literal["sent", "delivered", "read", "failed"]
    error: Text = ""
    retry: bool = False
    unreachable: bool = False


class Consent(BaseModel):
    """A person's word on getting messages at an address, as carriers require it be honoured
    (an SMS STOP or START): opted out, nothing more is sent there, and a request goes to their
    next channel; opted in again, the address is used as before."""

    model_config = ConfigDict(frozen=True)

    channel: Name
    address: Name
    allowed: bool
    at: datetime = Field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """A call that only needs its answer (a ping, a URL check, a keep-alive): nothing to store.

    Or an interaction the platform wants answered through its API while it waits (a dialog to
    open within seconds of a click): `channel` names whose `respond` answers it with `payload`.
    A `payload` without a `channel` went back as the acknowledgement itself (the channel's `ack`,
    such as Discord's dialog): nothing more is owed.
    """

    what: str = ""
    channel: str = ""
    payload: Mapping[str, Any] | None = None


# What a channel hands in, from a webhook or a listener: one type per kind of thing.
Inbound = InboundMessage | DeliveryStatus | Consent | Acknowledged


@dataclass(frozen=True, slots=True)
class AddressForm:
    """What a person's address on a channel looks like: for the API's document and the console."""

    example: str  # an address of someone in no directory: the console acts as them
    description: str = "the person's id on the platform"
    pattern: str | None = None  # a regular expression every address `normalize` takes matches


class Inlet(Protocol):
    """The webhook route's part: is this request the platform's, what is in it, what to answer."""

    @property
    def name(self) -> str: ...

    @property
    def webhooks(self) -> tuple[str, ...]:
        """The HTTP paths the platform calls, e.g. ("/slack/events",)."""
        ...

    def verify(self, request: RawRequest) -> None:
        """Raise Forged unless the request is really from the platform."""
        ...

    def parse(self, request: RawRequest) -> list[Inbound]:
        """What a verified request carries: pure; raises Malformed, and nothing else."""
        ...

    def ack(self, request: RawRequest, accepted: Sequence[Inbound]) -> Ack:
        """The immediate answer to the platform once what it sent is stored."""
        ...


def unpack(inlet: Inlet, request: RawRequest) -> list[Inbound]:
    """What a request carries, once it is known to be the platform's: `parse` never sees a
    forged one. Raises Forged or Malformed."""
    inlet.verify(request)
    return inlet.parse(request)


class Renderer(Protocol):
    """The outbox's part: the platform's payload for a message."""

    def render(self, message: OutboundMessage) -> dict[str, Any]:
        """Pure and deterministic: the same message gives the same payload, which is stored."""
        ...


class Previewer(Protocol):
    """The console's part: a rendered payload read back, and how the channel looks."""

    @property
    def look(self) -> Look: ...

    def preview(self, payload: Mapping[str, Any]) -> Preview:
        """What the person sees for `payload`: pure; a payload it cannot read shows as empty."""
        ...


class Addresses(Protocol):
    """The directory's part: one form for each address, the one the inbox looks people up by."""

    @property
    def address(self) -> AddressForm: ...

    def normalize(self, address: str) -> str:
        """The address in its one form (an E.164 number, a lower-case email); ValueError if it
        is not an address on this platform."""
        ...


class Codec(Inlet, Renderer, Previewer, Addresses, Protocol):
    """Everything a channel knows about its platform's formats: pure, no I/O."""


class Transport(Protocol):
    """Sends and edits what the codec rendered; raises DeliveryFailed."""

    async def send(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt: ...

    async def edit(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        """Update the message `message.edit_of` (or, where a platform cannot, send it anew)."""
        ...

    async def close(self) -> None: ...


Deliver = Callable[[Inbound], Awaitable[object]]


class Cursor(Protocol):
    """Where a listener is in what it reads, kept across restarts and processes (a mailbox's
    UIDVALIDITY and last UID): its own words, saved as it goes. Saved once what it read is
    stored: a position saved too late reads a message twice, and the inbox drops the repeat."""

    async def get(self) -> str | None: ...

    async def save(self, position: str) -> None: ...


class Listener(Protocol):
    """A long-lived connection the platform pushes over."""

    @property
    def lock(self) -> str | None:
        """Held by one process at a time (an advisory lock on PostgreSQL), so that two processes
        never read one mailbox or hold one gateway session; None: every process listens."""
        ...

    async def listen(self, deliver: Deliver, cursor: Cursor) -> None:
        """Hand each parsed item to `deliver` until cancelled; raise (or return) when the
        connection drops: the service starts it again after a backoff. `cursor` keeps its
        position, for a platform that does not keep it itself."""
        ...


class Simulator(Protocol):
    """A sandbox's stand-in for the platform: what its webhook would bring for a person's act."""

    def simulate(
        self,
        *,
        sender: str,
        conversation: str,
        text: str = "",
        action: Action | None = None,
        answering: Mapping[str, Any] | None = None,
    ) -> InboundMessage:
        """`answering`: the payload of the message the person replies to (the latest one sent
        to them in the conversation), for a platform whose replies carry it, as a mail's
        recipient and References do. The message's conversation is the platform's name for
        where it was said, which may be more than `conversation` said (a mail's subject).
        Raises Malformed for what the platform would never bring (a sender that is no address
        there)."""
        ...

    def new_conversation(self, address: str) -> str:
        """A new conversation's id, as the platform would name it."""
        ...


@dataclass(frozen=True, slots=True)
class Channel:
    """One platform's parts. A channel with a simulator is a sandbox: it sends nowhere."""

    codec: Codec
    transport: Transport
    listener: Listener | None = None
    simulator: Simulator | None = None
    # Confirms the credentials with the platform when `serve` or `worker` starts; raises
    # Misconfigured, in one line, when the platform refuses them.
    check: Callable[[], Awaitable[None]] | None = None
    # Answers an Acknowledged interaction that carries a payload, through the platform's API.
    respond: Callable[[Acknowledged], Awaitable[None]] | None = None
    # The name the platform shows for an address, where its payloads do not carry it (Slack's
    # users.info); None when it cannot say. Asked before a message is stored, so it must be quick.
    name_of: Callable[[str], Awaitable[str | None]] | None = None

    @property
    def name(self) -> str:
        return self.codec.name

    @property
    def sandbox(self) -> bool:
        return self.simulator is not None


ChannelFactory = Callable[["Settings"], Channel]


class InvalidAddress(ValueError):
    """An address that is not one on its channel."""

    def __init__(self, channel: str, reason: str) -> None:
        super().__init__(f"{channel}: {reason}")
        self.channel = channel


def normalize_identities(
    identities: Mapping[str, str], channels: Mapping[str, Channel]
) -> dict[str, str]:
    """Each address in its channel's one form; on a channel not installed, as written.
    Raises InvalidAddress, naming the channel."""
    found = {}
    for name, address in identities.items():
        channel = channels.get(name)
        try:
            found[name] = channel.codec.normalize(address) if channel else address
        except ValueError as e:
            raise InvalidAddress(name, str(e)) from e
    return found


def discover_channels(settings: Settings) -> dict[str, ChannelFactory]:
    """Every channel factory by name: the `switchboard.channels` entry points, then the import
    paths in SWITCHBOARD_CHANNELS (`name=module:factory`, which may replace an installed one)."""
    found: dict[str, ChannelFactory] = {
        ep.name: ep.load() for ep in entry_points(group="switchboard.channels")
    }
    for name, path in settings.extra_channels().items():
        module, _, attribute = path.partition(":")
        try:
            found[name] = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError, ValueError) as e:
            raise Misconfigured(f"SWITCHBOARD_CHANNELS: cannot load {name}={path}: {e}") from e
    return found
