"""The inbox: every inbound message, from any channel, becomes one event on one thread.

Deduplicate on (channel, external id) → resolve the person by identity → route: the answer to an
open human request becomes a decision on that request's thread; anything else is a message on the
conversation's thread (a new one when there is none). The store does it in one transaction; the
routing decision itself is the pure function `route` below.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core.agent import Agent
from core.channels import InboundMessage
from core.errors import NotAllowed
from core.events import AnswerRefused, MessageEdited, MessageReceived
from core.humans import Answer as AnswerWith
from core.humans import Approve as ApproveWith
from core.humans import Reject as RejectWith
from core.humans import Response, decision_for, may_answer, why_not
from core.records import OutboxMessage, RequestInfo
from core.situation import Append, Ignore, Received, Refuse, Routing, Situation, Start
from core.state import Status
from core.store import Receiving

log = logging.getLogger("switchboard.inbox")

YES = {"yes", "y", "approve", "approved", "ok", "lgtm", "👍"}
NO = {"no", "n", "reject", "rejected", "deny", "denied", "👎"}


@dataclass(frozen=True, slots=True)
class InboxConfig:
    agents: Mapping[str, Agent]
    channel_agents: Mapping[str, str]  # which agent a new conversation on each channel talks to

    def agent_for(self, channel: str) -> str | None:
        return self.channel_agents.get(channel) or self.channel_agents.get("*")


def interpret(message: InboundMessage, request: RequestInfo) -> Response | None:
    """What a message says to a request: a button's decision, or a text like "yes" / "no, because"
    (whose first word decides, whatever lines follow)."""
    if message.action is not None:
        match message.action.decision:
            case "approve":
                return ApproveWith(message.action.reason)
            case "reject":
                return RejectWith(message.action.reason or "rejected")
            case "answer":
                return AnswerWith(_option(message.action.value or message.text, request))
    text = message.text.strip()
    if request.kind == "question":
        return AnswerWith(_option(text, request)) if text else None
    parts = text.split(maxsplit=1)  # the first word, on a line of its own or not, and the rest
    word = parts[0].strip(".,!:;").lower() if parts else ""
    rest = parts[1] if len(parts) > 1 else ""
    if word in YES:
        return ApproveWith(rest.strip())
    if word in NO:
        return RejectWith(rest.strip(" ,.:-") or "rejected")
    return None


def reply_code(request_id: str) -> str:
    """A short number a person can name a request by in a text reply ("YES 417"): three digits
    from its id, the same wherever the request is shown. Two of one person's open requests may
    share one (one in a hundred for two): then the reply names neither, and they are listed."""
    return str(100 + int(hashlib.sha256(request_id.encode()).hexdigest(), 16) % 900)


def by_code(text: str, requests: list[RequestInfo]) -> tuple[list[RequestInfo], str]:
    """The one request a reply names by its code, first ("417 2") or after its yes or no
    ("YES 417", "no 417 not today"), and the reply without the code; else nothing."""
    words = text.split()
    at = 1 if words and words[0].strip(".,!:;").lower() in YES | NO else 0
    if len(words) <= at:
        return [], text
    code = words[at].strip(".,!:;#")
    named = [r for r in requests if reply_code(r.id) == code]
    if len(named) != 1:
        return [], text
    return named, " ".join(words[:at] + words[at + 1 :])


def which_one(requests: list[RequestInfo]) -> str:
    """What a reply that names no request of several is told: each one, and how to name it."""
    listed = "; ".join(f"{reply_code(r.id)}: {_gist(r.question)}" for r in requests)
    code = reply_code(requests[0].id)
    return (
        f"You have {len(requests)} open requests here. {listed}. Say which one, like"
        f" YES {code}, or NO {code} and a reason."
    )


def _gist(question: str, limit: int = 60) -> str:
    line = " ".join(question.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _option(answer: str, request: RequestInfo) -> str:
    """An answer as given, or the option its first line names by number ("2": the second)."""
    chosen = answer.strip().partition("\n")[0].strip().strip(".)#")
    if chosen.isdecimal() and 1 <= int(chosen) <= len(request.options):
        return request.options[int(chosen) - 1]
    return answer.strip()


def outcome_text(request: RequestInfo, names: Mapping[str, str] | None = None) -> str:
    """How a request reads wherever it was sent: "Approved by Alice via discord, 14:02 UTC";
    one that needs more approvals, how far it is: "1 of 2: approved by Alice via discord;
    waiting for one more". `names`: people's names by id."""
    names = names or {}
    when = f", {request.decided_at:%H:%M} UTC" if request.decided_at else ""
    approvals = " and ".join(
        f"{_for(a.acting, names.get(a.by, a.by))} via {a.via}" for a in request.approvals
    )
    match request.status:
        case "approved" if len(request.approvals) > 1:
            return f"Approved by {approvals}{when}"
        case "approved" | "rejected" | "answered":
            who = _for(
                request.acted_by,
                names.get(request.decided_by or "", request.decided_by or "someone"),
            )
            reason = (
                f": {request.answer}" if request.answer and request.status != "answered" else ""
            )
            verb = request.status.capitalize()
            return f"{verb} by {who} via {request.decided_via}{when}{reason}"
        case "timed_out":
            return "Timed out: " + ("denied" if request.kind == "approval" else "no answer") + when
        case "cancelled":
            return f"Cancelled{when}"
        case "open" if request.approvals:
            more = request.waiting_for
            waiting = "one more" if more == 1 else f"{more} more"
            return f"{len(request.approvals)} of {request.required}: approved by {approvals}; waiting for {waiting}"
    return "Waiting for an answer"


def _for(acting: str | None, name: str) -> str:
    """Who decided, as people read it: "Alice", or "operator on behalf of Alice"."""
    return f"{acting} on behalf of {name}" if acting else name


def deciders_text(request: RequestInfo, names: Mapping[str, str] | None = None) -> str:
    """Who may decide an approval, for its copies to show under their own label:
    "role:deploy-approver; 2 different people must approve (not Bob, who asked)"."""
    if request.kind != "approval":
        return ""
    names = names or {}
    who = ", ".join(names.get(r, r) for r in request.recipients)
    if request.required > 1:
        each = " each for another" if request.distinct_roles else ""
        who += f"; {request.required} different people must approve{each}"
    if request.requester and not request.self_approval:
        who += f" (not {names.get(request.requester, request.requester)}, who asked)"
    return who


def route(config: InboxConfig, s: Situation) -> Routing:
    message, person = s.message, s.person
    via = message.channel

    def refuse(detail: str) -> Refuse:
        notice = OutboxMessage.notice_to(message, detail, person=person.id if person else None)
        return Refuse(detail, notice)

    def refuse_answer(request: RequestInfo, detail: str) -> Append:
        """A refused answer to an open request: told to its sender, and kept in the request's
        thread, so whoever reads the thread sees who tried to decide it and why it did not count."""
        notice = OutboxMessage.notice_to(message, detail, person=person.id if person else None)
        by = person.id if person else f"{via}:{message.sender}"
        refused = AnswerRefused(
            request_id=request.id, by=by, via=via, reason=detail, at=message.received_at
        )
        return Append(request.thread_id, [refused], "refused", request.id, [notice], detail)

    referenced = message.action is not None and message.action.request_id is not None
    if referenced and not s.requests:
        return refuse(f"There is no request {message.action.request_id}.")  # type: ignore[union-attr]
    requests = s.requests
    if not referenced and person is not None:
        # What they may not decide (their own request, one they approved) is not what their
        # words are about: they talk in the thread. A press on it is told why, below.
        requests = [r for r in requests if not why_not(person, r)]
    if not referenced and requests:
        # A reply may name its request by id ("yes req-…") or by code ("YES 417", "417 2").
        named, said = by_code(message.text, requests)
        if named:
            requests, message = named, message.model_copy(update={"text": said})
        elif named := [r for r in requests if r.id in message.text]:
            requests = named
        elif len(requests) > 1 and any(
            r.kind == "approval" and interpret(message, r) is not None for r in requests
        ):
            return refuse(which_one(requests))
    if requests and (referenced or len(requests) == 1):
        request = requests[0]
        if person is None:  # told nothing about the request, not even how it was settled
            stranger = "Only people in the directory can answer requests; you are not in it."
            return (
                refuse_answer(request, stranger) if request.status == "open" else refuse(stranger)
            )
        if request.status != "open":
            known = {p.id: p.name for p in s.deciders.values()}
            return refuse(f"Already settled: {outcome_text(request, known)}.")
        if not may_answer(person, request):
            return refuse_answer(
                request,
                f"You may not answer {request.id}: it is for {', '.join(request.recipients)}.",
            )
        response = interpret(message, request)
        if response is not None and message.unvouched:
            return refuse_answer(
                request, f"Not taken as an answer to {request.id}: {message.unvouched}."
            )
        if response is None:
            code = reply_code(request.id)
            return refuse(
                f"To answer {request.id}, reply YES {code} to approve it, or NO {code} and a"
                " reason to reject it."
            )
        try:
            decision = decision_for(request, person, response, via)
        except NotAllowed as e:
            return refuse_answer(request, str(e))
        outcome = OutboxMessage.outcome_of(request.id)
        return Append(request.thread_id, [decision], "answered", request.id, [outcome])
    if message.action is not None:
        return refuse("That button is not for an open request of yours here.")
    if (edit := s.edited) is not None and not edit.read and message.text.strip():
        edited = MessageEdited(
            seq=edit.seq,
            text=message.text,
            sender=edit.event.sender,
            sender_name=edit.event.sender_name,
            channel=edit.event.channel,
            at=message.received_at,
            altered=message.altered,
        )
        return Append(edit.thread_id, [edited], "continued")
    if not message.text.strip() and not message.attachments:
        return Refuse("an empty message")
    thread = s.thread
    if not message.addressed and (thread is None or thread.status == Status.CANCELLED):
        return Ignore("not addressed to the agent, in no conversation of its")
    sender = person.id if person else f"{message.channel}:{message.sender}"
    event = MessageReceived(
        text=message.text,
        sender=sender,
        channel=message.channel,
        at=message.received_at,
        altered=message.altered,
        message_id=message.external_id,
        sender_name="" if person else message.sender_name,
        attachments=tuple(a.described for a in message.attachments),
    )
    agent_name = thread.agent if thread else config.agent_for(message.channel)
    agent = config.agents.get(agent_name or "")
    if agent is None:
        return refuse(f"No agent answers on {message.channel} here.")
    if person is None and not agent.public:
        return refuse(
            f"I don't know you: ask an operator to add your {message.channel} identity"
            " to the people directory."
        )
    if thread is not None and thread.status != Status.CANCELLED:
        return Append(thread.id, [event], "continued")
    return Start(agent.name, event, person.id if person else None)


class Inbox:
    """Accepts inbound messages and wakes a worker for every thread that has work to do."""

    def __init__(
        self,
        store: Receiving,
        config: InboxConfig,
        *,
        wake_thread: Callable[[str], None],
        wake_outbox: Callable[[], None],
    ) -> None:
        self.store = store
        self.config = config
        self.wake_thread = wake_thread
        self.wake_outbox = wake_outbox

    async def accept(self, message: InboundMessage) -> Received:
        received = await self.store.receive(message, lambda s: route(self.config, s))
        if received.outcome == "refused":
            log.info(
                "%s message %s refused: %s", message.channel, message.external_id, received.detail
            )
        if received.runnable and received.thread_id:
            self.wake_thread(received.thread_id)
        if received.outcome in ("answered", "refused"):
            self.wake_outbox()  # an outcome to show on the request's copies, or a notice
        return received
