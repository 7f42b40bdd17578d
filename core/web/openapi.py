"""What the OpenAPI document says beyond what FastAPI derives from the routes: errors are problem
documents, a route that takes a body also answers 400 (not JSON) and 413 (over the size limit),
how the token is given, and the choices that depend on this service: its agents and channels,
and the form of each channel's addresses.

The document is built once, on the first request for it, and kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI

from core.channels import AddressForm
from core.web.api import SECURITY_SCHEMES
from core.web.fields import ADDRESS_MAX_LENGTH, ADDRESSES, CHOICES, Choice
from core.web.limits import Limit
from core.web.problems import MEDIA_TYPE, REF, Problem, as_problems


def install(
    app: FastAPI,
    *,
    limit: Limit,
    known: Mapping[Choice, Sequence[str]],
    addresses: Mapping[str, AddressForm],
) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            as_problems(schema)
            _security(schema)
            _body_problems(schema, limit)
            _fill_choices(schema, known)
            _fill_addresses(schema, addresses)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _operations(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (path, operation)
        for path, operations in schema.get("paths", {}).items()
        for operation in operations.values()
    ]


def _security(schema: dict[str, Any]) -> None:
    """Every /api/v1 route takes the token. Security dependencies would say so too, but cost
    every request two more dependency calls."""
    schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    for path, operation in _operations(schema):
        if path.startswith("/api/v1/"):
            operation["security"] = [{"HTTPBearer": []}, {"APIKeyCookie": []}]


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {MEDIA_TYPE: {"schema": {"$ref": REF + "Problem"}}},
    }


def _body_problems(schema: dict[str, Any], limit: Limit) -> None:
    bad_body = _problem("The body is not JSON, or not readable (malformed-json).")
    too_large = _problem(f"The body is larger than {limit.bytes} bytes ({limit.setting}).")
    for _, operation in _operations(schema):
        if "requestBody" in operation:
            responses = operation.setdefault("responses", {})
            responses.setdefault("400", bad_body)
            responses.setdefault("413", too_large)
            operation["responses"] = dict(sorted(responses.items()))
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Problem", Problem.model_json_schema(mode="serialization"))


def _fill_choices(node: Any, known: Mapping[Choice, Sequence[str]]) -> None:
    """Replace each choices() marker with the enum of what this service has."""
    if isinstance(node, dict):
        if CHOICES in node:
            node["enum"] = sorted(known[node.pop(CHOICES)])
        for value in node.values():
            _fill_choices(value, known)
    elif isinstance(node, list):
        for value in node:
            _fill_choices(value, known)


def _fill_addresses(node: Any, forms: Mapping[str, AddressForm]) -> None:
    """Replace each address_forms() marker with the form of each channel's addresses."""
    if isinstance(node, dict):
        if node.pop(ADDRESSES, None):
            node["properties"] = {
                name: {
                    "type": "string",
                    "maxLength": ADDRESS_MAX_LENGTH,
                    "pattern": form.pattern,
                    "description": form.description,
                }
                for name, form in sorted(forms.items())
                if form.pattern is not None
            }
            node["examples"] = [{name: form.example for name, form in sorted(forms.items())}]
        for value in node.values():
            _fill_addresses(value, forms)
    elif isinstance(node, list):
        for value in node:
            _fill_addresses(value, forms)
