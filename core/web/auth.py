"""One bearer token guards the REST API and the console (a cookie carries it for the browser)."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status

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
    """For the API: `Authorization: Bearer <token>`, or the console's cookie. Async: FastAPI
    would run a plain function on its thread pool, a hop per request for a string compare."""
    expected: str = request.app.state.service.api_token
    if token_matches(bearer(request), expected) or token_matches(
        request.cookies.get(COOKIE), expected
    ):
        return
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "a valid bearer token is required (SWITCHBOARD_API_TOKEN, printed by `switchboard serve`)",
        headers={"WWW-Authenticate": "Bearer"},
    )
