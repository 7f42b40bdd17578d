"""The offline demo model: plays the shipped agents' scenarios, so anyone can try them without a key.

It reads the same rendered context a real model gets, and every reply says what it is.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.context import estimate_tokens
from core.models.base import ModelRequest, ModelResponse

if TYPE_CHECKING:
    from core.agent import Agent

NAME = "offline-demo"
BADGE = "[offline demo model]"

_BLOCK = re.compile(r'<(\w+)((?:\s+\w+="[^"]*")*)>\n(.*?)\n</\1>', re.DOTALL)
_ATTR = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True, slots=True)
class Block:
    tag: str
    attrs: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


def parse_blocks(context: str) -> list[Block]:
    return [
        Block(m[1], {k: html.unescape(v) for k, v in _ATTR.findall(m[2])}, m[3])
        for m in _BLOCK.finditer(context)
    ]


def since_last_message(blocks: list[Block]) -> tuple[Block | None, list[Block]]:
    """The last message from a person, and every block after it."""
    for i in range(len(blocks) - 1, -1, -1):
        if blocks[i].tag == "message":
            return blocks[i], blocks[i + 1 :]
    return None, blocks


def result_of(blocks: list[Block], tool: str) -> Any | None:
    found = [b for b in blocks if b.tag == "result" and b.attrs.get("tool") == tool]
    return found[-1].json() if found else None


def not_approved(blocks: list[Block]) -> str | None:
    """Why the last approval among `blocks` was not given ("Alice rejected it: not today", "no
    one decided in time"), or None when none was refused."""
    refused = [
        b
        for b in blocks
        if b.tag == "approval" and b.attrs.get("decision") in ("rejected", "timed out")
    ]
    if not refused:
        return None
    last = refused[-1]
    if last.attrs["decision"] == "timed out":
        return "no one approved it before the deadline"
    reason = next((line[8:] for line in last.body.splitlines() if line.startswith("Reason: ")), "")
    return f"{last.attrs.get('by', 'the approver')} rejected it" + (
        f" ({reason})" if reason else ""
    )


DemoPolicy = Callable[[list[Block]], tuple[str, dict[str, Any]]]


class OfflineDemoModel:
    name = NAME

    def __init__(self, policies: Mapping[str, DemoPolicy]) -> None:
        self.policies = policies

    @classmethod
    def playing(cls, agents: Iterable[Agent]) -> OfflineDemoModel:
        """The demo model for every agent that ships a demo script."""
        return cls({a.name: a.demo for a in agents if a.demo is not None})

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if request.purpose == "summary":
            text = json.dumps(
                {"summary": f"{BADGE} earlier events, abridged: {request.context[:400]}"}
            )
            return self._response(request, text=text)
        policy = self.policies.get(request.agent)
        if policy is None:
            tool, arguments = "reply", {"message": f"I have no demo script for {request.agent}."}
        else:
            tool, arguments = policy(parse_blocks(request.context))
        if tool == "reply":
            arguments = {**arguments, "message": f"{BADGE} {arguments['message']}"}
        return self._response(request, tool_name=tool, arguments=json.dumps(arguments))

    def _response(self, request: ModelRequest, **kw: Any) -> ModelResponse:
        output = kw.get("arguments") or kw.get("text") or ""
        return ModelResponse(
            model=NAME,
            prompt_tokens=estimate_tokens(request.system) + estimate_tokens(request.context),
            completion_tokens=estimate_tokens(output),
            **kw,
        )
