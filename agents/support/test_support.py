"""The support agent: its prompt, a clarifying question to the customer, a manager-approved refund."""

from __future__ import annotations

from sqlmodel import select

from agents.support import agent
from agents.support.tables import Refund
from core.humans import Answer, Approve, respond
from core.models.demo import OfflineDemoModel
from core.records import OutboxItem
from core.service import Service
from core.state import Status
from storage import SqlStore
from tests.fixtures import RuntimeFactory, eventually, simulator


def test_the_prompt_renders_and_names_the_tools() -> None:
    prompt = agent.system_prompt
    assert (
        "customer support agent" in prompt
        and "`lookup_order`" in prompt
        and "`issue_refund`" in prompt
    )


async def test_the_demo_asks_for_the_order_then_refunds_after_a_manager_approves(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    runtime = make_runtime(OfflineDemoModel.playing([agent]))
    thread = await runtime.start(
        "support", "my chair arrived broken, I want a refund", requester="dana"
    )
    assert (await runtime.advance(thread)).status is Status.WAITING_HUMAN
    [question] = await store.requests()
    assert question.kind == "question" and question.recipients == ["dana"]  # the customer is asked

    await respond(store, question.id, "dana", Answer("it is order 10002"))
    assert (await runtime.advance(thread)).status is Status.WAITING_HUMAN
    [approval] = await store.requests()
    assert approval.tool == "issue_refund" and approval.arguments is not None
    assert approval.arguments["amount"] == 249.0 and approval.recipients == ["role:support-manager"]

    await respond(store, approval.id, "carol", Approve())
    state = await runtime.advance(thread)
    assert (
        state.status is Status.DONE and "Refunded 249.00 for order 10002" in state.outcome_message
    )
    [refund] = await store.data([]).all(select(Refund))
    assert (refund.order_id, refund.amount) == ("10002", 249.0)


async def test_small_refunds_need_no_approval(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    runtime = make_runtime(OfflineDemoModel.playing([agent]))
    state = await runtime.advance(
        await runtime.start("support", "refund order 10001 please", requester="dana")
    )
    assert state.status is Status.DONE and "Refunded 38.50" in state.outcome_message


async def test_a_customer_outside_the_directory_is_asked_in_a_reply(service: Service) -> None:
    sms = simulator(service, "sms")
    first = await service.inbox.accept(
        sms.simulate(sender="+15550109999", conversation="dm:+15550109999", text="I want a refund")
    )

    async def replied() -> list[OutboxItem]:
        rows = await service.app.store.outbox(channel="sms")
        return [r for r in rows if r.kind == "reply" and r.status == "sent"]

    [question] = await eventually(replied)
    assert "order number" in question.text and question.address == "+15550109999"
    again = await service.inbox.accept(
        sms.simulate(sender="+15550109999", conversation="dm:+15550109999", text="it's 10001")
    )
    assert (again.outcome, again.thread_id) == ("continued", first.thread_id)
