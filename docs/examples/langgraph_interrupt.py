# /// script
# requires-python = ">=3.11"
# dependencies = ["langgraph>=1.2", "switchboard-client"]
#
# [tool.uv.sources]
# switchboard-client = { path = "../../client", editable = true }
# ///
"""A LangGraph graph that stops for a person's approval and goes on with their decision.

The graph refunds a customer. Its `approve` node calls LangGraph's `interrupt()` with what to
ask. The graph stops there, and the checkpointer keeps its state. The driver, `refund()`, asks
through Switchboard: the approver gets the request on Slack, Discord, SMS or email. The driver
waits for the decision and resumes the graph with `Command(resume=...)`. No model is needed.

    export SWITCHBOARD_URL=http://127.0.0.1:8000 SWITCHBOARD_KEY=sbk_...
    uv run docs/examples/langgraph_interrupt.py --customer cus_123 --amount 40
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from switchboard_client import AsyncSwitchboard


class Refund(TypedDict, total=False):
    customer: str
    amount: int
    approver: str  # whom to ask: a person id or role:NAME
    decision: dict[str, Any]  # what the driver resumed the graph with
    outcome: str


def approve(state: Refund) -> Refund:
    """Stop until a person decides. On resume this node runs again from its start, and
    `interrupt()` returns the decision: nothing before it may have side effects."""
    decision = interrupt(
        {
            "action": "refund",
            "arguments": {"customer": state["customer"], "amount": state["amount"]},
            "question": f"Refund {state['amount']} EUR to {state['customer']}?",
            "to": state["approver"],
        }
    )
    return {"decision": decision}


def pay(state: Refund) -> Refund:
    # A real graph calls the payment provider here.
    said = state["decision"]["said"]
    return {"outcome": f"refunded {state['amount']} EUR to {state['customer']}: {said}"}


def decline(state: Refund) -> Refund:
    return {"outcome": f"no refund for {state['customer']}: {state['decision']['said']}"}


def approved(state: Refund) -> str:
    return "pay" if state["decision"]["approved"] else "decline"


def refunds() -> Any:
    """The graph, compiled with a checkpointer: an interrupt needs one to resume from."""
    graph = StateGraph(Refund)
    graph.add_node(approve)
    graph.add_node(pay)
    graph.add_node(decline)
    graph.add_edge(START, "approve")
    graph.add_conditional_edges("approve", approved, ["pay", "decline"])
    graph.add_edge("pay", END)
    graph.add_edge("decline", END)
    return graph.compile(checkpointer=InMemorySaver())


async def refund(customer: str, amount: int, *, to: str, board: AsyncSwitchboard) -> str:
    """Run the graph to its end. At each interrupt, ask Switchboard for the approval the
    interrupt describes, wait for the decision, and resume the graph with it."""
    graph = refunds()
    thread = {"configurable": {"thread_id": f"refund-{customer}"}}
    state = await graph.ainvoke({"customer": customer, "amount": amount, "approver": to}, thread)
    while interrupts := state.get("__interrupt__"):
        asked = interrupts[0].value
        decision = await board.request_approval(
            asked["action"], asked["arguments"], to=asked["to"], question=asked["question"]
        )
        said = {"approved": decision.approved, "said": decision.describe()}
        state = await graph.ainvoke(Command(resume=said), thread)
    outcome: str = state["outcome"]
    return outcome


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customer", default="cus_123")
    parser.add_argument("--amount", type=int, default=40)
    parser.add_argument("--to", default="role:support-manager", help="a person id or role:NAME")
    options = parser.parse_args()
    async with AsyncSwitchboard() as board:  # SWITCHBOARD_URL, SWITCHBOARD_KEY
        print(await refund(options.customer, options.amount, to=options.to, board=board))


if __name__ == "__main__":
    asyncio.run(main())
