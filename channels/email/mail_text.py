"""The text of a mail: bytes in any charset to str, HTML to readable plain text, the new part of a
reply, and its first meaningful line. Pure; nothing here raises on what a mail carries.

HTML is read with BeautifulSoup on the standard library's `html.parser` (MIT, typed, tolerant of
the broken markup mail clients send, no C extension), walked here into plain text: links as
"text (url)", list items as "- " or "1. ", quotes as "> ", a rule as Outlook's own line of
underscores, Word's zero-margin `MsoNormal` paragraphs as single lines. html2text was the other
candidate: it writes Markdown (`[text](url)`, `**bold**`), which would then need undoing, and it is
GPL-3.0.

The new text of a reply is found with mail-parser-reply (English, German, French), which knows
the attribution lines ("On … wrote:", "Am … schrieb …:", "Le … a écrit :"), Outlook's header block
("From:/Sent:/To:", "Von:/Gesendet:/An:") and common sign-offs. On top of it, each with a test:
lines quoted with ">" are never new text, even without an attribution above them; a reply that
is only history (nothing above the header block, nothing unquoted below a quote) is empty rather
than the history; a signature is looked for after the quotes are gone (the library's own search
runs into quoted sign-offs and takes a bottom-posted answer with them); its disclaimer removal is
not used (it deletes any sentence that starts "Warning:" or "Achtung:" and mentions mail, which
may well be the person's reason); the mobile sign-offs it misses ("Von meinem iPhone gesendet",
"Envoyé de mon iPhone", "Sent from Mail for Windows") and a rule left trailing are cut.
"""

from __future__ import annotations

import codecs
import html
import re
import warnings
from collections.abc import Callable

from bs4 import (
    BeautifulSoup,
    MarkupResemblesLocatorWarning,
    ParserRejectedMarkup,
    XMLParsedAsHTMLWarning,
)
from bs4.element import NavigableString, Tag
from mailparser_reply import EmailMessage as ReplyParser

LANGUAGES = ("en", "de", "fr")
RULE = "_" * 32  # what Outlook writes for the rule above a quoted message
MAX_DEPTH = 64  # HTML nested deeper is read as plain text: the walk below recurses

_UNKNOWN_CHARSETS = {"", "us-ascii", "ascii", "unknown-8bit", "x-unknown", "unknown", "default"}
_SURROGATE = re.compile("[\ud800-\udfff]")
_LATIN_1 = {"latin-1", "iso8859-1"}  # codecs' names; read as windows-1252, as browsers do


def decode_bytes(data: bytes, charset: str | None) -> str:
    """`data` in its declared charset, bad bytes replaced. No charset, ASCII or an unknown one:
    UTF-8 if it is valid UTF-8, else windows-1252. ISO-8859-1 is read as windows-1252."""
    name = (charset or "").strip().lower()
    if name not in _UNKNOWN_CHARSETS:
        try:
            codec = codecs.lookup(name).name
            return data.decode("cp1252" if codec in _LATIN_1 else codec, "replace")
        except (LookupError, UnicodeError, ValueError):  # no such codec, or none for text
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def header_text(value: str) -> str:
    """A header value as the parser left it, its raw 8-bit bytes (escaped as surrogates) read as
    UTF-8 (RFC 6532), else as windows-1252."""
    if value.isascii():
        return value
    try:
        return decode_bytes(value.encode("utf-8", "surrogateescape"), None)
    except UnicodeEncodeError:  # a surrogate that is no escaped byte: not from the parser
        return _SURROGATE.sub("\ufffd", value)


def unflow(text: str, *, delsp: bool) -> str:
    """A `format=flowed` text (RFC 3676) with its soft line breaks joined."""
    out: list[str] = []
    joining = False
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        body = body[1:] if body.startswith(" ") else body  # space-stuffing
        flowed = body.endswith(" ") and body != "-- "
        if flowed and delsp:
            body = body[:-1]
        if joining and out and depth == _depth(out[-1]):
            out[-1] += body
        else:
            out.append((">" * depth + " " if depth else "") + body)
        joining = flowed
    return "\n".join(out)


def _depth(line: str) -> int:
    return len(line) - len(line.lstrip(">"))


# HTML

_SKIPPED = {"head", "script", "style", "title", "template", "noscript", "meta", "link"}
_BLOCKS = {
    "address", "article", "aside", "center", "dd", "details", "dialog", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "main", "nav",
    "section", "summary", "table", "tbody", "thead", "tfoot", "tr", "caption",
}  # fmt: skip
_PARAGRAPHS = {"p", "h1", "h2", "h3", "h4", "h5", "h6"}
_HIDDEN = re.compile(r"display\s*:\s*none", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\n\r\f\v]+")  # HTML's white space: not U+00A0
_TAG = re.compile(r"<[^>]*>")


class _Writer:
    """Plain text built from inline runs and block breaks: a break owed is written before the
    next text only, so blocks in a row and blocks at either end add no blank lines."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.owed = 0

    def text(self, run: str) -> None:
        run = _SPACES.sub(" ", run)
        if self.owed and self.parts:
            self._put("\n" * max(0, self.owed - self._trailing_newlines()))
        self.owed = 0
        if not self.parts or self.parts[-1].endswith(("\n", " ")):
            run = run.lstrip(" ")
        self._put(run)

    def raw(self, text: str) -> None:
        """Text as it is (preformatted, or a block rendered apart), on lines of its own."""
        self.block(1)
        self.text("")
        self._put(text)
        self.block(1)

    def newline(self) -> None:
        self.text("")
        if self.parts and self.parts[-1].endswith(" "):
            self.parts[-1] = self.parts[-1].rstrip(" ")
        self._put("\n")

    def block(self, newlines: int) -> None:
        self.owed = max(self.owed, newlines)

    def result(self) -> str:
        return _tidy("".join(self.parts))

    def _put(self, text: str) -> None:
        if text:
            self.parts.append(text)

    def _trailing_newlines(self) -> int:
        count = 0
        for part in reversed(self.parts):
            rest = part.rstrip("\n")
            count += len(part) - len(rest)
            if rest:
                break
        return count


def html_text(markup: str) -> str:
    """The readable plain text of an HTML body."""
    with warnings.catch_warnings():
        # A short body that looks like a URL or file name, or XHTML: read as HTML all the same.
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        try:
            soup = BeautifulSoup(markup, "html.parser")
        except ParserRejectedMarkup:
            return _tidy(html.unescape(_TAG.sub(" ", markup))).strip()
    out = _Writer()
    _children(soup, out, 0)
    return out.result()


def _children(node: Tag, out: _Writer, depth: int) -> None:
    for child in node.children:
        if type(child) is NavigableString:  # text: not a comment, doctype, CDATA or declaration
            out.text(str(child))
        elif isinstance(child, Tag):
            _element(child, out, depth + 1)


def _element(tag: Tag, out: _Writer, depth: int) -> None:
    name = tag.name.lower()
    if name in _SKIPPED or _HIDDEN.search(str(tag.get("style") or "")):
        return
    if depth > MAX_DEPTH:
        out.text(tag.get_text(" "))
        return
    if name == "br":
        out.newline()
    elif name == "hr":
        out.raw(RULE)
    elif name == "pre":
        out.raw(tag.get_text())
    elif name == "a":
        out.text(_link(tag, depth))
    elif name == "blockquote":
        out.raw(_prefixed(_render(tag, depth), "> ", "> "))
    elif name in ("ul", "ol"):
        out.raw(_list(tag, depth))
    elif name == "li":  # an item outside a list
        out.raw(_prefixed(_render(tag, depth), "- ", "  "))
    elif name in _PARAGRAPHS:
        margins = 1 if "MsoNormal" in (tag.get_attribute_list("class") or ()) else 2
        out.block(margins)
        _children(tag, out, depth)
        out.block(margins)
    elif name in _BLOCKS:
        out.block(1)
        _children(tag, out, depth)
        out.block(1)
    elif name in ("td", "th"):
        out.text(" ")
        _children(tag, out, depth)
        out.text(" ")
    else:
        _children(tag, out, depth)


def _render(tag: Tag, depth: int) -> str:
    inner = _Writer()
    _children(tag, inner, depth)
    return inner.result()


def _link(tag: Tag, depth: int) -> str:
    text = _render(tag, depth).replace("\n", " ").strip()
    if not text:
        image = tag.find("img")
        text = str(image.get("alt") or "").strip() if isinstance(image, Tag) else ""
    href = str(tag.get("href") or "").strip()
    target = href.removeprefix("mailto:").split("?")[0] if href.startswith("mailto:") else href
    if not href or href.startswith(("#", "javascript:")) or _same(text, target):
        return text
    return f"{text} ({target})" if text else target


def _same(text: str, target: str) -> bool:
    def bare(s: str) -> str:
        return re.sub(r"^[a-z]+://", "", s.lower()).rstrip("/")

    return bare(text) == bare(target)


def _list(tag: Tag, depth: int) -> str:
    ordered = tag.name.lower() == "ol"
    start = str(tag.get("start") or "1")
    number = int(start) if start.isdigit() and len(start) < 9 else 1
    items: list[str] = []
    for child in tag.children:
        if isinstance(child, Tag) and child.name.lower() == "li":
            mark = f"{number}. " if ordered else "- "
            items.append(_prefixed(_render(child, depth + 1), mark, " " * len(mark)))
            number += 1
        elif isinstance(child, Tag):  # a list nested straight in a list, as Outlook writes it
            items.append(_prefixed(_render(child, depth + 1), "  ", "  "))
        elif isinstance(child, NavigableString) and child.strip():
            items.append(child.strip())
    return "\n".join(item for item in items if item.strip())


def _prefixed(text: str, first: str, rest: str) -> str:
    lines = text.split("\n")
    marked = [(first if n == 0 else rest, line) for n, line in enumerate(lines)]
    return "\n".join(mark + line if line else mark.rstrip() for mark, line in marked)


def _tidy(text: str) -> str:
    lines = [line.replace("\xa0", " ").rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


# The new text of a reply

MAX_LINES = 400  # of the text looked at for the new text: a few pages
MAX_CHARS = 20_000  # in lines up to MAX_LINE long: placeholders for longer ones count little
MAX_LINE = 200
_PLACE = "\ue000"  # private use: no pattern of the parser's matches it
_PLACEHOLDER = re.compile(f"{_PLACE}(\\d{{1,6}}){_PLACE}")
_QUOTED = re.compile(r"^\s*>")
_SIGN_OFF = re.compile(
    r"^[ \t]*(?:Von meinem \S+(?: \S+)? gesendet|Envoy[ée] de mon \S+(?: \S+)?"
    r"|Sent from (?:Mail|Outlook|Yahoo Mail)\b[^\n]{0,60})[ \t]*$",
    re.MULTILINE | re.IGNORECASE,
)
_TRAILING_RULE = re.compile(r"(?:\n[ \t]*[_\-=]{10,}[ \t]*)+\Z")


def new_text(text: str) -> str:
    """Only what the person wrote in this mail: quoted history and signature removed. The first
    MAX_LINES lines (MAX_CHARS characters) are looked at; a longer new text is cut there."""
    shaped, long_lines = _shaped(text)
    message = ReplyParser(text=shaped, languages=list(LANGUAGES), keep_hyphen_lists=True).read()
    first = message.replies[0]
    content = first.content.replace(first.headers, "", 1) if first.headers else first.content
    lines = [_restored(line, long_lines) for line in content.split("\n")]
    if first.headers and not any(_QUOTED.match(line) for line in lines):
        return ""  # the text starts with a header: new text can only be below a quote
    kept = "\n".join(line for line in lines if not _QUOTED.match(line))
    for cut in (message.SIGNATURE_REGEX.search, _SIGN_OFF.search):
        kept = _before(kept, cut)
    return _tidy(_TRAILING_RULE.sub("", _tidy(kept)))


def _shaped(text: str) -> tuple[str, list[str]]:
    """`text` as the reply parser can take it in linear time: some of its patterns take time
    quadratic or worse in a line's length, or in a run of blank lines (minutes for 100 kB). So:
    at most MAX_LINES lines and MAX_CHARS characters, one blank line where there were several,
    each line longer than MAX_LINE (too long for a header or an attribution: one that long stays
    in the text) as a placeholder, put back by `_restored`. A crafted text still costs up to a
    few tenths of a second."""
    lines: list[str] = []
    long_lines: list[str] = []
    size = 0
    for line in text.split("\n"):
        if not line.strip() and lines and not lines[-1].strip():
            continue
        if len(line) > MAX_LINE:
            long_lines.append(line.strip())
            line = f"{_PLACE}{len(long_lines) - 1}{_PLACE}"
        lines.append(line)
        size += len(line) + 1
        if len(lines) == MAX_LINES or size > MAX_CHARS:
            break
    return "\n".join(lines), long_lines


def _restored(line: str, long_lines: list[str]) -> str:
    found = _PLACEHOLDER.fullmatch(line)
    return long_lines[int(found.group(1))] if found else line


def _before(text: str, search: Callable[[str], re.Match[str] | None]) -> str:
    found = search(text)
    return text[: found.start()] if found else text


# The line that decides

_INVISIBLE = " \t\xa0\u200b\u200c\u200d\u2060\ufeff"
_GREETING = re.compile(
    r"(?:hi|hello|hey|dear|hallo|moin|servus|liebe|lieber|sehr geehrte[rs]?|bonjour|salut"
    r"|cher|ch[èe]re|guten (?:morgen|tag|abend)|good (?:morning|afternoon|evening))"
    r"(?:[,!.]?|(?: [\w.'-]+){1,3},)",
    re.IGNORECASE,
)


def first_line(reply: str) -> str:
    """The first line of `reply` with something on it. A greeting is skipped when another line
    follows: the greeting word alone ("Hi", "Hallo!") or with at most three words of a name and
    a comma ("Hi Switchboard,", "Sehr geehrte Damen und Herren,"); a line with anything else
    ("Hi, approve") is kept whole."""
    lines = [line.strip(_INVISIBLE) for line in reply.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > 1 and _GREETING.fullmatch(lines[0]):
        return lines[1]
    return lines[0] if lines else ""
