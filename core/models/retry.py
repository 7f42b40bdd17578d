"""Provider errors are retried with exponential backoff and jitter, honouring Retry-After."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core.models.base import Model, ModelRequest, ModelResponse, ProviderError

log = logging.getLogger("switchboard.models")


@dataclass(frozen=True, slots=True)
class Backoff:
    attempts: int = 4
    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 120.0  # a longer Retry-After is not waited for: see `delay`

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds before attempt `attempt + 1`: what the other side asked for, else jittered.

        None when the other side asks for more than `max_retry_after`: waiting would hold the
        work for that long, so the caller moves on to the next step of its policy instead.
        """
        if retry_after is not None:
            return None if retry_after > self.max_retry_after else max(0.0, retry_after)
        return min(self.cap, self.base * 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0)


async def complete_with_retries(
    model: Model,
    request: ModelRequest,
    backoff: Backoff,
    sleep: Callable[[float], Awaitable[None]],
) -> ModelResponse:
    """The model's answer; a non-retryable error, or the last one, is raised to the caller."""
    for attempt in range(1, backoff.attempts):
        try:
            return await model.complete(request)
        except ProviderError as e:
            if not e.retryable:
                raise
            delay = backoff.delay(attempt, e.retry_after)
            if delay is None:
                raise ProviderError(
                    f"{e} (it asked to wait {e.retry_after:g}s, more than the"
                    f" {backoff.max_retry_after:g}s SWITCHBOARD_RETRY_AFTER_MAX_SECONDS allows)",
                    status=e.status,
                ) from e
            log.info("model %s failed (%s); retry %d in %.2fs", model.name, e, attempt, delay)
            await sleep(delay)
    return await model.complete(request)
