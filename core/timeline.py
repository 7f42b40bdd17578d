"""A thread's events as people read them: one line each, and as JSON for scripts."""

from __future__ import annotations

import json
from typing import Any

from core.events import (
    AnswerRefused,
    ApprovalDecided,
    BudgetWarned,
    ContextCompacted,
    ErrorCompacted,
    Event,
    HumanRequested,
    HumanResponded,
    MessageEdited,
    MessageReceived,
    ModelCalled,
    ModelFailed,
    ReplySent,
    RequestEscalated,
    RequestTimedOut,
    ThreadCancelled,
    ThreadFinished,
    ThreadPaused,
    ThreadResumed,
    ToolCalled,
    ToolFailed,
    ToolSucceeded,
)
from core.records import StoredEvent


def _short(value: Any, limit: int = 90) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(event: Event) -> str:
    match event:
        case MessageReceived():
            sender = event.sender or "someone"
            if event.sender_name:
                sender = f"{event.sender_name} ({sender})"
            said = f"{sender} via {event.channel}: {_short(event.text)}"
            if event.attachments:
                said += f" (attached: {_short('; '.join(event.attachments))})"
            if event.altered:
                said += (
                    f" ({event.altered} characters that cannot be stored were removed or replaced)"
                )
            return said
        case MessageEdited():
            return f"{event.sender or 'someone'} edited message #{event.seq}: {_short(event.text)}"
        case ModelCalled():
            return (
                f"{event.model} ({event.purpose}): {event.prompt_tokens}+{event.completion_tokens} tokens,"
                f" ${event.cost:.4f}, {event.latency_ms:.0f} ms"
            )
        case ModelFailed():
            return f"{event.reason}: {_short(event.error)}"
        case ToolCalled():
            return f"{event.tool}({_short(event.arguments, 70)})"
        case ToolSucceeded():
            return f"{event.tool} → {_short(event.result)}"
        case ToolFailed():
            return f"{event.tool} failed: {_short(event.error)}"
        case HumanRequested():
            return f"{event.kind} {event.request_id} to {', '.join(event.recipients)}: {_short(event.question)}"
        case HumanResponded():
            who = (
                f"{event.acting} on behalf of {event.responder}"
                if event.acting
                else event.responder
            )
            return f"{who} via {event.via} answered {event.request_id}: {_short(event.answer)}"
        case ApprovalDecided():
            verdict = "approved" if event.approved else "rejected"
            reason = f": {event.reason}" if event.reason else ""
            who = (
                f"{event.acting} on behalf of {event.decided_by}"
                if event.acting
                else event.decided_by
            )
            said = f"{who} via {event.via} {verdict} {event.request_id}{reason}"
            if event.counted_as:
                said += f" (for {event.counted_as})"
            if event.own_request:
                said += " (their own request: its policy allows it)"
            return said
        case AnswerRefused():
            return f"{event.by} via {event.via} was not taken for {event.request_id}: {_short(event.reason)}"
        case RequestEscalated(step="resend"):
            return f"{event.request_id} unanswered: re-sent on the next preferred channel"
        case RequestEscalated():
            return f"{event.request_id} unanswered: now also asking {', '.join(event.added) or 'no one new'}"
        case RequestTimedOut():
            outcome = "denied" if event.kind == "approval" else "no answer"
            return f"{event.request_id} timed out: {outcome}"
        case ErrorCompacted():
            return f"{event.count} error(s) resolved"
        case ContextCompacted():
            return f"events through #{event.through_seq} summarized ({event.method})"
        case BudgetWarned():
            return f"{event.resource} budget at {event.used:g} of {event.limit:g}"
        case ReplySent():
            return f"to {event.to or 'requester'}: {_short(event.text)}"
        case ThreadPaused() | ThreadCancelled():
            return f"by {event.by}" + (f": {event.reason}" if event.reason else "")
        case ThreadResumed():
            return f"by {event.by}"
        case ThreadFinished():
            return f"{event.outcome}: {_short(event.message)}"
    return ""


def event_json(stored: StoredEvent) -> dict[str, Any]:
    return {"seq": stored.seq, "tokens": stored.tokens, **stored.event.model_dump(mode="json")}
