"""The CLI as a script would drive it: run --detach, requests, respond, resume, show. A thread
is started, answered and resumed in processes of their own; the rest runs in this process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli import run_in_process
from tests.fixtures import empty_postgres
from tests.server import environment, free_port, running_server

pytestmark = pytest.mark.slow
PEOPLE = Path(__file__).parents[1] / "deploy" / "people.demo.toml"


def commands(tmp_path: Path, *, processes: bool) -> Any:
    """`switchboard ARGS` on a database of its own, each in a process of its own or not."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "SWITCHBOARD_PEOPLE": str(PEOPLE),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    env.pop("SWITCHBOARD_MODEL", None)

    def run(*args: str, ok: bool = True, stdin: str = "") -> subprocess.CompletedProcess[str]:
        if processes:
            done = subprocess.run(
                [sys.executable, "-m", "core", *args],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                input=stdin,
                timeout=60,
            )
        else:
            done = run_in_process(args, env, tmp_path, stdin)
        assert (done.returncode == 0) == ok, done.stdout + done.stderr
        return done

    return run


@pytest.fixture
def processes(tmp_path: Path) -> Any:
    return commands(tmp_path, processes=True)


@pytest.fixture
def cli(tmp_path: Path) -> Any:
    return commands(tmp_path, processes=False)


def test_detach_respond_resume_across_processes(processes: Any, cli: Any) -> None:
    """Started, answered and resumed each in a process of its own: all it knows is in the
    database. (What the other commands say is read in this one.)"""
    started = json.loads(
        processes(
            "run", "deploy", "deploy api 2.4.1 to production", "--detach", "--json", "--as", "bob"
        ).stdout
    )
    assert started["status"] == "waiting_human"
    thread = started["thread_id"]

    [request] = json.loads(cli("requests", "--json").stdout)
    listed = cli("requests").stdout  # 80 columns, as in a small terminal: ids are never cut
    assert request["id"] in listed and thread in listed
    assert thread in cli("threads").stdout
    assert (request["thread_id"], request["kind"], request["status"]) == (
        thread,
        "approval",
        "open",
    )
    assert request["arguments"] == {
        "service": "api",
        "version": "2.4.1",
        "environment": "production",
    }

    refused = cli("respond", request["id"], "--approve", "--as", "bob", ok=False)
    assert "bob may not answer" in refused.stderr
    processes("respond", request["id"], "--approve", "--as", "alice")
    late = cli("respond", request["id"], "--reject", "too late", "--as", "alice", ok=False)
    assert "already approved by operator on behalf of alice via cli" in late.stderr

    assert json.loads(processes("resume", thread, "--json").stdout)["status"] == "done"
    shown = json.loads(cli("show", thread, "--json").stdout)
    assert shown["status"] == "done"
    deployed = [
        e for e in shown["events"] if e["type"] == "tool_succeeded" and e["tool"] == "deploy"
    ]
    assert deployed[0]["result"] == {
        "status": "deployed",
        "service": "api",
        "version": "2.4.1",
        "environment": "production",
    }
    assert "[offline demo model]" in next(
        e["text"] for e in shown["events"] if e["type"] == "reply_sent"
    )
    threads = json.loads(cli("threads", "--json").stdout)
    assert [(t["id"], t["status"]) for t in threads] == [(thread, "done")]


def test_nobody_approves_their_own_request_and_a_rollback_takes_two(cli: Any) -> None:
    """The issue's steps: Alice asks for a production deploy and tries to approve it herself;
    then Bob asks for a rollback, which Alice and Erin must both approve."""
    cli("run", "deploy", "deploy api 2.4.1 to production", "--detach", "--as", "alice")
    [own] = json.loads(cli("requests", "--json").stdout)
    refused = cli("respond", own["id"], "--approve", "--as", "alice", ok=False)
    assert "You asked for this, so someone else must decide" in refused.stderr
    assert "approved by erin" in cli("respond", own["id"], "--approve", "--as", "erin").stdout

    back = json.loads(
        cli(
            "run", "deploy", "roll back api in production to 2.4.0", "--detach", "--json",
            "--as", "bob",
        ).stdout
    )  # fmt: skip
    [rollback] = json.loads(cli("requests", "--json").stdout)
    assert rollback["required"] == 2
    first = cli("respond", rollback["id"], "--approve", "--as", "alice")
    assert "approved by alice; it waits for 1 more (1 of 2)" in first.stdout
    again = cli("respond", rollback["id"], "--approve", "--as", "alice", ok=False)
    assert "You approved" in again.stderr and "already" in again.stderr
    cli("respond", rollback["id"], "--approve", "--as", "erin")
    assert json.loads(cli("resume", back["thread_id"], "--json").stdout)["status"] == "done"
    shown = json.loads(cli("show", back["thread_id"], "--json").stdout)
    rolled = [e for e in shown["events"] if e["type"] == "tool_succeeded"][-1]
    assert rolled["result"]["status"] == "rolled back"


def test_the_terminal_answers_as_the_approver(cli: Any) -> None:
    done = cli(
        "run", "deploy", "deploy api 2.4.1 to production", "--as", "bob", stdin="n\nchange freeze\n"
    )
    assert "Approve as alice?" in done.stderr
    assert "agent deploy · model offline-demo" in done.stdout
    assert "alice via terminal rejected" in done.stdout and "change freeze" in done.stdout
    assert "[offline demo model] Not deployed" in done.stdout
    assert ": failed" in done.stdout


def test_without_input_the_thread_is_left_waiting(cli: Any) -> None:
    done = cli("run", "deploy", "deploy api 2.4.1 to production", "--as", "bob")
    assert "is waiting" in done.stdout


def test_unknown_things_are_clear_errors(cli: Any) -> None:
    assert "no agent named 'nope'" in cli("run", "nope", "hi", ok=False).stderr
    zed = cli("run", "deploy", "hi", "--as", "zed", ok=False).stderr
    assert "--as zed: no such person; the directory has alice, bob, carol, dana, erin" in zed
    assert json.loads(cli("threads", "--json").stdout) == []  # nothing was started
    assert "no person zed; the directory has" in cli("login", "zed", ok=False).stderr
    link = cli("login", "alice").stdout.strip().splitlines()[-1]
    assert link.startswith("http://127.0.0.1:8000/login/link?code=")
    assert "no thread th-missing" in cli("show", "th-missing", ok=False).stderr
    assert "exactly one of" in cli("respond", "req-x", "--as", "alice", ok=False).stderr


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
    else:
        with empty_postgres() as url:
            yield url


def test_the_cli_works_beside_a_running_server(shared_url: str, tmp_path: Path) -> None:
    """The server's workers may take the thread the CLI starts: `run --detach` waits until it
    waits, and prints its JSON, on either database."""
    env = {
        **environment(tmp_path, free_port(), "t", shared_url),
        "SWITCHBOARD_PEOPLE": str(PEOPLE),
    }
    with running_server(tmp_path, database_url=shared_url, SWITCHBOARD_PEOPLE=str(PEOPLE)):
        for n in range(3):
            done = run_in_process(
                ("run", "deploy", "deploy api 2.4.1 to production", "--as", "bob", "--detach",
                 "--json"),
                env, tmp_path,
            )  # fmt: skip
            assert done.returncode == 0, f"try {n}: {done.stdout}{done.stderr}"
            assert json.loads(done.stdout)["status"] == "waiting_human"


def test_a_port_in_use_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "core", "serve"],
            env=environment(tmp_path, port, "t"),
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use; set SWITCHBOARD_PORT" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr


def test_a_bad_setting_is_one_line_for_every_command(tmp_path: Path) -> None:
    env = {**environment(tmp_path, free_port(), "t"), "SWITCHBOARD_PORT": "abc"}
    for command in (["serve"], ["threads"], ["db", "upgrade"]):
        done = subprocess.run(
            [sys.executable, "-m", "core", *command],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 1, command
        assert done.stderr.strip() == (
            "error: SWITCHBOARD_PORT='abc': Input should be a valid integer, unable to parse"
            " string as an integer: fix it in the environment or .env"
        ), command


def test_callers_keys_are_made_listed_and_revoked(cli: Any) -> None:
    made = json.loads(
        cli("callers", "add", "ci-bot", "--scope", "role:deploy-approver", "--json").stdout
    )
    assert made["key"].startswith("sbk_") and len(made["webhook_secret"]) == 64
    taken = cli("callers", "add", "ci-bot", "--scope", "*", ok=False)
    assert "there is a caller named ci-bot already" in taken.stderr
    cli("callers", "revoke", "ci-bot")
    [listed] = json.loads(cli("callers", "list", "--json").stdout)
    assert (listed["name"], listed["scope"]) == ("ci-bot", ["role:deploy-approver"])
    assert listed["revoked_at"] and "key" not in listed and "secret" not in listed
    assert "no caller nobody" in cli("callers", "revoke", "nobody", ok=False).stderr
