"""Schemathesis against the REST API's own OpenAPI document, on SQLite and on PostgreSQL.

Every check schemathesis has is on (server errors, status codes, content types, response schemas
and headers, positive data accepted, negative data refused, the token not ignored, Allow headers,
unsupported methods…). The API runs in a real uvicorn server with the whole service behind it
(workers advance the threads the fuzzer launches), in a thread of its own: the service's
connections belong to that thread's event loop, and the fuzzer's requests are real HTTP.
Bounded and derandomized: the same cases on every run, well under a minute per backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
import uvicorn

from core.service import open_service
from core.web.app import create_app
from tests.fixtures import PEOPLE, service_settings
from tests.server import free_port

TOKEN = "test-token"
OPENAPI = "/api/v1/openapi.json"


class Serving:
    """The service and its HTTP app on a free port, in a thread with its own event loop."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.url = ""
        self.server: uvicorn.Server | None = None
        self.failed: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="fuzzed-api", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as e:  # handed to the test thread, which raises it
            self.failed = e

    async def _serve(self) -> None:
        async with open_service(service_settings(self.database_url), migrate=False) as service:
            await service.app.store.save_people(PEOPLE)
            port = free_port()
            config = uvicorn.Config(
                create_app(service),
                port=port,
                log_level="warning",
                access_log=False,
                lifespan="off",
            )
            self.url = f"http://127.0.0.1:{port}"
            self.server = uvicorn.Server(config)
            background = asyncio.create_task(service.run())
            try:
                await self.server.serve()
            finally:
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not (self.server and self.server.started):
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start: {self.failed!r}")
            time.sleep(0.01)  # a poll for a condition, with a deadline
        return self.url

    def __exit__(self, *_: object) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(30)


# Every check stays on. A schema-valid request may still be refused with a 422 for what no schema
# can state (an unknown person or agent, channels listed without an address): positive data may
# get a 422, and the check below makes sure it is never one from request validation.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
CONFIG = {
    "generation": {"max-examples": 25, "deterministic": True, "database": "none"},
    "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
}
INVALID_REQUEST = "urn:switchboard:problem:invalid-request"


@schemathesis.check
def schema_valid_requests_pass_validation(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """A request the document allows is never refused by the API's request validation (the
    `invalid-request` problem): that would be a rule the document does not state."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    problem = response.json()
    if problem.get("type") == INVALID_REQUEST:
        raise AssertionError(f"a request the document allows was refused: {problem['detail']}")
    return None


@pytest.fixture(autouse=True)
def _schemathesis_names_subtests(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32's lazy schemas name each operation's subtest through `Node._nodeid`,
    # which pytest 9.2 no longer has (it is `nodeid`, read-only): give it one to rename.
    request.node._nodeid = request.node.nodeid


@pytest.fixture
def api_url(database_url: str) -> Iterator[str]:
    with Serving(database_url) as url:
        yield url


@pytest.fixture
def api_schema(api_url: str) -> Any:
    """The OpenAPI document as the running app serves it."""
    config = schemathesis.Config.from_dict(CONFIG)
    schema = schemathesis.openapi.from_url(api_url + OPENAPI, config=config)
    schema.config.update(base_url=api_url, headers={"Authorization": f"Bearer {TOKEN}"})
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_the_api_keeps_to_its_openapi_document(case: schemathesis.Case) -> None:
    case.call_and_validate()


def test_sequences_of_calls_keep_to_the_document(api_schema: Any) -> None:
    """Stateful: calls chained by what earlier answers return (a launched thread's id, its
    Location), so the checks that need a sequence run too (use after free, availability)."""
    machine = api_schema.as_state_machine()
    machine.run(
        settings=hypothesis.settings(
            max_examples=10,
            stateful_step_count=6,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
