"""The one rule for text from outside, decided here and applied at every entry point.

What people write is kept, minus what no database can store: NUL characters are removed and
unpaired UTF-16 surrogates (which cannot be encoded as UTF-8) become U+FFFD; the event says how
many characters were changed. Names of things (ids, addresses, people's names, filters) are never
changed: one that carries a control character or a surrogate is refused (422; a path id: 404).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
# What a name may not contain: C0 controls, DEL, C1 controls, and surrogates. The pattern goes into
# the OpenAPI document, so it states the rule the API applies; it leaves surrogates out because a
# regex engine (pydantic's included) cannot spell them, and pydantic refuses them before the pattern.
CONTROLS = "\\u0000-\\u001f\\u007f-\\u009f"  # as a regex character class
NAME_PATTERN = f"^[^{CONTROLS}]*$"
_BAD_NAME = re.compile(f"[{CONTROLS}\\ud800-\\udfff]")


def storable(text: str) -> tuple[str, int]:
    """`text` minus what a database cannot store, and how many characters that changed."""
    changed = text.count("\x00")
    if changed:
        text = text.replace("\x00", "")
    text, surrogates = _SURROGATE.subn(REPLACEMENT, text)
    return text, changed + surrogates


def storable_text(text: str) -> str:
    return storable(text)[0]


def check_name(value: str) -> str:
    """A name of something, unchanged; ValueError if it holds a control character or surrogate."""
    if _BAD_NAME.search(value):
        raise ValueError("must not contain control characters or unpaired surrogates")
    return value


def is_name(value: str) -> bool:
    return _BAD_NAME.search(value) is None


# For pydantic models and FastAPI parameters: the rule, and the schema that states it.
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=1000), AfterValidator(check_name)]
Text = Annotated[str, AfterValidator(storable_text)]
