"""The agent's Markdown as Slack mrkdwn, and long mrkdwn in pieces within Slack's limits. Pure.

Slack's mrkdwn (https://api.slack.com/reference/surfaces/formatting) is not Markdown: `*bold*`,
`_italic_`, `~strike~`, `<url|text>` links, and `&`, `<`, `>` written as entities. Escaping them is
also what keeps the model from pinging anyone: `<!channel>` or `<@U123>` in its text arrive as
text, never as a mention. The conversion works line by line, so a marker left open never runs on
into the next line, and nothing inside code is converted (code is only escaped, as Slack wants).
"""

from __future__ import annotations

import re

from channels.text import ATOMS, FENCE
from channels.text import split as chunks

SECTION_LIMIT = 3000  # a section block's text
TEXT_LIMIT = 40_000  # a message's `text`
BLOCK_LIMIT = 50  # blocks in one message
_FENCE_RUN = re.compile(r"``(?=`)")

# Placeholders for what is already final (code, links, URLs) while the rest is converted; the
# private-use characters they are made of are taken out of the input first.
_OPEN, _CLOSE, _BOLD = "\ue000", "\ue001", "\ue002"
_PRIVATE = re.compile(f"[{_OPEN}{_CLOSE}{_BOLD}]")
_KEPT = re.compile(f"{_OPEN}(\\d+){_CLOSE}")

_FENCE_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(?P<title>.*?))?(?:[ \t]+#+)?[ \t]*$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_QUOTES = re.compile(r"^(?: {0,3}>[ \t]?)++")
_BULLET = re.compile(r"^(?P<indent>[ \t]*)[-*+][ \t]+(?P<rest>.*)$")
_TASK = re.compile(r"^\[(?P<mark>[ xX])\][ \t]+")

_CODE_SPAN = re.compile(r"(?<!`)(?P<ticks>`+)(?!`)(?P<code>.+?)(?<!`)(?P=ticks)(?!`)")
_ESCAPED = re.compile(r"\\(?P<char>[\\`*_{}\[\]()#+\-.!~|<>])")
_AUTOLINK = re.compile(
    r"<(?P<url>(?:https?://|mailto:)[^\s<>]+)>|<(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)>"
)
_LINK = re.compile(  # possessive where a run of spaces could otherwise be tried every way
    r"!?\[(?P<text>(?:[^\[\]\n]|\[[^\[\]\n]*+\])*+)\]"
    r"\(\s*+<?(?P<url>[^\s()<>]++(?:\([^\s()<>]*+\)[^\s()<>]*+)*+)>?"
    r"(?:\s++(?:\"[^\"\n]*+\"|'[^'\n]*+'))?\s*+\)"
)
_BARE_URL = re.compile(r"\b(?:https?://|mailto:)[^\s<>|`]+")
_SAFE_SCHEME = re.compile(r"^(?:https?://|mailto:)", re.IGNORECASE)
_URL_END = ".,;:!?'\"*_~"
_BACKTICK = "\u02cb"  # in inline code, which cannot hold a backtick
_PIPE = "\u00a6"  # in a link's text, where | would end the URL

_BOLD_MARKERS = re.compile(r"\*\*|__")
_BOLD_ITALIC = re.compile(r"(?<![*\w])\*\*\*(?![\s*])(?P<x>[^*]+?)(?<!\s)\*\*\*(?![*\w])")
_BOLD_STARS = re.compile(r"(?<!\*)\*\*(?![\s*])(?P<x>(?:[^*]|\*(?!\*))+?)(?<!\s)\*\*(?!\*)")
_BOLD_LINES = re.compile(r"(?<![\w_])__(?![\s_])(?P<x>(?:[^_]|_(?!_))+?)(?<!\s)__(?![\w_])")
_ITALIC_STAR = re.compile(r"(?<![*\w])\*(?![\s*])(?P<x>[^*]+?)(?<![\s*])\*(?![*\w])")
_STRIKE = re.compile(r"(?<!~)~~(?![\s~])(?P<x>(?:[^~]|~(?!~))+?)(?<!\s)~~(?!~)")

_ENTITY = r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[A-Za-z]{1,8});"
_ATOMS = re.compile(f"{_ENTITY}|{ATOMS.pattern}")  # what a split leaves whole


def escape(text: str) -> str:
    """`&`, `<` and `>` as Slack wants them in any text it reads as mrkdwn, code included."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def break_fences(text: str) -> str:
    """No three backticks in a row: a zero-width space after every second of a run."""
    return _FENCE_RUN.sub("``\u200b", text)


def mrkdwn(markdown: str) -> str:
    """The agent's Markdown as Slack mrkdwn: deterministic, and nothing in it can mention anyone."""
    text = _PRIVATE.sub("\ufffd", markdown.replace("\r\n", "\n").replace("\r", "\n"))
    out: list[str] = []
    fence: tuple[str, int, int] | None = None  # the open fence: its character, length, indent
    for line in text.split("\n"):
        if fence is not None:
            char, length, indent = fence
            if re.fullmatch(f" {{0,3}}{re.escape(char)}{{{length},}}[ \\t]*", line):
                out.append(FENCE)
                fence = None
            else:
                out.append(_code_line(_dedent(line, indent)))
            continue
        opened = _FENCE_OPEN.match(line)
        if opened and not (opened["fence"][0] == "`" and "`" in opened["info"]):
            fence = (opened["fence"][0], len(opened["fence"]), len(opened["indent"]))
            out.append(FENCE)  # Slack shows no language: the info string goes
            continue
        converted = _block_line(line.rstrip())
        if converted or (out and out[-1]):  # one blank line between paragraphs, as Markdown
            out.append(converted)
    if fence is not None:  # the model never closed it: the code ends with the text
        out.append(FENCE)
    return "\n".join(out).strip("\n")


def _dedent(line: str, indent: int) -> str:
    stripped = len(line) - len(line.lstrip(" "))
    return line[min(indent, stripped) :]


def _code_line(line: str) -> str:
    # A fence inside the code would end Slack's code block: a zero-width space keeps it whole.
    return break_fences(escape(line))


def _block_line(line: str) -> str:
    if not line.strip():
        return ""
    if _RULE.match(line):
        return "\u2500" * 10
    heading = _HEADING.match(line)
    if heading:
        title = _BOLD_MARKERS.sub("", heading["title"] or "").strip()
        return f"*{_inline(title)}*" if title else ""
    quoted = _QUOTES.match(line)
    if quoted:  # Slack quotes one level deep: the markers of deeper ones go
        rest = _block_line(line[quoted.end() :])
        return f"&gt; {rest}" if rest else "&gt;"
    bullet = _BULLET.match(line)
    if bullet:
        rest = bullet["rest"]
        task = _TASK.match(rest)
        if task:
            rest = ("\u2611 " if task["mark"] in "xX" else "\u2610 ") + rest[task.end() :]
        return f"{bullet['indent']}\u2022 {_inline(rest)}"
    return _inline(line)


class _Kept:
    """What is final already (code, links, URLs), out of the way while the rest is converted."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def keep(self, final: str) -> str:
        self.items.append(final)
        return f"{_OPEN}{len(self.items) - 1}{_CLOSE}"

    def resolve(self, text: str) -> str:
        while _KEPT.search(text):  # an item may hold earlier ones (code in a link's text)
            text = _KEPT.sub(lambda m: self.items[int(m[1])], text)
        return text


def _inline(text: str) -> str:
    """One line's inline Markdown as mrkdwn."""
    kept = _Kept()
    text = _CODE_SPAN.sub(lambda m: kept.keep(_code_span(m["code"])), text)
    text = _ESCAPED.sub(lambda m: kept.keep(escape(m["char"])), text)
    text = _AUTOLINK.sub(lambda m: kept.keep(_autolink(m)), text)
    text = _LINK.sub(lambda m: kept.keep(_link(m, kept)), text)
    text = _BARE_URL.sub(lambda m: _bare_url(m, kept), text)
    return kept.resolve(_emphasis(text))


def _emphasis(text: str) -> str:
    """Escaped, with Markdown's emphasis as Slack's (kept items untouched). A fence left over
    mid-line would open a code block on Slack that swallows the rest: it is broken up."""
    text = break_fences(escape(text))
    text = _BOLD_ITALIC.sub(lambda m: f"{_BOLD}_{m['x']}_{_BOLD}", text)
    text = _BOLD_STARS.sub(lambda m: f"{_BOLD}{m['x']}{_BOLD}", text)
    text = _BOLD_LINES.sub(lambda m: f"{_BOLD}{m['x']}{_BOLD}", text)
    text = _ITALIC_STAR.sub(lambda m: f"_{m['x']}_", text)
    text = _STRIKE.sub(lambda m: f"~{m['x']}~", text)
    return text.replace(_BOLD, "*")


def _code_span(code: str) -> str:
    if code.startswith(" ") and code.endswith(" ") and code.strip():
        code = code[1:-1]
    # Slack's inline code cannot hold a backtick: a look-alike keeps the span whole.
    return f"`{escape(code.replace('`', _BACKTICK))}`"


def _autolink(m: re.Match[str]) -> str:
    if m["email"]:
        return f"<mailto:{_url(m['email'])}|{escape(m['email'])}>"
    return f"<{_url(m['url'])}>"


def _link(m: re.Match[str], kept: _Kept) -> str:
    url, text = m["url"], kept.resolve(_emphasis(m["text"].strip()))
    if not _SAFE_SCHEME.match(url):
        # A relative link, or a scheme Slack should not be asked to link (javascript:, or a
        # mention such as `!channel`): the text, and the target as plain text.
        if text and url:
            return f"{text} ({escape(url)})"
        return text or escape(url)
    if not text:
        return f"<{_url(url)}>"
    # In the text, `|` would end the URL: a look-alike (`>` is escaped already).
    return f"<{_url(url)}|{text.replace('|', _PIPE)}>"


def _url(url: str) -> str:
    """A URL inside `<…>`: `|` percent-encoded, `&`, `<`, `>` as entities."""
    return escape(url.replace("|", "%7C"))


def _bare_url(m: re.Match[str], kept: _Kept) -> str:
    """A URL as written, but not the punctuation after it (nor a `)` it did not open)."""
    url = m[0]
    end, unopened = len(url), url.count(")") - url.count("(")
    while end and (url[end - 1] in _URL_END or (url[end - 1] == ")" and unopened > 0)):
        unopened -= url[end - 1] == ")"
        end -= 1
    return kept.keep(escape(url[:end])) + url[end:]


# --- splitting ---------------------------------------------------------------------------------


def split(text: str, limit: int) -> list[str]:
    """mrkdwn in chunks of at most `limit` characters, none empty, a code block cut in two closed
    and opened again; an entity, a link or a code span is cut only if it alone exceeds the limit
    (see `channels.text.split`)."""
    return chunks(text, limit, atoms=_ATOMS)
