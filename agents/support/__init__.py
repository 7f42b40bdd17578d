"""The support agent: looks up orders, asks the customer when unsure, refunds with a manager's approval."""

from pathlib import Path

from agents.support.demo import play
from agents.support.tools import RefundArgs, issue_refund, lookup_order
from core.agent import Agent, ApprovalPolicy, Budget

REFUND_APPROVAL_ABOVE = 100.0


def _large(args: RefundArgs) -> bool:
    return args.amount > REFUND_APPROVAL_ABOVE


agent = Agent(
    name="support",
    description="Answers customers about their orders and issues refunds.",
    prompt=Path(__file__).with_name("prompt.md.j2"),
    tools=(lookup_order, issue_refund),
    approvals={"issue_refund": ApprovalPolicy(approvers=("role:support-manager",), when=_large)},
    escalate_to="role:support-manager",
    budget=Budget(tokens=50_000, cost=1.0),
    public=True,
    demo=play,
)
