"""A bare HTTP/1.1 keep-alive client on asyncio streams: the load generator of the server benches.

Why not httpx: the client shares the machine's cores with the server it measures. Loading the
inbound bench over 64 connections, httpx's AsyncClient took 7.6 ms of the bench's CPU per request
and the server reached 119 messages/s; this client takes 0.06-0.09 ms, and the server 384/s.
One request at a time per connection; the response is read by its Content-Length, which is all
uvicorn sends for the JSON API and the webhooks. `post` sends a body as it is, with its own
headers (a platform's signed webhook, which carries no bearer token).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        host: str,
        token: str | None,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.fixed = f"Host: {host}\r\n" + (
            f"Authorization: Bearer {token}\r\n" if token is not None else ""
        )

    @classmethod
    async def open(cls, host: str, port: int, token: str | None) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, f"{host}:{port}", token)

    async def request(self, method: str, path: str, payload: Any = None) -> Reply:
        body = b"" if payload is None else json.dumps(payload).encode()
        head = f"{method} {path} HTTP/1.1\r\n{self.fixed}Content-Length: {len(body)}\r\n"
        if body:
            head += "Content-Type: application/json\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        return await self._response()

    async def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        """POST `body` as it is, with `headers` (Content-Type among them)."""
        head = f"POST {path} HTTP/1.1\r\n{self.fixed}Content-Length: {len(body)}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.writer.write(head.encode() + b"\r\n" + body)
        return await self._response()

    async def _response(self) -> Reply:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, _, headers = head.decode("latin-1").partition("\r\n")
        length = None
        for line in headers.split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if length is None:
            raise RuntimeError(f"no Content-Length in the response: {status_line}")
        return Reply(int(status_line.split(" ", 2)[1]), await self.reader.readexactly(length))

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):  # the server may have closed it first
            await self.writer.wait_closed()
