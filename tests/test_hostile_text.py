"""Whatever people write reaches the thread: NUL bytes, unpaired surrogates, right-to-left text,
emoji and 100 kB messages go through the inbox on both backends, kept minus what cannot be stored."""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from core.agent import Agent
from core.channels import InboundMessage
from core.context import MAX_MESSAGE_CHARS, render_event
from core.events import MessageReceived
from core.inbox import InboxConfig, route
from core.models.scripted import ScriptedModel, Text
from core.records import Person
from core.text import storable
from storage import SqlStore, open_store
from tests.fixtures import PEOPLE, RuntimeFactory

HOSTILE = [
    "\x00",
    "\ud800",
    "\udfff",
    "\u202e",
    "\u200f",
    "مرحبا",
    "שלום",
    "🙂",
    "👩‍👩‍👧",
    "\r\n",
    "\t",
]
texts = st.lists(st.one_of(st.text(max_size=30), st.sampled_from(HOSTILE)), max_size=12).map(
    "".join
)
numbers = itertools.count()


@pytest.fixture
def inbox_store(database_url: str) -> Iterator[SqlStore]:
    store = open_store(database_url)
    asyncio.run(store.save_people(PEOPLE))
    yield store
    asyncio.run(store.close())


def _receive(store: SqlStore, config: InboxConfig, text: str) -> tuple[str, MessageReceived | None]:
    async def go() -> tuple[str, MessageReceived | None]:
        n = next(numbers)
        message = InboundMessage(
            channel="slack", external_id=f"Ev{n}", sender="U0BOB", conversation=f"C{n}", text=text
        )
        received = await store.receive(message, functools.partial(route, config))
        if received.thread_id is None:
            return received.outcome, None
        first = (await store.events(received.thread_id))[0].event
        assert isinstance(first, MessageReceived)
        return received.outcome, first

    return asyncio.run(go())


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=texts)
@example(text="hi \ud800")
@example(text="a\x00b")
@example(text="\x00")
@example(text="🙂" * 25_000 + "\x00")  # 100 kB
def test_any_text_is_stored_as_written_minus_what_cannot_be_stored(
    inbox_store: SqlStore, shipped_agents: dict[str, Agent], text: str
) -> None:
    config = InboxConfig(shipped_agents, {"slack": "deploy"})
    outcome, stored = _receive(inbox_store, config, text)
    kept, altered = storable(text)
    if not kept.strip():
        assert outcome == "refused"  # "an empty message": answered, nothing stored on a thread
        return
    assert outcome == "started"
    assert stored is not None
    assert (stored.text, stored.altered) == (kept, altered)


def test_names_with_control_characters_are_refused_not_stored() -> None:
    for sender in ("U0\x00BOB", "U0BOB\ud800", "U0\x85"):
        with pytest.raises(ValidationError, match="sender"):
            InboundMessage(channel="slack", external_id="Ev1", sender=sender, conversation="C1")
    with pytest.raises(ValidationError, match="identities"):  # a people file or the API alike
        Person(id="mallory", name="Mallory", identities={"slack": "U0\x00MAL"})


def test_a_huge_message_reaches_the_model_cut_short_and_says_so() -> None:
    event = MessageReceived(text="x" * 1_000_000, sender="bob")
    block = render_event(event)
    assert len(block) < MAX_MESSAGE_CHARS + 200
    assert "992,000 more characters not shown" in block
    assert len(event.text) == 1_000_000  # the thread keeps it whole


async def test_a_models_output_is_stored_under_the_same_rule(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    """NUL escapes and unpaired surrogates in a model's JSON or text cannot stop a thread."""
    model = ScriptedModel(
        [
            Text("no JSON here \x00 \ud800"),
            Text('{"tool": "reply", "arguments": {"message": "done\\u0000 \\ud800"}}'),
        ]
    )
    runtime = make_runtime(model)
    thread = await runtime.advance(await runtime.start("deploy", "status?", requester="bob"))
    assert thread.status == "done"
    assert thread.outcome_message == "done \ufffd"
    [outbox] = await store.outbox()
    assert outbox.text == "done \ufffd"
