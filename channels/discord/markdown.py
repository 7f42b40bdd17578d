"""Discord's Markdown as Discord draws it, in HTML for the console's preview; its timestamps as a
reader in UTC sees them. Pure.

Discord's dialect is not CommonMark: it follows simple-markdown, the parser Discord's client is
built on. A line break is a break and there are no paragraphs; `__x__` underlines, `||x||` hides
a spoiler, `~~x~~` strikes; only `#`, `##` and `###` make headings and `-#` small grey subtext;
`> ` quotes a line and `>>> ` the rest of the message; a code block may open mid-line; and
`<t:UNIX:style>` is a time each reader sees in their own zone. A CommonMark library such as
markdown-it-py (installed with rich) would need most of its rules turned off or overridden and
these added, so this is a small parser of the same shape as Discord's: at each position the first
rule that matches, in Discord's order, else one character of text.

Everything the text holds reaches the page escaped: the only markup is the tags made here, and a
link is made only for an http(s) URL. The zero-width spaces that keep a mention from pinging (and
fences from closing) are left out, as the reader cannot see them either.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime

from markupsafe import Markup, escape

from channels.discord.format import ZWSP

DEEPEST = 16  # markers nested deeper than this are shown as written
TIMESTAMP = re.compile(r"<t:(?P<unix>-?\d{1,17})(?::(?P<style>[tTdDfFR]))?>")

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Rules that hold only at the start of a line (each takes its line's break with it).
_QUOTE_REST = re.compile(r">>> ([\s\S]*)")
_QUOTE_LINES = re.compile(r"(?:> [^\n]*(?:\n|\Z))+")
_HEADING = re.compile(r"(#{1,3}) +(?=\S)([^\n]*)(?:\n|\Z)")
_SUBTEXT = re.compile(r"-# +(?=\S)([^\n]*)(?:\n|\Z)")
_LIST = re.compile(r"(?: *(?:[*-]|\d{1,9}\.) +(?=\S)[^\n]*(?:\n|\Z))+")
_ITEM = re.compile(r"( *)([*-]|\d{1,9}\.) +(.*)")

_CODE_BLOCK = re.compile(r"```(?:([a-z0-9_+\-.#]+?)\n)?\n*([^\n][\s\S]*?)\n*```\n?", re.IGNORECASE)
_ESCAPED = re.compile(r"\\([^0-9A-Za-z\s])")
_CODE = re.compile(r"(`+)([\s\S]*?[^`])\1(?!`)")
_MENTION = re.compile(r"<(@!?|@&|#)(\d{1,20})>")
_AUTOLINK = re.compile(r"<(https?://[^\s<>]+)>")
_LINK = re.compile(r"\[((?:\\[\s\S]|[^\\\[\]\n])+)\]\(<?(https?://[^\s()<>]+)>?\)")
_URL = re.compile(r"https?://[^\s<]+[^<.,:;\"')\]\s]")
_SPOILER = re.compile(r"\|\|([\s\S]+?)\|\|")
_STRONG = re.compile(r"\*\*((?:\\[\s\S]|[^\\])+?)\*\*(?!\*)")
_UNDERLINE = re.compile(r"__((?:\\[\s\S]|[^\\])+?)__(?!_)")
_EM_STAR = re.compile(
    r"\*(?=\S)((?:\*\*|\\[\s\S]|\s+(?:\\[\s\S]|[^\s*\\]|\*\*)|[^\s*\\])+?)\*(?!\*)"
)
_EM_LINE = re.compile(r"(?<![0-9A-Za-z])_((?:__|\\[\s\S]|[^\\_])+?)_(?![0-9A-Za-z])")
_STRIKE = re.compile(r"~~([\s\S]+?)~~")
_TEXT = re.compile(r"(?:[^\\<`|*_~\[\nh]|h(?!ttps?://))+")


def to_html(text: str, *, now: datetime | None = None, inline: bool = False) -> Markup:
    """`text` drawn as Discord draws it. `now` is the moment a relative time (`<t:…:R>`) is
    counted from; without it that time is shown absolute. `inline` draws only what Discord draws
    in an embed's title or a field's name: no code blocks, headings, lists or quotes."""
    return Markup(_Drawing(now).draw(text, blocks=not inline))


def timestamps(text: str, now: datetime | None = None) -> str:
    """`text` with each `<t:UNIX:style>` as the time Discord shows (see `when`)."""
    return TIMESTAMP.sub(lambda m: when(int(m["unix"]), m["style"] or "f", now) or m[0], text)


def when(unix: int, style: str = "f", now: datetime | None = None) -> str | None:
    """`<t:unix:style>` as Discord shows it to a reader in UTC (in British English: "29 November
    2026 19:40"); a relative time ("in 2 hours") only with a `now`, else the absolute form. None
    for a moment no calendar holds."""
    try:
        moment = datetime.fromtimestamp(unix, UTC)
    except (ValueError, OverflowError, OSError):
        return None
    day = f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}"
    match style:
        case "t":
            return f"{moment:%H:%M}"
        case "T":
            return f"{moment:%H:%M:%S}"
        case "d":
            return f"{moment.day:02}/{moment.month:02}/{moment.year}"
        case "D":
            return day
        case "F":
            return f"{_DAYS[moment.weekday()]}, {day} {moment:%H:%M}"
        case "R" if now is not None:
            return relative(moment, now)
        case _:
            return f"{day} {moment:%H:%M}"


def relative(moment: datetime, now: datetime) -> str:
    """How far `moment` is from `now`, in the words Discord uses ("in 2 hours", "a day ago")."""
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now
    seconds = (moment - now).total_seconds()
    span = _span(abs(seconds))
    return f"in {span}" if seconds > 0 else f"{span} ago"


# Counted as moment.js counts (Discord's client has used it): each unit rounded half up, and
# the unit the first whose count is below its threshold.
_UNITS = (
    ("minute", 60, 45),
    ("hour", 3600, 22),
    ("day", 86400, 26),
    ("month", 86400 * 146097 / 4800, 11),
    ("year", 86400 * 146097 / 400, math.inf),
)


def _span(seconds: float) -> str:
    if math.floor(seconds + 0.5) < 45:
        return "a few seconds"
    for unit, length, threshold in _UNITS:
        count = math.floor(seconds / length + 0.5)
        if count <= 1:
            return f"an {unit}" if unit == "hour" else f"a {unit}"
        if count < threshold:
            return f"{count} {unit}s"
    raise AssertionError("a year has no threshold")


Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]
_LINKS = (_AUTOLINK, _LINK, _URL)


class _Drawing:
    """One text being drawn: the rules, in Discord's order, and what each makes of its match."""

    def __init__(self, now: datetime | None) -> None:
        self.now = now
        self.depth = 0
        # Each of these draws a block, which starts a line of its own.
        self.quote_rules: list[Rule] = [
            (_QUOTE_REST, lambda m: self._quote(m[1])),
            (_QUOTE_LINES, lambda m: self._quote(re.sub(r"(?m)^> ", "", m[0]).rstrip("\n"))),
        ]
        self.line_rules: list[Rule] = [
            (_HEADING, self._heading),
            (_SUBTEXT, lambda m: f'<div class="discord-subtext">{self.draw(m[1].strip())}</div>'),
            (_LIST, lambda m: self._list([_item(line) for line in m[0].rstrip("\n").split("\n")])),
        ]
        self.block_rules: list[Rule] = [(_CODE_BLOCK, self._code_block)]
        self.inline_rules: list[Rule] = [
            (_ESCAPED, lambda m: _text(m[1])),
            (_CODE, lambda m: f'<code class="discord-code">{_text(_code_span(m[2]))}</code>'),
            (TIMESTAMP, self._timestamp),
            (_MENTION, _mention),
            (_AUTOLINK, lambda m: _link(m[1], _text(m[1]))),
            (_LINK, lambda m: _link(m[2], self.draw(m[1], links=False))),
            (_URL, lambda m: _link(m[0], _text(m[0]))),
            (_SPOILER, lambda m: f'<span class="discord-spoiler">{self.draw(m[1])}</span>'),
            (_STRONG, lambda m: f"<strong>{self.draw(m[1])}</strong>"),
            (_UNDERLINE, lambda m: f"<u>{self.draw(m[1])}</u>"),
            (_EM_STAR, lambda m: f"<em>{self.draw(m[1])}</em>"),
            (_EM_LINE, lambda m: f"<em>{self.draw(m[1])}</em>"),
            (_STRIKE, lambda m: f"<s>{self.draw(m[1])}</s>"),
            (_TEXT, lambda m: _text(m[0])),
        ]

    def draw(
        self, text: str, *, blocks: bool = False, quotes: bool = True, links: bool = True
    ) -> str:
        """`text` as HTML: with `blocks`, code blocks and the rules of a line's start (a quote
        only where `quotes`: Discord quotes one level deep); without `links`, no links."""
        if self.depth >= DEEPEST:
            return _text(text)
        self.depth += 1
        inline = [r for r in self.inline_rules if links or r[0] not in _LINKS]
        out: list[str] = []
        pos = 0
        while pos < len(text):
            rules = inline
            if blocks:
                rules = self.block_rules + rules
                if pos == 0 or text[pos - 1] == "\n":
                    rules = (self.quote_rules if quotes else []) + self.line_rules + rules
            for i, (pattern, draw) in enumerate(rules):
                m = pattern.match(text, pos)
                if m and m.end() > pos:
                    if i < len(rules) - len(inline) and out and out[-1].endswith("\n"):
                        out[-1] = out[-1][:-1]  # a block starts a line of its own
                    out.append(draw(m))
                    pos = m.end()
                    break
            else:  # a marker that opens nothing: as written
                out.append(_text(text[pos]))
                pos += 1
        self.depth -= 1
        return "".join(out)

    def _quote(self, body: str) -> str:
        inner = self.draw(body, blocks=True, quotes=False)
        return f'<blockquote class="discord-quote">{inner}</blockquote>'

    def _heading(self, m: re.Match[str]) -> str:
        level = len(m[1])
        return f'<div class="discord-h discord-h{level}">{self.draw(m[2].strip())}</div>'

    def _code_block(self, m: re.Match[str]) -> str:
        language = f' data-lang="{escape(m[1])}"' if m[1] else ""
        return f'<pre class="discord-pre"{language}>{_text(m[2])}</pre>'

    def _timestamp(self, m: re.Match[str]) -> str:
        unix, style = int(m["unix"]), m["style"] or "f"
        shown, full = when(unix, style, self.now), when(unix, "F")
        if shown is None or full is None:
            return _text(m[0])
        moment = datetime.fromtimestamp(unix, UTC).isoformat()
        return (
            f'<time class="discord-time" datetime="{moment}" title="{full} UTC">'
            f"{_text(shown)}</time>"
        )

    def _list(self, items: list[tuple[int, str, str]]) -> str:
        """List items as lists: an item indented deeper than the first is inside the one before
        it; a bulleted run and a numbered one are two lists."""
        base, out, tag, i = items[0][0], [], "", 0
        while i < len(items):
            _, marker, text = items[i]
            j = i + 1
            while j < len(items) and items[j][0] > base:
                j += 1
            number = marker[:-1] if marker[0].isdigit() else ""
            if tag != ("ol" if number else "ul"):
                if tag:
                    out.append(f"</{tag}>")
                tag = "ol" if number else "ul"
                start = f' start="{int(number)}"' if number and int(number) != 1 else ""
                out.append(f'<{tag} class="discord-list"{start}>')
            inner = self._list(items[i + 1 : j]) if j > i + 1 else ""
            out.append(f"<li>{self.draw(text)}{inner}</li>")
            i = j
        return "".join(out) + f"</{tag}>"


def _item(line: str) -> tuple[int, str, str]:
    m = _ITEM.match(line)
    assert m is not None  # a line of a _LIST match
    return len(m[1]), m[2], m[3]


def _text(text: str) -> str:
    return str(escape(text.replace(ZWSP, "")))


def _code_span(code: str) -> str:
    return code[1:-1] if len(code) > 2 and code.startswith(" ") and code.endswith(" ") else code


def _mention(m: re.Match[str]) -> str:
    sigil = "#" if m[1] == "#" else "@"
    return f'<span class="discord-mention">{sigil}{m[2]}</span>'


def _link(url: str, text: str) -> str:
    return (
        f'<a class="discord-link" href="{escape(url)}" target="_blank"'
        f' rel="noopener noreferrer">{text}</a>'
    )
