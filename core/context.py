"""The model's view of a thread: one tagged block per event, rendered by code we own."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html import escape
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from core.events import (
    ApprovalDecided,
    BudgetWarned,
    ContextCompacted,
    ErrorCompacted,
    Event,
    HumanRequested,
    HumanResponded,
    MessageEdited,
    MessageReceived,
    ModelFailed,
    ReplySent,
    RequestTimedOut,
    ThreadFinished,
    ToolCalled,
    ToolFailed,
    ToolSucceeded,
)

MAX_ERROR_CHARS = 400
# What one message or answer may put before the model: past this (about 2,000 tokens), the rest is
# left out and the model is told so. The whole text stays in the thread's events.
MAX_MESSAGE_CHARS = 8000
TRUNCATED_BLOCK_CHARS = 160


def estimate_tokens(text: str) -> int:
    """About four characters a token: a cheap, stable estimate for budgeting the window.

    What a call really cost comes from the provider's usage figures, recorded on ModelCalled.
    """
    return (len(text) + 3) // 4


def event_tokens(event: Event) -> int:
    """What an event costs in the context; computed once, when it is appended, and stored with it."""
    return estimate_tokens(render_event(event))


def _tag(tag: str, body: str, **attrs: Any) -> str:
    attr = "".join(f' {k}="{escape(str(v))}"' for k, v in attrs.items() if v not in (None, ""))
    return f"<{tag}{attr}>\n{body}\n</{tag}>"


def _json(value: Any) -> str:
    return to_json(value, fallback=str).decode()


# What the model reads under a rejected or timed-out approval: the decision is final.
NOT_APPROVED = (
    "The action was not approved and must not be retried: do not request it again; tell the"
    " requester it was not done, and why."
)


def _capped(text: str) -> str:
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    left_out = len(text) - MAX_MESSAGE_CHARS
    return f"{text[:MAX_MESSAGE_CHARS]}\n[{left_out:,} more characters not shown]"


def render_event(event: Event) -> str:
    """The block an event contributes to the context, or "" when the model needs not see it."""
    match event:
        case MessageReceived() | MessageEdited():  # an edit is shown in the message's place
            attributes = {"from": event.sender, "name": event.sender_name, "channel": event.channel}
            if isinstance(event, MessageReceived):
                attributes["attached"] = "; ".join(event.attachments)
            return _tag("message", _capped(event.text), **attributes)
        case ToolCalled():
            return _tag("call", _json(event.arguments), tool=event.tool, id=event.call_id)
        case ToolSucceeded():
            return _tag("result", _json(event.result), tool=event.tool, id=event.call_id)
        case ToolFailed():
            return _tag("error", event.error[:MAX_ERROR_CHARS], tool=event.tool, id=event.call_id)
        case ModelFailed():
            return _tag("error", event.error[:MAX_ERROR_CHARS], kind=event.reason)
        case HumanRequested():
            body = event.question
            if event.options:
                body += "\noptions: " + ", ".join(event.options)
            to = ",".join(event.recipients)
            return _tag("asked_human", body, id=event.request_id, kind=event.kind, to=to)
        case HumanResponded():
            return _tag(
                "human_answer", _capped(event.answer), request=event.request_id, by=event.responder
            )
        case ApprovalDecided(approved=True):
            return _tag(
                "approval",
                event.reason,
                request=event.request_id,
                decision="approved",
                by=event.decided_by,
            )
        case ApprovalDecided():
            reason = f"Reason: {event.reason}\n" if event.reason else ""
            return _tag(
                "approval",
                reason + NOT_APPROVED,
                request=event.request_id,
                decision="rejected",
                by=event.decided_by,
            )
        case RequestTimedOut(kind="approval"):
            return _tag(
                "approval",
                "No decision before the deadline.\n" + NOT_APPROVED,
                request=event.request_id,
                decision="timed out",
            )
        case RequestTimedOut():
            return _tag(
                "human_answer",
                "(no answer before the deadline)",
                request=event.request_id,
                timed_out="yes",
            )
        case ContextCompacted():
            return _tag("summary", event.summary, of_events_through=event.through_seq)
        case BudgetWarned():
            return _tag(
                "budget_warning", f"{event.used:g} of {event.limit:g} used", resource=event.resource
            )
        case ReplySent():
            return _tag("reply", event.text, to=event.to)
        case ThreadFinished():
            return _tag("finished", event.message, outcome=event.outcome)
    return ""


class Redactor:
    """Replaces configured secret values before any text reaches a prompt or a log."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Also redact `secret` (one learnt after start-up: a generated API token)."""
        if len(secret) >= 4 and secret not in self._secrets:
            # Longest first, so a secret that contains another is replaced whole.
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "[redacted]")
        return text


@dataclass(slots=True)
class Block:
    seq: int
    text: str
    tokens: int
    error: bool


class ContextWindow:
    """The visible blocks of a thread, kept up to date one event at a time.

    Token counts come stored with each event, so a step never re-counts the whole thread.
    Errors stay visible until a success resolves them (ErrorCompacted), then drop out.
    """

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.tokens = 0

    def add(self, seq: int, event: Event, tokens: int, text: str | None = None) -> None:
        text = render_event(event) if text is None else text
        block = (
            Block(seq, text, tokens, isinstance(event, ModelFailed | ToolFailed)) if text else None
        )
        match event:
            case MessageEdited() if block:  # in the edited message's place, which keeps its seq
                edited = Block(event.seq, block.text, block.tokens, error=False)
                self.blocks = [edited if b.seq == event.seq else b for b in self.blocks]
                self.tokens = sum(b.tokens for b in self.blocks)
                block = None
            case ErrorCompacted():
                self._keep(lambda b: not b.error)
            case ContextCompacted() if block:
                self._keep(lambda b: b.seq > event.through_seq)
                self.blocks.insert(0, block)
                self.tokens += block.tokens
                block = None
        if block:
            self.blocks.append(block)
            self.tokens += block.tokens

    def _keep(self, keep: Callable[[Block], bool]) -> None:
        self.blocks = [b for b in self.blocks if keep(b)]
        self.tokens = sum(b.tokens for b in self.blocks)

    def render(self, redact: Redactor) -> str:
        return redact("\n".join(b.text for b in self.blocks))

    def compactable(self, keep_tokens: int) -> list[Block]:
        """The oldest blocks to fold into a summary, leaving about `keep_tokens` of recent ones."""
        kept = 0
        for i in range(len(self.blocks) - 1, 0, -1):
            kept += self.blocks[i].tokens
            if kept > keep_tokens:
                return self.blocks[: min(i + 1, len(self.blocks) - 1)]
        return []


class Summary(BaseModel):
    summary: str


SUMMARY_INSTRUCTIONS = (
    "Summarize the conversation and work below for the agent that will continue it. Keep every"
    " fact it still needs: who asked what, decisions, ids, numbers, results, open questions."
    ' Answer with one JSON object: {"summary": "..."}'
)


def parse_summary(text: str) -> str:
    """The summary in a model's answer; raises ValueError for anything but {"summary": str}."""
    start, end = text.find("{"), text.rfind("}")
    try:
        return Summary.model_validate_json(text[start : end + 1]).summary
    except ValidationError as e:
        raise ValueError(f"the summary was not valid JSON: {e.errors()[0]['msg']}") from e


def truncate_blocks(blocks: list[Block]) -> str:
    """The deterministic fallback summary: the start of each folded block."""
    return "\n".join(b.text[:TRUNCATED_BLOCK_CHARS] for b in blocks)
