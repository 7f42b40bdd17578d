"""An agent is data: a prompt file, tools, limits, budgets, and who approves what."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from pydantic import BaseModel

from core.escalation import Escalation
from core.tools import ActionSchema, SubagentResult, Tool, ToolContext

if TYPE_CHECKING:
    from core.models.demo import DemoPolicy


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    """Who may approve a tool call: person ids and `role:NAME` entries; optionally only `when`.

    The request goes to the first entry at once, to the others if it is still open at the
    escalation's widening step. `required` distinct people must approve (one rejection decides);
    with `distinct_roles`, each for another entry of `approvers` (one of role:dba, one of
    role:sre), all of which are asked at once. The thread's requester may not decide it (four
    eyes) unless `allow_self_approval`.
    """

    approvers: tuple[str, ...]
    when: Callable[[Any], bool] | None = None
    escalation: Escalation | None = None  # overrides the agent's and the default
    required: int = 1
    distinct_roles: bool = False
    allow_self_approval: bool = False

    def __post_init__(self) -> None:
        if self.required < 1:
            raise ValueError(f"an approval needs at least one approver, not {self.required}")
        if self.distinct_roles and self.required > len(self.approvers):
            raise ValueError(
                f"{self.required} approvals from distinct entries of {len(self.approvers)}"
                " approvers cannot be given"
            )

    def applies(self, arguments: BaseModel) -> bool:
        return self.when is None or self.when(arguments)


@dataclass(frozen=True, slots=True)
class Budget:
    tokens: int | None = None
    cost: float | None = None


@dataclass(frozen=True)
class Agent:
    name: str
    prompt: Path
    tools: tuple[Tool, ...] = ()
    description: str = ""
    model: str | None = None  # a litellm model string; None: the configured default
    max_steps: int = 10
    budget: Budget = Budget()
    approvals: Mapping[str, ApprovalPolicy] = field(default_factory=dict)
    escalate_to: str | None = None  # a person id or role:NAME
    escalation: Escalation | None = None  # overrides the default for this agent's requests
    public: bool = False
    demo: DemoPolicy | None = None  # how the offline demo model plays this agent

    def __post_init__(self) -> None:
        unknown = set(self.approvals) - {t.name for t in self.tools}
        if unknown:
            raise ValueError(f"{self.name}: approval policies for unknown tools {sorted(unknown)}")

    @cached_property
    def actions(self) -> ActionSchema:
        return ActionSchema(self.tools, approvals=bool(self.approvals))

    @cached_property
    def tools_by_name(self) -> dict[str, Tool]:
        return {t.name: t for t in self.tools}

    @cached_property
    def _template(self) -> jinja2.Template:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.prompt.parent),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
        )
        return env.get_template(self.prompt.name)

    @cached_property
    def prompt_version(self) -> str:
        return hashlib.sha256(self.prompt.read_bytes()).hexdigest()[:12]

    @cached_property
    def system_prompt(self) -> str:
        """The rendered prompt file. It takes only the agent: everything else is in the context."""
        return self._template.render(agent=self)

    def approval_for(self, tool_name: str, arguments: BaseModel) -> ApprovalPolicy | None:
        policy = self.approvals.get(tool_name)
        return policy if policy is not None and policy.applies(arguments) else None

    def as_tool(self, description: str | None = None) -> Tool:
        """This agent as another agent's tool: it runs as a sub-thread and reports how it went."""
        agent_name = self.name

        class Task(BaseModel):
            task: str

        async def run(args: BaseModel, ctx: ToolContext) -> SubagentResult:
            if ctx.run_subagent is None:
                raise RuntimeError("sub-agents need the runtime")
            return await ctx.run_subagent(agent_name, args.task)  # type: ignore[attr-defined]

        return Tool(
            name=f"ask_{agent_name}",
            description=description or self.description or f"Give the {agent_name} agent a task.",
            args=Task,
            fn=run,
        )


def discover_agents() -> dict[str, Agent]:
    """Agents declared by installed packages under the `switchboard.agents` entry point group."""
    found: dict[str, Agent] = {}
    for ep in entry_points(group="switchboard.agents"):
        agent = ep.load()
        if not isinstance(agent, Agent):
            raise TypeError(f"entry point {ep.name} ({ep.value}) is not an Agent")
        found[agent.name] = agent
    return found
