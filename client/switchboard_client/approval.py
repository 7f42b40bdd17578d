"""`@require_approval`: a function that runs only with the exact arguments a person approved."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar, cast

from switchboard_client.client import AsyncSwitchboard, run_to_the_end
from switchboard_client.errors import NotApproved
from switchboard_client.models import Decision, arguments_hash

P = ParamSpec("P")
R = TypeVar("R")


def require_approval(
    to: str | Sequence[str],
    *,
    action: str | None = None,
    question: str | None = None,
    required: int = 1,
    timeout: float | None = None,
    url: str | None = None,
    key: str | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Each call asks `to` (person ids or `role:NAME`) to approve exactly this call: the action
    (`action`, by default the function's name) and its arguments, by name. The function runs once,
    with those arguments, when they are approved; otherwise `NotApproved` says why (rejected by
    whom, timed out after `timeout` seconds), and it does not run. Arguments changed while the
    approval was pending, or a decision for other arguments, are refused the same way. Works on
    functions and coroutine functions; their arguments must be JSON (a TypeError says which is
    not). `url` and `key` as for `AsyncSwitchboard` (by default SWITCHBOARD_URL, SWITCHBOARD_KEY).
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        name = action or function.__name__
        signature = inspect.signature(function)

        async def approved(args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            asked = _as_json(name, bound)
            async with AsyncSwitchboard(url, key) as switchboard:
                decision = await switchboard.request_approval(
                    name, asked, to=to, question=question, required=required, timeout=timeout
                )
            _check(name, asked, decision)
            if _as_json(name, bound) != asked:  # a list or dict argument changed meanwhile
                raise NotApproved(
                    f"{name} was not run: its arguments changed while the approval was pending",
                    decision,
                )
            return bound

        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                bound = await approved(args, kwargs)
                return await function(*bound.args, **bound.kwargs)

            return cast(Callable[P, R], run_async)

        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            bound = run_to_the_end(lambda: approved(args, kwargs))
            return function(*bound.args, **bound.kwargs)

        return run

    return decorate


def _as_json(action: str, bound: inspect.BoundArguments) -> dict[str, Any]:
    """The arguments by name as the approver sees them (`self` and `cls` left out)."""
    arguments = {k: v for k, v in bound.arguments.items() if k not in ("self", "cls")}
    try:
        encoded = json.dumps(arguments, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{action}: an approval takes JSON arguments: {e}") from None
    decoded: dict[str, Any] = json.loads(encoded)
    return decoded


def _check(action: str, asked: dict[str, Any], decision: Decision) -> None:
    if not decision.approved:
        raise NotApproved(f"{action} was not run: {decision.describe()}", decision)
    bound_to = (decision.tool, decision.arguments, decision.arguments_hash)
    if bound_to != (action, asked, arguments_hash(action, asked)):
        raise NotApproved(
            f"{action} was not run: the approval {decision.id} is for"
            f" {decision.tool}({decision.arguments}), not for these arguments",
            decision,
        )
