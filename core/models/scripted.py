"""A deterministic in-process model for tests: it plays a script and can inject faults."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.models.base import ModelRequest, ModelResponse, ProviderError


@dataclass(frozen=True, slots=True)
class Call:
    tool: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Text:
    """Raw text output: a JSON-in-text call, or garbage such as broken JSON."""

    text: str


@dataclass(frozen=True, slots=True)
class Fail:
    """The provider fails this attempt (429 with Retry-After, 5xx, or a dead network)."""

    status: int | None = 500
    retry_after: float | None = None


Step = Call | Text | Fail


class ScriptedModel:
    """Each `complete` takes the next step of the script.

    Summary requests take the next of `summaries` when given, else get a made-up summary.
    """

    def __init__(
        self,
        script: Iterable[Step] = (),
        *,
        name: str = "scripted",
        tokens: int = 10,
        summaries: Iterable[Step] | None = None,
    ):
        self.name = name
        self.script: deque[Step] = deque(script)
        self.summaries: deque[Step] | None = None if summaries is None else deque(summaries)
        self.requests: list[ModelRequest] = []
        self._tokens = tokens

    def extend(self, steps: Iterable[Step]) -> None:
        self.script.extend(steps)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        queue = self.script
        if request.purpose == "summary":
            if self.summaries is None:
                summary = f"summary of {len(request.context)} characters"
                return self._response(text=json.dumps({"summary": summary}))
            queue = self.summaries
        if not queue:
            raise AssertionError(f"the {request.purpose} script for {request.agent} ran out")
        match queue.popleft():
            case Call(tool, arguments):
                return self._response(tool_name=tool, arguments=json.dumps(arguments))
            case Text(text):
                return self._response(text=text)
            case Fail(status, retry_after):
                raise ProviderError(
                    f"scripted failure {status}", status=status, retry_after=retry_after
                )
        raise AssertionError("unreachable")  # pragma: no cover - Step is closed

    def _response(self, **kw: Any) -> ModelResponse:
        return ModelResponse(
            model=self.name, prompt_tokens=self._tokens, completion_tokens=self._tokens // 2, **kw
        )
