"""`switchboard serve` and `switchboard worker`: the service in one process, with or without HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import socket
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from core.check import require_model
from core.errors import Misconfigured
from core.service import Service, open_service
from core.settings import Settings, mask_url

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger("switchboard.serve")


async def serve(settings: Settings, console: Console) -> None:
    await require_model(settings)  # a model without its key stops here, before the database
    async with open_service(settings, migrate=True) as service:
        await service.check_channels()
        service.warn_sandboxes()
        listening = bind(settings.switchboard_host, settings.switchboard_port)
        server = http_server(service)
        # What start-up built lives as long as the process: keep the collector from walking it
        # again on every full collection (measured: pauses of 50-350 ms down to about 3 ms).
        gc.collect()
        gc.freeze()
        background = asyncio.create_task(service.run())
        try:
            banner(service, settings, console)
            await server.serve(sockets=[listening])
        finally:
            background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await background


def http_server(service: Service) -> uvicorn.Server:
    import uvicorn

    from core.web.app import create_app

    # log_config=None: uvicorn's records go to our root handler, which redacts them, instead of
    # handlers of its own that print tracebacks (and the SQL parameters in them) as they are.
    config = uvicorn.Config(
        create_app(service), log_level="warning", access_log=False, lifespan="off", log_config=None
    )
    return uvicorn.Server(config)


def bind(host: str, port: int) -> socket.socket:
    """Listen before announcing the URL: a port in use is a clear error, not a dead link."""
    listening = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as e:
        listening.close()
        fix = (
            "set SWITCHBOARD_PORT (or --port) to a free port, or stop what uses it"
            if e.errno == errno.EADDRINUSE
            else "set SWITCHBOARD_HOST (or --host) to an address of this machine"
        )
        raise Misconfigured(f"cannot listen on {host}:{port}: {e.strerror}; {fix}") from None
    listening.listen(2048)
    return listening


async def work(settings: Settings, console: Console) -> None:
    await require_model(settings)
    async with open_service(settings) as service:
        await service.check_channels()
        service.warn_sandboxes()
        console.print(
            f"Switchboard worker {service.app.runtime.owner}: workers, outbox and timers on"
            f" {escape(mask_url(settings.database_url))}",
            soft_wrap=True,
        )
        await service.run()


def banner(service: Service, settings: Settings, console: Console) -> None:
    base = f"http://{settings.switchboard_host}:{settings.switchboard_port}"
    model = settings.switchboard_model or "the offline demo model (set SWITCHBOARD_MODEL)"
    sandboxed = [name for name, c in service.channels.items() if c.sandbox]
    # soft_wrap: the URLs stay whole on one line, however narrow the terminal (or none: a log).
    database = escape(mask_url(settings.database_url))
    console.print(f"[bold]Switchboard[/] on {base}  ·  database {database}", soft_wrap=True)
    console.print(f"  model: {model}")
    if sandboxed:
        console.print(f"  sandbox mode (no credentials): {', '.join(sandboxed)}")
    if settings.switchboard_api_token is None:
        console.print(
            f"  API token: {service.api_token}"
            + ("  (new, kept in the database)" if service.token_generated else "")
        )
        console.print(
            f"[bold]Open the console:[/] {base}/login?token={service.api_token}", soft_wrap=True
        )
    else:
        console.print(f"[bold]Open the console:[/] {base}/  (sign in with SWITCHBOARD_API_TOKEN)")
