"""One error hierarchy (core/errors.py), mapped once by each front end: the API answers a problem
with the error's status and kind wherever it was raised, the console shows that problem's detail,
and the CLI prints one line. Anything else is a bug: a 500, or a traceback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import typer

from core.app import App
from core.cli import _with_app
from core.humans import Approve, respond
from core.service import Service
from core.web.app import create_app
from core.web.auth import COOKIE
from tests.test_api import PROBLEM, TOKEN, client_for, launch, open_request, problem, reaches


@pytest.fixture
async def api(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(service, authorization=f"Bearer {TOKEN}") as client:
        yield client


# --- the API ---------------------------------------------------------------------------------------


async def test_not_found_raised_deep_in_the_store_is_a_404_problem(service: Service) -> None:
    app = create_app(service)

    async def deep() -> None:  # a route that does not look first: the store finds nothing
        await service.app.store.state("th-gone")

    app.add_api_route("/deep", deep)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/deep")
    assert (response.status_code, response.headers["content-type"]) == (404, PROBLEM)
    assert response.json() == {
        "type": "urn:switchboard:problem:no-such-thread",
        "title": "No such thread",
        "status": 404,
        "detail": "there is no thread th-gone",
    }


async def test_a_key_error_is_a_bug_answered_500_not_a_404(service: Service) -> None:
    app = create_app(service)

    async def buggy() -> None:
        _ = {}["th-1"]

    app.add_api_route("/buggy", buggy)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        body = problem(await c.get("/buggy"), 500)
    assert body["type"] == "about:blank" and "th-1" not in body["detail"]


# --- the console -----------------------------------------------------------------------------------


async def test_the_console_shows_the_problem_the_api_would_answer(
    service: Service, api: httpx.AsyncClient
) -> None:
    thread_id = await launch(api)
    await reaches(api, thread_id, "waiting_human")
    request_id = (await open_request(api, thread_id))["id"]
    await respond(service.app.store, request_id, "alice", Approve(), via="cli")
    api_answer = problem(
        await api.post(
            f"/api/v1/requests/{request_id}/respond", json={"as": "erin", "decision": "approve"}
        ),
        409,
    )

    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://console", cookies={COOKIE: service.api_token}
    ) as console:
        page = await console.post(
            f"/requests/{request_id}/respond",
            data={"person": "erin", "decision": "approve"},
            headers={"hx-request": "true"},
        )
    assert page.status_code == 409
    assert "already approved by alice via cli" in api_answer["detail"]
    assert api_answer["detail"] in page.text


# --- the CLI ---------------------------------------------------------------------------------------


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")


@pytest.mark.usefixtures("cli_database")
def test_the_cli_says_what_a_person_can_fix_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    async def answer_nothing(a: App) -> None:
        await respond(a.store, "req-missing", "alice", Approve())

    with pytest.raises(typer.Exit) as exited:
        _with_app(answer_nothing, migrate=True)
    assert exited.value.exit_code == 1
    assert capsys.readouterr().err == "error: there is no request req-missing\n"


@pytest.mark.usefixtures("cli_database")
def test_a_bug_under_the_cli_is_a_traceback_not_a_message() -> None:
    async def buggy(a: App) -> None:
        _ = {}["req-1"]

    with pytest.raises(KeyError, match="req-1"):  # uncaught: Python prints its traceback
        _with_app(buggy, migrate=True)
