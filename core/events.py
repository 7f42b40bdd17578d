"""A thread's history: small immutable events, named in the past tense, in one tagged union."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.text import Text, storable

Json = dict[str, Any]
RequestKind = Literal["question", "approval"]
# Why a human was asked: the model asked (question / approval of a gated tool), or the loop did.
RequestPurpose = Literal["question", "approval", "escalation", "budget", "recovery"]
Urgency = Literal["low", "normal", "high"]
Outcome = Literal["success", "failure"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    at: datetime = Field(default_factory=utcnow)


class MessageReceived(_Event):
    type: Literal["message_received"] = "message_received"
    text: str
    sender: str | None = None
    channel: str = "cli"
    altered: int = 0  # characters of what was written that no database can store: see core/text
    message_id: str | None = None  # the platform's id for it, to find it again when it is edited
    sender_name: str = ""  # how the platform names a sender who is not in the directory
    attachments: tuple[str, ...] = ()  # what came with it, each in words (Attachment.described)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return with_storable_text(data)


class MessageEdited(_Event):
    """The person edited the message at `seq` before the agent read it: the agent reads this."""

    type: Literal["message_edited"] = "message_edited"
    seq: int
    text: str
    sender: str | None = None
    channel: str = "cli"
    altered: int = 0
    sender_name: str = ""

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return with_storable_text(data)


def with_storable_text(data: Any) -> Any:
    """A model's input with its `text` made storable, counting what changed in `altered`."""
    if isinstance(data, dict) and isinstance(data.get("text"), str):
        text, changed = storable(data["text"])
        if changed:
            return {**data, "text": text, "altered": data.get("altered", 0) + changed}
    return data


class ModelCalled(_Event):
    type: Literal["model_called"] = "model_called"
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: float
    latency_ms: float
    purpose: Literal["step", "summary"] = "step"
    prompt_version: str = ""  # a hash of the agent's prompt template file


class ModelFailed(_Event):
    """The model's output was unusable (broken JSON, unknown tool, bad arguments) or its call failed."""

    type: Literal["model_failed"] = "model_failed"
    reason: Literal["invalid_output", "provider_error", "not_approved"]
    error: str
    output: str = ""


class ToolCalled(_Event):
    type: Literal["tool_called"] = "tool_called"
    call_id: str
    tool: str
    arguments: Json
    idempotency_key: str


class ToolSucceeded(_Event):
    type: Literal["tool_succeeded"] = "tool_succeeded"
    call_id: str
    tool: str
    result: Any


class ToolFailed(_Event):
    type: Literal["tool_failed"] = "tool_failed"
    call_id: str
    tool: str
    error: str


class HumanRequested(_Event):
    type: Literal["human_requested"] = "human_requested"
    request_id: str
    kind: RequestKind
    purpose: RequestPurpose
    question: str
    recipients: tuple[str, ...]
    options: tuple[str, ...] = ()
    urgency: Urgency = "normal"
    tool: str | None = None
    arguments: Json | None = None
    arguments_hash: str | None = None
    call_id: str | None = None
    resend_at: datetime | None = None  # escalation: re-send on each recipient's next channel
    widen_at: datetime | None = None  # then ask the next approvers or escalation contacts
    deadline: datetime | None = None  # then time out: an approval is denied
    # An approval's policy: how many distinct people must approve (one rejection decides), each
    # for another entry of the recipients when `distinct_roles`; whether the thread's requester,
    # who may not decide it otherwise (four eyes), may approve it.
    required: int = 1
    distinct_roles: bool = False
    requester: str | None = None
    self_approval: bool = False
    # A request from an outside caller (core/relay.py): who asked, what the decider should know,
    # and the caller's own reference for it.
    caller: str | None = None
    context: Text = ""
    reference: Text = ""
    callback_url: str | None = None  # where the settled request is posted, signed


class HumanResponded(_Event):
    type: Literal["human_responded"] = "human_responded"
    request_id: str
    responder: str
    answer: Text
    via: str = "cli"
    acting: str | None = None  # who answered for the responder ("operator"); None: they did


class ApprovalDecided(_Event):
    """One person's approval or rejection. With a quorum, an approval settles the request only
    when it is the last one needed; a rejection settles it at once."""

    type: Literal["approval_decided"] = "approval_decided"
    request_id: str
    approved: bool
    decided_by: str
    arguments_hash: str
    reason: Text = ""
    via: str = "cli"
    counted_as: str | None = None  # with distinct roles: the recipients' entry it stands for
    own_request: bool = False  # the requester approved their own, as the policy allows
    acting: str | None = None  # who decided for `decided_by` ("operator"); None: they did


class AnswerRefused(_Event):
    """Someone answered an open request and was not taken: not one of its recipients, not in the
    directory, or not vouched for by their channel (an email without the request's token). The
    request stays open; the event is for the people reading the thread, not for the model."""

    type: Literal["answer_refused"] = "answer_refused"
    request_id: str
    by: str  # a person's id, or channel:sender for someone the directory does not know
    via: str
    reason: Text


class RequestEscalated(_Event):
    """An open request went unanswered: re-sent on the next channel, or widened to more people."""

    type: Literal["request_escalated"] = "request_escalated"
    request_id: str
    step: Literal["resend", "widen"]
    added: tuple[str, ...] = ()  # people or roles who may now answer too


class RequestTimedOut(_Event):
    """No answer before the deadline: an approval is denied, a question gets no answer."""

    type: Literal["request_timed_out"] = "request_timed_out"
    request_id: str
    kind: RequestKind


class ErrorCompacted(_Event):
    """A success after errors: the errors before it are resolved and leave the context."""

    type: Literal["error_compacted"] = "error_compacted"
    count: int
    last_error: str


class ContextCompacted(_Event):
    type: Literal["context_compacted"] = "context_compacted"
    summary: str
    through_seq: int
    method: Literal["model", "truncation"]


class BudgetWarned(_Event):
    type: Literal["budget_warned"] = "budget_warned"
    resource: Literal["tokens", "cost"]
    used: float
    limit: float


class ReplySent(_Event):
    type: Literal["reply_sent"] = "reply_sent"
    text: str
    to: str | None = None
    channel: str = "cli"


class ThreadPaused(_Event):
    type: Literal["thread_paused"] = "thread_paused"
    by: str
    reason: Text = ""


class ThreadResumed(_Event):
    type: Literal["thread_resumed"] = "thread_resumed"
    by: str


class ThreadCancelled(_Event):
    type: Literal["thread_cancelled"] = "thread_cancelled"
    by: str
    reason: Text = ""


class ThreadFinished(_Event):
    type: Literal["thread_finished"] = "thread_finished"
    outcome: Outcome
    message: str


Event = Annotated[
    MessageReceived
    | MessageEdited
    | ModelCalled
    | ModelFailed
    | ToolCalled
    | ToolSucceeded
    | ToolFailed
    | HumanRequested
    | HumanResponded
    | ApprovalDecided
    | AnswerRefused
    | RequestEscalated
    | RequestTimedOut
    | ErrorCompacted
    | ContextCompacted
    | BudgetWarned
    | ReplySent
    | ThreadPaused
    | ThreadResumed
    | ThreadCancelled
    | ThreadFinished,
    Field(discriminator="type"),
]

EVENT_TYPES: dict[str, type[_Event]] = {
    cls.model_fields["type"].default: cls for cls in _Event.__subclasses__()
}


def dump_event(event: Event) -> str:
    """Compact JSON for storage: the type is stored beside it, and defaults are left out."""
    return event.model_dump_json(exclude={"type"}, exclude_defaults=True)


def load_event(type_: str, data: str | bytes) -> Event:
    event: Event = EVENT_TYPES[type_].model_validate_json(data)  # type: ignore[assignment]
    return event
