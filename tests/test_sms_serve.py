"""`switchboard serve`, a process of its own, sends through the loopback Twilio as it would
through Twilio, and takes Twilio's webhooks at its public URL: Bob asks on the Slack sandbox, the
approval reaches Erin by text, the server is restarted, her "YES <code>" decides, and she is texted
that it is settled."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from tests.doubles import twilio as td
from tests.doubles.twilio import ACCOUNT_SID, AUTH_TOKEN, PHONE_NUMBER, TwilioDouble
from tests.fixtures import eventually
from tests.server import TOKEN, Server, free_port, running_server

ERIN = "+15550100005"
PEOPLE = """
[[person]]
id = "erin"
name = "Erin Example"
roles = ["deploy-approver"]
channels = ["sms", "slack"]
identities = { sms = "+15550100005", slack = "U0ERIN" }

[[person]]
id = "bob"
name = "Bob Example"
channels = ["slack"]
identities = { slack = "U0BOB" }
"""


@contextlib.asynccontextmanager
async def serving(directory: Path, twilio: TwilioDouble, port: int) -> AsyncIterator[Server]:
    """`switchboard serve` started and stopped off the event loop, which the double runs on."""
    started = running_server(
        directory,
        port=port,
        SWITCHBOARD_PEOPLE=str(directory / "people.toml"),
        SWITCHBOARD_PUBLIC_URL=f"http://127.0.0.1:{port}",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_FROM_NUMBER=PHONE_NUMBER,
        TWILIO_API_URL=twilio.base_url,
    )
    server = await asyncio.to_thread(started.__enter__)
    try:
        yield server
    finally:
        await asyncio.to_thread(started.__exit__, None, None, None)


async def texts_to(twilio: TwilioDouble, number: str, n: int) -> list[td.SentMessage]:
    async def arrived() -> list[td.SentMessage]:
        found = twilio.sent_to(number)
        return found if len(found) >= n else []

    return await eventually(arrived, within=30)


async def test_serve_texts_through_twilio_and_takes_the_answer_after_a_restart(
    tmp_path: Path,
) -> None:
    (tmp_path / "people.toml").write_text(PEOPLE)
    port = free_port()
    headers = {"authorization": f"Bearer {TOKEN}"}
    async with TwilioDouble() as twilio:
        async with serving(tmp_path, twilio, port) as server:
            async with httpx.AsyncClient(base_url=server.url, headers=headers) as api:
                asked = await api.post(
                    "/api/v1/sandbox/slack/messages",
                    json={
                        "sender": "U0BOB",
                        "conversation": "C1:1.0",
                        "text": "deploy api 2.4.1 to production",
                    },
                )
                assert asked.status_code == 202, asked.text
            [request] = await texts_to(twilio, ERIN, 1)
            report = await twilio.status(request.sid, "delivered")
            assert report is not None and report.answered == 200
        code = request.body.split("Reply YES ", 1)[1].split()[0]

        async with serving(tmp_path, twilio, port) as server:
            answer = td.webhook_request(
                f"{server.url}/twilio/sms", td.inbound_message(ERIN, f"YES {code}"), AUTH_TOKEN
            )
            async with httpx.AsyncClient(base_url=server.url) as http:
                answered = await http.post(
                    "/twilio/sms", content=answer.body, headers=dict(answer.headers)
                )
            assert answered.status_code == 200 and "<Response>" in answered.text
            _, settled = await texts_to(twilio, ERIN, 2)
            assert "Approved by Erin Example via sms" in settled.body
            assert "Traceback" not in server.output()
