"""Signing in: `/login?token=…` (the link `switchboard serve` prints) or the form sets an HttpOnly,
SameSite=Strict cookie (Secure when the console is served over HTTPS); every other page sends a
browser without it to /login."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse

from core.service import Service
from core.web.auth import COOKIE, token_matches
from core.web.console.render import html

router = APIRouter(include_in_schema=False)


async def signed_in(request: Request) -> Service:
    """The service, for a browser that holds the token's cookie; others are sent to /login."""
    service: Service = request.app.state.service
    if token_matches(request.cookies.get(COOKIE), service.api_token):
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
    response.delete_cookie(
        COOKIE, path="/", secure=over_https(request), httponly=True, samesite="strict"
    )
    return response
