"""A channel's conversations as its platform would show them, rebuilt from the inbox (what people
sent) and the outbox (the payloads the channel rendered and sent, read back by the channel's own
`preview`). Pure: rows in, views out.

An outcome's preview names the message it updates (`Preview.edits`): applied here as the platform
edit it is, the buttons of that message go away and the outcome shows in their place; or, for a
request drawn again while still open (a step towards a quorum), the message is the new drawing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from core.previews import Button, Preview
from core.records import InboxItem, OutboxItem, Person
from core.store import Queries
from core.web.console.render import headline, names, utc

# Someone in no directory: to see what a channel does with an unknown sender.
STRANGER = "stranger"

Previews = Callable[[Mapping[str, Any]], Preview]


@dataclass(slots=True)
class Message:
    """One message in a conversation, drawn as the platform would draw it."""

    direction: Literal["in", "out"]
    at: datetime
    author: str
    text: str
    kind: str  # out: reply, request, notice; in: message, action
    address: str = ""
    person: str | None = None  # the sender (in) or the recipient (out)
    buttons: tuple[Button, ...] = ()
    stale: tuple[Button, ...] = ()  # the buttons an edit removed
    outcome: str = ""
    edited_at: datetime | None = None
    edited: dict[str, Any] | None = None  # the payload the edit put in its place, if any
    subject: str = ""
    to: str = ""
    notes: tuple[str, ...] = ()
    status: str = "sent"
    error: str = ""
    message_id: str | None = None
    payload: dict[str, Any] | None = None
    result: str = ""  # in: what the inbox made of it
    detail: str = ""


@dataclass(slots=True)
class Conversation:
    id: str
    messages: list[Message] = field(default_factory=list)
    people: dict[str, str] = field(default_factory=dict)  # person id → name, in order of arrival

    @property
    def last_at(self) -> datetime:
        return max(utc(m.at) for m in self.messages)

    @property
    def waiting(self) -> bool:
        return any(m.buttons for m in self.messages)

    @property
    def preview(self) -> str:
        last = self.messages[-1]
        return f"{last.author}: {last.outcome or last.text or last.detail}"

    @property
    def subject(self) -> str:
        """An email thread's subject: the first one sent, else the opening words of the first mail."""
        sent = next((m.subject for m in self.messages if m.subject), "")
        first = self.messages[0].text
        return sent or (first if len(first) <= 60 else first[:59] + "…")

    @property
    def topic(self) -> str:
        """What it is about: an email's subject, else the words of its first message, clipped."""
        sent = next((m.subject for m in self.messages if m.subject), "")
        said = next((m.text for m in self.messages if m.text and m.kind != "action"), "")
        return headline(sent or said, 48)

    def title(self, direct: str) -> str:
        """Who takes part (a one-to-one conversation says so, in the channel's word for it) and
        what it is about: two of one person's conversations are told apart."""
        parts = [", ".join(self.people.values()) or "unknown sender"]
        if self.id.startswith("dm:") and direct:
            parts.append(direct)
        if self.topic:
            parts.append(self.topic)
        return " · ".join(parts)


def conversations(
    channel: str,
    outbox: list[OutboxItem],
    inbox: list[InboxItem],
    people: list[Person],
    preview: Previews,
) -> list[Conversation]:
    """The channel's conversations, the most recently active first."""
    by_address = {p.identities[channel]: p for p in people if channel in p.identities}
    known = names(people)
    found: dict[str, Conversation] = {}

    def at(conversation: str) -> Conversation:
        return found.setdefault(conversation, Conversation(conversation))

    for item in inbox:
        name = known.get(item.person_id or "")
        convo = at(item.conversation)
        if item.person_id and name:
            convo.people.setdefault(item.person_id, name)
        convo.messages.append(_inbound(item, name))
    edits: dict[str, tuple[OutboxItem, Preview]] = {}
    for row in outbox:
        if row.conversation is None or row.status in ("routed", "skipped"):
            continue
        shown = preview(row.payload) if row.payload else Preview(row.text)
        if row.kind == "outcome" and shown.edits:
            if row.status == "sent":  # an edit shows once the platform has made it
                edits[shown.edits] = (row, shown)
            continue
        recipient = by_address.get(row.address or "")
        convo = at(row.conversation)
        if recipient:
            convo.people.setdefault(recipient.id, recipient.name)
        convo.messages.append(_outbound(row, shown, recipient))
    for convo in found.values():
        for message in convo.messages:
            edit = edits.get(message.message_id or "")
            if edit is not None:
                row, shown = edit
                message.edited_at = row.sent_at
                message.edited = row.payload
                if shown.buttons:  # drawn again, still open (a step towards a quorum)
                    message.text, message.buttons = shown.text, shown.buttons
                    continue
                message.stale, message.buttons = message.buttons, ()
                message.outcome = shown.text or row.text
        convo.messages.sort(key=lambda m: utc(m.at))
    return sorted(found.values(), key=lambda c: c.last_at, reverse=True)


def _inbound(item: InboxItem, name: str | None) -> Message:
    action = item.action or {}
    text = item.text
    if action.get("decision"):  # a press; a reference alone is a reply, its words shown
        label = str(action.get("value") or action["decision"]).capitalize()
        text = f"pressed {label}" + (f" ({item.text})" if item.text else "")
    return Message(
        "in",
        item.received_at,
        name or item.sender,
        text,
        "action" if action.get("decision") else "message",
        address=item.sender,
        person=item.person_id,
        result=item.outcome,
        detail=item.detail,
    )


def _outbound(row: OutboxItem, shown: Preview, recipient: Person | None) -> Message:
    return Message(
        "out",
        row.sent_at or row.created_at,
        "Switchboard",
        shown.text or row.text,
        row.kind,
        address=row.address or "",
        person=recipient.id if recipient else None,
        buttons=shown.buttons if row.status == "sent" else (),
        subject=shown.subject,
        to=shown.to,
        notes=shown.notes,
        status=row.status,
        error=row.last_error or "",
        message_id=row.message_id,
        payload=row.payload,
    )


@dataclass(frozen=True, slots=True)
class Actor:
    """Someone the sandbox can speak for on a channel, with their address there."""

    id: str
    name: str
    address: str


def actors(channel: str, people: list[Person], stranger: str) -> list[Actor]:
    """The people with an address on the channel, and a stranger at `stranger`."""
    found = [Actor(p.id, p.name, p.identities[channel]) for p in people if channel in p.identities]
    return [*found, Actor(STRANGER, "Someone not in the directory", stranger)]


async def answering(
    store: Queries, channel: str, conversation: str, address: str
) -> dict[str, Any] | None:
    """The payload of the latest message sent to `address` in `conversation`: what a reply
    there answers (a mail client replies to the mail it shows last). Only that conversation's
    sent copies are read (the outbox's conversation index), however many the channel has."""
    sent = await store.outbox(channel=channel, conversation=conversation, status="sent")
    mine = [row for row in sent if (row.address or "").lower() == address.lower() and row.payload]
    latest = max(mine, key=lambda row: utc(row.sent_at or row.created_at), default=None)
    return latest.payload if latest else None
