"""The deploy bot: checks a release, asks the on-call approver before production, deploys, reports;
rolls back with two approvers."""

from pathlib import Path

from agents.deploy.demo import play
from agents.deploy.tools import DeployArgs, check_release, deploy, rollback
from core.agent import Agent, ApprovalPolicy, Budget


def _production(args: DeployArgs) -> bool:
    return args.environment == "production"


agent = Agent(
    name="deploy",
    description="Deploys a release of a service to staging or production.",
    prompt=Path(__file__).with_name("prompt.md.j2"),
    tools=(check_release, deploy, rollback),
    approvals={
        "deploy": ApprovalPolicy(approvers=("role:deploy-approver",), when=_production),
        # Going back is a change too, made in a hurry: two people, neither the one who asks.
        "rollback": ApprovalPolicy(approvers=("role:deploy-approver",), required=2),
    },
    escalate_to="role:oncall",
    budget=Budget(tokens=50_000, cost=1.0),
    demo=play,
)
