"""Every error is RFC 7807 problem details (`application/problem+json`): type, title, status, detail.

Routes raise `ProblemError`; `install_problem_handlers` turns it, HTTP errors (401, 404, 405…),
request validation errors and malformed JSON into problems, and makes the OpenAPI document say so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException

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


class ProblemError(Exception):
    """Raised by a route: answered as problem details with `status`."""

    def __init__(self, status: int, detail: str, *, kind: str = "", **extensions: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind  # a slug, e.g. "already-decided"; "" is a plain HTTP problem
        self.extensions = extensions


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
    return JSONResponse(
        body.model_dump(mode="json"), status_code=status, headers=headers, media_type=MEDIA_TYPE
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


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc.status, exc.detail, kind=exc.kind, **exc.extensions)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code < 400:  # a redirect (the console's "sign in first") is not a problem
        return Response(status_code=exc.status_code, headers=exc.headers)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and detail == HTTPStatus.NOT_FOUND.phrase:
        detail = f"there is nothing at {request.url.path}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem_response(exc.status_code, detail, headers=exc.headers)


def field_errors(errors: Sequence[Any]) -> list[FieldError]:
    return [
        FieldError(loc=list(e.get("loc", ())), msg=str(e.get("msg", "")), type=str(e.get("type")))
        for e in errors
    ]


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
    """Answer every error with problem details, and document the API's errors that way."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_invalid)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(Exception, _on_crash)
    app.openapi = _problem_openapi(app.openapi)  # type: ignore[method-assign]


# --- the OpenAPI document: errors are application/problem+json ------------------------------------


def _problem_openapi(generate: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    done: list[bool] = []

    def openapi() -> dict[str, Any]:
        schema = generate()  # FastAPI caches it: rewrite the cached document once
        if not done:
            as_problems(schema)
            done.append(True)
        return schema

    return openapi


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
