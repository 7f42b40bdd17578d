"""What a model provider's error most likely means, in words an operator can act on."""

from __future__ import annotations

import re

# (what the error says, what it means and the fix), first match wins; the raw error stays in the
# thread's timeline.
_ADVICE = (
    (
        re.compile(r"api[ _-]?key|authenticat|unauthori[sz]ed|\b401\b|permission|\b403\b", re.I),
        "the model provider refused the credentials: set SWITCHBOARD_LLM_API_KEY to a valid key",
    ),
    (
        re.compile(r"not[ _-]?found|does not exist|unknown model|no such model|\b404\b", re.I),
        "the model is unknown to the provider: check SWITCHBOARD_MODEL",
    ),
    (
        re.compile(r"connect|unreachable|timed? ?out|name resolution|refused|\b50[234]\b", re.I),
        "the model server could not be reached: check SWITCHBOARD_LLM_API_BASE and the network",
    ),
    (
        re.compile(r"rate[ _-]?limit|\b429\b|quota|insufficient", re.I),
        "the provider is rate-limiting or out of quota: wait, or raise the account's limits",
    ),
)


def likely_fix(error: str) -> str:
    """The likely cause and fix of a provider error, or "" when it says nothing recognisable."""
    return next((advice for pattern, advice in _ADVICE if pattern.search(error)), "")
