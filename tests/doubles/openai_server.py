"""A loopback OpenAI-compatible chat-completions server that plays a script of replies.

It speaks the real (non-streaming) wire format of `POST /v1/chat/completions`, so a client under
test goes through its whole HTTP path: request encoding, status handling, headers, JSON decoding.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, assert_never

PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})


@dataclass(frozen=True, slots=True)
class ToolCallReply:
    """The assistant calls one tool; `arguments` is sent verbatim as the JSON text."""

    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class TextReply:
    content: str


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """An HTTP error with a body in OpenAI's `{"error": {...}}` shape."""

    status: int
    message: str = "scripted error"
    error_type: str = "server_error"
    code: str | None = None
    retry_after: str | None = None


Reply = ToolCallReply | TextReply | ErrorReply


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as received; header names are lower-cased."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass(slots=True)
class _Script:
    replies: deque[Reply] = field(default_factory=deque)
    received: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, request: RecordedRequest) -> Reply:
        with self.lock:
            self.received.append(request)
            if not self.replies:
                return ErrorReply(500, "the OpenAI double's script ran out")
            return self.replies.popleft()


class OpenAIServer:
    """Serves on 127.0.0.1 (ephemeral port) from a background thread while the context is open."""

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        *,
        prompt_tokens: int = 42,
        completion_tokens: int = 7,
    ) -> None:
        self._script = _Script(deque(replies))
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        """The base URL an OpenAI client takes as `base_url` / litellm as `api_base`."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._script.lock:
            return list(self._script.received)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [request.body for request in self.requests]

    def reply(self, *replies: Reply) -> None:
        with self._script.lock:
            self._script.replies.extend(replies)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> OpenAIServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def respond(self, request: RecordedRequest) -> tuple[int, dict[str, str], dict[str, Any]]:
        """The status, extra headers and JSON body for one received request."""
        reply = self._script.take(request)
        match reply:
            case ErrorReply(status, message, error_type, code, retry_after):
                headers = {} if retry_after is None else {"Retry-After": retry_after}
                error = {"message": message, "type": error_type, "param": None, "code": code}
                return status, headers, {"error": error}
            case ToolCallReply(name, arguments):
                call = {
                    "id": f"call_{next(self._ids)}",
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
                assistant = {"role": "assistant", "content": None, "tool_calls": [call]}
                return 200, {}, self._completion(request, assistant, "tool_calls")
            case TextReply(content):
                assistant = {"role": "assistant", "content": content}
                return 200, {}, self._completion(request, assistant, "stop")
            case _:
                assert_never(reply)

    def _completion(
        self, request: RecordedRequest, message: dict[str, Any], finish_reason: str
    ) -> dict[str, Any]:
        message = {"refusal": None, "annotations": [], **message}
        return {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.body.get("model", "unknown"),
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
            ],
            "usage": {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens,
            },
            "service_tier": "default",
            "system_fingerprint": "fp_double",
        }


def _handler_for(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if path not in PATHS:
                self._send(404, {}, {"error": {"message": f"no route {path}", "type": "invalid"}})
                return
            try:
                body = json.loads(raw)
            except json.JSONDecodeError as e:
                self._send(400, {}, {"error": {"message": f"bad JSON: {e}", "type": "invalid"}})
                return
            headers = {name.lower(): value for name, value in self.headers.items()}
            recorded = RecordedRequest(path, headers, body)
            self._send(*server.respond(recorded))

        def _send(self, status: int, headers: dict[str, str], payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            # One request per connection, so no handler thread outlives `stop()` in a read.
            self.send_header("Connection", "close")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the recorded requests are the log."""

    return Handler
