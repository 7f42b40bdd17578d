"""`switchboard check`, and the model check `serve` makes before it listens (issue 14, item 2 and
"Start-up checks"): each problem one line naming the setting and the fix, exit code 1, no
traceback. `check` runs in this process, `serve` and `worker` in their own; no test reaches a
real model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli import run_in_process
from tests.server import TOKEN, environment, free_port

pytestmark = pytest.mark.slow
KEYLESS = "openai/gpt-4o-mini"
# Provider keys litellm would find in the developer's environment.
PROVIDER_KEYS = ("OPENAI_", "ANTHROPIC_", "AZURE_", "GROQ_", "COHERE_", "GEMINI_", "MISTRAL_")


@pytest.fixture
def switchboard(tmp_path: Path) -> Any:
    """Run `switchboard ARGS` in a clean environment (more variables as keywords)."""
    base = environment(tmp_path, free_port(), TOKEN)
    base = {k: v for k, v in base.items() if not k.startswith(PROVIDER_KEYS)}

    def run(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
        # serve and worker start as a user's would; --live calls the model through litellm,
        # whose warning filters are set for the process as it is first imported.
        if args[0] not in ("serve", "worker") and "--live" not in args:
            return run_in_process(args, {**base, **settings}, tmp_path)
        return subprocess.run(
            [sys.executable, "-m", "core", *args],
            env={**base, **settings},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=90,
        )

    assert run("db", "upgrade").returncode == 0
    return run


def failures(done: subprocess.CompletedProcess[str]) -> list[str]:
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    return [line for line in output.splitlines() if line.startswith("✗")]


def test_all_fine_with_the_demo_model(switchboard: Any) -> None:
    done = switchboard("check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert failures(done) == []
    lines = done.stdout.splitlines()
    assert "✓ settings: loaded from the environment and .env" in lines
    assert any(line.startswith("✓ database sqlite:///") for line in lines)
    assert any(line.startswith("✓ people: 5 in ") for line in lines)
    assert "✓ model: the offline demo model (set SWITCHBOARD_MODEL for a real one)" in lines
    assert "✓ slack: sandbox: no credentials" in lines


def test_a_model_without_its_key_is_one_line(switchboard: Any) -> None:
    done = switchboard("check", SWITCHBOARD_MODEL=KEYLESS)
    assert done.returncode == 1
    [line] = failures(done)
    assert line == (
        f"✗ SWITCHBOARD_MODEL={KEYLESS} needs an API key: set SWITCHBOARD_LLM_API_KEY"
        " (or OPENAI_API_KEY), or SWITCHBOARD_LLM_API_BASE for a local server"
    )


def test_the_documented_key_or_a_local_server_pass(switchboard: Any) -> None:
    keyed = switchboard("check", SWITCHBOARD_MODEL=KEYLESS, SWITCHBOARD_LLM_API_KEY="sk-test-123")
    assert keyed.returncode == 0, keyed.stdout + keyed.stderr
    assert f"✓ model {KEYLESS}: key set; not called (--live)" in keyed.stdout.splitlines()
    local = switchboard(
        "check", SWITCHBOARD_MODEL=KEYLESS, SWITCHBOARD_LLM_API_BASE="http://127.0.0.1:9/v1"
    )
    assert local.returncode == 0, local.stdout + local.stderr


def test_live_reports_the_model_call_in_one_line(switchboard: Any) -> None:
    done = switchboard(
        "check",
        "--live",
        SWITCHBOARD_MODEL=KEYLESS,
        SWITCHBOARD_LLM_API_KEY="sk-test-123",
        SWITCHBOARD_LLM_API_BASE=f"http://127.0.0.1:{free_port()}/v1",  # nothing listens
    )
    assert done.returncode == 1
    [line] = failures(done)
    assert line.startswith(f"✗ SWITCHBOARD_MODEL={KEYLESS}: the model server could not be reached")
    assert "sk-test-123" not in done.stdout


def test_a_bad_setting_is_one_line(switchboard: Any) -> None:
    done = switchboard("check", SWITCHBOARD_PORT="eighty")
    assert done.returncode == 1
    [line] = failures(done)
    assert line.startswith("✗ SWITCHBOARD_PORT='eighty': ")
    assert line.endswith("fix it in the environment or .env")


def test_a_broken_people_file_is_one_line(switchboard: Any, tmp_path: Path) -> None:
    people = tmp_path / "people.toml"
    people.write_text("[[people]]\nid = 'alice'\nname = \n")
    done = switchboard("check", SWITCHBOARD_PEOPLE=str(people))
    assert done.returncode == 1
    [line] = failures(done)
    assert str(people) in line


def test_an_outdated_or_unreachable_database_is_one_line(switchboard: Any, tmp_path: Path) -> None:
    fresh = switchboard("check", DATABASE_URL=f"sqlite:///{tmp_path / 'new.db'}")
    assert fresh.returncode == 1
    [line] = failures(fresh)
    assert line.endswith("is not at the current schema: run `switchboard db upgrade`")

    closed = f"postgresql://someone:pw-secret@127.0.0.1:{free_port()}/db"
    unreachable = switchboard("check", DATABASE_URL=closed)
    assert unreachable.returncode == 1
    [line] = failures(unreachable)
    assert line.startswith("✗ DATABASE_URL postgresql://someone:***@127.0.0.1:")
    assert "pw-secret" not in unreachable.stdout


def test_channels_are_checked_only_live(switchboard: Any) -> None:
    done = switchboard("check", SLACK_BOT_TOKEN="xoxb-not-checked", SLACK_SIGNING_SECRET="s" * 32)
    assert "- slack: credentials not checked (--live)" in done.stdout.splitlines()


def test_serve_with_a_keyless_model_stops_before_listening(switchboard: Any) -> None:
    port = free_port()
    done = switchboard("serve", SWITCHBOARD_MODEL=KEYLESS, SWITCHBOARD_PORT=str(port))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "Open the console" not in done.stdout
    assert done.stderr.strip() == (
        f"error: SWITCHBOARD_MODEL={KEYLESS} needs an API key: set SWITCHBOARD_LLM_API_KEY"
        " (or OPENAI_API_KEY), or SWITCHBOARD_LLM_API_BASE for a local server"
    )
    worker = switchboard("worker", SWITCHBOARD_MODEL=KEYLESS)
    assert worker.returncode == 1
    assert worker.stderr.strip() == done.stderr.strip()
