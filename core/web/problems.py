"""Every error is RFC 7807 problem details (`application/problem+json`): type, title, status, detail.

Whatever raises a `core.errors.SwitchboardError` (a route, or core under it: `NotFound`, `NotAllowed`,
`AlreadyDecided`…) is answered with its status and kind by one handler; `ProblemError` is the API's
own, for what only a route knows (a body naming what is not there). `install_problem_handlers` turns
those, HTTP errors (401, 404, 405…), request validation errors and malformed JSON into problems;
`problem_of` is the same mapping for the console's pages; `as_problems` makes the OpenAPI document
say so. Every 422 carries `errors`, whether the request's shape was wrong or what it names is
unknown (a person, an agent, a channel): a client reads both the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException
from starlette.routing import Match

from core.errors import SwitchboardError

log = logging.getLogger("switchboard.http")

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:switchboard:problem:"
REF = "#/components/schemas/"


class Problem(BaseModel):
    """RFC 7807 problem details; some problems add members of their own (say, who decided)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        "about:blank", description="A URI naming the kind of problem; about:blank for plain HTTP."
    )
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong this time, for a person to read.")


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where: body, query or path, then the field.")
    msg: str
    type: str


class ValidationProblem(Problem):
    errors: list[FieldError] = Field(description="Each field that was missing or wrong.")


class ProblemError(SwitchboardError):
    """Raised by a route: answered as problem details with `status`."""

    def __init__(self, status: int, detail: str, *, kind: str = "", **extensions: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind  # a slug, e.g. "unknown-person"; "" is a plain HTTP problem
        self.members = extensions

    def extensions(self) -> dict[str, Any]:
        return self.members


def unprocessable(detail: str, *, kind: str, at: Sequence[str | int]) -> ProblemError:
    """A 422 for a well-formed request that names what does not exist or does not fit (an unknown
    person, agent or channel; a decision the request does not take): `at` is where, as in a
    validation error's `loc` (("body", "requester"), ("path", "channel"))."""
    error = FieldError(loc=list(at), msg=detail, type=kind)
    return ProblemError(422, detail, kind=kind, errors=[error.model_dump()])


def problem_type(kind: str) -> str:
    return TYPE_PREFIX + kind if kind else "about:blank"


def problem_response(
    status: int,
    detail: str,
    *,
    kind: str = "",
    title: str = "",
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body = Problem(
        type=problem_type(kind),
        title=title or _title(status, kind),
        status=status,
        detail=detail,
        **extensions,
    )
    return _json(body, headers)


def _json(body: Problem, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=body.status,
        headers=headers,
        media_type=MEDIA_TYPE,
    )


def problem_of(error: SwitchboardError) -> Problem:
    """The problem an error is answered with: by the API, and on the console's pages."""
    extensions = error.extensions()
    if error.status == 422 and "errors" not in extensions:  # the document promises `errors`
        missing = FieldError(loc=[], msg=error.detail, type=error.kind or "unprocessable")
        extensions = {**extensions, "errors": [missing.model_dump()]}
    return Problem(
        type=problem_type(error.kind),
        title=_title(error.status, error.kind),
        status=error.status,
        detail=error.detail,
        **extensions,
    )


def _title(status: int, kind: str) -> str:
    if kind:
        return kind.replace("-", " ").capitalize()
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """For a route's `responses=`: these statuses answer with problem details."""
    return {
        s: {"model": ValidationProblem if s == 422 else Problem, "description": _title(s, "")}
        for s in statuses
    }


# --- the handlers -------------------------------------------------------------------------------


async def _on_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SwitchboardError)
    return _json(problem_of(exc))


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code < 400:  # a redirect (the console's "sign in first") is not a problem
        return Response(status_code=exc.status_code, headers=exc.headers)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    headers = exc.headers
    if exc.status_code == 404 and detail == HTTPStatus.NOT_FOUND.phrase:
        detail = f"there is nothing at {request.url.path}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return problem_response(exc.status_code, detail, headers=headers)


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path, found by asking the router about each one.
    Starlette's 405 names only the methods of the first route that matched the path, so
    `/api/v1/people` said `Allow: GET` although POST works too."""
    routes = request.app.router.routes
    return [
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]


def field_errors(errors: Sequence[Any]) -> list[FieldError]:
    return [
        FieldError(loc=_where(e), msg=str(e.get("msg", "")), type=str(e.get("type")))
        for e in errors
    ]


def _where(error: Mapping[str, Any]) -> list[str | int]:
    loc: list[str | int] = list(error.get("loc", ()))
    if error.get("type") in ("union_tag_invalid", "union_tag_not_found"):
        # A body of one of several shapes (told apart by a field): point at that field.
        loc.append(str(error.get("ctx", {}).get("discriminator", "")).strip("'"))
    return loc


async def _on_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc.errors())
    broken = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
    if broken is not None:
        reason = broken.get("ctx", {}).get("error", "not JSON")
        at = broken["loc"][-1] if broken.get("loc") else "?"
        return problem_response(
            400, f"the body is not valid JSON: {reason} at character {at}", kind="malformed-json"
        )
    where = "; ".join(f"{'.'.join(str(p) for p in e.loc)}: {e.msg}" for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return problem_response(
        422,
        f"the request is not valid: {where}{more}",
        kind="invalid-request",
        errors=[e.model_dump() for e in errors],
    )


async def _on_crash(request: Request, exc: Exception) -> JSONResponse:
    # Starlette logs and re-raises after this answer; the client still gets a problem, not HTML.
    return problem_response(500, "an unexpected error occurred; the server log has the details")


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error with problem details (core.web.openapi documents them that way)."""
    app.add_exception_handler(SwitchboardError, _on_error)
    app.add_exception_handler(RequestValidationError, _on_invalid)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(Exception, _on_crash)


# --- the OpenAPI document: errors are application/problem+json ------------------------------------


def as_problems(schema: dict[str, Any]) -> None:
    """Error responses say `application/problem+json`; FastAPI's 422 becomes ValidationProblem."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if not status.isdigit() or int(status) < 400 or "application/json" not in content:
                    continue
                body = content.pop("application/json")
                if body.get("schema", {}).get("$ref") == REF + "HTTPValidationError":
                    body["schema"] = {"$ref": REF + "ValidationProblem"}
                content[MEDIA_TYPE] = body
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    _, found = models_json_schema(
        [(ValidationProblem, "serialization")], ref_template=REF + "{model}"
    )
    components.update(found.get("$defs", {}))
