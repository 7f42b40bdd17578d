"""The sandbox: act as a person on a channel that has no credentials (the console, benchmarks)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from core.channels import Action, Malformed
from core.errors import NotFound
from core.web.console.conversations import answering
from core.web.deps import ServiceDep
from core.web.fields import SAYS_SOMETHING, Name, choices, says_something
from core.web.problems import ProblemError, problem_responses, unprocessable

router = APIRouter(prefix="/sandbox", tags=["sandbox"])

ChannelName = Annotated[Name, Path(min_length=1, json_schema_extra=choices("channels"))]
# Text that says something, or an action: the document states the rule the validator applies.
SAYS_OR_DOES: JsonDict = {
    "anyOf": [
        {"required": ["text"], "properties": {"text": {"pattern": SAYS_SOMETHING}}},
        {"required": ["action"], "properties": {"action": {"type": "object"}}},
    ]
}


class SandboxMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=SAYS_OR_DOES)

    sender: Name = Field(
        min_length=1, description="The sender's address on the channel.", examples=["U0BOB"]
    )
    conversation: Name = Field(
        min_length=1, description="Where it is said: a thread, a DM.", examples=["C1:1700000000.1"]
    )
    text: str = Field("", description="What the person writes, kept as written.")
    action: Action | None = Field(None, description="A button press instead of (or with) text.")

    @model_validator(mode="after")
    def _says_something(self) -> SandboxMessage:
        if not says_something(self.text) and self.action is None:
            raise ValueError("give `text`, an `action`, or both")
        return self


class Accepted(BaseModel):
    """What the inbox made of the message."""

    outcome: Literal["started", "continued", "answered", "refused", "ignored", "duplicate"]
    detail: str
    thread_id: str | None
    request_id: str | None
    conversation: str = Field(
        description="Where the platform says it was said: the conversation given, or more of it"
        " (a new mail's thread takes its subject)."
    )


@router.post(
    "/{channel}/messages",
    status_code=202,
    response_model=Accepted,
    responses=problem_responses(404, 409, 422),
    summary="Inject a message or a button press, as the channel's webhook would receive it",
)
async def inject(channel: ChannelName, body: SandboxMessage, service: ServiceDep) -> Accepted:
    found = service.channels.get(channel)
    if found is None:
        known = ", ".join(service.channels)
        raise NotFound(
            "channel", channel, f"there is no channel {channel}; the channels are: {known}"
        )
    simulator = found.simulator  # a live channel has none: nobody speaks for its people
    if simulator is None:
        raise ProblemError(
            409,
            f"{channel} is connected to the real platform: only sandbox channels take injected messages",
            kind="not-a-sandbox",
        )
    answered = await answering(service.app.store, channel, body.conversation, body.sender)
    try:
        message = simulator.simulate(
            sender=body.sender,
            conversation=body.conversation,
            text=body.text,
            action=body.action,
            answering=answered,
        )
    except Malformed as e:  # what the platform would never bring (a sender that is no address)
        raise unprocessable(str(e), kind="not-on-the-platform", at=("body",)) from None
    received = await service.inbox.accept(message)
    return Accepted(
        outcome=received.outcome,
        detail=received.detail,
        thread_id=received.thread_id,
        request_id=received.request_id,
        conversation=message.conversation,
    )
