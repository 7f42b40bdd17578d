"""The requester is never left in the dark: told who was asked and until when, told when a
person is asked to help, told when the thread is cancelled; the on-call question says what
went wrong and the likely fix."""

from __future__ import annotations

from core.channels import InboundMessage
from core.humans import cancel
from core.models.base import ModelRequest, ModelResponse, ProviderError
from core.models.scripted import Call, ScriptedModel
from core.records import OutboxItem
from core.service import Service
from core.state import Status
from core.wording import action, names
from storage import SqlStore
from tests.fixtures import PEOPLE, RuntimeFactory, eventually, simulator
from tests.test_timers import T0

CHECK = Call("check_release", {"service": "api", "version": "2.4.1"})
DEPLOY_PROD = Call("deploy", {"service": "api", "version": "2.4.1", "environment": "production"})


async def notices(store: SqlStore) -> list[OutboxItem]:
    return [r for r in await store.outbox(status=None) if r.kind == "notice"]


async def test_the_requester_hears_who_was_asked_and_until_when(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    runtime = make_runtime(ScriptedModel([CHECK, DEPLOY_PROD]), clock=lambda: T0)
    thread = await runtime.start("deploy", "deploy api 2.4.1 to production", requester="bob")
    assert (await runtime.advance(thread)).status is Status.WAITING_HUMAN
    [request] = await store.requests()
    assert request.question == (
        "Approve deploy api 2.4.1 to production for Bob?"
    )  # the tool's summary, filled in: no Python repr
    [told] = await notices(store)
    assert told.text == (
        "I have asked Alice or Erin on Discord to approve deploy api 2.4.1 to production. If no"
        " one decides by 09:00 UTC on 08 Jan, it is not done. You will hear here."
    )
    await cancel(store, thread, by="operator", reason="wrong window")
    assert [n.text for n in await notices(store)][
        -1
    ] == "This was cancelled by operator: wrong window."


class RefusedKey:
    """A provider that refuses the key, as litellm words it."""

    name = "openai/gpt-4o-mini"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        raise ProviderError(
            "openai/gpt-4o-mini: litellm.AuthenticationError: OpenAIException - Incorrect API"
            " key provided: sk-***",
            status=401,
        )


async def test_a_failing_model_asks_on_call_in_plain_words_and_tells_the_requester(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    runtime = make_runtime(RefusedKey())
    thread = await runtime.start("deploy", "deploy api 2.4.1 to production", requester="bob")
    assert (await runtime.advance(thread)).status is Status.WAITING_HUMAN
    [help_wanted] = await store.requests()
    assert help_wanted.recipients == ["role:oncall"]
    assert help_wanted.question == (
        "deploy is stuck: 3 attempts in a row failed, and the model provider refused the"
        " credentials: set SWITCHBOARD_LLM_API_KEY to a valid key. Fix it, then answer"
        ' "retry"; or answer how it should proceed.'
    )
    [told] = await notices(store)
    assert told.text == (
        "Something went wrong on my side, so I have asked Alice to help. You will hear here"
        " when it moves on."
    )
    events = [e.event for e in await store.events(thread)]
    assert any("Incorrect API key" in getattr(e, "error", "") for e in events)  # kept raw


async def test_the_notice_reaches_bobs_own_slack_conversation(service: Service) -> None:
    slack = simulator(service, "slack")
    asked: InboundMessage = slack.simulate(
        sender="U0BOB", conversation="C1:9", text="deploy api 2.4.1 to production"
    )
    await service.inbox.accept(asked)

    async def sent() -> list[OutboxItem]:
        rows = await service.app.store.outbox(channel="slack", status="sent")
        return [r for r in rows if r.kind == "notice"]

    [notice] = await eventually(sent)
    assert (notice.address, notice.conversation) == ("U0BOB", "C1:9")
    assert notice.text.startswith("I have asked Alice or Erin on Discord to approve deploy api")


def test_who_is_asked_where_and_for_what_in_words() -> None:
    assert names(PEOPLE, ["role:deploy-approver"], "bob", where=True) == "Alice or Erin on Discord"
    assert names(PEOPLE, ["alice", "bob"], None, where=True) == "Alice on Discord or Bob on Slack"
    assert names(PEOPLE, ["role:nobody-has-it"], "bob", where=True) == "role:nobody-has-it"
    assert names(PEOPLE, ["erin", "role:oncall"], "bob") == "Erin or Alice"
    rollback = "roll {service} in {environment} back to {to_version}"
    asked = {"service": "api", "environment": "production", "to_version": "2.4.0"}
    assert action("rollback", rollback, asked) == "roll api in production back to 2.4.0"
    # A summary naming an argument the call lacks falls back to every argument, as words.
    assert action("rollback", rollback, {"service": "api"}) == "rollback (service api)"
    assert action("tag", "", {"labels": ["a", "ü"]}) == 'tag (labels ["a", "ü"])'
