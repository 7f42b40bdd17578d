"""What a thread does next: a pure function of its execution state and its agent."""

from __future__ import annotations

from dataclasses import dataclass

from core.agent import Agent
from core.events import BudgetWarned, HumanRequested, ToolCalled
from core.state import ExecutionState, Status

MAX_CONSECUTIVE_ERRORS = 3
WARN_AT = 0.8


@dataclass(frozen=True, slots=True)
class Stop:
    """Nothing to do until something from outside arrives."""


@dataclass(frozen=True, slots=True)
class CallModel:
    pass


@dataclass(frozen=True, slots=True)
class RerunTool:
    call: ToolCalled


@dataclass(frozen=True, slots=True)
class AskWhatHappened:
    call: ToolCalled


@dataclass(frozen=True, slots=True)
class RunApproved:
    request: HumanRequested


@dataclass(frozen=True, slots=True)
class Escalate:
    reason: str


@dataclass(frozen=True, slots=True)
class AskForBudget:
    reason: str


@dataclass(frozen=True, slots=True)
class Fail:
    reason: str


Decision = (
    Stop | CallModel | RerunTool | AskWhatHappened | RunApproved | Escalate | AskForBudget | Fail
)


def decide(state: ExecutionState, agent: Agent) -> Decision:
    if state.status not in (Status.INTAKE, Status.RUNNING):
        return Stop()
    if state.pending_call is not None:
        tool = agent.tools_by_name.get(state.pending_call.tool)
        idempotent = tool is not None and tool.idempotent
        return RerunTool(state.pending_call) if idempotent else AskWhatHappened(state.pending_call)
    if state.approved:
        return RunApproved(next(iter(state.approved.values())))
    if state.consecutive_errors >= MAX_CONSECUTIVE_ERRORS:
        return Escalate(
            f"{state.consecutive_errors} errors in a row; the last one: {state.last_error}"
        )
    if exhausted := budget_exhausted(state, agent):
        return (
            Fail(f"{exhausted}; the budget was not extended")
            if state.budget_refused
            else AskForBudget(exhausted)
        )
    if state.steps >= agent.max_steps:
        return Fail(f"step limit of {agent.max_steps} reached")
    return CallModel()


def budget_exhausted(state: ExecutionState, agent: Agent) -> str:
    grants = state.budget_grants
    if agent.budget.tokens is not None and state.tokens >= agent.budget.tokens * grants:
        return f"token budget used: {state.tokens} of {agent.budget.tokens * grants}"
    if agent.budget.cost is not None and state.cost >= agent.budget.cost * grants:
        return f"cost budget used: ${state.cost:.4f} of ${agent.budget.cost * grants:.4f}"
    return ""


def budget_warnings(state: ExecutionState, agent: Agent) -> list[BudgetWarned]:
    """A warning the first time a budget passes 80 %."""
    warnings = []
    grants = state.budget_grants
    limits = (
        ("tokens", state.tokens, agent.budget.tokens),
        ("cost", state.cost, agent.budget.cost),
    )
    for resource, used, limit in limits:
        if limit is not None and resource not in state.warned and used >= WARN_AT * limit * grants:
            warnings.append(BudgetWarned(resource=resource, used=used, limit=limit * grants))
    return warnings
