"""An MCP server that lets any MCP client (a coding assistant, an IDE agent) ask people through
Switchboard: the tools `ask_human`, `request_approval` and `list_people`, over stdio, or over
streamable HTTP at http://HOST:PORT/mcp with `--port`. It is a caller of a running Switchboard's
REST API, with a caller's key (SWITCHBOARD_URL, SWITCHBOARD_KEY). Needs the `mcp` extra:
`pip install 'switchboard-client[mcp]'`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from switchboard_client.client import AsyncSwitchboard, key_of
from switchboard_client.errors import SwitchboardError
from switchboard_client.models import Decision

T = TypeVar("T")
# Seconds between progress notes while a person decides: a client that hears nothing may give up.
PROGRESS_EVERY = 15.0
DEFAULT_WAIT = 600.0  # seconds a tool call waits for a person, unless the model asks for another


def server(url: str | None = None, key: str | None = None) -> MCPServer[Any]:
    """The MCP server, each tool call a call to Switchboard at `url` with `key`."""
    key = key_of(key)  # a missing key is said at start, not at the first tool call
    mcp: MCPServer[Any] = MCPServer(
        "switchboard",
        instructions=(
            "Ask people for answers and approvals through Switchboard: they are asked on their"
            " preferred channel (Slack, Discord, SMS, email), and the tool returns their answer."
            " Use list_people to find whom to ask; ask before any action a person should approve."
        ),
    )

    @mcp.tool()
    async def list_people(ctx: Context) -> list[dict[str, Any]]:
        """The people you may ask: their id (for `to`), name, roles (ask a role as `role:NAME`)
        and the channels they are reached on."""
        async with AsyncSwitchboard(url, key) as board:
            return [p.model_dump() for p in await _waiting(ctx, board.people())]

    @mcp.tool()
    async def ask_human(
        question: str,
        to: list[str],
        ctx: Context,
        options: list[str] | None = None,
        context: str = "",
        wait_seconds: float = DEFAULT_WAIT,
    ) -> dict[str, Any]:
        """Ask people a question and wait for the answer. `to`: person ids or `role:NAME`; with
        `options`, they choose one. Returns the answer and who gave it, or status "timed_out"
        if no one answered within `wait_seconds`."""
        async with AsyncSwitchboard(url, key) as board:
            asking = board.ask_human(
                question, to=to, options=options or (), context=context, timeout=wait_seconds
            )
            return _said(await _waiting(ctx, asking))

    @mcp.tool()
    async def request_approval(
        action: str,
        arguments: dict[str, Any],
        to: list[str],
        ctx: Context,
        question: str | None = None,
        context: str = "",
        wait_seconds: float = DEFAULT_WAIT,
    ) -> dict[str, Any]:
        """Ask people to approve exactly `action` with `arguments` before you do it, and wait.
        Do the action only if `approved` is true, and only with these arguments. `to`: person
        ids or `role:NAME`. Not decided within `wait_seconds`, it is denied."""
        async with AsyncSwitchboard(url, key) as board:
            asking = board.request_approval(
                action, arguments, to=to, question=question, context=context, timeout=wait_seconds
            )
            return _said(await _waiting(ctx, asking))

    return mcp


async def _waiting(ctx: Context, work: Awaitable[T]) -> T:
    """`work` to its end, with a progress note now and then (a client that sees none may give
    up on a call that waits for a person); Switchboard's refusals as the tool's error."""
    async with _progress(ctx):
        try:
            return await work
        except SwitchboardError as e:
            raise ToolError(str(e)) from None  # the tool call's error, for the model to read


@contextlib.asynccontextmanager
async def _progress(ctx: Context) -> AsyncIterator[None]:
    async def note() -> None:
        waited = 0.0
        while True:
            await asyncio.sleep(PROGRESS_EVERY)
            waited += PROGRESS_EVERY
            with contextlib.suppress(Exception):  # a client that takes no progress notes
                await ctx.report_progress(waited, message="waiting for a person")

    task = asyncio.create_task(note())
    try:
        yield
    finally:
        task.cancel()


def _said(decision: Decision) -> dict[str, Any]:
    """What the model reads: the outcome first, then the record."""
    return {
        "status": decision.status,
        "approved": decision.approved if decision.kind == "approval" else None,
        "answer": decision.answer,
        "decided_by": decision.decided_by,
        "decided_via": decision.decided_via,
        "decided_at": decision.decided_at.isoformat() if decision.decided_at else None,
        "request_id": decision.id,
        "arguments": decision.arguments,
    }


def run(
    url: str | None = None, key: str | None = None, *, host: str = "127.0.0.1", port: int | None
) -> None:
    """Serve over stdio, or over streamable HTTP on `host`:`port`."""
    mcp = server(url, key)
    if port is None:
        mcp.run("stdio")
    else:
        mcp.run("streamable-http", host=host, port=port)


def main() -> None:
    parser = argparse.ArgumentParser(prog="switchboard-mcp", description=__doc__)
    parser.add_argument("--url", help="Switchboard's address (SWITCHBOARD_URL)")
    parser.add_argument("--key", help="a caller's key (SWITCHBOARD_KEY)")
    parser.add_argument("--host", default="127.0.0.1", help="with --port: the address to bind")
    parser.add_argument("--port", type=int, help="serve streamable HTTP on this port, not stdio")
    options = parser.parse_args()
    try:
        run(options.url, options.key, host=options.host, port=options.port)
    except ValueError as e:
        parser.exit(1, f"switchboard-mcp: {e}\n")
