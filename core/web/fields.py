"""The kinds of value the API and the console take, each stating its rule in the OpenAPI document
exactly as it is checked, so the document and the answers agree (core/text.py decides the rule).

Names of things (ids, addresses, filters, people's names) are refused when broken (a control
character, an unpaired surrogate, too long); an id in a path that breaks the rule is not found.
What people write is kept minus what no database can store. Message text is checked here but
cleaned by the event it becomes, which counts what it changed.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import AfterValidator, Field

from core.text import CONTROLS, NAME_PATTERN, Name, check_name, is_name, storable_text

__all__ = [
    "Choice",
    "Label",
    "Message",
    "Name",
    "PathId",
    "PersonId",
    "Words",
    "address_forms",
    "choices",
    "findable",
    "says_something",
]

CHOICES = "x-switchboard-choices"
Choice = Literal["agents", "channels"]


def choices(of: Choice) -> dict[str, Any]:
    """For `json_schema_extra`: the value is one of this service's agents (or channels). The
    OpenAPI document lists them (core/web/openapi.py); an unknown one is still answered by the
    route: 422, or 404 in a path."""
    return {CHOICES: of}


ADDRESSES = "x-switchboard-addresses"
ADDRESS_MAX_LENGTH = 200


def address_forms() -> dict[str, Any]:
    """For `json_schema_extra` of a channel → address mapping: the OpenAPI document states the
    form of each channel's addresses that has one (its codec's `AddressForm`)."""
    return {ADDRESSES: True}


# A name with more than white space in it. Pydantic's regex engine and Python's (which the
# fuzzer uses) agree on `\s` for every character a name may hold.
LABEL_PATTERN = f"^[^{CONTROLS}]*[^{CONTROLS}\\s][^{CONTROLS}]*$"
# Written text that says something: a character that is neither white space nor NUL (which is
# removed). Checked in Python, not by pydantic's pattern, which refuses unpaired surrogates: in
# written text those are kept (as U+FFFD), not refused.
SAYS_SOMETHING = "[^\\s\\u0000]"
_SAYS_SOMETHING = re.compile(SAYS_SOMETHING)


def says_something(text: str) -> bool:
    return _SAYS_SOMETHING.search(text) is not None


def _saying_something(text: str) -> str:
    if not says_something(text):
        raise ValueError("must say something: it is empty or only white space")
    return text


_WRITTEN_SCHEMA = Field(json_schema_extra={"minLength": 1, "pattern": SAYS_SOMETHING})

# A person's name, an address, who did something: a name that is more than spaces, trimmed.
Label = Annotated[
    str,
    Field(pattern=LABEL_PATTERN, max_length=200),
    AfterValidator(check_name),
    AfterValidator(str.strip),
]
# A person's id in the directory, or a role. No ":" in either: a recipient "role:NAME" must never
# be mistaken for a person.
PersonId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
# A message: kept as written (the event removes NUL and replaces unpaired surrogates, and counts
# them), but it must say something.
Message = Annotated[str, AfterValidator(_saying_something), _WRITTEN_SCHEMA]
# An answer that must say something: stored as core.text's Text (NUL removed, surrogates replaced).
Words = Annotated[
    str, AfterValidator(_saying_something), AfterValidator(storable_text), _WRITTEN_SCHEMA
]
# An id in a path. The document states the rule of names; the route answers an id that breaks it
# with 404, as any id that names nothing (core/text.py: a path id is not found, not malformed).
PathId = Annotated[str, Path(min_length=1, json_schema_extra={"pattern": NAME_PATTERN})]


def findable(id_: str) -> bool:
    """An id that could name something: look it up. Otherwise it is not found, without asking a
    database that cannot even take it (PostgreSQL refuses NUL)."""
    return is_name(id_)
