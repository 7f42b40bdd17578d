"""Ask people through Switchboard and wait for their decision, async (`AsyncSwitchboard`) or not
(`Switchboard`).

Every wait is bounded: a request is asked with a deadline (`timeout` from now unless given), by
which Switchboard settles it (an approval nobody decides is denied), and the client waits for that
and a little more, never forever. A dead network or a restarting server is waited out within the
same bound: a create is retried under one Idempotency-Key, so it is asked once however often it is
sent.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

import httpx

from switchboard_client.errors import NoDecision, Refused, Unreachable
from switchboard_client.models import Decision, Person

T = TypeVar("T")
Urgency = Literal["low", "normal", "high"]

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 3600.0  # seconds a request may stay open: an hour
GRACE = 30.0  # seconds past the deadline to hear that Switchboard settled it
LONG_POLL = 55.0  # seconds one GET waits (Switchboard allows 60)
RETRY_FIRST, RETRY_MAX = 0.5, 10.0  # seconds between tries while Switchboard is out of reach


class AsyncSwitchboard:
    """A caller's connection to Switchboard: `url` (SWITCHBOARD_URL) and `key` (SWITCHBOARD_KEY,
    from `switchboard callers add`; the operator's SWITCHBOARD_API_TOKEN works too)."""

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = (url or os.environ.get("SWITCHBOARD_URL") or DEFAULT_URL).rstrip("/")
        found = key_of(key)
        self.timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=self.url + "/api/v1",
            headers={"Authorization": f"Bearer {found}", "User-Agent": "switchboard-client/0.1"},
            timeout=httpx.Timeout(10.0, read=LONG_POLL + 10.0),
            transport=transport,
        )

    async def __aenter__(self) -> AsyncSwitchboard:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- asking --------------------------------------------------------------------------------

    async def ask_human(
        self,
        question: str,
        *,
        to: str | Sequence[str],
        options: Sequence[str] = (),
        context: str = "",
        reference: str = "",
        urgency: Urgency = "normal",
        timeout: float | None = None,
        idempotency_key: str | None = None,
        callback_url: str | None = None,
    ) -> Decision:
        """Ask `to` (person ids or `role:NAME`) `question`, answered in words or with one of
        `options`; wait for the answer (`decision.answer`). Unanswered within `timeout` seconds,
        the request times out (status "timed_out")."""
        body = {"question": question, "options": list(options)}
        return await self._ask(
            body, to, context, reference, urgency, timeout, idempotency_key, callback_url
        )

    async def request_approval(
        self,
        action: str,
        arguments: dict[str, Any],
        *,
        to: str | Sequence[str],
        question: str | None = None,
        required: int = 1,
        context: str = "",
        reference: str = "",
        urgency: Urgency = "normal",
        timeout: float | None = None,
        idempotency_key: str | None = None,
        callback_url: str | None = None,
    ) -> Decision:
        """Ask `to` to approve exactly `action(arguments)` (`required` different people must);
        wait for the decision (`decision.approved`). Not decided within `timeout` seconds, it is
        denied (status "timed_out")."""
        json.dumps(arguments)  # a TypeError here, before anything is asked, names what is not JSON
        body = {
            "question": question or f"Approve {action}{_in_words(arguments)}?",
            "action": action,
            "arguments": arguments,
            "required": required,
        }
        return await self._ask(
            body, to, context, reference, urgency, timeout, idempotency_key, callback_url
        )

    async def create(
        self,
        body: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        until: float | None = None,
    ) -> Decision:
        """`POST /api/v1/requests` with `body` as the API takes it; retried while Switchboard is
        out of reach (until `until`, a loop time), under one Idempotency-Key."""
        key = idempotency_key or f"sbc-{uuid.uuid4().hex}"
        headers = {"Idempotency-Key": key}
        answer = await self._call("POST", "/requests", until, json=body, headers=headers)
        return Decision.model_validate(answer.json())

    async def _ask(
        self,
        body: dict[str, Any],
        to: str | Sequence[str],
        context: str,
        reference: str,
        urgency: Urgency,
        timeout: float | None,
        idempotency_key: str | None,
        callback_url: str | None,
    ) -> Decision:
        seconds = self.timeout if timeout is None else timeout
        deadline = datetime.now(UTC) + timedelta(seconds=seconds)
        body.update(
            to=[to] if isinstance(to, str) else list(to),
            context=context,
            reference=reference,
            urgency=urgency,
            deadline=deadline.isoformat(),
        )
        if callback_url:
            body["callback_url"] = callback_url
        # Tried until the deadline (a request made after it would be refused), then waited on
        # until a little after it, when Switchboard has settled it.
        made = await self.create(body, idempotency_key=idempotency_key, until=_now() + seconds)
        return await self.wait(made.id, timeout=seconds + GRACE)

    # --- hearing the decision ------------------------------------------------------------------

    async def get(self, request_id: str) -> Decision:
        """The request as it is now."""
        return Decision.model_validate((await self._call("GET", f"/requests/{request_id}")).json())

    async def wait(self, request_id: str, *, timeout: float | None = None) -> Decision:
        """The request once it is settled, by long-polling; NoDecision when `timeout` seconds
        (the client's `timeout` by default) pass with it still open."""
        waited = self.timeout if timeout is None else timeout
        until = _now() + waited
        while True:
            left = until - _now()
            params = {"wait": f"{max(0.0, min(LONG_POLL, left)):.1f}"}
            answer = await self._call("GET", f"/requests/{request_id}", until, params=params)
            decision = Decision.model_validate(answer.json())
            if decision.settled:
                return decision
            if _now() >= until:
                raise NoDecision(request_id, waited)

    async def events(
        self, request_id: str, *, timeout: float | None = None
    ) -> AsyncIterator[Decision]:
        """The request now and at each change (each approval of a quorum), over server-sent
        events, until it is settled. A dropped stream (Switchboard restarting) is opened again
        until `timeout` seconds (the client's `timeout` by default) have passed, then
        `Unreachable`; a change is given once, however often the stream starts again."""
        waited = self.timeout if timeout is None else timeout
        until, pause, last = _now() + waited, RETRY_FIRST, None
        while True:
            try:
                async for decision in self._stream(request_id):
                    pause = RETRY_FIRST
                    seen = (decision.status, len(decision.approvals))
                    if seen != last:
                        last = seen
                        yield decision
                    if decision.settled:
                        return
                failure = "the stream ended before the request was settled"
            except httpx.TransportError as e:
                failure = f"Switchboard at {self.url} did not answer: {e or type(e).__name__}"
            if _now() + pause > until:
                raise Unreachable(failure, request_id=request_id)
            await asyncio.sleep(pause)
            pause = min(RETRY_MAX, pause * 2)

    async def _stream(self, request_id: str) -> AsyncIterator[Decision]:
        path = f"/requests/{request_id}/events"
        async with self._http.stream("GET", path, timeout=httpx.Timeout(10.0, read=60.0)) as sse:
            if sse.status_code >= 500:
                raise httpx.RemoteProtocolError(f"{sse.status_code} from Switchboard")
            if sse.status_code >= 400:
                await sse.aread()
                raise _refused(sse)
            data: list[str] = []
            async for line in sse.aiter_lines():
                if line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
                elif not line and data:
                    yield Decision.model_validate_json("\n".join(data))
                    data = []

    # --- the directory -------------------------------------------------------------------------

    async def people(self) -> list[Person]:
        """Who this key may ask, with their roles and channels (never their addresses)."""
        answer = await self._call("GET", "/recipients")
        return [Person.model_validate(p) for p in answer.json()]

    # --- the wire ------------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, until: float | None = None, **options: Any
    ) -> httpx.Response:
        """One call, tried again while Switchboard is out of reach (a refused connection, a
        timeout, a 5xx) until `until` (by default, one try); a 4xx is `Refused` at once."""
        pause = RETRY_FIRST
        while True:
            try:
                answer = await self._http.request(method, path, **options)
            except httpx.TransportError as e:
                failure = f"Switchboard at {self.url} did not answer: {e or type(e).__name__}"
            else:
                if answer.status_code < 400:
                    return answer
                if answer.status_code < 500:
                    raise _refused(answer)
                failure = (
                    f"Switchboard at {self.url} failed: {answer.status_code} {answer.text[:200]}"
                )
            if until is None or _now() + pause > until:
                raise Unreachable(failure, request_id=_request_id(path))
            await asyncio.sleep(pause)
            pause = min(RETRY_MAX, pause * 2)


class Switchboard:
    """The same calls, for code that is not async: each runs an `AsyncSwitchboard` to its end
    (on a thread of its own when called inside a running event loop)."""

    def __init__(
        self, url: str | None = None, key: str | None = None, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self._options: dict[str, Any] = {"url": url, "key": key_of(key), "timeout": timeout}

    def ask_human(self, question: str, **options: Any) -> Decision:
        """See `AsyncSwitchboard.ask_human`."""
        return self._run(lambda sb: sb.ask_human(question, **options))

    def request_approval(self, action: str, arguments: dict[str, Any], **options: Any) -> Decision:
        """See `AsyncSwitchboard.request_approval`."""
        return self._run(lambda sb: sb.request_approval(action, arguments, **options))

    def wait(self, request_id: str, *, timeout: float | None = None) -> Decision:
        return self._run(lambda sb: sb.wait(request_id, timeout=timeout))

    def get(self, request_id: str) -> Decision:
        return self._run(lambda sb: sb.get(request_id))

    def people(self) -> list[Person]:
        return self._run(lambda sb: sb.people())

    def _run(self, call: Callable[[AsyncSwitchboard], Awaitable[T]]) -> T:
        async def once() -> T:
            async with AsyncSwitchboard(**self._options) as sb:
                return await call(sb)

        return run_to_the_end(once)


def key_of(key: str | None) -> str:
    """The caller's key: `key`, else SWITCHBOARD_KEY (else the operator's SWITCHBOARD_API_TOKEN);
    ValueError, said at once, when there is none."""
    found = key or os.environ.get("SWITCHBOARD_KEY") or os.environ.get("SWITCHBOARD_API_TOKEN")
    if not found:
        raise ValueError(
            "no key: give --key (key= in Python) or set SWITCHBOARD_KEY; `switchboard callers add`"
            " makes one"
        )
    return found


def run_to_the_end(work: Callable[[], Awaitable[T]]) -> T:
    """`work()` run to its end from code that is not async, inside a running loop or not."""

    async def main() -> T:
        return await work()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def _refused(answer: httpx.Response) -> Refused:
    try:
        problem = answer.json()
    except ValueError:
        problem = None
    if isinstance(problem, dict):
        kind = str(problem.get("type", "")).rpartition(":")[2]
        detail = str(problem.get("detail") or problem)
        return Refused(answer.status_code, detail, "" if kind == "blank" else kind, problem)
    return Refused(answer.status_code, answer.text[:500] or answer.reason_phrase)


def _request_id(path: str) -> str | None:
    parts = path.split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "requests" else None


def _in_words(arguments: dict[str, Any]) -> str:
    if not arguments:
        return ""
    said = ", ".join(f"{k}={json.dumps(v)}" for k, v in arguments.items())
    return f" with {said if len(said) <= 300 else said[:299] + '…'}"


def _now() -> float:
    return asyncio.get_running_loop().time()
