"""What the loop asks of a model, and what it gets back."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from core.text import storable_text


@dataclass(frozen=True, slots=True)
class ModelRequest:
    agent: str
    system: str
    context: str
    tools: list[dict[str, Any]] = field(default_factory=list)
    purpose: Literal["step", "summary"] = "step"

    def messages(self) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.context},
        ]


@dataclass(frozen=True, slots=True)
class ModelResponse:
    model: str
    text: str = ""
    tool_name: str | None = None
    arguments: str | None = None  # the raw JSON text the model produced
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0


class Model(Protocol):
    name: str

    async def complete(self, request: ModelRequest) -> ModelResponse: ...


class ProviderError(Exception):
    """The provider did not answer usefully: rate limit, server error, timeout, refused connection."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


class InvalidOutput(ValueError):
    """The model answered, but not with one call of a known tool with valid arguments."""


_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)


def extract_call(response: ModelResponse) -> tuple[str, dict[str, Any]]:
    """The tool call in a response: native tool calling first, else a JSON object in the text."""
    if response.tool_name is not None:
        return response.tool_name, _parse_object(response.arguments or "{}")
    text = response.text.strip()
    fenced = _FENCE.search(text)
    start, end = text.find("{"), text.rfind("}")
    candidate = fenced.group(1) if fenced else text[start : end + 1 if end > start else None]
    if start < 0:
        raise InvalidOutput("no tool call and no JSON object in the reply")
    data = _parse_object(candidate)
    name = data.get("tool") or data.get("name")
    if not isinstance(name, str):
        raise InvalidOutput(
            'the JSON object names no tool (expected {"tool": ..., "arguments": {...}})'
        )
    arguments = data.get("arguments", {})
    if not isinstance(arguments, dict):
        raise InvalidOutput("the tool arguments are not a JSON object")
    return name, arguments


def _parse_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidOutput(f"broken JSON: {e.msg} at line {e.lineno} column {e.colno}") from e
    if not isinstance(data, dict):
        raise InvalidOutput("the arguments are not a JSON object")
    return {storable_text(k): _storable(v) for k, v in data.items()}


def _storable(value: Any) -> Any:
    """A model's JSON, its strings under the rule for text from outside (`\\u0000` included)."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, list):
        return [_storable(v) for v in value]
    if isinstance(value, dict):
        return {storable_text(k): _storable(v) for k, v in value.items()}
    return value
