"""Discord as people use it, through the whole service and the real discord.py client on a
loopback Discord: a DM conversation that survives a dropped socket, a mention in a server channel,
buttons clicked after a restart, clicks by the wrong person or too late (each told, privately,
and nothing changed), and a person who takes no DMs asked on their next channel."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.events import ToolCalled
from core.humans import Approve, respond
from core.records import Person
from core.service import Service
from tests.doubles import discord as dd
from tests.doubles.discord import DiscordDouble
from tests.fixtures import eventually, running, service_settings, simulator

ALICE, BOB, DANA = "1300000000000000001", "1300000000000000002", "1300000000000000004"
GUILD, GENERAL, RANDOM = "1400000000000000001", "1400000000000000010", "1400000000000000011"
RELEASES = "1400000000000000012"  # a thread in #general
DEPLOY = "deploy api 2.4.1 to production"
PEOPLE = [
    Person(
        id="alice",
        name="Alice Example",
        roles=["deploy-approver"],
        channels=["discord", "slack"],
        identities={"discord": ALICE, "slack": "U0ALICE"},
    ),
    Person(
        id="bob", name="Bob", channels=["discord"], identities={"discord": BOB, "slack": "U0BOB"}
    ),
    Person(id="dana", name="Dana", channels=["discord"], identities={"discord": DANA}),
]


@contextlib.asynccontextmanager
async def loopback_discord() -> AsyncIterator[DiscordDouble]:
    users = {ALICE: "alice", BOB: "bob", DANA: "dana"}
    channels = {GENERAL: "general", RANDOM: "random"}
    server = dd.guild(GUILD, "ops", channels, threads={RELEASES: (GENERAL, "releases")})
    async with DiscordDouble(users=users, guilds=[server]) as discord_api:
        yield discord_api


@contextlib.asynccontextmanager
async def switchboard(
    database_url: str, discord_api: DiscordDouble, *, sessions: int = 1
) -> AsyncIterator[Service]:
    """The service with Discord real, its gateway session (the `sessions`th) ready."""
    settings = service_settings(
        database_url,
        discord_bot_token=dd.TOKEN,
        discord_api_url=discord_api.api_url,
        discord_gateway_url=discord_api.gateway_url,
    )
    async with running(settings, people=PEOPLE) as service:
        await service.check_channels()
        await discord_api.connected(identifies=sessions)
        yield service


async def request_in_dm(discord_api: DiscordDouble, user_id: str) -> dd.PostedMessage:
    """The request with buttons posted in `user_id`'s DM."""

    async def posted() -> list[dd.PostedMessage]:
        dm = discord_api.dm_channels.get(user_id)
        return [m for m in discord_api.messages_in(dm) if m.components] if dm else []

    [request] = await eventually(posted)
    return request


def button(request: dd.PostedMessage, label: str) -> str:
    return next(
        c["custom_id"]
        for row in request.components
        for c in row["components"]
        if c.get("label") == label
    )


def settled(request: dd.PostedMessage, outcome: str) -> bool:
    """The copy says who decided, where, above the request as asked, its buttons disabled."""
    buttons = [c for row in request.components for c in row["components"]]
    return (
        request.content.startswith(outcome)
        and [c["label"] for c in buttons] == ["Approve", "Reject"]
        and all(c.get("disabled") for c in buttons)
        and request.data["embeds"][0]["title"] == outcome.split()[0]  # "Approved", "Rejected"
        and request.data["embeds"][0]["description"].startswith("Approve deploy")
    )


async def thread_done(service: Service) -> None:
    [thread] = await service.app.store.threads()

    async def done() -> bool:
        found = await service.app.store.thread(thread.id)
        return found is not None and found.status == "done"

    await eventually(done)


async def private_answers(discord_api: DiscordDouble, n: int) -> list[dd.WebhookCall]:
    async def told() -> list[dd.WebhookCall]:
        return discord_api.followups if len(discord_api.followups) >= n else []

    return await eventually(told)


async def test_a_dm_conversation_goes_on_across_a_dropped_socket(database_url: str) -> None:
    """Bob asks in his DM; Alice's click is sent while the gateway is down, replayed on resume,
    decided once; Bob is answered in his DM and Alice's copy says who decided."""
    async with loopback_discord() as discord_api, switchboard(database_url, discord_api) as service:
        bob_dm = discord_api.dm_channel(BOB)
        await discord_api.dispatch("MESSAGE_CREATE", dd.message_create(BOB, bob_dm, DEPLOY))
        request = await request_in_dm(discord_api, ALICE)

        await discord_api.drop(code=None)  # the socket dies without a word
        click = dd.component_click(ALICE, request.data, button(request, "Approve"))
        await discord_api.dispatch("INTERACTION_CREATE", click)
        await discord_api.connected(resumes=1)

        async def edited() -> bool:
            return settled(request, "Approved by Alice Example via discord")

        await eventually(edited)
        await thread_done(service)
        answered = [m for m in await service.app.store.inbox() if m.outcome == "answered"]
        assert len(answered) == 1 and answered[0].sender == ALICE

        async def replied() -> list[dd.PostedMessage]:
            return discord_api.messages_in(bob_dm)

        assert not any(m.components for m in await eventually(replied))
        assert [r.interaction_id for r in discord_api.interaction_responses] == [click["id"]]
        assert discord_api.identifies == 1


async def test_after_a_reconnect_and_an_invalid_session_a_dm_is_answered_once(
    database_url: str,
) -> None:
    """Discord asks for a reconnect (op 7): the session is resumed, and what came before is not
    answered again. Later it forgets the session: the RESUME is refused (INVALID_SESSION) and a
    fresh IDENTIFY follows. After each, Bob's DM is answered, once."""
    async with loopback_discord() as discord_api, switchboard(database_url, discord_api) as service:
        bob_dm = discord_api.dm_channel(BOB)

        async def says(text: str, answers: int) -> list[str]:
            await discord_api.dispatch("MESSAGE_CREATE", dd.message_create(BOB, bob_dm, text))

            async def said() -> list[str]:
                found = [m.content or "" for m in discord_api.messages_in(bob_dm)]
                return found if len(found) == answers else []

            return await eventually(said)

        await says("hello", 1)
        await discord_api.reconnect()
        await discord_api.connected(resumes=1)
        await says("still there?", 2)

        await discord_api.invalidate_session()  # discord.py waits 5 s before identifying again
        await discord_api.connected(identifies=2, resumes=2, within=20)
        for answer in await says("and now?", 3):
            assert answer.endswith('I deploy releases. Try: "deploy api 2.4.1 to production".')
        rows = await service.app.store.inbox(conversation=bob_dm)
        assert [(r.text, r.outcome) for r in rows] == [
            ("hello", "started"),
            ("still there?", "continued"),
            ("and now?", "continued"),
        ]
        assert (discord_api.identifies, discord_api.resumes) == (2, 2)


async def test_a_mention_in_a_server_channel_is_answered_there(database_url: str) -> None:
    """Bob mentions the bot in #general: the agent's conversation is #general. Dana's words in
    #general without a mention join it; chatter in #random, where the agent is not, is not kept."""
    async with loopback_discord() as discord_api, switchboard(database_url, discord_api) as service:
        await discord_api.dispatch(
            "MESSAGE_CREATE", dd.message_create(DANA, RANDOM, "lunch?", guild_id=GUILD)
        )
        mention = f"<@{dd.BOT_USER_ID}> {DEPLOY}"
        asked = dd.message_create(BOB, GENERAL, mention, guild_id=GUILD, mentions=[dd.BOT_USER_ID])
        await discord_api.dispatch("MESSAGE_CREATE", asked)
        request = await request_in_dm(discord_api, ALICE)
        await discord_api.dispatch(
            "MESSAGE_CREATE", dd.message_create(DANA, GENERAL, "it's freeze week", guild_id=GUILD)
        )

        async def both_in() -> list[Any]:
            rows = await service.app.store.inbox(channel="discord")
            return rows if len(rows) == 2 else []

        started, joined = sorted(await eventually(both_in), key=lambda r: r.id)
        assert (started.conversation, started.outcome, started.text) == (
            GENERAL,
            "started",
            DEPLOY,
        )
        assert (joined.conversation, joined.outcome) == (GENERAL, "continued")
        assert joined.thread_id == started.thread_id

        click = dd.component_click(ALICE, request.data, button(request, "Approve"))
        await discord_api.dispatch("INTERACTION_CREATE", click)
        await thread_done(service)

        async def answered() -> list[dd.PostedMessage]:
            return discord_api.messages_in(GENERAL)

        said = await eventually(answered)  # the agent's answer, in #general
        assert not any(m.components for m in said)
        assert discord_api.messages_in(RANDOM) == []


async def test_a_mention_in_a_thread_is_answered_in_that_thread(database_url: str) -> None:
    """A thread is a channel of its own: Bob's mention in a thread of #general starts the
    conversation there and is answered there; Dana's words in it without a mention go on with
    it; chatter in #general itself is not kept."""
    async with loopback_discord() as discord_api, switchboard(database_url, discord_api) as service:
        await discord_api.dispatch(
            "MESSAGE_CREATE", dd.message_create(DANA, GENERAL, "lunch?", guild_id=GUILD)
        )
        mention = f"<@{dd.BOT_USER_ID}> {DEPLOY}"
        asked = dd.message_create(BOB, RELEASES, mention, guild_id=GUILD, mentions=[dd.BOT_USER_ID])
        await discord_api.dispatch("MESSAGE_CREATE", asked)
        request = await request_in_dm(discord_api, ALICE)
        click = dd.component_click(ALICE, request.data, button(request, "Approve"))
        await discord_api.dispatch("INTERACTION_CREATE", click)

        async def said_in_thread(n: int) -> list[str]:
            async def said() -> list[str]:
                found = [m.content or "" for m in discord_api.messages_in(RELEASES)]
                return found if len(found) == n else []

            return await eventually(said)

        _asked_alice, deployed = await said_in_thread(2)
        assert deployed.endswith("Deployed api 2.4.1 to production.")

        await discord_api.dispatch(
            "MESSAGE_CREATE", dd.message_create(DANA, RELEASES, "and web?", guild_id=GUILD)
        )
        *_, answer = await said_in_thread(3)
        assert answer.endswith('I deploy releases. Try: "deploy api 2.4.1 to production".')
        started, joined = await service.app.store.inbox(conversation=RELEASES)
        assert (started.outcome, joined.outcome) == ("started", "continued")
        assert joined.thread_id == started.thread_id
        assert await service.app.store.inbox(conversation=GENERAL) == []
        assert discord_api.messages_in(GENERAL) == []


async def test_a_reject_click_asks_why_and_the_dialog_rejects_with_the_reason(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Alice's Reject opens the dialog and decides nothing; its submission rejects Bob's deploy
    with her reason: her copy says so, the deploy never runs, Bob is told why, and nothing in
    it is logged as a warning (the dialog went back as the click's answer: nothing is owed)."""
    async with loopback_discord() as discord_api, switchboard(database_url, discord_api) as service:
        bob_dm = discord_api.dm_channel(BOB)
        await discord_api.dispatch("MESSAGE_CREATE", dd.message_create(BOB, bob_dm, DEPLOY))
        request = await request_in_dm(discord_api, ALICE)
        click = dd.component_click(ALICE, request.data, button(request, "Reject"))
        await discord_api.dispatch("INTERACTION_CREATE", click)

        async def dialog() -> list[dd.InteractionResponse]:
            return discord_api.interaction_responses

        [opened] = await eventually(dialog)
        assert (opened.interaction_id, opened.type) == (click["id"], 9)  # the dialog
        assert opened.data is not None and opened.data["title"] == "Reject"
        [asked] = await service.app.store.requests(status="open")  # the click decided nothing

        reason = {"reason": "freeze week"}
        why = dd.modal_submit(
            ALICE, request.channel_id, opened.data["custom_id"], reason, message=request.data
        )
        await discord_api.dispatch("INTERACTION_CREATE", why)

        async def edited() -> bool:
            return settled(request, "Rejected by Alice Example via discord")

        await eventually(edited)
        assert request.content is not None and request.content.endswith(": freeze week")
        rejected = await service.app.store.request(asked.id)
        assert rejected is not None
        assert (rejected.status, rejected.decided_by, rejected.decided_via, rejected.answer) == (
            "rejected",
            "alice",
            "discord",
            "freeze week",
        )

        async def answered_bob() -> list[str | None]:
            said = [m.content for m in discord_api.messages_in(bob_dm)]
            return said if len(said) == 2 else []

        _asked_alice, reply = await eventually(answered_bob)
        assert reply is not None and reply.endswith(
            "Not deployed: alice rejected it (freeze week)."
        )
        ran = [
            e.event.tool
            for e in await service.app.store.events(asked.thread_id)
            if isinstance(e.event, ToolCalled)
        ]
        assert "deploy" not in ran
        assert "WARNING switchboard.ingress" not in capsys.readouterr().err  # the service's log


async def test_buttons_sent_before_a_restart_work_after_it(database_url: str) -> None:
    async with loopback_discord() as discord_api:
        async with switchboard(database_url, discord_api) as before:
            slack = simulator(before, "slack")
            await before.inbox.accept(
                slack.simulate(sender="U0BOB", conversation="C1:1.0", text=DEPLOY)
            )
            request = await request_in_dm(discord_api, ALICE)
        await discord_api.disconnected()

        async with switchboard(database_url, discord_api, sessions=2) as after:
            click = dd.component_click(ALICE, request.data, button(request, "Approve"))
            await discord_api.dispatch("INTERACTION_CREATE", click)

            async def edited() -> bool:
                return settled(request, "Approved by Alice Example via discord")

            await eventually(edited)
            await thread_done(after)


async def test_a_click_by_someone_who_may_not_decide_is_told_to_them_alone(
    database_url: str,
) -> None:
    """Dana is no approver: her click is answered, she alone is told why, nothing changes."""
    async with loopback_discord() as discord_api, switchboard(database_url, discord_api) as service:
        slack = simulator(service, "slack")
        await service.inbox.accept(slack.simulate(sender="U0BOB", conversation="C1:1", text=DEPLOY))
        request = await request_in_dm(discord_api, ALICE)
        shown = copy.deepcopy(request.data)
        click = dd.component_click(DANA, shown, button(request, "Approve"), guild_id=GUILD)
        await discord_api.dispatch("INTERACTION_CREATE", click)

        [told] = await private_answers(discord_api, 1)
        assert told.token == click["token"] and told.payload["flags"] == 64
        assert told.payload["content"].startswith("You may not answer req-")
        [open_request] = await service.app.store.requests(status="open")
        assert request.components and request.edits == 0  # Alice's buttons are as they were
        assert open_request.decided_by is None


async def test_a_click_after_the_decision_is_told_who_decided(database_url: str) -> None:
    """Alice approved on Slack; her Discord copy had not been edited yet when she clicked."""
    async with loopback_discord() as discord_api, switchboard(database_url, discord_api) as service:
        slack = simulator(service, "slack")
        await service.inbox.accept(slack.simulate(sender="U0BOB", conversation="C1:1", text=DEPLOY))
        request = await request_in_dm(discord_api, ALICE)
        shown = copy.deepcopy(request.data)  # what her Discord still showed
        [asked] = await service.app.store.requests(status="open")
        await respond(service.app.store, asked.id, "alice", Approve(), via="slack")
        service.dispatcher.wake()

        click = dd.component_click(ALICE, shown, button(request, "Approve"))
        await discord_api.dispatch("INTERACTION_CREATE", click)
        [told] = await private_answers(discord_api, 1)
        assert told.payload["flags"] == 64
        assert told.payload["content"].startswith("Already settled: Approved by Alice Example")
        assert "via slack" in told.payload["content"]
        [decided] = await service.app.store.requests(status="approved")
        assert decided.decided_via == "slack"

        async def edited() -> bool:  # decided on Slack: her Discord copy says so all the same
            return settled(request, "Approved by Alice Example via slack")

        await eventually(edited)


async def test_a_person_who_takes_no_dms_is_asked_on_their_next_channel(
    database_url: str,
) -> None:
    async with loopback_discord() as discord_api, switchboard(database_url, discord_api) as service:
        discord_api.fail_next(
            "POST /channels/{channel_id}/messages", 403, 50007, "Cannot send messages to this user"
        )
        slack = simulator(service, "slack")
        await service.inbox.accept(slack.simulate(sender="U0BOB", conversation="C1:1", text=DEPLOY))

        async def on_slack() -> list[Any]:
            rows = await service.app.store.outbox(channel="slack")
            return [r for r in rows if r.kind == "request" and r.status == "sent"]

        [asked] = await eventually(on_slack)
        assert (asked.recipient, asked.address, asked.rank) == ("alice", "U0ALICE", 1)
        [dead] = await service.app.store.outbox(status="dead")
        assert dead.channel == "discord" and dead.last_error is not None
        assert "50007" in dead.last_error and "asked on their next channel" in dead.last_error
