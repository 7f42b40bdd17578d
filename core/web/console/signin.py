"""Signing in. The operator: `/login?token=…` (the link `switchboard serve` prints) or the form
sets an HttpOnly, SameSite=Strict cookie with the API token (Secure when the console is served
over HTTPS). A person: asks for a one-time link on the sign-in page (sent on their preferred
channel) or gets one from `switchboard login ID`; it sets a session of their own (core/signin.py),
and they answer only as themselves. Every other page sends a browser without either to /login.

`request.state.person` is who is signed in: a Person, or None for the operator."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse

from core.records import OutboxMessage
from core.service import Service
from core.signin import redeem, session, session_key, session_person, sign_in_link
from core.text import Text
from core.web.auth import COOKIE, token_matches
from core.web.console.render import html

PERSON = "switchboard_person"  # a person's session cookie (core/signin.py)

router = APIRouter(include_in_schema=False)


async def signed_in(request: Request) -> Service:
    """The service, for a browser that holds the token's cookie or a person's session; others
    are sent to /login."""
    service: Service = request.app.state.service
    if token_matches(request.cookies.get(COOKIE), service.api_token):
        request.state.person = None  # the operator
        return service
    person_id = session_person(session_key(service.api_token), request.cookies.get(PERSON))
    person = await service.app.store.person(person_id) if person_id else None
    if person is not None:
        request.state.person = person
        return service
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.headers.get("hx-request"):
        # htmx would follow a redirect inside the page; this header moves the whole page. A
        # panel's poll comes back to the page it is on; a boosted link to where it was going.
        if not request.headers.get("hx-boosted"):
            here = local(request.headers.get("hx-current-url", "/"))
        raise HTTPException(401, "sign in again", headers={"HX-Redirect": login_url(here)})
    raise HTTPException(303, "sign in first", headers={"Location": login_url(here)})


Console = Annotated[Service, Depends(signed_in)]


def login_url(next_: str) -> str:
    return "/login" if next_ == "/" else "/login?" + urlencode({"next": next_})


def local(target: str) -> str:
    """Only a path on this site: a sign-in link must not send anyone elsewhere."""
    if "://" in target:
        target = "/" + target.split("://", 1)[1].partition("/")[2]
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
async def login_page(
    request: Request, token: str | None = None, next_: Annotated[str, Query(alias="next")] = "/"
) -> Response:
    service: Service = request.app.state.service
    if token is not None:
        return _sign_in(request, token, next_)
    if token_matches(request.cookies.get(COOKIE), service.api_token):
        return RedirectResponse(local(next_), status_code=303)
    return html("login.html", next=local(next_), error="")


@router.post("/login")
async def login_form(
    request: Request,
    token: Annotated[str, Form()] = "",
    next_: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    return _sign_in(request, token.strip(), next_)


def _sign_in(request: Request, token: str, next_: str) -> Response:
    service: Service = request.app.state.service
    if not token_matches(token, service.api_token):
        error = "That token is not the one this server uses."
        return html("login.html", status=401, next=local(next_), error=error)
    # Redirect at once: the token leaves the address bar and the browser history.
    response = RedirectResponse(local(next_), status_code=303)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", secure=over_https(request), path="/"
    )
    return response


def over_https(request: Request) -> bool:
    """Served over HTTPS: said by SWITCHBOARD_PUBLIC_URL, or seen on the request. Behind a proxy
    that ends TLS the request itself is plain HTTP, so the setting is what counts."""
    service: Service = request.app.state.service
    public_url = service.app.settings.switchboard_public_url
    return public_url.lower().startswith("https://") or request.url.scheme == "https"


@router.post("/logout")
async def logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    # The same attributes as when it was set: a browser keeps a Secure cookie from being
    # overwritten by one without them.
    for name in (COOKIE, PERSON):
        response.delete_cookie(
            name, path="/", secure=over_https(request), httponly=True, samesite="strict"
        )
    return response


@router.post("/login/person")
async def ask_for_link(
    request: Request,
    who: Annotated[Text, Form()] = "",
    next_: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    """Send a one-time sign-in link to the person `who` names (an id, or an address of theirs)
    on their preferred channel. The page says the same whoever it names: it tells no one who is
    in the directory."""
    service: Service = request.app.state.service
    wanted = who.strip().lower()
    people = await service.app.store.people()
    person = next(
        (
            p
            for p in people
            if wanted
            and (p.id.lower() == wanted or wanted in (a.lower() for a in p.identities.values()))
        ),
        None,
    )
    if person is not None:
        public_url = service.app.settings.switchboard_public_url
        link = await sign_in_link(service.app.store, public_url, person.id)
        text = f"Your sign-in link for the Switchboard console: {link} (it works once, for 15 minutes)."
        await service.app.store.outbox_add(
            OutboxMessage(kind="notice", text=text, recipient=person.id), f"signin:{link[-12:]}"
        )
        service.dispatcher.wake()
    said = (
        f"If {who.strip() or 'that'} is someone in the directory, a sign-in link is on its way to"
        " their preferred channel. It works once, for 15 minutes."
    )
    return html("login.html", next=local(next_), error="", sent=said)


@router.get("/login/link")
async def follow_link(request: Request, code: str = "") -> Response:
    service: Service = request.app.state.service
    person_id = await redeem(service.app.store, code) if code else None
    if person_id is None or await service.app.store.person(person_id) is None:
        error = "That sign-in link is used, expired or unknown: ask for a new one below."
        return html("login.html", status=401, next="/", error=error)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        PERSON,
        session(session_key(service.api_token), person_id),
        httponly=True,
        samesite="lax",  # followed from a chat app or a mail: a cross-site arrival
        secure=over_https(request),
        path="/",
    )
    return response
