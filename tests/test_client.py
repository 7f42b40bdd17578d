"""The Python client (client/, `switchboard_client`) against a real `switchboard serve`: an outside
process with only the client installed asks for an approval, Alice approves it with a Discord
button in the sandbox, and the process hears it by long-poll, by server-sent events and by a
signed callback; `@require_approval` runs a function once with the approved arguments and refuses
anything else; bad input and a dead server are clear errors, never a hang."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from switchboard_client import (
    AsyncSwitchboard,
    NotApproved,
    Refused,
    Switchboard,
    Unreachable,
    arguments_hash,
    require_approval,
    verify,
)

from tests.server import Server, free_port, running_server

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[1]
ALICE_ON_DISCORD = "100000000000000001"
DEPLOY = {"service": "api", "version": "2.4.1", "environment": "production"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("serve")) as started:
        yield started


@pytest.fixture(scope="module")
def caller(server: Server) -> dict[str, str]:
    """A caller's key and webhook secret, made by the operator."""
    with operator(server) as api:
        made = api.post("/callers", json={"name": "ci-bot", "scope": ["*"]})
    assert made.status_code == 201, made.text
    return {"key": made.json()["key"], "secret": made.json()["webhook_secret"]}


@pytest.fixture(scope="module")
def client_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python with the client installed and nothing else of Switchboard's: the python of a
    virtual environment made for it (with uv, as `make` installs; else venv and pip)."""
    venv = tmp_path_factory.mktemp("client-only") / "venv"
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    python = venv / "bin" / "python"
    if uv:
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, venv], check=True)
        install = [uv, "pip", "install", "-q", "--python", python, ROOT / "client"]
    else:
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        install = [python, "-m", "pip", "install", "-q", ROOT / "client"]
    subprocess.run(install, check=True, capture_output=True)
    return python


def operator(server: Server) -> httpx.Client:
    return httpx.Client(
        base_url=server.url + "/api/v1",
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=10,
    )


def answers_in_the_sandbox(
    server: Server,
    request_of: Callable[[httpx.Client], str | None],
    person: str,
    channel: str,
    **message: Any,
) -> None:
    """`person` answers, in `channel`'s sandbox, the request whose id `request_of` finds once its
    copy has reached them there, in that copy's conversation: `message` is what they send (a
    `sender` and `text`, or an `action`)."""
    with operator(server) as api:
        deadline = time.monotonic() + 20
        while True:
            request_id = request_of(api)
            shown = api.get(f"/requests/{request_id}").json() if request_id else {}
            copies = [
                d
                for d in shown.get("deliveries", ())
                if (d["recipient"], d["channel"], d["status"]) == (person, channel, "sent")
            ]
            if copies:
                break
            assert time.monotonic() < deadline, f"no copy reached {person} on {channel}: {shown}"
            time.sleep(0.1)  # a poll interval: the dispatcher sends the copy
        said = api.post(
            f"/sandbox/{channel}/messages",
            json={"conversation": copies[0]["conversation"], **message},
        )
        assert said.json()["outcome"] == "answered", said.text


def alice_presses(server: Server, request_id: str, decision: str, reason: str = "") -> None:
    """Alice presses Approve or Reject on the copy of `request_id` in her Discord DMs."""
    action = {"request_id": request_id, "decision": decision, "reason": reason}
    answers_in_the_sandbox(
        server, lambda _: request_id, "alice", "discord", sender=ALICE_ON_DISCORD, action=action
    )


# The outside agent: with only the client (and the standard library), it asks, receives its own
# callback, and hears the decision three ways.
OUTSIDE = """
import asyncio, json, queue, sys, threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from switchboard_client import AsyncSwitchboard, decision_of

url, key, secret, body = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
posted = queue.Queue()

class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            posted.put(decision_of(secret, self.headers["Switchboard-Signature"], raw))
            self.send_response(204)
        except ValueError:
            self.send_response(401)
        self.end_headers()

receiver = HTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=receiver.serve_forever, daemon=True).start()
body["callback_url"] = f"http://127.0.0.1:{receiver.server_port}/decided"

async def main():
    async with AsyncSwitchboard(url, key) as board:
        made = await board.create(body)
        print(made.id, flush=True)
        polled, streamed = await asyncio.gather(
            board.wait(made.id, timeout=60), _all(board.events(made.id))
        )
    called = await asyncio.to_thread(posted.get, timeout=30)
    print(json.dumps({"polled": polled.model_dump(mode="json"),
                      "streamed": [d.model_dump(mode="json") for d in streamed],
                      "called": called.model_dump(mode="json")}))

async def _all(events):
    return [d async for d in events]

asyncio.run(main())
"""


async def test_an_outside_process_hears_alices_discord_approval_three_ways(
    server: Server, caller: dict[str, str], client_only: Path
) -> None:
    elsewhere = client_only.parents[2]  # not this checkout: `-c` puts the directory on the path
    alone = await asyncio.create_subprocess_exec(
        client_only, "-c", "import switchboard_client, importlib.util as u;"
        " print([m for m in ('core', 'fastapi', 'sqlalchemy', 'litellm') if u.find_spec(m)])",
        cwd=elsewhere, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert (await alone.communicate())[0].decode().strip() == "[]"  # the client, httpx, pydantic
    body = {
        "to": ["role:deploy-approver"],
        "question": "Deploy api 2.4.1 to production?",
        "action": "deploy",
        "arguments": DEPLOY,
        "reference": "ci-1842",
    }
    outside = await asyncio.create_subprocess_exec(
        client_only, "-c", OUTSIDE, server.url, caller["key"], caller["secret"], json.dumps(body),
        cwd=elsewhere, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert outside.stdout is not None
    request_id = (await asyncio.wait_for(outside.stdout.readline(), 30)).decode().strip()
    await asyncio.to_thread(alice_presses, server, request_id, "approve")
    out, err = await asyncio.wait_for(outside.communicate(), 60)
    assert outside.returncode == 0, err.decode()
    heard = json.loads(out)

    polled, streamed, called = heard["polled"], heard["streamed"], heard["called"]
    assert (polled["id"], polled["status"], polled["decided_by"], polled["decided_via"]) == (
        request_id,
        "approved",
        "alice",
        "discord",
    )
    assert polled["arguments"] == DEPLOY
    assert polled["arguments_hash"] == arguments_hash("deploy", DEPLOY)
    assert [d["status"] for d in streamed] == ["open", "approved"]
    assert streamed[-1] == polled
    assert called == polled  # the signed callback, verified by the process that asked


def test_a_callback_is_verified_with_the_callers_secret_only(caller: dict[str, str]) -> None:
    def signed(body: bytes, stamp: int, secret: str = caller["secret"]) -> str:
        mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
        return f"t={stamp},v1={mac.hexdigest()}"

    body, now = b'{"id": "req-1"}', int(time.time())
    assert verify(caller["secret"], signed(body, now), body)
    assert not verify(caller["secret"], signed(body, now, "another secret"), body)
    assert not verify(caller["secret"], signed(body, now), body + b" ")
    assert not verify(caller["secret"], signed(body, now - 301), body)  # a replay, too late
    assert not verify(caller["secret"], "v1=only", body)


async def test_require_approval_runs_once_with_the_approved_arguments(
    server: Server, caller: dict[str, str]
) -> None:
    ran: list[dict[str, Any]] = []

    @require_approval(to="role:deploy-approver", url=server.url, key=caller["key"], timeout=60)
    def deploy(service: str, version: str, environment: str = "staging") -> str:
        ran.append({"service": service, "version": version, "environment": environment})
        return f"deployed {service} {version} to {environment}"

    calling = asyncio.create_task(asyncio.to_thread(deploy, "api", "2.4.1", "production"))
    asked = await _open_request(server, "deploy")
    assert (asked["arguments"], asked["caller"]) == (DEPLOY, "ci-bot")
    await asyncio.to_thread(alice_presses, server, asked["id"], "approve")
    assert await asyncio.wait_for(calling, 30) == "deployed api 2.4.1 to production"
    assert ran == [DEPLOY]


async def test_require_approval_refuses_a_rejection_and_arguments_changed_while_pending(
    server: Server, caller: dict[str, str]
) -> None:
    ran: list[Any] = []

    @require_approval(to="alice", url=server.url, key=caller["key"], timeout=60)
    async def rollback(service: str, to_versions: list[str]) -> None:
        ran.append(to_versions)

    calling = asyncio.create_task(rollback("api", ["2.4.0"]))
    asked = await _open_request(server, "rollback")
    await asyncio.to_thread(alice_presses, server, asked["id"], "reject", "not during the freeze")
    with pytest.raises(NotApproved) as refused:
        await asyncio.wait_for(calling, 30)
    assert str(refused.value) == (
        "rollback was not run: rejected by alice via discord: not during the freeze"
    )
    assert refused.value.decision is not None and refused.value.decision.status == "rejected"

    versions = ["2.4.0"]
    calling = asyncio.create_task(rollback("api", versions))
    asked = await _open_request(server, "rollback")
    versions.append("2.3.9")  # the caller's list changes while Alice decides
    await asyncio.to_thread(alice_presses, server, asked["id"], "approve")
    with pytest.raises(NotApproved, match="its arguments changed while the approval was pending"):
        await asyncio.wait_for(calling, 30)
    assert ran == []


async def _open_request(server: Server, action: str) -> dict[str, Any]:
    """The open request for `action` the code under test has just asked for."""

    def find() -> dict[str, Any] | None:
        with operator(server) as api:
            found = [r for r in api.get("/requests").json() if r["tool"] == action]
        return found[-1] if found else None

    for _ in range(200):
        if (found := await asyncio.to_thread(find)) is not None:
            return found
        await asyncio.sleep(0.1)  # a poll interval: the client is asking
    raise AssertionError(f"no open request for {action}")


async def test_bad_input_is_refused_at_once_and_asks_no_one(
    server: Server, caller: dict[str, str]
) -> None:
    board = Switchboard(server.url, caller["key"], timeout=30)
    with pytest.raises(Refused) as unknown:
        board.ask_human("Lunch?", to="zed")
    assert (unknown.value.status, unknown.value.kind) == (422, "unknown-recipient")
    assert "no one in the directory is zed" in str(unknown.value)
    with pytest.raises(TypeError, match="not JSON serializable"):
        board.request_approval("deploy", {"when": time}, to="alice")
    with pytest.raises(Refused) as forged:
        Switchboard(server.url, "sbk_guessed").ask_human("Lunch?", to="bob")
    assert forged.value.status == 401
    with operator(server) as api:
        assert [r for r in api.get("/requests").json() if r["question"] == "Lunch?"] == []


async def test_a_server_that_is_down_is_a_clear_error_once_the_wait_is_over() -> None:
    """Tried again for the two seconds the request could have been open, then said."""
    async with AsyncSwitchboard(f"http://127.0.0.1:{free_port()}", "sbk_x", timeout=2) as board:
        with pytest.raises(Unreachable, match=r"Switchboard at http://127\.0\.0\.1:\d+ did not"):
            await board.ask_human("Anyone there?", to="bob")


def test_a_decision_for_other_arguments_never_runs_the_function() -> None:
    """What `@require_approval` checks of a decision before it runs anything: approved, and bound
    to this action and these arguments by their hash (say, a proxy that answered from a cache)."""
    from datetime import UTC, datetime

    from switchboard_client.approval import _check
    from switchboard_client.models import Decision

    def approved(arguments: dict[str, Any], action: str = "deploy") -> Decision:
        return Decision(
            id="req-1", kind="approval", status="approved", question="?", recipients=["alice"],
            tool=action, arguments=arguments, arguments_hash=arguments_hash(action, arguments),
            created_at=datetime.now(UTC), decided_by="alice", decided_via="discord",
        )  # fmt: skip

    _check("deploy", DEPLOY, approved(DEPLOY))  # the one that runs
    for other in (approved({**DEPLOY, "version": "2.5.0"}), approved(DEPLOY, "rollback")):
        with pytest.raises(NotApproved, match="not for these arguments"):
            _check("deploy", DEPLOY, other)
    forged = approved(DEPLOY).model_copy(update={"arguments_hash": "0" * 64})
    with pytest.raises(NotApproved, match="not for these arguments"):
        _check("deploy", DEPLOY, forged)


async def test_events_go_on_across_a_restart_of_the_server(tmp_path: Path) -> None:
    """The stream drops as Switchboard is killed; the client opens it again once Switchboard is
    back, and the request's changes come once each."""
    port = free_port()
    with running_server(tmp_path, port=port) as first, operator(first) as api:
        key = api.post("/callers", json={"name": "watcher", "scope": ["*"]}).json()["key"]
        board = AsyncSwitchboard(first.url, key, timeout=60)
        made = await board.create({"to": ["alice"], "question": "Restart now?"})
        heard: list[str] = []

        async def listen() -> None:
            async for decision in board.events(made.id):
                heard.append(decision.status)

        listening = asyncio.create_task(listen())
        for _ in range(100):
            if heard:
                break
            await asyncio.sleep(0.05)  # a poll interval: the stream starts
        first.process.kill()
        first.process.wait()
    with running_server(tmp_path, port=port) as second, operator(second) as api:
        answered = api.post(
            f"/requests/{made.id}/respond",
            json={"as": "alice", "decision": "answer", "answer": "yes"},
        )
        assert answered.status_code == 200, answered.text
        await asyncio.wait_for(listening, 30)
    await board.aclose()
    assert heard == ["open", "answered"]
