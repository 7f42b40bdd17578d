"""The operator's bearer token guards the REST API and the console (a cookie carries it for the
browser); an outside caller's key (core/callers.py) opens the API's asking and its own requests."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status

from core.callers import key_hash, looks_like_a_key

COOKIE = "switchboard_token"


def token_matches(given: str | None, expected: str) -> bool:
    # Constant time: how far a guess matched must not show in how long the answer took. A guess
    # may hold anything, an unpaired surrogate too: encoded as it is, it only fails to match.
    return given is not None and hmac.compare_digest(
        given.encode(errors="surrogatepass"), expected.encode()
    )


def bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


async def require_token(request: Request) -> None:
    """For the API: `Authorization: Bearer <token>`, or the console's cookie, for the operator;
    `Authorization: Bearer <a caller's key>` for a caller. `request.state.caller` says which:
    the Caller, or None for the operator. Async: FastAPI would run a plain function on its
    thread pool, a hop per request for a string compare."""
    service = request.app.state.service
    given = bearer(request)
    if token_matches(given, service.api_token) or token_matches(
        request.cookies.get(COOKIE), service.api_token
    ):
        request.state.caller = None
        return
    if given is not None and looks_like_a_key(given):
        caller = await service.app.store.caller_with_key(key_hash(given))
        if caller is not None:
            request.state.caller = caller
            return
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "a valid bearer token is required (SWITCHBOARD_API_TOKEN, printed by `switchboard serve`,"
        " or a caller's key from `switchboard callers add`)",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def operator_only(request: Request) -> None:
    """The routes a caller's key does not open: everything but asking and its own requests."""
    if getattr(request.state, "caller", None) is not None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "a caller's key asks people (POST /api/v1/requests) and reads the requests it made;"
            " the rest is the operator's",
        )
