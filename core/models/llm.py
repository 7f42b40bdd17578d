"""The real-model path: any litellm model string, called over HTTP without litellm's retries."""

from __future__ import annotations

import asyncio
import email.utils
import math
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core.models.base import ModelRequest, ModelResponse, ProviderError

if TYPE_CHECKING:
    from litellm import ModelResponse as LiteLLMResponse

# Provider error texts sometimes echo credentials; these shapes never reach our messages.
_SECRET = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}|\bBearer\s+\S+")
_MAX_MESSAGE = 500


class LiteLLMModel:
    """A `Model` backed by `litellm.acompletion`; our runtime owns retries and backoff."""

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.name = model
        self._api_base = api_base
        self._api_key = api_key
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"LiteLLMModel({self.name!r}, api_base={self._api_base!r})"

    @property
    def api_base(self) -> str | None:
        """Where requests go; None: the provider's own endpoint."""
        return self._api_base

    async def load(self) -> None:
        """Import litellm (seconds) on a worker thread, so the event loop and call timings don't."""
        await asyncio.to_thread(_import_litellm)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        await self.load()
        import litellm
        from openai import OpenAIError  # litellm maps every provider's errors onto these

        tools = [] if request.purpose == "summary" else request.tools
        options: dict[str, Any] = {"tools": tools, "tool_choice": "auto"} if tools else {}
        try:
            response = await litellm.acompletion(
                model=self.name,
                messages=request.messages(),
                api_base=self._api_base,
                api_key=self._api_key,
                timeout=self._timeout,
                num_retries=0,  # the runtime retries, honouring Retry-After
                **options,
            )
        except OpenAIError as e:
            raise self._provider_error(e) from None  # the cause may carry request secrets
        if not isinstance(response, litellm.ModelResponse):
            raise TypeError(f"litellm returned {type(response).__name__} for a non-streaming call")
        return self._response(response)

    async def ping(self) -> None:
        """One tiny completion (max_tokens=1), as `switchboard check --live` makes: raises
        ProviderError, redacted and in one line, when the provider refuses it."""
        await self.load()
        import litellm
        from openai import OpenAIError

        try:
            await litellm.acompletion(
                model=self.name,
                messages=[{"role": "user", "content": "ping"}],
                api_base=self._api_base,
                api_key=self._api_key,
                timeout=min(self._timeout, 30.0),
                max_tokens=1,
                num_retries=0,
            )
        except OpenAIError as e:
            raise self._provider_error(e) from None

    def _response(self, response: LiteLLMResponse) -> ModelResponse:
        # An empty reply (no choices, no content) is left for `extract_call` to reject.
        message = getattr(response.choices[0], "message", None) if response.choices else None
        calls = getattr(message, "tool_calls", None) or []
        function = getattr(calls[0], "function", None) if calls else None
        usage = getattr(response, "usage", None)
        return ModelResponse(
            model=self.name,
            text=_str(getattr(message, "content", None)) or "",
            tool_name=_str(getattr(function, "name", None)),
            arguments=_str(getattr(function, "arguments", None)),
            prompt_tokens=_int(getattr(usage, "prompt_tokens", None)),
            completion_tokens=_int(getattr(usage, "completion_tokens", None)),
            cost=_cost(response),
        )

    def _provider_error(self, error: Exception) -> ProviderError:
        return ProviderError(
            f"{self.name}: {self._redact(str(error))}",
            status=_status(error),
            retry_after=_retry_after(_headers(error)),
        )

    def _redact(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "[redacted]")
        text = _SECRET.sub("[redacted]", text)
        first_line = text.strip().splitlines()[0] if text.strip() else "no detail"
        return first_line[:_MAX_MESSAGE]


def _import_litellm() -> None:
    # Only a real model pays for importing litellm; the local price list keeps it from
    # downloading one at import.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    # Otherwise litellm prints a "Give Feedback / Get Help" banner to stdout on every error.
    litellm.suppress_debug_info = True


def missing_keys(model: str, api_key: str | None = None) -> list[str]:
    """The provider's key variables litellm will need for `model` and finds neither in the
    environment nor in `api_key` (litellm's `validate_environment`); only credentials, not the
    endpoints litellm has defaults for. Raises ValueError when litellm knows no provider for it.
    Imports litellm: call it off the event loop, and only for a configured model."""
    _import_litellm()
    import litellm

    try:
        litellm.get_llm_provider(model=model)
    except Exception as e:  # litellm raises its BadRequestError, or others, for a bare name
        raise ValueError(f"litellm knows no provider for {model}") from e
    found = litellm.validate_environment(model=model, api_key=api_key)
    return [k for k in found.get("missing_keys", []) if _KEY_VARIABLE.search(k)]


_KEY_VARIABLE = re.compile(r"KEY|TOKEN|SECRET|CREDENTIAL|PASSWORD")


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _cost(response: LiteLLMResponse) -> float:
    import litellm

    try:
        return float(litellm.completion_cost(completion_response=response))
    # completion_cost raises bare Exception, ValueError or ModelNotMappedError for models
    # without a price (local and self-hosted ones); those cost nothing we can know.
    except Exception:
        return 0.0


def _status(error: Exception) -> int | None:
    """The HTTP status the provider answered with; None when no answer came back."""
    import httpx
    from litellm.exceptions import APIConnectionError, Timeout

    if isinstance(error, APIConnectionError) or _caused_by(error, httpx.TransportError):
        return None  # refused, reset or timed out: litellm reports some of these as a 500
    status = getattr(error, "status_code", None)
    if not isinstance(status, int):
        return None
    if isinstance(error, Timeout) and status < 500:
        return None  # litellm's Timeout says 408 for a client-side timeout too
    return status


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _headers(error: Exception) -> dict[str, str]:
    """The provider's response headers, lower-cased.

    litellm 1.106 rebuilds `error.response` without the provider's headers and keeps them on
    `error.litellm_response_headers`; the other places are read in case that changes.
    """
    sources = (
        getattr(getattr(error, "response", None), "headers", None),
        getattr(error, "headers", None),
        getattr(error, "litellm_response_headers", None),
    )
    merged: dict[str, str] = {}
    for source in sources:
        if isinstance(source, Mapping):
            merged.update({str(k).lower(): str(v) for k, v in source.items()})
    return merged


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait: `retry-after-ms` (OpenAI), else `retry-after` in seconds or as a date."""
    if (ms := _seconds(headers.get("retry-after-ms"))) is not None:
        return ms / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    if (seconds := _seconds(value)) is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None
