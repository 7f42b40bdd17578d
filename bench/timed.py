"""A scripted model that timestamps its step calls, and probes that run outside the timed spans."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from core.models.base import ModelRequest, ModelResponse
from core.models.scripted import ScriptedModel, Step

Probe = Callable[[], None]


class TimedModel:
    """Plays a `ScriptedModel`; records when each step call arrives and when the wrapper let go of it.

    A probe registered for call n runs between the two stamps, so it is in no measured interval:
    the time from leaving call n to entering call n+1 is the platform's share of one step.
    """

    def __init__(
        self, script: Iterable[Step], *, probes: Mapping[int, Probe] | None = None
    ) -> None:
        self.inner = ScriptedModel(script, name="bench-scripted")
        self.name = self.inner.name
        self.probes = dict(probes or {})
        self.entered: list[float] = []
        self.left: list[float] = []
        self.summaries = 0

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if request.purpose == "summary":
            self.summaries += 1  # part of the step that compacts the context: not a step of its own
        else:
            self.entered.append(time.perf_counter())
            probe = self.probes.get(len(self.left))
            if probe is not None:
                probe()
            self.left.append(time.perf_counter())
        return await self.inner.complete(request)

    def intervals(self) -> list[float]:
        """Seconds from leaving each step call to entering the next one."""
        return [b - a for a, b in zip(self.left, self.entered[1:], strict=False)]
