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

from channels.text import split as chunks

CONTENT_LIMIT = 2000  # a message's content
ZWSP = "\u200b"

_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
_MENTION = re.compile(r"@(?=(?:everyone|here)\b)|(?<=<)@")


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


def split(text: str, limit: int = CONTENT_LIMIT) -> list[str]:
    """`text` in messages of at most `limit` characters, none empty, a code block cut in two
    closed and opened again with its language (see `channels.text.split`)."""
    return chunks(text, limit)
