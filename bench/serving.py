"""A Switchboard server in a subprocess, on a fresh SQLite database and a free port, for a bench."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.http import Connection

ROOT = Path(__file__).resolve().parent.parent
PEOPLE = ROOT / "deploy" / "people.demo.toml"
TOKEN = "bench"
HOST = "127.0.0.1"
# Platforms' credentials in the developer's environment: a bench server runs every channel as its
# sandbox unless the bench itself gives it credentials (and a platform double to call).
PLATFORMS = ("SLACK_", "DISCORD_", "TWILIO_", "SMTP_", "IMAP_", "EMAIL_")


@dataclass(frozen=True, slots=True)
class Server:
    process: asyncio.subprocess.Process
    port: int
    log: Path

    async def connect(self, token: str | None = TOKEN) -> Connection:
        """A keep-alive connection; its requests carry the API token unless `token` is None."""
        return await Connection.open(HOST, self.port, token)

    def cpu_seconds(self) -> float | None:
        """User + system CPU the server process has used so far (Linux /proc), or None."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def server_env(directory: Path, port: int, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.upper().startswith(PLATFORMS)},
        "DATABASE_URL": f"sqlite:///{directory / 'server.db'}",
        "SWITCHBOARD_PEOPLE": str(PEOPLE),
        "SWITCHBOARD_API_TOKEN": TOKEN,
        "SWITCHBOARD_PORT": str(port),
        "SWITCHBOARD_HOST": HOST,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        # the server runs in `directory`: `python -m bench.stamped` must still find this package
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **extra,
    }


def switchboard_serve() -> list[str]:
    return [str(Path(sys.executable).with_name("switchboard")), "serve"]


@contextlib.asynccontextmanager
async def running(
    directory: Path,
    command: Sequence[str],
    *,
    stdout_pipe: bool = False,
    start_within: float = 60.0,
    environment: Mapping[str, str] | None = None,
    **env: str,
) -> AsyncIterator[Server]:
    """Start `command` in `directory` (no `.env` there) and wait for /healthz; stop it after.
    Its settings are the bench's, then `environment`'s and `env`'s."""
    port = free_port()
    log = directory / f"server-{port}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=directory,
            env=server_env(directory, port, **{**(environment or {}), **env}),
            stdout=asyncio.subprocess.PIPE if stdout_pipe else out,
            stderr=out,
        )
    server = Server(process, port, log)
    try:
        await _until_healthy(server, start_within)
        yield server
    finally:
        await _stop(process)


async def _until_healthy(server: Server, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        if server.process.returncode is not None:
            raise RuntimeError(f"the server exited:\n{server.log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            connection = await server.connect()
            try:
                if (await connection.request("GET", "/healthz")).status == 200:
                    return
            finally:
                await connection.close()
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start within {within} s")
        await asyncio.sleep(0.1)  # start-up polling, outside every measured span


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown, as Ctrl-C
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()
