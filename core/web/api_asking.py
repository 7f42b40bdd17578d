"""Standalone human requests from outside callers (core/relay.py): ask a question or an
approval over REST, then wait for the decision."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl

from core.escalation import Escalation
from core.events import Urgency
from core.records import RequestInfo
from core.relay import Ask, new_request_id
from core.routing import expand
from core.service import Service
from core.text import Text
from core.web.fields import Label, Name, Words
from core.web.problems import unprocessable

Recipient = Annotated[
    str, Field(pattern=r"^(role:)?[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", examples=["alice"])
]


class AskHuman(BaseModel):
    """A question (free text, or one of `options`) or, with `action`, an approval of exactly
    `action(arguments)`: for the people in `to`, through their preferred channels."""

    model_config = ConfigDict(extra="forbid")

    to: list[Recipient] = Field(
        min_length=1,
        max_length=20,
        description="Person ids or `role:NAME`: who is asked (a role, each person who has it).",
        examples=[["role:deploy-approver"]],
    )
    question: Words = Field(description="What the decider reads.", max_length=2000)
    options: list[Label] = Field(
        [], max_length=25, description="For a question: the answers to choose from."
    )
    action: Name | None = Field(
        None, max_length=200, description="For an approval: the action the caller would run."
    )
    arguments: dict[str, Any] = Field(
        {}, description="For an approval: its exact arguments, bound to it by their hash."
    )
    required: int = Field(1, ge=1, le=10, description="For an approval: how many must approve.")
    urgency: Urgency = "normal"
    context: Text = Field("", max_length=4000, description="What the decider should know.")
    reference: Text = Field("", max_length=200, description="The caller's own reference.")
    deadline: AwareDatetime | None = Field(
        None, description="Until when it may be decided; an approval not decided is denied."
    )
    resend_after: int | None = Field(
        None, ge=60, description="Seconds until it is re-sent on each one's next channel."
    )
    widen_after: int | None = Field(
        None, ge=60, description="Seconds until the next people (escalation contacts) are asked."
    )
    callback_url: HttpUrl | None = Field(
        None,
        description="Where the settled request is posted, signed (`Switchboard-Signature`:"
        " HMAC-SHA256 with the caller's webhook secret over `<t>.<body>`).",
    )

    def ask(self, caller: str, defaults: Escalation) -> Ask:
        escalation = Escalation(
            resend_after=_after(self.resend_after, defaults.resend_after),
            widen_after=_after(self.widen_after, defaults.widen_after),
            timeout_after=defaults.timeout_after,
        )
        return Ask(
            caller=caller,
            question=self.question,
            to=tuple(dict.fromkeys(self.to)),
            options=tuple(self.options),
            action=self.action,
            arguments=self.arguments,
            urgency=self.urgency,
            required=self.required,
            context=self.context,
            reference=self.reference,
            deadline=self.deadline,
            escalation=escalation,
            callback_url=str(self.callback_url) if self.callback_url else None,
        )


LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0"}


def _ours(url: HttpUrl, service: Service) -> bool:
    """Whether `url` names this server: its public address, or its own port on this machine."""
    settings = service.app.settings
    public = HttpUrl(settings.switchboard_public_url)
    if (url.host, url.port) == (public.host, public.port):
        return True
    return (url.host or "") in LOOPBACK | {settings.switchboard_host} and (
        url.port == settings.switchboard_port
    )


def _after(seconds: int | None, default: timedelta | None) -> timedelta | None:
    return timedelta(seconds=seconds) if seconds is not None else default


async def checked(body: AskHuman, service: Service, now: datetime) -> None:
    """What no schema can say, refused before anything is stored: recipients no one is, a
    deadline already past, options on an approval, arguments without an action, a quorum larger
    than the people who could give it."""
    people = await service.app.store.people()
    for i, entry in enumerate(body.to):
        if not expand(entry, people):
            raise unprocessable(
                f"no one in the directory is {entry}",
                kind="unknown-recipient",
                at=("body", "to", i),
            )
    if body.deadline is not None and body.deadline <= now:
        raise unprocessable(
            f"the deadline {body.deadline.isoformat()} has passed", kind="past-deadline",
            at=("body", "deadline"),
        )  # fmt: skip
    if body.callback_url is not None and _ours(body.callback_url, service):
        raise unprocessable(
            "the callback URL points at this Switchboard: give the caller's own receiver",
            kind="callback-to-itself", at=("body", "callback_url"),
        )  # fmt: skip
    if body.action is None:
        for name, given in (("arguments", body.arguments), ("required", body.required != 1)):
            if given:
                raise unprocessable(
                    f"`{name}` is for an approval: name its `action`", kind="not-an-approval",
                    at=("body", name),
                )  # fmt: skip
        return
    if body.options:
        raise unprocessable(
            "an approval is approved or rejected: options are for a question",
            kind="options-on-an-approval", at=("body", "options"),
        )  # fmt: skip
    deciders = {p.id for entry in body.to for p in expand(entry, people)}
    if body.required > len(deciders):
        raise unprocessable(
            f"{body.required} must approve, but only {len(deciders)} can: {', '.join(sorted(deciders))}",
            kind="too-few-deciders", at=("body", "required"),
        )  # fmt: skip


IDEMPOTENCY = "idempotency:"
FIRST_CREATE_WAIT = 5.0  # seconds a retry waits for the create it repeats to finish


async def once(
    service: Service, caller: str, key: str, body: AskHuman
) -> tuple[str, RequestInfo | None]:
    """With an `Idempotency-Key`: the request id this create makes, and the request an earlier
    create with the same key made (None: this is the first, or the first did not finish, and
    this one makes it under the same id). The same key with another body is refused."""
    fingerprint = hashlib.sha256(body.model_dump_json().encode()).hexdigest()[:32]
    slot = IDEMPOTENCY + hashlib.sha256(f"{caller}\n{key}".encode()).hexdigest()
    mine = new_request_id()
    kept = await service.app.store.claim_service_setting(slot, f"{mine} {fingerprint}")
    request_id, _, printed = kept.partition(" ")
    if printed != fingerprint:
        raise unprocessable(
            "this Idempotency-Key was used for another request: a retry sends the same body,"
            " a new request a new key",
            kind="idempotency-key-reused",
            at=("header", "idempotency-key"),
        )
    if request_id == mine:
        return mine, None
    for _ in range(int(FIRST_CREATE_WAIT / 0.1)):
        if (made := await service.app.store.request(request_id)) is not None:
            return request_id, made
        await asyncio.sleep(0.1)  # the first create is between its claim and its request
    return request_id, None
