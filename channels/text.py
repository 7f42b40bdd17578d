"""Long text in chunks that each fit a platform's limit, with every chunk's code blocks closed: the
one `split` behind Slack's sections and Discord's messages. Pure.

A chunk ends at the last paragraph break that fits, else the last line break, else the last
space (the break itself is dropped), preferring one that fills at least half the chunk; any break
outside a code block comes before one inside it. A code block is cut only when nothing outside it
fits: the chunk then closes it (a fence on a line of its own) and the next chunk opens it again,
with its language (```python) where it had one, so that each chunk's fences are balanced. A line
counts as a fence when it starts with three backticks, unless it also ends with them (```x```).

What a channel calls `atoms` is cut only when it alone is longer than a chunk: by default a link
or mention in angle brackets and an inline code span; Slack adds its entities (`&amp;`).
"""

from __future__ import annotations

import re
from typing import NamedTuple

FENCE = "```"
ATOMS = re.compile(r"<[^<>\n]*>|`[^`\n]+`")
MIN_FENCED_LIMIT = 16  # a smaller chunk cannot carry the fences as well: they are ignored
_CLOSE = "\n" + FENCE
_LANGUAGE = re.compile(r"```[A-Za-z0-9_+\-.#]+")  # as Discord reads a code block's language
_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+")


class _Place(NamedTuple):
    """Where a chunk could end (a line break or a space), and the code block open there."""

    at: int
    opener: str | None  # the fence line that opened the block, stripped; None outside code
    code: bool  # whether the open block has code before this place


def split(text: str, limit: int, *, atoms: re.Pattern[str] = ATOMS) -> list[str]:
    """`text` in chunks of at most `limit` characters, none empty (an empty text: no chunk)."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    fenced = limit >= MIN_FENCED_LIMIT
    chunks: list[str] = []
    rest = text.replace("\r\n", "\n").strip()
    while len(rest) > limit:
        head, rest = _cut(rest, limit, fenced, atoms)
        if head.strip():
            chunks.append(head)
    if rest.strip():
        chunks.append(rest)
    return chunks


def toggles(line: str) -> bool:
    """Whether a line opens or closes a code block (```code``` on one line does neither)."""
    s = line.strip()
    return s.startswith(FENCE) and not (len(s) >= 2 * len(FENCE) and s.endswith(FENCE))


def _cut(body: str, limit: int, fenced: bool, atoms: re.Pattern[str]) -> tuple[str, str]:
    """The first chunk of `body` (longer than `limit`) and what remains."""
    breaks, spaces = _places(body, limit, fenced, atoms)
    first = len(body) - len(body.lstrip())  # a chunk must hold more than leading blanks
    lines = [p.at for p in breaks if p.opener is None and first < p.at <= limit]
    paragraphs = [p for p in lines if not body[p + 1 : _line_end(body, p + 1)].strip()]
    words = [p.at for p in spaces if p.opener is None and first < p.at <= limit]
    for least in (limit // 2, 0):
        for found in (paragraphs, lines, words):
            if found and found[-1] >= least:
                return _at(body, found[-1])
    for places in (breaks, spaces):  # only a cut inside a code block fits
        inside = [p for p in places if p.opener and p.code and p.at + len(_CLOSE) <= limit]
        if inside and inside[-1].opener:
            at, reopen = inside[-1].at, _reopen(inside[-1].opener, limit)
            if at >= len(reopen):  # what remains is shorter than `body`
                return body[:at] + _CLOSE, reopen + body[at + 1 :]
    return _hard_cut(body, limit, fenced, atoms)


def _places(
    body: str, limit: int, fenced: bool, atoms: re.Pattern[str]
) -> tuple[list[_Place], list[_Place]]:
    """The line breaks and the spaces up to `limit`. A break's code block is the one open after
    its line. Left out: spaces on a fence's line or just before a fence (a cut there would make
    one), and spaces inside an atom that fits in a chunk."""
    breaks: list[_Place] = []
    spaces: list[_Place] = []
    opener: str | None = None
    code = False
    start = 0
    while start <= limit:
        end = _line_end(body, start)
        seen = min(end, limit + 1)  # the part of the line a chunk can hold
        line = body[start:end]
        if fenced and toggles(line):
            opener, code = (line.strip() if opener is None else None), False
        elif fenced and line.lstrip().startswith(FENCE):
            code = code or opener is not None
        else:
            guarded = bytearray(seen - start)  # 1: a space inside an atom
            for m in () if opener else atoms.finditer(body, start, min(end, seen + limit)):
                lo, hi = m.start() + 1, min(m.end() - 1, seen)
                if lo >= seen:
                    break
                if hi > lo and m.end() - m.start() <= limit:
                    guarded[lo - start : hi - start] = b"\x01" * (hi - lo)
            text_from = start + len(line) - len(line.lstrip())
            at = body.find(" ", start, seen)
            while at != -1:
                before_fence = fenced and body[at + 1 : at + 64].lstrip(" ").startswith(FENCE)
                if not guarded[at - start] and not before_fence:
                    spaces.append(_Place(at, opener, code or at > text_from))
                at = body.find(" ", at + 1, seen)
            code = code or bool(opener and line.strip())
        if end > limit or end >= len(body):
            break
        breaks.append(_Place(end, opener, code))
        start = end + 1
    return breaks, spaces


def _at(body: str, p: int) -> tuple[str, str]:
    """Cut at the break or space at `p`, dropping it (and the blank lines after a paragraph)."""
    tail = body[p + 1 :]
    tail = _BLANK_LINES.sub("", tail) if body[p] == "\n" else tail.lstrip(" ")
    return body[:p].rstrip(), tail


def _line_end(body: str, start: int) -> int:
    end = body.find("\n", start)
    return len(body) if end == -1 else end


def _reopen(opener: str, limit: int) -> str:
    """The fence that opens a cut code block again: with its language, if it fits easily."""
    keep = _LANGUAGE.fullmatch(opener) and len(opener) <= limit // 4
    return (opener if keep else FENCE) + "\n"


def _hard_cut(body: str, limit: int, fenced: bool, atoms: re.Pattern[str]) -> tuple[str, str]:
    """No break fits: cut mid-word, leaving room to close a code block; not inside an atom that
    fits in a chunk, nor where the cut would make a fence. Where that leaves no code in the
    chunk (or none at all), cut where the limit falls."""
    budget = limit - len(_CLOSE) if fenced else limit
    at = budget
    for m in atoms.finditer(body, max(0, at - limit), min(len(body), at + limit)):
        if m.start() < at < m.end() and m.start() > 0 and m.end() - m.start() <= limit:
            at = m.start()
    if fenced:
        at = _clear_of_backticks(body, at)
    opener, code = _block_at(body, at) if fenced else (None, False)
    if at <= 0 or (opener and not (code and at > len(_reopen(opener, limit)))):
        at = budget
        opener = _block_at(body, at)[0] if fenced else None
    if opener is None:
        return body[:at], body[at:]
    return body[:at] + _CLOSE, _reopen(opener, limit) + body[at:]


def _clear_of_backticks(body: str, at: int) -> int:
    """`at`, or the nearest place before it in its line where a cut makes no fence: not after a
    backtick, nor before one (spaces aside); before the line if the line starts with one (and is
    not the first). `at` itself if there is none."""
    line_start = body.rfind("\n", 0, at) + 1
    if line_start > 0 and body[line_start:at].lstrip().startswith("`"):
        return line_start
    for p in range(at, line_start, -1):
        if body[p - 1] != "`" and not body[p : p + 64].lstrip(" \t").startswith("`"):
            return p
    return at


def _block_at(body: str, at: int) -> tuple[str | None, bool]:
    """The fence line of the code block open at `at` (None outside code), and whether the block
    has code before `at`."""
    opener: str | None = None
    code = False
    lines = body[:at].split("\n")
    for line in lines[:-1]:
        if toggles(line):
            opener, code = (line.strip() if opener is None else None), False
        else:
            code = code or bool(opener and line.strip())
    return opener, code or bool(opener and lines[-1].strip())
