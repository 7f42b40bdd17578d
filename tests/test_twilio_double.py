"""The Twilio double against the official twilio client (async) and its RequestValidator: if
these pass, a test that drives our SMS channel through the double exercises the same client
paths production does, and our webhook sees what Twilio would send."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiohttp import web
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.doubles import twilio as td
from tests.doubles.twilio import ACCOUNT_SID, AUTH_TOKEN, PHONE_NUMBER, TwilioDouble

# AsyncTwilioHttpClient authenticates with aiohttp.BasicAuth and `auth=`, both deprecated since
# aiohttp 3.14 (gone in 4.0); the warning is raised in twilio's modules, or in aiohttp_retry's
# when `max_retries` wraps the session. The module filters keep it an error anywhere else.
pytestmark = [
    pytest.mark.filterwarnings(f"ignore:{message}:DeprecationWarning:{module}")
    for message, module in [
        ("BasicAuth is deprecated", "twilio.http.async_http_client"),
        ("The 'auth' parameter is deprecated", "twilio.base.client_base"),
        ("The 'auth' parameter is deprecated", "aiohttp_retry.client"),
    ]
]

ADA = "+14155550101"
BOB = "+447700900123"
MESSAGE_FIELDS = {
    "account_sid",
    "api_version",
    "body",
    "date_created",
    "date_sent",
    "date_updated",
    "direction",
    "error_code",
    "error_message",
    "from",
    "messaging_service_sid",
    "num_media",
    "num_segments",
    "price",
    "price_unit",
    "sid",
    "status",
    "subresource_uris",
    "to",
    "uri",
}


@dataclass
class Received:
    url: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class Receiver:
    """Our side of the webhooks: a small server that records what it is sent."""

    base_url: str = ""
    requests: list[Received] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        params = {k: v for k, v in form.items() if isinstance(v, str)}
        self.requests.append(Received(str(request.url), params, dict(request.headers)))
        return web.Response(status=204)


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioDouble]:
    async with TwilioDouble() as double:
        yield double


@pytest.fixture
async def client(twilio: TwilioDouble) -> AsyncIterator[Client]:
    async with connect(twilio) as client:
        yield client


class connect:
    """The official client on the async path, pointed at the double, closed afterwards."""

    def __init__(
        self,
        twilio: TwilioDouble,
        *,
        password: str = AUTH_TOKEN,
        username: str = ACCOUNT_SID,
        max_retries: int | None = None,
    ) -> None:
        self.client = Client(
            username, password, http_client=AsyncTwilioHttpClient(max_retries=max_retries)
        )
        self.client.api.base_url = twilio.base_url
        self.client.edge = self.client.region = None  # else TWILIO_EDGE would rewrite the host

    async def __aenter__(self) -> Client:
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        http = self.client.http_client
        assert isinstance(http, AsyncTwilioHttpClient)
        await http.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield receiver
    finally:
        await runner.cleanup()


async def rest_error(client: Client, **kwargs: object) -> TwilioRestException:
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(**kwargs)
    return caught.value


# Sending.


async def test_a_send_lands_recorded_and_answered_in_twilios_shape(
    twilio: TwilioDouble, client: Client
) -> None:
    message = await client.messages.create_async(
        to=ADA, from_=PHONE_NUMBER, body="Deploy api 2.4.1? Reply YES or NO"
    )
    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid or "")
    assert (message.status, message.direction, message.num_segments) == (
        "queued",
        "outbound-api",
        "1",
    )
    assert (message.to, message.from_, message.account_sid) == (ADA, PHONE_NUMBER, ACCOUNT_SID)
    assert message.date_created is not None and message.date_created.tzinfo is not None
    assert (message.error_code, message.price, message.date_sent) == (None, None, None)

    [sent] = twilio.sent
    assert sent.params == {
        "To": ADA,
        "From": PHONE_NUMBER,
        "Body": "Deploy api 2.4.1? Reply YES or NO",
    }
    assert set(sent.resource) == MESSAGE_FIELDS
    assert sent.resource["uri"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sent.sid}.json"
    call = twilio.calls[-1]
    assert (call.method, call.path) == ("POST", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.headers["Authorization"].startswith("Basic ")


async def test_the_sync_client_follows_the_same_base_url_from_a_thread(
    twilio: TwilioDouble,
) -> None:
    client = Client(ACCOUNT_SID, AUTH_TOKEN)
    client.api.base_url = twilio.base_url
    client.edge = client.region = None
    message = await asyncio.to_thread(client.messages.create, to=ADA, from_=PHONE_NUMBER, body="hi")
    assert (message.sid, message.status) == (twilio.sent[0].sid, "queued")


async def test_a_fetch_answers_the_message_as_it_is_now(
    twilio: TwilioDouble, client: Client
) -> None:
    created = await client.messages.create_async(to=ADA, from_=PHONE_NUMBER, body="hi")
    assert created.sid is not None
    await twilio.status(created.sid, "delivered")
    fetched = await client.messages(created.sid).fetch_async()
    assert (fetched.sid, fetched.status, fetched.body) == (created.sid, "delivered", "hi")
    assert fetched.date_sent is not None
    with pytest.raises(TwilioRestException) as caught:
        await client.messages("SM" + "0" * 32).fetch_async()
    assert (caught.value.status, caught.value.code) == (404, 20404)


async def test_media_urls_make_an_mms_and_a_service_picks_the_sender_later(
    twilio: TwilioDouble, client: Client
) -> None:
    urls = ["https://example.com/a.png", "https://example.com/b.png"]
    mms = await client.messages.create_async(to=ADA, from_=PHONE_NUMBER, media_url=urls)
    assert (mms.sid or "").startswith("MM") and mms.num_media == "2"
    assert twilio.sent[0].media_urls == urls
    assert [v for k, v in twilio.calls[-1].form if k == "MediaUrl"] == urls

    via_service = await client.messages.create_async(
        to=BOB, messaging_service_sid=td.MESSAGING_SERVICE_SID, body="hello"
    )
    assert (via_service.status, via_service.from_, via_service.num_segments) == (
        "accepted",
        None,
        "0",
    )
    assert via_service.messaging_service_sid == td.MESSAGING_SERVICE_SID


async def test_a_long_body_is_counted_in_segments(client: Client) -> None:
    long = await client.messages.create_async(to=ADA, from_=PHONE_NUMBER, body="x" * 161)
    unicode = await client.messages.create_async(to=ADA, from_=PHONE_NUMBER, body="ł" * 71)
    assert (long.num_segments, unicode.num_segments) == ("2", "2")


@pytest.mark.parametrize(
    ("body", "expected"),
    [("", 1), ("a" * 160, 1), ("a" * 161, 2), ("€" * 80, 1), ("€" * 81, 2), ("😀" * 35, 1)],
)
def test_segments_count_gsm7_septets_or_ucs2_units(body: str, expected: int) -> None:
    assert td.segments(body) == expected


# Failing.


@pytest.mark.parametrize(
    ("username", "password"),
    [(ACCOUNT_SID, "wrong-token"), ("AC" + "1" * 32, AUTH_TOKEN)],
)
async def test_wrong_credentials_are_refused_with_20003(
    twilio: TwilioDouble, username: str, password: str
) -> None:
    async with connect(twilio, username=username, password=password) as client:
        error = await rest_error(client, to=ADA, from_=PHONE_NUMBER, body="hi")
    assert (error.status, error.code, error.method) == (401, 20003, "POST")
    assert error.msg == "Unable to create record: Authenticate"
    assert twilio.sent == []


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, 21211, "Invalid 'To' Phone Number"),
        (400, 21610, "Attempt to send to unsubscribed recipient"),
        (429, 20429, "Too Many Requests"),
        (500, 20500, "Internal Server Error"),
        (503, 20503, "Service Unavailable"),
    ],
)
async def test_each_scripted_failure_raises_with_its_code_and_status(
    twilio: TwilioDouble, client: Client, status: int, code: int, message: str
) -> None:
    twilio.fail_next(status, code, message)
    error = await rest_error(client, to=ADA, from_=PHONE_NUMBER, body="hi")
    assert (error.status, error.code) == (status, code)
    assert error.msg == f"Unable to create record: {message}"
    assert (len(twilio.calls), twilio.sent) == (1, [])  # the client does not retry by default
    await client.messages.create_async(to=ADA, from_=PHONE_NUMBER, body="hi")
    assert len(twilio.sent) == 1


async def test_a_429_carries_retry_after_on_the_wire_not_in_the_exception(
    twilio: TwilioDouble,
) -> None:
    twilio.fail_next(429, 20429, "Too Many Requests", retry_after=7)
    url = f"{twilio.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    headers = {"Authorization": f"Basic {credentials}"}
    form = {"To": ADA, "From": PHONE_NUMBER, "Body": "hi"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=form, headers=headers) as answer,
    ):
        assert (answer.status, answer.headers["Retry-After"]) == (429, "7")
        assert await answer.json() == {
            "code": 20429,
            "message": "Too Many Requests",
            "more_info": "https://www.twilio.com/docs/errors/20429",
            "status": 429,
        }


async def test_max_retries_retries_server_errors_but_not_429(twilio: TwilioDouble) -> None:
    async with connect(twilio, max_retries=2) as client:
        twilio.fail_next(503, 20503, "Service Unavailable")
        await client.messages.create_async(to=ADA, from_=PHONE_NUMBER, body="hi")
        assert (len(twilio.calls), len(twilio.sent)) == (2, 1)
        twilio.fail_next(429, 20429, "Too Many Requests")
        error = await rest_error(client, to=ADA, from_=PHONE_NUMBER, body="hi")
        assert (error.status, len(twilio.calls)) == (429, 3)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"to": "", "from_": PHONE_NUMBER, "body": "hi"}, 21604),
        ({"to": "4155550101", "from_": PHONE_NUMBER, "body": "hi"}, 21211),
        ({"to": "+1234", "from_": PHONE_NUMBER, "body": "hi"}, 21211),
        ({"to": ADA, "body": "hi"}, 21603),
        ({"to": ADA, "from_": "+14155550199", "body": "hi"}, 21606),
        ({"to": ADA, "from_": PHONE_NUMBER}, 21602),
        ({"to": ADA, "from_": PHONE_NUMBER, "body": "x" * 1601}, 21617),
    ],
)
async def test_invalid_sends_are_refused_as_twilio_refuses_them(
    twilio: TwilioDouble, client: Client, params: dict[str, str], code: int
) -> None:
    error = await rest_error(client, **params)
    assert (error.status, error.code, twilio.sent) == (400, code, [])


# Status callbacks.


async def test_status_callbacks_are_signed_as_twilio_signs_them(
    twilio: TwilioDouble, client: Client, receiver: Receiver
) -> None:
    callback_url = f"{receiver.base_url}/twilio/status?approval=42"
    message = await client.messages.create_async(
        to=ADA, from_=PHONE_NUMBER, body="hi", status_callback=callback_url
    )
    assert message.sid is not None
    await twilio.status(message.sid, "delivered")  # out of order, as Twilio may deliver them
    await twilio.status(message.sid, "sent")

    validator = RequestValidator(AUTH_TOKEN)
    delivered, sent = receiver.requests
    assert [delivered.params["MessageStatus"], sent.params["MessageStatus"]] == [
        "delivered",
        "sent",
    ]
    for got in receiver.requests:
        assert got.url == callback_url
        assert got.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert validator.validate(got.url, got.params, got.headers[td.SIGNATURE])
    assert delivered.params == {
        "SmsSid": message.sid,
        "SmsStatus": "delivered",
        "MessageStatus": "delivered",
        "To": ADA,
        "MessageSid": message.sid,
        "AccountSid": ACCOUNT_SID,
        "From": PHONE_NUMBER,
        "ApiVersion": "2010-04-01",
        "RawDlrDoneDate": delivered.params["RawDlrDoneDate"],
    }
    assert re.fullmatch(r"\d{10}", delivered.params["RawDlrDoneDate"])
    assert [w.answered for w in twilio.webhooks] == [204, 204]

    tampered = {**delivered.params, "MessageStatus": "failed"}
    assert not validator.validate(delivered.url, tampered, delivered.headers[td.SIGNATURE])
    other_url = callback_url.replace("42", "43")
    assert not validator.validate(other_url, delivered.params, delivered.headers[td.SIGNATURE])
    assert not RequestValidator("another-token").validate(
        delivered.url, delivered.params, delivered.headers[td.SIGNATURE]
    )


async def test_a_failed_status_carries_its_error_code(
    twilio: TwilioDouble, client: Client, receiver: Receiver
) -> None:
    message = await client.messages.create_async(
        to=ADA,
        messaging_service_sid=td.MESSAGING_SERVICE_SID,
        body="hi",
        status_callback=f"{receiver.base_url}/twilio/status",
    )
    assert message.sid is not None
    await twilio.status(message.sid, "failed", error_code=30007)
    await twilio.status(message.sid, "undelivered")
    failed, undelivered = receiver.requests
    assert (failed.params["ErrorCode"], undelivered.params["ErrorCode"]) == ("30007", "30003")
    assert failed.params["MessagingServiceSid"] == td.MESSAGING_SERVICE_SID
    assert failed.params["From"] == PHONE_NUMBER  # the sender the service picked
    assert "RawDlrDoneDate" not in failed.params
    fetched = await client.messages(message.sid).fetch_async()
    assert (fetched.status, fetched.error_code) == ("undelivered", 30003)


async def test_no_status_callback_means_only_the_status_moves(
    twilio: TwilioDouble, client: Client
) -> None:
    message = await client.messages.create_async(to=ADA, from_=PHONE_NUMBER, body="hi")
    assert message.sid is not None
    assert await twilio.status(message.sid, "sent") is None
    assert (twilio.message(message.sid).status, twilio.webhooks) == ("sent", [])


# Incoming messages.


def test_an_inbound_sms_has_twilios_parameters_and_validates() -> None:
    url = "https://switchboard.example.com/twilio/sms"
    params = td.inbound_message(ADA, "YES")
    request = td.webhook_request(url, params, AUTH_TOKEN)
    posted = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
    assert posted == params
    assert set(posted) == {
        "ToCountry",
        "ToState",
        "SmsMessageSid",
        "NumMedia",
        "ToCity",
        "FromZip",
        "SmsSid",
        "FromState",
        "SmsStatus",
        "FromCity",
        "Body",
        "FromCountry",
        "To",
        "ToZip",
        "NumSegments",
        "MessageSid",
        "AccountSid",
        "From",
        "ApiVersion",
    }
    assert (posted["From"], posted["To"], posted["Body"]) == (ADA, PHONE_NUMBER, "YES")
    assert (posted["FromCountry"], posted["FromCity"], posted["NumMedia"]) == ("US", "", "0")
    assert re.fullmatch(r"SM[0-9a-f]{32}", posted["MessageSid"])

    validator = RequestValidator(AUTH_TOKEN)
    signature = request.headers[td.SIGNATURE]
    assert validator.validate(url, posted, signature)
    without_blanks = {k: v for k, v in posted.items() if v}
    assert not validator.validate(url, without_blanks, signature)  # blank ones are signed too
    assert not validator.validate(url, {**posted, "Body": "NO"}, signature)


async def test_an_inbound_mms_posted_to_our_webhook_validates(
    twilio: TwilioDouble, receiver: Receiver
) -> None:
    url = f"{receiver.base_url}/twilio/sms"
    params = td.inbound_message(
        BOB,
        "see attached",
        media=["image/jpeg", "application/pdf"],
        messaging_service_sid=td.MESSAGING_SERVICE_SID,
        extra={"FromCity": "LONDON"},
    )
    webhook = await twilio.post(url, params)
    [got] = receiver.requests
    assert (webhook.answered, got.params) == (204, params)
    assert got.params["MessageSid"].startswith("MM")
    assert (got.params["NumMedia"], got.params["MediaContentType1"]) == ("2", "application/pdf")
    assert got.params["MediaUrl0"].startswith(
        f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/"
    )
    assert (got.params["FromCountry"], got.params["FromCity"]) == ("GB", "LONDON")
    assert RequestValidator(AUTH_TOKEN).validate(got.url, got.params, got.headers[td.SIGNATURE])
