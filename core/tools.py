"""Tools are a pydantic argument model plus an async function; the model's choice is one typed call."""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol, cast, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model


class BusinessData(Protocol):
    """The agent's own tables, as a tool sees them; writes commit with the tool's result."""

    async def get(self, model: type[Any], key: Any) -> Any: ...

    async def all(self, statement: Any) -> list[Any]: ...

    def add(self, row: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class ToolContext:
    thread_id: str
    call_id: str
    idempotency_key: str
    requester: str | None
    data: BusinessData
    # Runs another agent as a sub-thread (set by the runtime; see Agent.as_tool).
    run_subagent: Callable[[str, str], Awaitable[SubagentResult]] | None = None


class SubagentResult(BaseModel):
    status: Literal["success", "failure", "needs_human"]
    thread_id: str
    message: str


ToolFn = Callable[[Any, ToolContext], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    args: type[BaseModel]
    fn: ToolFn
    idempotent: bool = False
    summary: str = ""  # what a call does, for people: "deploy {service} {version} to {environment}"

    def spec(self) -> dict[str, Any]:
        return function_spec(self.name, self.description, self.args)


def tool(
    *, idempotent: bool = False, name: str | None = None, summary: str = ""
) -> Callable[[ToolFn], Tool]:
    """Make a Tool from `async def fn(args: SomeModel, ctx: ToolContext)`; the docstring describes
    it to the model, `summary` (a format string over the arguments) a call of it to people."""

    def wrap(fn: ToolFn) -> Tool:
        params = list(inspect.signature(fn).parameters)
        args_model = get_type_hints(fn)[params[0]]
        return Tool(
            name=name or fn.__name__,
            description=inspect.getdoc(fn) or "",
            args=args_model,
            fn=fn,
            idempotent=idempotent,
            summary=summary,
        )

    return wrap


# --- built-in tools: the loop handles these itself --------------------------------------------


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContactHuman(_Args):
    """Ask a person a question and wait for the answer."""

    question: str
    to: str | None = Field(None, description="person id; default: whoever the agent escalates to")
    options: list[str] = Field(default_factory=list)
    urgency: Literal["low", "normal", "high"] = "normal"


class RequestApproval(_Args):
    """Ask the allowed approvers to approve one call of a tool with exactly these arguments."""

    tool: str
    arguments: dict[str, Any]
    reason: str = ""


class Reply(_Args):
    """Send the final answer to the person who asked, and end this turn."""

    message: str
    outcome: Literal["success", "failure"] = "success"


def function_spec(name: str, description: str, args: type[BaseModel]) -> dict[str, Any]:
    """The OpenAI-style function description the model sees."""
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": args.model_json_schema(),
        },
    }


class ToolCall(BaseModel):
    """The model's choice: one tool, validated arguments. `arguments` is typed per tool."""

    model_config = ConfigDict(frozen=True)
    tool: str
    arguments: BaseModel


class ActionSchema:
    """The discriminated union of everything an agent may call, built once per agent."""

    def __init__(self, tools: Sequence[Tool], *, approvals: bool) -> None:
        builtins: dict[str, type[BaseModel]] = {"contact_human": ContactHuman, "reply": Reply}
        if approvals:
            builtins["request_approval"] = RequestApproval
        self.args_by_name: dict[str, type[BaseModel]] = {
            **builtins,
            **{t.name: t.args for t in tools},
        }
        self.specs = [function_spec(n, inspect.getdoc(a) or "", a) for n, a in builtins.items()]
        self.specs += [t.spec() for t in tools]
        variants = [
            create_model(
                f"Call_{name}",
                tool=(cast(Any, Literal[name]), ...),
                arguments=(args, ...),
            )
            for name, args in self.args_by_name.items()
        ]
        union = Annotated[_union(variants), Field(discriminator="tool")]  # type: ignore[valid-type]
        self._adapter: TypeAdapter[Any] = TypeAdapter(cast(Any, union))

    def validate(self, tool_name: str, arguments: dict[str, Any]) -> ToolCall:
        """Raise ValueError (with a message fit for the model) unless this is a valid call."""
        if tool_name not in self.args_by_name:
            known = ", ".join(self.args_by_name)
            raise ValueError(f"unknown tool {tool_name!r}; the tools are: {known}")
        parsed = self._adapter.validate_python({"tool": tool_name, "arguments": arguments})
        return ToolCall(tool=tool_name, arguments=parsed.arguments)


def _union(variants: list[type[BaseModel]]) -> Any:
    union: Any = variants[0]
    for v in variants[1:]:
        union = union | v
    return union


def arguments_hash(tool_name: str, arguments: dict[str, Any]) -> str:
    """What an approval is bound to: the tool and its exact arguments, canonically encoded."""
    canonical = json.dumps(
        [tool_name, arguments], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
