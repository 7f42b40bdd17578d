"""A real `switchboard serve` for end-to-end tests: its own process, port, database and token.

The database is a SQLite file in the server's directory unless a URL is given (PostgreSQL).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

ROOT = Path(__file__).parents[1]
PEOPLE = ROOT / "deploy" / "people.demo.toml"
TOKEN = "browser-test-token"
# The PostgreSQL server beside whose database tests make their own.
POSTGRES = os.environ.get("SWITCHBOARD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
# Settings the developer's environment may hold: the server under test must not see them, so
# every channel runs in sandbox mode and the offline demo model answers.
FOREIGN = ("SWITCHBOARD_", "SLACK_", "DISCORD_", "TWILIO_", "SMTP_", "IMAP_", "EMAIL_", "DATABASE_")


@dataclass(frozen=True, slots=True)
class Server:
    url: str
    token: str
    log: Path
    process: subprocess.Popen[bytes]

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def environment(
    directory: Path, port: int, token: str, database_url: str | None = None, **settings: str
) -> dict[str, str]:
    """The environment of a `switchboard` process under test; `settings` are more variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
    env.update(
        DATABASE_URL=database_url or f"sqlite:///{directory / 'switchboard.db'}",
        SWITCHBOARD_PEOPLE=str(PEOPLE),
        SWITCHBOARD_API_TOKEN=token,
        SWITCHBOARD_HOST="127.0.0.1",
        SWITCHBOARD_PORT=str(port),
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        PYTHONUNBUFFERED="1",
    )
    env.update(settings)
    return env


@contextlib.contextmanager
def running_server(
    directory: Path,
    *,
    token: str = TOKEN,
    within: float = 60.0,
    database_url: str | None = None,
    port: int | None = None,
    **settings: str,
) -> Iterator[Server]:
    """Start `switchboard serve` in `directory` (its .env is not the developer's), wait until it
    answers HTTP, and stop it at the end. Its output goes to `directory/serve.log`.
    `settings` are more environment variables for it, such as SWITCHBOARD_WORKERS="0"; `port`
    one chosen beforehand (for a SWITCHBOARD_PUBLIC_URL that names it)."""
    port = port or free_port()
    path = directory / "serve.log"
    with path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "core", "serve"],
            cwd=directory,
            env=environment(directory, port, token, database_url, **settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = Server(f"http://127.0.0.1:{port}", token, path, process)
        try:
            _wait_until_up(process, server, within)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(process: subprocess.Popen[bytes], server: Server, within: float) -> None:
    """Poll the sign-in page (served without the token) until it answers, or the process dies."""
    deadline = time.monotonic() + within
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"switchboard serve exited with {process.returncode}:\n{server.output()}"
            )
        try:
            with urlopen(f"{server.url}/login", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"switchboard serve did not answer in {within}s:\n{server.output()}")
        time.sleep(0.1)  # a poll interval, not a wait for something to happen


@contextlib.contextmanager
def fresh_database(admin_url: str = POSTGRES) -> Iterator[str]:
    """A new, empty PostgreSQL database beside `admin_url`'s, dropped afterwards."""
    import psycopg

    name = f"switchboard_test_{uuid.uuid4().hex[:8]}"
    libpq = admin_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(libpq, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield admin_url.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
