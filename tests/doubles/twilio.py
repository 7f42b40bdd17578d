"""A loopback Twilio: the Messages REST API, and the webhooks Twilio posts to us.

`TwilioDouble` is a real HTTP server on 127.0.0.1, so the official `twilio` client goes through
its whole path against it: HTTP Basic auth with the account SID and auth token, form-encoded
parameters (`MediaUrl` repeated), Twilio's Message JSON, its error JSON and status codes, which
the client turns into `TwilioRestException(status, code, msg)`. Verified with twilio 9.13 in
tests/test_twilio_double.py, on the async path our channel takes.

The client has no base URL option, but every API domain keeps its own in a plain attribute,
`base_url`, read on each request; Messages live on the `api` domain::

    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=AsyncTwilioHttpClient())
    client.api.base_url = twilio.base_url
    client.edge = client.region = None
    message = await client.messages.create_async(to=..., from_=..., body=...)
    ...
    await client.http_client.close()  # the aiohttp session AsyncTwilioHttpClient opened

The client reads `TWILIO_EDGE` and `TWILIO_REGION` from the environment (even when given
`environment={}`) and, when either is set, splices them into the request's host, which turns
127.0.0.1 into 127.sydney.0.0.1: hence the third line. The sync client (requests) follows the
same `base_url`, but it blocks, and the double runs on the test's loop: run it in a thread.

It runs on the test's event loop. What it received is public state for assertions: `calls`
(every request) and `sent` (every message created, in order, with its parameters). Faults are
scripted with `fail_next`. Delivery is played with `status`, which moves a message to a new
status and POSTs its status callback, signed as Twilio signs it, in whatever order the test
calls it; `post` sends any other webhook, and both are kept in `webhooks`. The module's
functions build what Twilio POSTs to us for an incoming message (`inbound_message`), and sign
it (`signature`, `webhook_request`).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import email.utils
import itertools
import json
import math
import re
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, NamedTuple
from urllib.parse import urlencode

import aiohttp
import phonenumbers
from aiohttp import web
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "d0" * 16
AUTH_TOKEN = "twilio-double-auth-token-00000000"
PHONE_NUMBER = "+15005550006"
"""The account's own number, the `From` of what it sends and the `To` of what it receives."""
MESSAGING_SERVICE_SID = "MG" + "d0" * 16
API_VERSION = "2010-04-01"
MESSAGES = f"/{API_VERSION}/Accounts/{{account_sid}}/Messages"
MAX_BODY = 1600
MAX_MEDIA = 10
SIGNATURE = "X-Twilio-Signature"

Status = Literal[
    "queued", "sending", "sent", "delivered", "undelivered", "failed", "read", "canceled"
]

# Error codes used in a failed status when the test gives none: both as Twilio documents them.
DEFAULT_ERRORS: dict[str, int] = {"failed": 30008, "undelivered": 30003}

_E164 = re.compile(r"\+[1-9]\d{1,14}")
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€\f")  # two septets each


def sid(prefix: str) -> str:
    """A fresh SID: two letters and 32 hex digits, like `SM…` or `MM…`."""
    return prefix + uuid.uuid4().hex


def rfc2822(moment: datetime.datetime | None = None) -> str:
    """Twilio's date format, e.g. "Thu, 30 Jul 2015 20:12:31 +0000"."""
    return email.utils.format_datetime(moment or datetime.datetime.now(datetime.UTC))


def segments(body: str) -> int:
    """How many SMS segments carry `body`: 160 GSM-7 septets, or 70 UCS-2 units, in one;
    153 or 67 per segment once it is split."""
    if set(body) <= _GSM7 | _GSM7_EXTENDED:
        units, single, multi = len(body) + sum(c in _GSM7_EXTENDED for c in body), 160, 153
    else:
        units, single, multi = len(body.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else math.ceil(units / multi)


def is_phone_number(number: str) -> bool:
    """E.164 and a possible number for its country, as Twilio requires of a `To`."""
    if not _E164.fullmatch(number):
        return False
    return phonenumbers.is_possible_number(phonenumbers.parse(number))


def country(number: str) -> str:
    """The ISO country of a phone number ("US"), or "" when it is not one."""
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return ""
    return phonenumbers.region_code_for_country_code(parsed.country_code or 0) or ""


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One request as received; `form` keeps repeated parameters (`MediaUrl`) in order."""

    method: str
    path: str
    form: tuple[tuple[str, str], ...]
    headers: dict[str, str]


@dataclass(slots=True)
class SentMessage:
    """A message created through the API: its parameters, and the resource Twilio keeps for it
    (what a create or a fetch answers; `status` moves it on)."""

    params: dict[str, str]
    media_urls: list[str]
    resource: dict[str, Any]

    @property
    def sid(self) -> str:
        return str(self.resource["sid"])

    @property
    def to(self) -> str:
        return self.params["To"]

    @property
    def body(self) -> str:
        return self.params.get("Body", "")

    @property
    def status_callback(self) -> str | None:
        return self.params.get("StatusCallback")

    @property
    def status(self) -> str:
        return str(self.resource["status"])


@dataclass(frozen=True, slots=True)
class Webhook:
    """A request the double POSTed (a status callback, an incoming message), and the HTTP
    status it was answered with."""

    url: str
    params: dict[str, str]
    signature: str
    answered: int


class WebhookRequest(NamedTuple):
    """A form-encoded POST as Twilio sends it: the body, and its headers."""

    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Fault:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class TwilioError(Exception):
    """An error answer in Twilio's JSON shape."""

    def __init__(
        self, status: int, code: int, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.body = error_body(status, code, message)
        self.headers = dict(headers or {})


def error_body(status: int, code: int, message: str) -> dict[str, Any]:
    """Twilio's REST error JSON; `TwilioRestException` takes its `code` and `message`."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class TwilioDouble:
    """Twilio's Messages API on 127.0.0.1 (ephemeral port) while the context is open.

    `numbers` are the account's own phone numbers: a `From` outside them is refused (21606).
    """

    def __init__(
        self,
        *,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        numbers: Sequence[str] = (PHONE_NUMBER,),
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.numbers = list(numbers)
        self.calls: list[ApiCall] = []
        self.sent: list[SentMessage] = []
        self.webhooks: list[Webhook] = []
        self._faults: deque[_Fault] = deque()
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post(MESSAGES + ".json", self._create)
        app.router.add_get(MESSAGES + "/{sid}.json", self._fetch)
        app.router.add_get(f"/{API_VERSION}/Accounts/{{account_sid}}.json", self._account)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        self._session: aiohttp.ClientSession | None = None
        self._port: int | None = None

    @property
    def base_url(self) -> str:
        """What `client.api.base_url` should be."""
        if self._port is None:
            raise RuntimeError("the Twilio double is not running: use `async with TwilioDouble()`")
        return f"http://127.0.0.1:{self._port}"

    async def __aenter__(self) -> TwilioDouble:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
        await self._runner.cleanup()
        self._port = None

    # Scripting.

    def fail_next(
        self,
        status: int,
        code: int,
        message: str,
        *,
        times: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """The next `times` message creations answer `status` with Twilio's error JSON, e.g.
        400 21211 "Invalid 'To' Phone Number", 400 21610 "Attempt to send to unsubscribed
        recipient", 429 20429 "Too Many Requests" (with `Retry-After`, 1 s unless given),
        500 20500 "Internal Server Error", 503 20503 "Service Unavailable"."""
        headers = {}
        if retry_after is not None or status == 429:
            headers["Retry-After"] = str(1 if retry_after is None else retry_after)
        self._faults.extend([_Fault(status, error_body(status, code, message), headers)] * times)

    async def status(
        self, message_sid: str, status: Status, *, error_code: int | None = None
    ) -> Webhook | None:
        """Move the message to `status` and POST its status callback, if it asked for one (the
        webhook sent, else None). A failed or undelivered one carries `error_code`, by default
        30008 "Unknown error" or 30003 "Unreachable destination handset"."""
        message = self.message(message_sid)
        if status in DEFAULT_ERRORS:
            error_code = error_code or DEFAULT_ERRORS[status]
        now = datetime.datetime.now(datetime.UTC)
        resource = message.resource
        resource.update(status=status, date_updated=rfc2822(now), error_code=error_code)
        if status in ("sent", "delivered", "undelivered") and resource["date_sent"] is None:
            resource["date_sent"] = rfc2822(now)
        if resource["from"] is None:  # a Messaging Service picks the sender as it sends
            resource["from"] = self.numbers[0]
            resource["num_segments"] = str(segments(message.body))
        if message.status_callback is None:
            return None
        params = {"SmsSid": message.sid, "SmsStatus": status, "MessageStatus": status}
        params["To"] = message.to
        if resource["messaging_service_sid"]:
            params["MessagingServiceSid"] = resource["messaging_service_sid"]
        params |= {
            "MessageSid": message.sid,
            "AccountSid": self.account_sid,
            "From": resource["from"],
            "ApiVersion": API_VERSION,
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        if status in ("delivered", "undelivered"):
            params["RawDlrDoneDate"] = now.strftime("%y%m%d%H%M")
        return await self.post(message.status_callback, params)

    async def post(self, url: str, params: Mapping[str, str]) -> Webhook:
        """POST `params` to `url` as Twilio posts a webhook, signed with this account's auth
        token, and record it in `webhooks`."""
        if self._session is None:
            raise RuntimeError("the Twilio double is not running")
        request = webhook_request(url, params, self.auth_token)
        async with self._session.post(url, data=request.body, headers=request.headers) as answer:
            await answer.read()
        webhook = Webhook(url, dict(params), request.headers[SIGNATURE], answer.status)
        self.webhooks.append(webhook)
        return webhook

    # Queries.

    def message(self, message_sid: str) -> SentMessage:
        for message in self.sent:
            if message.sid == message_sid:
                return message
        raise KeyError(message_sid)

    def sent_to(self, number: str) -> list[SentMessage]:
        return [m for m in self.sent if m.to == number]

    # Internals.

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        form = await request.post() if request.can_read_body else None
        pairs = tuple((k, v) for k, v in (form or {}).items() if isinstance(v, str))
        self.calls.append(ApiCall(request.method, request.path, pairs, dict(request.headers)))
        try:
            self._authenticate(request)
            response: web.StreamResponse = await handler(request)
        except TwilioError as e:
            return _json(e.body, status=e.status, headers=e.headers)
        return response

    def _authenticate(self, request: web.Request) -> None:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        if scheme != "Basic" or (user, password) != (self.account_sid, self.auth_token):
            raise TwilioError(
                401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'}
            )
        if request.match_info.get("account_sid", self.account_sid) != self.account_sid:
            raise _not_found(request.path)

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        raise _not_found(request.path)

    async def _account(self, request: web.Request) -> web.StreamResponse:
        """The account the credentials are for: what a start-up check reads."""
        return _json(
            {
                "sid": self.account_sid,
                "friendly_name": "Switchboard double",
                "status": "active",
                "type": "Full",
                "auth_token": self.auth_token,
                "owner_account_sid": self.account_sid,
                "date_created": rfc2822(),
                "date_updated": rfc2822(),
                "uri": f"/{API_VERSION}/Accounts/{self.account_sid}.json",
                "subresource_uris": {},
            }
        )

    async def _fetch(self, request: web.Request) -> web.StreamResponse:
        try:
            return _json(self.message(request.match_info["sid"]).resource)
        except KeyError:
            raise _not_found(request.path) from None

    async def _create(self, request: web.Request) -> web.StreamResponse:
        if self._faults:
            fault = self._faults.popleft()
            return _json(fault.body, status=fault.status, headers=fault.headers)
        form = await request.post()
        params = {k: v for k, v in form.items() if isinstance(v, str)}
        media = [v for v in form.getall("MediaUrl", []) if isinstance(v, str)]
        self._validate(params, media)
        message = SentMessage(params, media, self._resource(params, media))
        self.sent.append(message)
        return _json(message.resource, status=201)

    def _validate(self, params: Mapping[str, str], media: Sequence[str]) -> None:
        to, sender, body = params.get("To"), params.get("From"), params.get("Body", "")
        if not to:
            raise TwilioError(400, 21604, "A 'To' phone number is required.")
        if not is_phone_number(to):
            raise TwilioError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not sender and not params.get("MessagingServiceSid"):
            raise TwilioError(400, 21603, "A 'From' phone number is required.")
        if sender and sender not in self.numbers:
            raise TwilioError(
                400,
                21606,
                f"The From phone number {sender} is not a valid, SMS-capable inbound phone "
                "number or short code for your account.",
            )
        if not body and not media and not params.get("ContentSid"):
            raise TwilioError(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY:
            raise TwilioError(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if len(media) > MAX_MEDIA:
            raise TwilioError(400, 21623, "Number of media files exceeds allowed limit.")

    def _resource(self, params: Mapping[str, str], media: Sequence[str]) -> dict[str, Any]:
        """The Message resource as a create answers it: `queued`, or `accepted` with a
        Messaging Service and no `From` (it picks the sender later, so no segments yet)."""
        message_sid = sid("MM" if media else "SM")
        uri = MESSAGES.format(account_sid=self.account_sid) + f"/{message_sid}"
        service, sender = params.get("MessagingServiceSid"), params.get("From")
        picked = sender is not None
        now = rfc2822()
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": params.get("Body", ""),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": str(len(media)),
            "num_segments": str(segments(params.get("Body", ""))) if picked else "0",
            "price": None,
            "price_unit": "USD",
            "sid": message_sid,
            "status": "queued" if picked else "accepted",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": params["To"],
            "uri": f"{uri}.json",
        }


def _not_found(path: str) -> TwilioError:
    return TwilioError(404, 20404, f"The requested resource {path} was not found")


def _json(
    body: Mapping[str, Any], *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=json.dumps(body),
        status=status,
        headers={**(headers or {}), "Content-Type": "application/json; charset=utf-8"},
    )


# What Twilio POSTs to us.


def signature(url: str, params: Mapping[str, str], auth_token: str) -> str:
    """`X-Twilio-Signature`: base64 HMAC-SHA1, under the auth token, of the URL exactly as
    configured followed by every POST parameter, blank ones too, as name and value sorted by
    name."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))


def webhook_request(url: str, params: Mapping[str, str], auth_token: str) -> WebhookRequest:
    """The body and headers of Twilio's POST of `params` to `url`."""
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "TwilioProxy/1.1",
        "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        SIGNATURE: signature(url, params, auth_token),
    }
    return WebhookRequest(urlencode(params).encode(), headers)


_inbound_media = itertools.count(1)


def inbound_message(
    from_: str,
    body: str = "",
    *,
    to: str = PHONE_NUMBER,
    media: Sequence[str] = (),
    account_sid: str = ACCOUNT_SID,
    messaging_service_sid: str | None = None,
    message_sid: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The parameters of Twilio's POST to our incoming-message webhook (`POST /twilio/sms`):
    `from_` texted `body` to our number `to`, with one attachment per content type in `media`
    (an MMS, "MM…"). Cities, states and zips are blank, as they often are for mobiles; the
    countries come from the numbers. `extra` adds or overrides parameters."""
    message_sid = message_sid or sid("MM" if media else "SM")
    params = {
        "ToCountry": country(to),
        "ToState": "",
        "SmsMessageSid": message_sid,
        "NumMedia": str(len(media)),
    }
    for index, content_type in enumerate(media):
        params[f"MediaContentType{index}"] = content_type
        media_sid = "ME" + f"{next(_inbound_media):032x}"
        params[f"MediaUrl{index}"] = (
            f"https://api.twilio.com/{API_VERSION}/Accounts/{account_sid}"
            f"/Messages/{message_sid}/Media/{media_sid}"
        )
    params |= {
        "ToCity": "",
        "FromZip": "",
        "SmsSid": message_sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": country(from_),
        "To": to,
    }
    if messaging_service_sid is not None:
        params["MessagingServiceSid"] = messaging_service_sid
    params |= {
        "ToZip": "",
        "NumSegments": str(segments(body)),
        "MessageSid": message_sid,
        "AccountSid": account_sid,
        "From": from_,
        "ApiVersion": API_VERSION,
    }
    return params | dict(extra or {})
