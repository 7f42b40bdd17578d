"""The loop: render context → call the model → validate → route → append.

Each step is one transaction (events, thread state, outbox rows, business rows), except that a step
that runs a tool commits twice: its choice and intent before the tool runs, its result after.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError
from pydantic_core import to_jsonable_python

from core import decide as d
from core import relay, wording
from core.agent import Agent, ApprovalPolicy
from core.context import (
    SUMMARY_INSTRUCTIONS,
    ContextWindow,
    Redactor,
    estimate_tokens,
    event_tokens,
    parse_summary,
    render_event,
    truncate_blocks,
)
from core.errors import Conflict, NotFound, ThreadBusy
from core.escalation import Escalation
from core.events import (
    ContextCompacted,
    ErrorCompacted,
    Event,
    HumanRequested,
    MessageReceived,
    ModelCalled,
    ModelFailed,
    ReplySent,
    RequestKind,
    RequestPurpose,
    ThreadFinished,
    ToolCalled,
    ToolFailed,
    ToolSucceeded,
    Urgency,
    utcnow,
)
from core.models.base import (
    InvalidOutput,
    Model,
    ModelRequest,
    ModelResponse,
    ProviderError,
    extract_call,
)
from core.models.retry import Backoff, complete_with_retries
from core.records import LoadedThread, OutboxMessage, Step
from core.routing import request_out
from core.state import ExecutionState, fold
from core.store import Directory, Steps
from core.text import storable_text
from core.tools import (
    ContactHuman,
    Reply,
    RequestApproval,
    SubagentResult,
    Tool,
    ToolCall,
    ToolContext,
    arguments_hash,
)

log = logging.getLogger("switchboard.runtime")


class RuntimeStore(Steps, Directory, Protocol):
    """The threads it steps, and the people its requests name."""


@dataclass(frozen=True, slots=True)
class Limits:
    context_tokens: int = 6000  # past this, older events are folded into a summary
    keep_tokens: int = 2500  # what compaction leaves verbatim
    backoff: Backoff = field(default_factory=Backoff)  # for provider errors, within one step
    # A worker's hold on a thread, renewed every third of it while the run lasts: a worker that
    # dies lets go within this long (SWITCHBOARD_LEASE_SECONDS). 0: no lease to keep.
    lease_seconds: float = 6.0
    escalation: Escalation = field(default_factory=Escalation)  # unless the agent or tool sets one


class Runtime:
    def __init__(
        self,
        store: RuntimeStore,
        agents: Mapping[str, Agent],
        model_for: Callable[[Agent], Model],
        *,
        redactor: Redactor | None = None,
        limits: Limits = Limits(),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.agents = agents
        self.model_for = model_for
        self.redact = redactor or Redactor(())
        self.limits = limits
        self.sleep = sleep
        self.clock = clock
        self.owner = f"worker-{uuid.uuid4().hex[:8]}"
        for each in agents.values():  # build each agent's tool union and prompt now, not mid-step
            _ = each.actions, each.system_prompt, each.prompt_version

    async def start(
        self,
        agent: str,
        text: str,
        *,
        requester: str | None = None,
        channel: str = "cli",
        parent_id: str | None = None,
    ) -> str:
        if agent not in self.agents:
            known = ", ".join(self.agents)
            raise NotFound("agent", agent, f"no agent named {agent!r}; the agents are: {known}")
        first = MessageReceived(text=text, sender=requester, channel=channel, at=self.clock())
        return await self.store.create_thread(
            agent=agent, first=first, requester=requester, channel=channel, parent_id=parent_id
        )

    async def advance(self, thread_id: str, *, attempts: int = 3) -> ExecutionState:
        """Run the thread until it waits, finishes or fails; the lease keeps other workers off it.

        Someone else may append while it runs (an operator pausing, a late answer): the step that
        loses the race commits nothing, and the thread is reloaded and decided again.
        """
        for attempt in range(1, attempts + 1):
            loaded = await self.store.claim(
                thread_id, self.owner, seconds=self.limits.lease_seconds
            )
            if loaded is None:
                raise ThreadBusy(thread_id)
            if relay.is_relay(loaded.agent):
                try:
                    return await self.close_relay(thread_id, loaded)
                except Conflict:  # an answer or an operator came in between: look again
                    await self.store.release(thread_id, self.owner)
                    if attempt == attempts:
                        raise
                    continue
            run = _Run(self, thread_id, loaded)
            heartbeat = asyncio.create_task(self.keep_lease(thread_id))
            try:
                while await run.step():
                    pass
                return run.state
            except Conflict:
                if attempt == attempts:
                    raise
                log.info("thread %s changed under its worker; reloading", thread_id)
            finally:
                heartbeat.cancel()
                await asyncio.wait([heartbeat])  # stopped before the lease is given back
                if not run.released:
                    await self.store.release(thread_id, self.owner)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def close_relay(self, thread_id: str, loaded: LoadedThread) -> ExecutionState:
        """A caller's thread (core/relay.py): ended once its request is settled; no model."""
        events = relay.closing(loaded.state)
        if not events:
            await self.store.release(thread_id, self.owner)
            return loaded.state
        state = fold(events, loaded.state)
        counted = [(e, event_tokens(e)) for e in events]
        step = Step(thread_id, loaded.last_seq, counted, state, owner=self.owner, release=True)
        await self.store.commit(step)
        return state

    async def keep_lease(self, thread_id: str) -> None:
        """Renew the lease every third of its length until cancelled, or until it is lost.

        Two missed beats still leave the lease held; a lost lease means another worker may run
        the thread now, and this run's next commit fails instead of writing over it.
        """
        seconds = self.limits.lease_seconds
        if seconds <= 0:
            return
        while True:
            await asyncio.sleep(seconds / 3)
            try:
                held = await self.store.renew(thread_id, self.owner, seconds=seconds)
            # The heartbeat's boundary: a renewal that fails (the database restarting) is tried
            # again at the next beat, while the lease still has time left.
            except Exception:
                log.warning("thread %s: renewing the lease failed", thread_id, exc_info=True)
                continue
            if not held:
                log.warning(
                    "thread %s: %s lost its lease; another worker may run the thread,"
                    " and this run will commit nothing more",
                    thread_id,
                    self.owner,
                )
                return

    async def run_subagent(self, parent: _Run, agent: str, task: str) -> SubagentResult:
        child = await self.start(
            agent, task, requester=parent.requester, parent_id=parent.thread_id
        )
        state = await self.advance(child)
        match state.status:
            case "done":
                return SubagentResult(
                    status="success", thread_id=child, message=state.outcome_message
                )
            case "waiting_human":
                questions = "; ".join(r.question for r in state.open_requests.values())
                return SubagentResult(status="needs_human", thread_id=child, message=questions)
        return SubagentResult(status="failure", thread_id=child, message=state.outcome_message)


class _Run:
    """One lease on one thread: the folded state and the context window, kept between its steps."""

    def __init__(self, rt: Runtime, thread_id: str, loaded: LoadedThread) -> None:
        self.rt = rt
        self.agent = rt.agents[loaded.agent]
        self.thread_id = thread_id
        self.requester = loaded.requester
        self.state = loaded.state
        self.last_seq = loaded.last_seq
        self.next_move = d.decide(self.state, self.agent)  # kept in step with the state by commit()
        self.released = False
        self.window = ContextWindow()
        for stored in loaded.context:
            self.window.add(stored.seq, stored.event, stored.tokens)

    # --- the loop ------------------------------------------------------------------------------

    async def step(self) -> bool:
        """One step; False when the thread has nothing more to do for now."""
        match self.next_move:
            case d.Stop():
                return False
            case d.CallModel():
                await self.model_step()
            case d.RerunTool(call):
                await self.run_tool(self.agent.tools_by_name[call.tool], call)
            case d.RunApproved(request):
                assert request.tool is not None and request.arguments is not None
                call = self.tool_called(request.tool, request.arguments, call_id=request.call_id)
                await self.commit([call])
                await self.run_tool(self.agent.tools_by_name[request.tool], call)
            case d.AskWhatHappened(call):
                await self.ask_what_happened(call)
            case d.Escalate(reason):
                await self.escalate("escalation", self.stuck(reason))
            case d.AskForBudget(reason):
                question = f"{self.agent.name} has used its budget ({reason}). Continue with another budget?"
                await self.escalate("budget", question, options=("continue", "stop"))
            case d.Fail(reason):
                await self.commit(
                    [ThreadFinished(outcome="failure", message=reason)],
                    outbox=self.tell_requester(f"I could not finish this: {reason}."),
                )
        return True

    async def model_step(self) -> None:
        await self.compact_if_needed()
        request = ModelRequest(
            agent=self.agent.name,
            system=self.agent.system_prompt,
            context=self.window.render(self.rt.redact),
            tools=self.agent.actions.specs,
        )
        started = time.perf_counter()
        try:
            response = await self.call_model(request)
        except ProviderError as e:
            await self.commit([ModelFailed(reason="provider_error", error=self.rt.redact(str(e)))])
            return
        called = self.model_called(response, started)
        try:
            name, arguments = extract_call(response)
            call = self.agent.actions.validate(name, arguments)
        except (InvalidOutput, ValidationError, ValueError) as e:
            output = response.arguments if response.tool_name else response.text
            failed = ModelFailed(
                reason="invalid_output", error=_brief(e), output=storable_text((output or "")[:500])
            )
            await self.commit([called, failed])
            return
        await self.route(called, call)

    async def route(self, called: ModelCalled, call: ToolCall) -> None:
        before: list[Event] = [called, *d.budget_warnings(fold([called], self.state), self.agent)]
        match call.arguments:
            case Reply(message=message, outcome=outcome):
                reply = ReplySent(text=message, to=self.requester)
                done = ThreadFinished(outcome=outcome, message=message)
                await self.commit(
                    [*before, *self.resolved(), reply, done],
                    outbox=[OutboxMessage.reply(message, to=self.requester)],
                )
            case ContactHuman() as ask:
                to = ask.to or self.requester or self.agent.escalate_to
                error = await self.unreachable(to)
                if error:
                    await self.invalid_call(before, error)
                    return
                assert to is not None
                request = self.question(
                    to, ask.question, options=tuple(ask.options), urgency=ask.urgency
                )
                told = await self.waiting_notice(request, f"this: {ask.question}")
                await self.commit(
                    [*before, *self.resolved(), request],
                    outbox=[*request_out(request), *told],
                )
            case RequestApproval(tool=tool_name, arguments=arguments, reason=reason):
                await self.gate(before, tool_name, arguments, reason)
            case _:
                tool = self.agent.tools_by_name[call.tool]
                arguments = call.arguments.model_dump(mode="json")
                if self.agent.approval_for(tool.name, call.arguments) is not None:
                    await self.gate(before, tool.name, arguments, "")
                    return
                tool_called = self.tool_called(tool.name, arguments)
                await self.commit([*before, tool_called])  # intent before effect
                await self.run_tool(tool, tool_called)

    async def unreachable(self, to: str | None) -> str:
        """Why a question cannot go to `to`, or "" when it can."""
        if to is None:
            return "contact_human needs `to`: this thread has no requester or escalation contact"
        if not to.startswith("role:") and await self.rt.store.person(to) is None:
            return (
                f"no person {to!r} in the people directory; leave `to` empty to ask the requester"
            )
        return ""

    async def gate(
        self, before: list[Event], tool_name: str, arguments: dict[str, Any], reason: str
    ) -> None:
        """Ask the tool's approvers; the call runs only once approved, with exactly these arguments."""
        tool = self.agent.tools_by_name.get(tool_name)
        if tool is None:
            await self.invalid_call(before, f"unknown tool {tool_name!r}")
            return
        try:
            parsed = tool.args.model_validate(arguments)
        except ValidationError as e:
            await self.invalid_call(before, _brief(e))
            return
        policy = self.agent.approval_for(tool_name, parsed)
        if policy is None:
            needless = f"{tool_name} with these arguments needs no approval; call it directly"
            await self.invalid_call(before, needless)
            return
        exact = parsed.model_dump(mode="json")
        if why := self.state.denied.get(arguments_hash(tool_name, exact)):
            await self.refuse(
                before,
                f"{tool_name} ({wording.fields(exact)}) was not approved ({why}); it is not asked for"
                " again unless someone writes in this conversation.",
            )
            return
        if short := await self.too_few_deciders(policy):
            await self.refuse(before, f"{tool_name} ({wording.fields(exact)}) {short}")
            return
        what = wording.action(tool_name, tool.summary, exact)
        asker = f" for {await self.names(self.requester)}" if self.requester else ""
        question = f"Approve {what}{asker}?" + (f" Reason: {reason}" if reason else "")
        request = self.approval(tool_name, exact, question, policy)
        told = await self.waiting_notice(request, f"to approve {what}")
        await self.commit(
            [*before, *self.resolved(), request], outbox=[*request_out(request), *told]
        )

    async def too_few_deciders(self, policy: ApprovalPolicy) -> str:
        """Why `policy` cannot be met by the directory as it is (fewer people may decide than
        must approve), or "": a request that could never be approved is not sent."""
        approvers = [
            p
            for p in await self.rt.store.people()
            if p.id in policy.approvers or any(f"role:{r}" in policy.approvers for r in p.roles)
        ]
        may = {
            p.id: p.name for p in approvers if p.id != self.requester or policy.allow_self_approval
        }
        if len(may) >= policy.required:
            return ""
        excluded = [p.name for p in approvers if p.id not in may]  # the requester, four eyes
        asked = f" ({excluded[0]} asked for it)" if excluded else ""
        needs = (
            f"needs {policy.required} different approvers, and only"
            f" {', '.join(may.values()) or 'no one'}"
            if policy.required > 1
            else "needs an approver, and no one"
        )
        return (
            f"{needs} may approve it here{asked}: it cannot be approved until the people"
            f" directory has more of {', '.join(policy.approvers)}."
        )

    async def refuse(self, before: list[Event], refusal: str) -> None:
        """An approval that is not asked for (its action was refused before; too few may give
        it): the model gets the refusal, and the thread ends by telling the requester."""
        said = f"Not done: {refusal}"
        await self.commit(
            [
                *before,
                ModelFailed(reason="not_approved", error=refusal),
                ReplySent(text=said, to=self.requester),
                ThreadFinished(outcome="failure", message=said),
            ],
            outbox=[OutboxMessage.reply(said, to=self.requester)],
        )

    async def invalid_call(self, before: list[Event], error: str) -> None:
        """The model's choice cannot be carried out as asked: an error it sees next step."""
        await self.commit([*before, ModelFailed(reason="invalid_output", error=error)])

    async def run_tool(self, tool: Tool, call: ToolCalled) -> None:
        written: list[Any] = []
        ctx = ToolContext(
            thread_id=self.thread_id,
            call_id=call.call_id,
            idempotency_key=call.idempotency_key,
            requester=self.requester,
            data=self.rt.store.data(written),
            run_subagent=lambda agent, task: self.rt.run_subagent(self, agent, task),
        )
        try:
            result = await tool.fn(tool.args.model_validate(call.arguments), ctx)
        # The boundary of tool code: any failure becomes an explicit error the model sees next.
        except Exception as e:
            log.warning("thread %s: tool %s failed: %s", self.thread_id, tool.name, e)
            await self.commit([ToolFailed(call_id=call.call_id, tool=tool.name, error=_brief(e))])
            return
        done = ToolSucceeded(
            call_id=call.call_id, tool=tool.name, result=to_jsonable_python(result)
        )
        await self.commit([done, *self.resolved()], business=written)

    async def ask_what_happened(self, call: ToolCalled) -> None:
        question = (
            f"The worker stopped while running {call.tool} ({wording.fields(call.arguments)}) and its result"
            " was not recorded. Did it take effect?"
        )
        to = self.agent.escalate_to or self.requester
        if to is None:
            await self.commit(
                [ThreadFinished(outcome="failure", message=f"{question} No one to ask.")]
            )
            return
        request = self.question(
            to, question, purpose="recovery", options=("it took effect", "it did not")
        )
        await self.commit([request], outbox=request_out(request))

    async def escalate(
        self, purpose: RequestPurpose, question: str, options: tuple[str, ...] = ()
    ) -> None:
        to = self.agent.escalate_to
        if to is None:
            await self.commit(
                [ThreadFinished(outcome="failure", message=f"{question} (no escalation contact)")],
                outbox=self.tell_requester(
                    "I could not finish this, and there is no one set up to help me: an operator"
                    " can see what went wrong in the console."
                ),
            )
            return
        request = self.question(to, question, purpose=purpose, options=options)
        log.warning("thread %s: %s", self.thread_id, question)
        told = self.tell_requester(
            f"Something went wrong on my side, so I have asked {await self.names(to)} to help."
            " You will hear here when it moves on."
        )
        await self.commit([request], outbox=[*request_out(request), *told])

    def stuck(self, reason: str) -> str:
        errors, last = self.state.consecutive_errors, self.state.last_error
        return wording.stuck(self.agent.name, reason, errors, last)

    def tell_requester(self, text: str) -> list[OutboxMessage]:
        """A notice to the requester, in their conversation (or, for someone outside the
        directory, to whoever wrote there last)."""
        return [OutboxMessage(kind="notice", text=text, recipient=self.requester)]

    async def names(self, recipients: str | tuple[str, ...], *, where: bool = False) -> str:
        listed = (recipients,) if isinstance(recipients, str) else recipients
        people = await self.rt.store.people()
        return wording.names(people, listed, self.requester, where=where)

    async def waiting_notice(self, request: HumanRequested, what: str) -> list[OutboxMessage]:
        """What the requester hears when the thread starts waiting on other people."""
        if request.recipients == (self.requester,):
            return []  # asked themselves: the question is the message
        who = await self.names(request.recipients, where=True)
        return self.tell_requester(wording.waiting(who, request, what))

    # --- the model -----------------------------------------------------------------------------

    async def call_model(self, request: ModelRequest) -> ModelResponse:
        model = self.rt.model_for(self.agent)
        return await complete_with_retries(model, request, self.rt.limits.backoff, self.rt.sleep)

    async def compact_if_needed(self) -> None:
        if self.window.tokens <= self.rt.limits.context_tokens:
            return
        blocks = self.window.compactable(self.rt.limits.keep_tokens)
        if not blocks:
            return
        text = "\n".join(b.text for b in blocks)
        request = ModelRequest(
            self.agent.name, SUMMARY_INSTRUCTIONS, self.rt.redact(text), purpose="summary"
        )
        started = time.perf_counter()
        events: list[Event] = []
        try:
            response = await self.call_model(request)
            events.append(self.model_called(response, started, purpose="summary"))
            summary, method = parse_summary(response.text), "model"
        except (ProviderError, ValueError) as e:
            log.warning("thread %s: summary failed (%s); truncating instead", self.thread_id, e)
            summary, method = truncate_blocks(blocks), "truncation"
        events.append(ContextCompacted(summary=summary, through_seq=blocks[-1].seq, method=method))
        await self.commit(events)

    def model_called(
        self, response: ModelResponse, started: float, purpose: str = "step"
    ) -> ModelCalled:
        return ModelCalled(
            model=response.model,
            prompt_tokens=response.prompt_tokens,
            completion_tokens=response.completion_tokens,
            cost=response.cost,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            purpose=purpose,
            prompt_version=self.agent.prompt_version if purpose == "step" else "",
            at=self.rt.clock(),
        )

    # --- events --------------------------------------------------------------------------------

    def resolved(self) -> list[Event]:
        """A success after errors resolves them: they leave the context and the counter resets."""
        if not self.state.consecutive_errors:
            return []
        return [
            ErrorCompacted(
                count=self.state.consecutive_errors, last_error=self.state.last_error[:200]
            )
        ]

    def tool_called(
        self, tool: str, arguments: dict[str, Any], call_id: str | None = None
    ) -> ToolCalled:
        call_id = call_id or f"call-{uuid.uuid4().hex[:10]}"
        key = f"{self.thread_id}:{call_id}"
        return ToolCalled(
            call_id=call_id, tool=tool, arguments=arguments, idempotency_key=key, at=self.rt.clock()
        )

    def question(
        self,
        to: str,
        text: str,
        *,
        purpose: RequestPurpose = "question",
        options: tuple[str, ...] = (),
        urgency: Urgency = "normal",
    ) -> HumanRequested:
        """A question for `to` (a person id or `role:NAME`)."""
        return self.human_requested(
            kind="question",
            purpose=purpose,
            question=text,
            recipients=(to,),
            options=options,
            urgency=urgency,
        )

    def approval(
        self, tool: str, arguments: dict[str, Any], question: str, policy: ApprovalPolicy
    ) -> HumanRequested:
        """An approval of this call of `tool`, bound to exactly these arguments by their hash,
        to be given as `policy` says: by how many, and not by the requester unless it allows."""
        request = self.human_requested(
            kind="approval",
            purpose="approval",
            question=question,
            recipients=policy.approvers,
            tool=tool,
            arguments=arguments,
        )
        return request.model_copy(
            update=dict(
                required=policy.required,
                distinct_roles=policy.distinct_roles,
                requester=self.requester,
                self_approval=policy.allow_self_approval,
            )
        )

    def human_requested(
        self,
        *,
        kind: RequestKind,
        purpose: RequestPurpose,
        question: str,
        recipients: tuple[str, ...],
        options: tuple[str, ...] = (),
        urgency: Urgency = "normal",
        tool: str | None = None,
        arguments: dict[str, Any] | None = None,
    ) -> HumanRequested:
        now = self.rt.clock()
        policy = self.agent.approvals.get(tool) if tool else None
        esc = (policy and policy.escalation) or self.agent.escalation or self.rt.limits.escalation
        return HumanRequested(
            request_id=f"req-{uuid.uuid4().hex[:10]}",
            kind=kind,
            purpose=purpose,
            question=question,
            recipients=recipients,
            options=options,
            urgency=urgency,
            tool=tool,
            arguments=arguments,
            arguments_hash=arguments_hash(tool, arguments)
            if tool and arguments is not None
            else None,
            call_id=f"call-{uuid.uuid4().hex[:10]}" if tool else None,
            resend_at=now + esc.resend_after if esc.resend_after else None,
            widen_at=now + esc.widen_after if esc.widen_after else None,
            deadline=now + esc.timeout_after,
            at=now,
        )

    async def commit(
        self,
        events: list[Event],
        *,
        business: list[Any] | None = None,
        outbox: list[OutboxMessage] | None = None,
    ) -> None:
        """One transaction: the events, the state they fold to, business rows and messages to send."""
        state = fold(events, self.state)  # an invalid transition raises before anything is written
        rendered = [(e, render_event(e)) for e in events]
        counted = [(e, estimate_tokens(text)) for e, text in rendered]
        # A step after which there is nothing to do gives the lease back in the same transaction.
        next_move = d.decide(state, self.agent)
        release = isinstance(next_move, d.Stop)
        step = Step(
            thread_id=self.thread_id,
            after_seq=self.last_seq,
            events=counted,
            state=state,
            business=business or [],
            outbox=outbox or [],
            owner=self.rt.owner,
            lease_seconds=self.rt.limits.lease_seconds,
            release=release,
        )
        await self.rt.store.commit(step)
        for seq, ((event, text), (_, tokens)) in enumerate(
            zip(rendered, counted, strict=True), start=self.last_seq + 1
        ):
            self.window.add(seq, event, tokens, text)
        self.last_seq += len(events)
        self.state = state
        self.next_move = next_move
        self.released = release


def _brief(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:5])
    return f"{type(error).__name__}: {error}" if not isinstance(error, ValueError) else str(error)
