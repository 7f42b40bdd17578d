"""The benchmark agent: `work` (idempotent, ~1 KB of JSON out) and `ship` (gated by an approver)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from core.agent import Agent, ApprovalPolicy
from core.models.scripted import Call
from core.tools import ToolContext, tool

APPROVER_ROLE = "approver"
# Who asks for the work: not the approver, who may not approve what they asked for (four eyes).
REQUESTER = "rob"
ROWS = 18  # rows in a `work` result: about 1 KB of JSON


class WorkArgs(BaseModel):
    item: int


class ShipArgs(BaseModel):
    release: str


@tool(idempotent=True)
async def work(args: WorkArgs, ctx: ToolContext) -> dict[str, object]:
    """Process one item. A pure function of its arguments, so re-running it after a crash is safe."""
    rows = [
        {"id": f"{args.item:05d}-{i:02d}", "name": f"row {i} of item {args.item}", "value": i * 7}
        for i in range(ROWS)
    ]
    return {"item": args.item, "status": "ok", "rows": rows}


@tool()
async def ship(args: ShipArgs, ctx: ToolContext) -> dict[str, object]:
    """Ship a release. Not idempotent, and an approver must agree first."""
    return {"shipped": args.release}


agent = Agent(
    name="bench",
    description="Does K items of work, then ships once an approver agrees.",
    prompt=Path(__file__).with_name("prompt.md.j2"),
    tools=(work, ship),
    approvals={"ship": ApprovalPolicy(approvers=(f"role:{APPROVER_ROLE}",))},
    max_steps=1000,  # above the longest run (200 work steps + ship + reply); no budget
)

SHIP = Call("ship", {"release": "bench-1.0"})
DONE = Call("reply", {"message": "Shipped bench-1.0."})


def work_calls(k: int) -> list[Call]:
    return [Call("work", {"item": i}) for i in range(k)]
