"""The Sandbox: each channel's conversations, drawn from the payloads its own `render` made (read
back by its `preview`), and acting as any person on a sandboxed channel: each message or button
press goes through the channel's simulator into the real inbox, as if the platform had delivered
it. A live channel has no simulator: its conversations show, but nobody speaks for people there.

Acting as anyone is the operator's (signed in with the API token). A person signed in as
themselves acts only as themselves and sees only the conversations they are in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse
from markupsafe import Markup

from core.channels import Action, Decision, Malformed
from core.previews import Look
from core.records import Person
from core.service import Service
from core.situation import Received
from core.text import Name, Text
from core.web.console.conversations import (
    Actor,
    Conversation,
    actors,
    answering,
    conversations,
)
from core.web.console.render import Live, Looks, live, looks_of, ordered, page, panel, skin
from core.web.console.signin import Console

router = APIRouter(include_in_schema=False)
As = Annotated[Name | None, Query(alias="as")]


def _url(channel: str, actor: str, conversation: str = "", tail: str = "") -> str:
    query = {"as": actor, **({"c": conversation} if conversation else {})}
    return f"/sandbox/{channel}{tail}?{urlencode(query)}"


@dataclass(slots=True)
class View:
    channel: str
    look: Look
    live: bool  # the channel has credentials: what it shows went to the real platform
    looks: Looks  # every channel's, to draw this one's conversations
    actors: list[Actor]
    actor: Actor
    conversations: list[Conversation]
    current: Conversation | None
    conversation_id: str  # "" while writing a new conversation

    @property
    def skin(self) -> str:
        return skin(self.channel, self.look)

    def url(self, conversation: str = "", tail: str = "") -> str:
        return _url(self.channel, self.actor.id, conversation, tail)

    def link(self, conversation: Conversation) -> str:
        """A direct-message conversation opens as its owner: only they see it on the platform."""
        actor = self.actor.id
        private = conversation.id.startswith("dm:") and conversation.people
        if private and actor not in conversation.people:
            actor = next(iter(conversation.people))
        return _url(self.channel, actor, conversation.id)


async def _view(
    service: Service, me: Person | None, channel: str, as_: str | None, conversation: str
) -> View | None:
    """The channel as the operator (`me` None) or a signed-in person sees it; None for a channel
    that is not here, or one on which the person has no address."""
    found = service.channels.get(channel)
    if found is None:
        return None
    store = service.app.store
    people = await store.people()
    outbox, inbox = await store.outbox(channel=channel), await store.inbox(channel=channel)
    convos = conversations(channel, outbox, inbox, people, found.codec.preview)
    speakers = actors(channel, people, found.codec.address.example)
    if me is not None:
        convos = [c for c in convos if me.id in c.people]
        speakers = [a for a in speakers if a.id == me.id]
        if not speakers:
            return None
    current = next((c for c in convos if c.id == conversation), None)
    wanted = as_ or (next(iter(current.people), None) if current else None)
    actor = next((a for a in speakers if a.id == wanted), speakers[0])
    chosen = conversation if current else ""
    look, looks = found.codec.look, looks_of(service.channels)
    return View(channel, look, not found.sandbox, looks, speakers, actor, convos, current, chosen)


def _panels(request: Request | None, view: View) -> tuple[str | None, str | None]:
    """The conversation list and the open conversation: each polls for what arrives."""
    here, looks = view.conversation_id, view.looks
    listing = live(
        request,
        "_sandbox_list.html",
        Live(view.url(here, "/conversations")),
        looks=looks,
        view=view,
    )
    shown = live(
        request, "_sandbox_messages.html", Live(view.url(here, "/messages")), looks=looks, view=view
    )
    return listing, shown


@router.get("/looks/{channel}.css")
async def look_stylesheet(request: Request, channel: Name) -> Response:
    """A channel's stylesheet (`Look.stylesheet`): public, like /static."""
    service: Service = request.app.state.service
    found = service.channels.get(channel)
    sheet = found.codec.look.stylesheet if found else None
    if sheet is None:
        return Response(status_code=404)
    return FileResponse(sheet, media_type="text/css")


@router.get("/sandbox")
async def sandbox_home(service: Console) -> Response:
    channels = ordered(service.channels)
    first = next((n for n, c in channels.items() if c.sandbox), next(iter(channels)))
    return RedirectResponse(f"/sandbox/{first}", status_code=303)


@router.get("/sandbox/{channel}")
async def sandbox(
    request: Request, service: Console, channel: str, as_: As = None, c: Name = ""
) -> Response:
    return await _page(service, request.state.person, channel, as_, c)


async def _page(
    service: Service,
    me: Person | None,
    channel: str,
    as_: str | None,
    conversation: str,
    *,
    flash: Received | None = None,
    push: bool = False,
    status: int = 200,
) -> Response:
    view = await _view(service, me, channel, as_, conversation)
    if view is None and me is not None and channel in service.channels:
        what = f"You have no address on {channel} in the directory, {me.name}: nothing to show."
        return await page(service, "missing.html", "sandbox", status=404, what=what)
    if view is None:
        what = f"There is no channel {channel}: the channels are {', '.join(service.channels)}."
        return await page(service, "missing.html", "sandbox", status=404, what=what)
    listing, shown = _panels(None, view)
    return await page(
        service,
        "sandbox.html",
        "sandbox",
        status=status,
        push=view.url(view.conversation_id) if push else None,
        view=view,
        me=me,
        channels=ordered(service.channels),
        listing=Markup(listing),
        messages=Markup(shown),
        flash=flash,
    )


@router.get("/sandbox/{channel}/conversations")
async def sandbox_list(
    request: Request, service: Console, channel: str, as_: As = None, c: Name = ""
) -> Response:
    view = await _view(service, request.state.person, channel, as_, c)
    return panel(_panels(request, view)[0] if view else None)


@router.get("/sandbox/{channel}/messages")
async def sandbox_messages(
    request: Request, service: Console, channel: str, as_: As = None, c: Name = ""
) -> Response:
    view = await _view(service, request.state.person, channel, as_, c)
    return panel(_panels(request, view)[1] if view else None)


@router.post("/sandbox/{channel}/say")
async def sandbox_say(
    request: Request,
    service: Console,
    channel: str,
    as_: Annotated[Name, Form(alias="as")],
    text: Annotated[str, Form()] = "",  # kept as written: the inbound message cleans and counts
    c: Annotated[Name, Form()] = "",
) -> Response:
    return await _act(service, request.state.person, channel, as_, c, text=text)


@router.post("/sandbox/{channel}/press")
async def sandbox_press(
    request: Request,
    service: Console,
    channel: str,
    as_: Annotated[Name, Form(alias="as")],
    request_id: Annotated[Name, Form()],
    decision: Annotated[Decision, Form()],
    c: Annotated[Name, Form()] = "",
    value: Annotated[Text, Form()] = "",
) -> Response:
    action = Action(request_id=request_id, decision=decision, value=value)
    return await _act(service, request.state.person, channel, as_, c, action=action)


async def _act(
    service: Service,
    me: Person | None,
    channel_name: str,
    actor_id: str,
    conversation: str,
    *,
    text: str = "",
    action: Action | None = None,
) -> Response:
    """Say or press something as a person: the channel's simulator, then the real inbox."""
    channel = service.channels.get(channel_name)
    people = await service.app.store.people()
    speakers = actors(channel_name, people, channel.codec.address.example) if channel else []
    actor = next((a for a in speakers if a.id == actor_id), None)
    if me is not None and actor_id != me.id:
        why = f"You are signed in as {me.name}: you speak only as yourself, not as {actor_id}."
        return PlainTextResponse(why, status_code=403)  # plain: the names are the caller's
    if channel is None or actor is None:
        return PlainTextResponse(f"No {actor_id} on {channel_name} here.", status_code=404)
    simulator = channel.simulator
    if simulator is None:
        why = f"{channel_name} is live: the sandbox does not speak for people there"
        return await _page(
            service,
            me,
            channel_name,
            actor.id,
            conversation,
            flash=Received("refused", why),
            status=409,
        )
    conversation = conversation or simulator.new_conversation(actor.address)
    answered = await answering(service.app.store, channel_name, conversation, actor.address)
    try:
        message = simulator.simulate(
            sender=actor.address,
            conversation=conversation,
            text=text,
            action=action,
            answering=answered,
        )
    except Malformed as e:
        refused = Received("refused", f"{channel_name} would not bring that: {e}")
        return await _page(
            service, me, channel_name, actor.id, conversation, flash=refused, status=422
        )
    received = await service.inbox.accept(message)
    return await _page(
        service, me, channel_name, actor.id, message.conversation, flash=received, push=True
    )
