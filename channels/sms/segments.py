"""How many SMS segments a text costs, counted as carriers and Twilio count them. Pure.

A text is sent in GSM-7 when every character is in the GSM 03.38 default alphabet or its
extension table, else in UCS-2: one emoji or one curly quote switches the whole message.

- GSM-7: a single message holds 160 septets; a longer one is sent in parts of 153 (each part
  carries a header that tells the phone how to join them). A character of the extension table
  (`^ { } \\ [ ~ ] | €` and form feed) costs two septets, an escape and the character, and the
  pair is never split across two parts.
- UCS-2: 70 UTF-16 code units single, 67 per part; a character outside the Basic Multilingual
  Plane (most emoji) is a surrogate pair of two code units, never split across two parts either.

`parts` splits a text as a carrier does, `segments` counts them, and `fit` cuts a text so that it
and what must follow it fit in a number of segments.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")  # each sent as an escape and itself: two septets

# (one message alone, each part of a longer one), in septets or UTF-16 code units
LIMITS: dict[Encoding, tuple[int, int]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}

# What ends a text that `fit` cut: "…" is not in GSM-7 and would switch a GSM-7 text to UCS-2,
# halving its room, so a GSM-7 text ends with three full stops.
ELLIPSIS: dict[Encoding, str] = {"GSM-7": "...", "UCS-2": "\u2026"}

_JOINERS = frozenset("\u200d\ufe0e\ufe0f\u20e3")  # zero-width joiner, variation selectors, keycap


def is_gsm7(text: str) -> bool:
    """Whether every character of `text` is in the GSM-7 alphabet or its extension table."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def encoding(text: str) -> Encoding:
    """The encoding a carrier sends `text` in: GSM-7 where it can, else UCS-2."""
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def cost(char: str, encoded: Encoding) -> int:
    """What one character takes in `encoded`: septets for GSM-7, UTF-16 code units for UCS-2."""
    if encoded == "GSM-7":
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def size(text: str) -> int:
    """`text`'s length in its encoding: septets for GSM-7, UTF-16 code units for UCS-2."""
    encoded = encoding(text)
    return sum(cost(c, encoded) for c in text)


def parts(text: str) -> list[str]:
    """`text` as a carrier sends it: one part, or parts of at most 153 septets (67 code units),
    none splitting an escape pair or a surrogate pair. An empty text has none."""
    encoded = encoding(text)
    single, each = LIMITS[encoded]
    costs = [cost(c, encoded) for c in text]
    if sum(costs) <= single:
        return [text] if text else []
    found: list[str] = []
    start = used = 0
    for at, units in enumerate(costs):
        if used + units > each:
            found.append(text[start:at])
            start, used = at, 0
        used += units
    found.append(text[start:])
    return found


def segments(text: str) -> int:
    """How many segments `text` is sent (and billed) as: 0 for an empty text."""
    return len(parts(text))


def fits(text: str, max_segments: int) -> bool:
    """Whether `text` is sent in at most `max_segments` segments."""
    return segments(text) <= max_segments


def fit(text: str, max_segments: int, suffix: str = "") -> str:
    """`text`, cut if need be so that `text + suffix` fits in `max_segments`: at a word boundary
    where one is near, else between two characters (never inside a character's combining marks,
    joiners or variation selectors), and ending with an ellipsis ("..." in GSM-7, "…" in UCS-2).

    Raises ValueError when `suffix` with an ellipsis does not fit alone."""
    if max_segments < 1:
        raise ValueError(f"max_segments must be at least 1, not {max_segments}")
    if fits(text + suffix, max_segments):
        return text
    if not fits(_ended("", suffix) + suffix, max_segments):
        raise ValueError(f"the suffix alone does not fit in {max_segments} segment(s)")
    lo, hi = 0, len(text)  # the longest head that fits, by bisection: text[:lo] always fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(_ended(text[:mid], suffix) + suffix, max_segments):
            lo = mid
        else:
            hi = mid - 1
    for head in (_at_word(text, lo), _at_character(text, lo)):
        cut = _ended(head, suffix)
        if fits(cut + suffix, max_segments):
            return cut
    return _ended(text[:lo], suffix)


def _ended(head: str, suffix: str) -> str:
    """A cut head with its ellipsis, in the encoding the whole will be sent in."""
    head = head.rstrip(" \t\n\r,;:-")
    encoded = encoding(head + suffix)
    return head + ELLIPSIS[encoded]


def _at_word(text: str, at: int) -> str:
    """`text[:at]` ended at the last space or line break, if that keeps most of it."""
    if at >= len(text) or text[at].isspace():
        return text[:at]
    space = max(text.rfind(" ", 0, at), text.rfind("\n", 0, at))
    return text[:space] if space > at * 2 // 3 else _at_character(text, at)


def _at_character(text: str, at: int) -> str:
    """`text[:at]`, moved back so that no combining mark, joiner or modifier is parted from
    the character it belongs to."""
    while 0 < at < len(text) and (_joins(text[at]) or text[at - 1] == "\u200d"):
        at -= 1
    indicators = 0  # a flag is two regional indicators: a cut after an odd run parts one
    while indicators < at and _regional(text[at - 1 - indicators]):
        indicators += 1
    if indicators % 2 and at < len(text) and _regional(text[at]):
        at -= 1
    return text[:at]


def _regional(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def _joins(char: str) -> bool:
    return (
        char in _JOINERS
        or unicodedata.combining(char) != 0
        or "\U0001f3fb" <= char <= "\U0001f3ff"  # skin tones
        or "\U000e0020" <= char <= "\U000e007f"  # tag sequences (flags of regions)
    )
