"""The agent's text on Discord: mentions made harmless, and long text in messages within Discord's
limits. Pure.

Discord reads Markdown itself (bold, italics, headings, lists, links, code blocks), so the agent's
text goes as written, with two changes: `@everyone`, `@here` and `<@…>` mentions get a zero-width
space after their `@`, so they arrive as text (every payload also says
`"allowed_mentions": {"parse": []}`, which would stop a ping on its own); and a text longer than
one message is split, with a code block cut in two closed at the end of one chunk and opened again
(with its language) at the start of the next.
"""

from __future__ import annotations

import re

CONTENT_LIMIT = 2000  # a message's content
FENCE = "```"
ZWSP = "\u200b"

_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
_MENTION = re.compile(r"@(?=(?:everyone|here)\b)|(?<=<)@")
_CLOSE = "\n" + FENCE
_MIN_FENCED_LIMIT = 32  # below this a chunk cannot carry the fences as well: they are ignored


def escape_mentions(text: str) -> str:
    """`text` with every `@everyone`, `@here`, `<@user>`, `<@!user>` and `<@&role>` unable to
    mention anyone: a zero-width space after the `@`. Code (spans and blocks) is left exactly as
    written: Discord never reads a mention inside it."""
    out: list[str] = []
    last = 0
    for m in _CODE.finditer(text):
        out.append(_MENTION.sub("@" + ZWSP, text[last : m.start()]))
        out.append(m.group())
        last = m.end()
    out.append(_MENTION.sub("@" + ZWSP, text[last:]))
    return "".join(out)


def break_fences(text: str) -> str:
    """No three backticks in a row: a zero-width space after every second of a run."""
    return re.sub(r"``(?=`)", "``" + ZWSP, text)


def _toggles(line: str) -> bool:
    """Whether a line opens or closes a code block (```code``` on one line does neither)."""
    s = line.strip()
    return s.startswith(FENCE) and not (len(s) >= 2 * len(FENCE) and s.endswith(FENCE))


def split(text: str, limit: int = CONTENT_LIMIT) -> list[str]:
    """`text` in chunks of at most `limit` characters, none empty (an empty text: no chunk).

    A chunk ends at the last paragraph break that fits, else a line break, else a space (the
    break itself is dropped), preferring one that fills at least half the chunk, and one outside
    a code block. When a chunk ends inside a code block it closes it, and the next chunk opens it
    again with the same language, so that every chunk's fences are balanced."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    fenced = limit >= _MIN_FENCED_LIMIT
    chunks: list[str] = []
    rest = text.replace("\r\n", "\n").strip()
    while len(rest) > limit:
        head, rest = _cut(rest, limit, fenced=fenced)
        if head.strip():
            chunks.append(head)
    if rest.strip():
        chunks.append(rest)
    return chunks


def _cut(body: str, limit: int, *, fenced: bool) -> tuple[str, str]:
    """The first chunk of `body` (longer than `limit`) and what remains."""
    # Each candidate: (position of the break, its kind: 0 paragraph, 1 line, 2 space,
    # the fence line open there or None).
    candidates: list[tuple[int, int, str | None]] = []
    opened: str | None = None  # the line that opened the code block we are in
    start = 0
    while start <= limit:
        end = body.find("\n", start)
        end = len(body) if end == -1 else end
        line = body[start:end]
        if fenced and _toggles(line):
            opened = line.strip() if opened is None else None
        elif opened is None and not (fenced and line.lstrip().startswith(FENCE)):
            at = body.find(" ", start, min(end, limit + 1))
            while at != -1:  # spaces outside code only: a cut inside code is at a line's end
                if at > 0 and not body[at + 1 : at + 64].lstrip(" ").startswith(FENCE):
                    candidates.append((at, 2, opened))
                at = body.find(" ", at + 1, min(end, limit + 1))
        if end >= len(body) or end > limit:
            break
        paragraph = not body[end + 1 : _eol(body, end + 1)].strip()
        if end > 0:
            candidates.append((end, 0 if paragraph and opened is None else 1, opened))
        start = end + 1
    for least in (limit // 2, 1):
        for inside in (False, True):
            for kind in (0, 1, 2):
                best = _best(candidates, limit, least, kind, inside)
                if best is not None:
                    return _at(body, *best, limit)
    return _hard_cut(body, limit, fenced=fenced)


def _eol(body: str, start: int) -> int:
    end = body.find("\n", start)
    return len(body) if end == -1 else end


def _reopen(opened: str, limit: int) -> str:
    """The fence that opens a cut code block again: with its language if that is short."""
    return (opened if len(opened) <= limit // 4 else FENCE) + "\n"


def _best(
    candidates: list[tuple[int, int, str | None]], limit: int, least: int, kind: int, inside: bool
) -> tuple[int, str | None] | None:
    found = None
    for p, k, opened in candidates:
        if k != kind or (opened is not None) != inside or p < least:
            continue
        if opened is not None and (p + len(_CLOSE) > limit or p <= len(_reopen(opened, limit))):
            continue
        if p <= limit:
            found = (p, opened)
    return found


def _at(body: str, p: int, opened: str | None, limit: int) -> tuple[str, str]:
    """Cut at the break or space at `p`, dropping it; closing and reopening an open block."""
    head, tail = body[:p].rstrip(), body[p + 1 :]
    if opened is None:
        return head, re.sub(r"\A(?:[ \t]*\n)+", "", tail) if body[p] == "\n" else tail.lstrip(" ")
    return body[:p] + _CLOSE, _reopen(opened, limit) + tail


def _hard_cut(body: str, limit: int, *, fenced: bool) -> tuple[str, str]:
    """No break fits: cut mid-word (closing and reopening a code block it is in)."""
    opened: str | None = None
    if fenced:
        start = 0
        while start < limit:
            end = _eol(body, start)
            if end >= limit:
                break
            if _toggles(body[start:end]):
                opened = None if opened is not None else body[start:end].strip()
            start = end + 1
    if opened is None:
        at = _safe(body, limit, 0) if fenced else limit
        return body[:at], body[at:]
    reopen = _reopen(opened, limit)
    at = _safe(body, limit - len(_CLOSE), len(reopen) + 1)
    return body[:at] + _CLOSE, reopen + body[at:]


def _safe(body: str, at: int, floor: int) -> int:
    """A cut at or before `at` that makes no fence of a backtick run or of a line's start."""
    p = at
    while p > floor:
        line_start = body.rfind("\n", 0, p) + 1
        if body[line_start:p].lstrip().startswith("`"):
            p = line_start  # cut before the line instead of inside it
            if p > floor:
                return p
            break
        if body[p - 1] != "`" and body[p] != "`":
            return p
        p -= 1
    return at
