"""Texts out through Twilio's Messages API, with the official `twilio` client, and the account
checked at start-up.

Each text is sent from TWILIO_FROM_NUMBER (or through the Messaging Service it names, `MG…`),
with a status callback to SWITCHBOARD_PUBLIC_URL/twilio/status, where Twilio reports what became
of it. The client sends over `TwilioHttp`, below: one aiohttp session, Basic auth as a header
(aiohttp deprecates its own `auth=`, which twilio's client uses), and a 429 raised with its
Retry-After, which the library's exception drops. TWILIO_API_URL is set as the client's
`api.base_url` (a proxy, or the loopback Twilio in tests).

Twilio's errors are sorted once, here: 429 and 5xx are retried by the outbox (after the wait
Twilio asks for); a number that is no mobile one, or whose owner opted out (21211, 21610, 21612,
21614), is unreachable, and a request goes to the person's next channel; any other refusal is
permanent, with Twilio's code.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from channels.sms.codec import UNREACHABLE, conversation_of
from core.channels import DeliveryFailed, OutboundMessage, Receipt
from core.errors import Misconfigured

log = logging.getLogger("switchboard.sms")
TIMEOUT = 30.0


class RateLimited(Exception):
    def __init__(self, retry_after: float | None) -> None:
        super().__init__(f"Twilio 429: too many requests (retry after {retry_after}s)")
        self.retry_after = retry_after


class TwilioHttp(AsyncHttpClient):  # type: ignore[misc]  # twilio ships no types
    """The twilio client's HTTP, on one aiohttp session."""

    def __init__(self) -> None:
        super().__init__(log, True, TIMEOUT)
        self.session: aiohttp.ClientSession | None = None

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, str] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - twilio's signature, passed to aiohttp
        allow_redirects: bool = False,
    ) -> Response:
        if self.session is None:
            self.session = aiohttp.ClientSession()
        sent = dict(headers or {})
        if auth is not None:
            sent["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
        async with self.session.request(
            method.upper(),
            url,
            params=params,
            data=data,
            headers=sent,
            timeout=aiohttp.ClientTimeout(total=timeout or TIMEOUT),
            allow_redirects=allow_redirects,
        ) as answer:
            text = await answer.text()
        if answer.status == 429:
            raise RateLimited(_seconds(answer.headers.get("Retry-After")))
        return Response(answer.status, text, answer.headers)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


class SmsTransport:
    def __init__(
        self, account_sid: str, auth_token: str, sender: str, api_url: str, status_url: str
    ) -> None:
        self.account_sid = account_sid
        self.sender = sender  # a number in E.164, or a Messaging Service's sid (MG…)
        self.status_url = status_url
        self.http = TwilioHttp()
        self.client = Client(account_sid, auth_token, http_client=self.http)
        self.client.api.base_url = api_url.rstrip("/")
        self.client.edge = self.client.region = None  # else TWILIO_EDGE rewrites the host

    async def check(self) -> None:
        """The credentials are the account's, and Twilio answers at TWILIO_API_URL."""
        try:
            await self.client.api.v2010.accounts(self.account_sid).fetch_async()
        except TwilioRestException as e:
            if e.status == 401:
                raise Misconfigured(
                    "sms: Twilio refused TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN: copy both"
                    " again from the Twilio Console (Account → API keys & tokens)"
                ) from None
            raise Misconfigured(f"sms: Twilio answered {e.status} {e.code}: {e.msg}") from None
        except (aiohttp.ClientError, TimeoutError, RateLimited) as e:
            url = self.client.api.base_url
            raise Misconfigured(f"sms: cannot reach Twilio at {url} ({e})") from None

    async def send(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        to, body = str(payload["to"]), str(payload["body"])
        origin = (
            {"messaging_service_sid": self.sender}
            if self.sender.startswith("MG")
            else {"from_": self.sender}
        )
        try:
            sent = await self.client.messages.create_async(
                to=to, body=body, status_callback=self.status_url, **origin
            )
        except RateLimited as e:
            raise DeliveryFailed(str(e), retry_after=e.retry_after) from None
        except TwilioRestException as e:
            failure = f"Twilio {e.status} {e.code}: {e.msg}"
            if e.status >= 500:
                raise DeliveryFailed(failure) from None
            raise DeliveryFailed(
                failure, retry=False, unreachable=str(e.code) in UNREACHABLE
            ) from None
        except (aiohttp.ClientError, TimeoutError) as e:
            raise DeliveryFailed(f"Twilio unreachable: {e or type(e).__name__}") from None
        return Receipt(str(sent.sid), conversation_of(to))

    async def edit(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        """A text cannot be changed once sent: an outcome is a new, short one."""
        return await self.send(message, payload)

    async def close(self) -> None:
        await self.http.close()


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
