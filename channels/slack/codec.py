"""Slack's codec: what Slack sends us, read with Bolt's own request parsing and slack_sdk's
signature check; what we send Slack, as Block Kit (blocks.py); and how it previews (preview.py).

Pure: no I/O. The same `read` serves the Events API over HTTP and Socket Mode's envelopes, whose
payloads are the bodies Slack would have posted.

A message's id is its channel and `ts`: Slack sends one message as an `app_mention` and as a
`message` event (two event ids), and retries a delivery under the same event; either way the
inbox keeps it once. An edit names the message it edits (the inbox puts it in that message's
place while the agent has not read it; after, it is a new message); a deletion, a join, a topic
change and other bots' messages are acknowledged and dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from slack_bolt.request.internals import parse_body
from slack_sdk.signature import Clock, SignatureVerifier

from channels.slack.blocks import APPROVE, REJECT, conversation_of, render
from channels.slack.preview import preview
from core.channels import (
    Ack,
    Acknowledged,
    Action,
    AddressForm,
    Attachment,
    Forged,
    Inbound,
    InboundMessage,
    Malformed,
    OutboundMessage,
    RawRequest,
)
from core.previews import Look, Preview

NAME = "slack"
EVENTS = "/slack/events"
PREVIEWS = Path(__file__).with_name("previews")
USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
# What a person's message may be; everything else with a subtype is Slack talking about itself.
PEOPLES_SUBTYPES = {None, "file_share", "thread_broadcast", "me_message"}
REJECT_DIALOG = REJECT  # the dialog a Reject click opens is named like the button
WINDOW_SECONDS = 5 * 60  # a signature older than this is a replay (slack_sdk's window too)
LOOK = Look("Slack", rank=0, template=PREVIEWS / "slack.html", stylesheet=PREVIEWS / "slack.css")
ADDRESS = AddressForm(
    "U0STRANGER", "a Slack user id like U0ALICE", r"^\s*[UuWw][A-Za-z0-9]{2,}\s*$"
)


def normalize(address: str) -> str:
    """A Slack user id, in upper case (U0ALICE, W0ALICE on Enterprise Grid)."""
    user = address.strip().upper()
    if not USER_ID.fullmatch(user):
        raise ValueError(f"{address!r} is not a Slack user id like U0ALICE")
    return user


@dataclass(frozen=True, slots=True)
class SlackCodec:
    signing_secret: str | None = field(default=None, repr=False)  # None: every request is forged
    allow_bots: bool = False  # other bots' messages reach the agent too
    clock: Clock = field(default_factory=Clock)
    name: str = NAME
    webhooks: tuple[str, ...] = (EVENTS,)
    look: Look = LOOK
    address: AddressForm = ADDRESS

    # --- inbound ------------------------------------------------------------------------------

    def verify(self, request: RawRequest) -> None:
        """Slack's v0 signature over the timestamp and the body, made within five minutes."""
        if not self.signing_secret:
            raise Forged("no SLACK_SIGNING_SECRET: this server takes no request from Slack")
        verifier = SignatureVerifier(self.signing_secret, clock=self.clock)
        try:
            valid = verifier.is_valid_request(request.body, request.headers)
        except UnicodeDecodeError:  # Slack sends text; slack_sdk signs only text: sign the bytes
            valid = _signed_bytes(self.signing_secret, request, self.clock.now())
        except ValueError:  # a timestamp that is no number
            valid = False
        if not valid:
            raise Forged("no valid Slack signature made in the last five minutes")

    def parse(self, request: RawRequest) -> list[Inbound]:
        try:
            body = parse_body(request.body.decode(), request.headers.get("content-type"))
        except (ValueError, RecursionError) as e:  # not UTF-8, not JSON, nested past all reason
            raise Malformed(f"not a Slack payload: {type(e).__name__}") from None
        return self.read(body)

    def read(self, body: Mapping[str, Any]) -> list[Inbound]:
        """What one payload carries: an Events API callback, an interaction, a slash command."""
        try:
            return _read(self, body)
        except (KeyError, TypeError, AttributeError, IndexError, ValueError) as e:
            if isinstance(e, ValidationError):  # a name breaking core/text's rule: the route's 400
                raise
            raise Malformed(f"not a Slack payload ({type(e).__name__}: {e})") from None

    def ack(self, request: RawRequest, accepted: Sequence[Inbound]) -> Ack:
        for item in accepted:
            if isinstance(item, Acknowledged) and item.what == "url_verification":
                challenge = json.loads(request.body)["challenge"]
                return _json({"challenge": challenge})
            if isinstance(item, InboundMessage) and item.raw == "slash_command":
                return _json({"response_type": "ephemeral", "text": "On it."})
        return Ack()

    # --- outbound -----------------------------------------------------------------------------

    def render(self, message: OutboundMessage) -> dict[str, Any]:
        return render(message)

    def preview(self, payload: Mapping[str, Any]) -> Preview:
        return preview(payload)

    def normalize(self, address: str) -> str:
        return normalize(address)


def _signed_bytes(secret: str, request: RawRequest, now: float) -> bool:
    """Slack's v0 signature, over a body that is not text (so garbage, once verified)."""
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > WINDOW_SECONDS:
        return False
    signed = b"v0:" + timestamp.encode() + b":" + request.body
    mac = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v0={mac}", request.headers.get("x-slack-signature", ""))


def _json(value: Any) -> Ack:
    return Ack(200, json.dumps(value).encode(), "application/json")


def _read(codec: SlackCodec, body: Mapping[str, Any]) -> list[Inbound]:
    kind = body.get("type")
    if kind == "url_verification":
        if not isinstance(body.get("challenge"), str):
            raise Malformed("a url_verification without its challenge")
        return [Acknowledged("url_verification")]
    if kind == "event_callback":
        return _event(codec, body)
    if kind == "block_actions":
        return _click(body)
    if kind == "view_submission":
        return _submission(body)
    if kind in ("view_closed", "block_suggestion", "shortcut", "message_action"):
        return [Acknowledged(kind)]
    if "command" in body and "trigger_id" in body:
        return [_command(body)]
    raise Malformed(f"not a payload Slack sends (type {kind!r})")


# --- the Events API ---------------------------------------------------------------------------


def _event(codec: SlackCodec, body: Mapping[str, Any]) -> list[Inbound]:
    event = body["event"]
    bot = _bot_user(body)
    match event["type"], event.get("subtype"):
        case "app_mention", _:
            return _said(codec, event, bot, body["event_id"], addressed=True)
        case "message", "message_changed":
            edited, before = event["message"], event.get("previous_message") or {}
            if "edited" not in edited or edited.get("text") == before.get("text"):
                return [Acknowledged("an update Slack made (a link preview, a reply count)")]
            edited = dict(edited, channel=event["channel"])
            edited.setdefault("channel_type", event.get("channel_type"))
            edit = f"edited {edited['edited'].get('ts') or event['ts']}"
            return _said(codec, edited, bot, body["event_id"], edit=edit)
        case "message", subtype if subtype in PEOPLES_SUBTYPES:
            return _said(codec, event, bot, body["event_id"])
        case kind, subtype:
            return [Acknowledged(f"{kind} {subtype or ''}".strip())]


def _bot_user(body: Mapping[str, Any]) -> str | None:
    """Our own user id, which Slack names in every event it sends us."""
    for authorization in body.get("authorizations") or ():
        if authorization.get("is_bot"):
            return str(authorization["user_id"])
    return None


def _said(
    codec: SlackCodec,
    event: Mapping[str, Any],
    bot: str | None,
    event_id: str,
    *,
    addressed: bool = False,
    edit: str = "",
) -> list[Inbound]:
    from_a_bot = bool(event.get("bot_id")) or event.get("subtype") == "bot_message"
    if (from_a_bot and not codec.allow_bots) or (bot is not None and event.get("user") == bot):
        return [Acknowledged("a bot's message")]
    user = event["user"]
    channel, ts, text = event["channel"], event["ts"], event.get("text") or ""
    thread_ts = event.get("thread_ts")
    mention = f"<@{bot}>" if bot else None
    direct = event.get("channel_type") == "im"
    addressed = addressed or direct or (mention is not None and mention in text)
    if not addressed and thread_ts is None:
        return [Acknowledged("chatter outside the agent's threads")]
    if mention:
        text = text.replace(mention, "").strip()
    # A mention starts a thread at itself; a direct message continues the conversation.
    root = thread_ts if thread_ts or direct else ts
    return [
        InboundMessage(
            channel=NAME,
            external_id=f"{channel}:{ts}" + (f":{edit}" if edit else ""),
            sender=normalize(user),
            conversation=conversation_of(channel, root),
            text=text,
            attachments=tuple(_file(f) for f in event.get("files") or ()),
            raw=event_id,
            addressed=addressed,
            edits=f"{channel}:{ts}" if edit else None,
        )
    ]


def _file(file: Mapping[str, Any]) -> Attachment:
    return Attachment(
        name=file.get("name") or file.get("title") or file.get("id") or "file",
        content_type=file.get("mimetype") or "application/octet-stream",
        size=int(file.get("size") or 0),
        url=file.get("url_private"),
    )


# --- interactions -------------------------------------------------------------------------------


def _click(body: Mapping[str, Any]) -> list[Inbound]:
    """A button or a select in one of our requests; anything else is acknowledged."""
    [action] = body["actions"]
    action_id = str(action["action_id"])
    if not action_id.startswith("switchboard:"):
        return [Acknowledged(f"action {action_id}")]
    container, user = body["container"], body["user"]["id"]
    message = body.get("message") or {}
    channel = container.get("channel_id") or body["channel"]["id"]
    conversation = conversation_of(channel, message.get("thread_ts") or container["message_ts"])
    if action_id == REJECT_DIALOG:  # a reason first: the dialog's submission is the decision
        reason_for = {
            "trigger_id": body["trigger_id"],
            "request_id": action["value"],
            "conversation": conversation,
        }
        return [Acknowledged("reject", channel=NAME, payload=reason_for)]
    if action_id == APPROVE:
        decided = Action(request_id=action["value"], decision="approve")
    else:  # an option: a button's value, or the select's chosen one
        value = action.get("value") or action["selected_option"]["value"]
        chosen = json.loads(value)
        decided = Action(request_id=chosen["r"], decision="answer", value=chosen["v"])
    return [
        InboundMessage(
            channel=NAME,
            external_id=f"action:{body['trigger_id']}",  # one per click
            sender=normalize(user),
            conversation=conversation,
            action=decided,
            raw="block_actions",
        )
    ]


def _submission(body: Mapping[str, Any]) -> list[Inbound]:
    """The Reject dialog, sent with a reason (blocks.reject_dialog made it)."""
    view = body["view"]
    if view.get("callback_id") != REJECT_DIALOG:
        return [Acknowledged(f"view {view.get('callback_id')}")]
    asked = json.loads(view["private_metadata"])
    values = view["state"]["values"]
    reason = next(
        (str(v.get("value") or "") for block in values.values() for v in block.values()), ""
    )
    user = body["user"]["id"]
    return [
        InboundMessage(
            channel=NAME,
            external_id=f"view:{view['id']}:{view.get('hash', '')}",
            sender=normalize(user),
            conversation=asked["conversation"],
            action=Action(request_id=asked["request_id"], decision="reject", reason=reason),
            raw="view_submission",
        )
    ]


def _command(body: Mapping[str, Any]) -> InboundMessage:
    """`/switchboard deploy api 2.4.1`: a message to the agent, in the channel it was typed in."""
    return InboundMessage(
        channel=NAME,
        external_id=f"command:{body['trigger_id']}",
        sender=normalize(body["user_id"]),
        conversation=conversation_of(body["channel_id"], None),
        text=str(body.get("text") or ""),
        raw="slash_command",
    )
