"""The SMS channel's pure formatting: segments counted as carriers count them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.sms.segments import (
    LIMITS,
    cost,
    encoding,
    fit,
    fits,
    parts,
    segments,
    size,
)

# --- segments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count", "encoded"),
    [
        ("", 0, "GSM-7"),
        ("a", 1, "GSM-7"),
        ("a" * 160, 1, "GSM-7"),
        ("a" * 161, 2, "GSM-7"),
        ("a" * 306, 2, "GSM-7"),
        ("a" * 307, 3, "GSM-7"),
        ("€" * 80, 1, "GSM-7"),  # two septets each: 160
        ("€" * 81, 2, "GSM-7"),
        ("a" * 159 + "€", 2, "GSM-7"),
        ("{[~]}|^\\ @£¥èÅΔ_ΦΣ¡¿§ÄÖÑÜäöñüà", 1, "GSM-7"),
        ("á" * 70, 1, "UCS-2"),
        ("á" * 71, 2, "UCS-2"),
        ("á" * 134, 2, "UCS-2"),
        ("á" * 135, 3, "UCS-2"),
        ("😀" * 35, 1, "UCS-2"),  # two code units each: 70
        ("😀" * 36, 2, "UCS-2"),
        ("a" * 159 + "😀", 3, "UCS-2"),  # one emoji: 161 code units, not 161 septets
        ("“quoted”", 1, "UCS-2"),
        ("tab\there", 1, "UCS-2"),
    ],
)
def test_segments_are_counted_as_carriers_count_them(text: str, count: int, encoded: str) -> None:
    assert segments(text) == count
    assert encoding(text) == encoded


def test_an_escape_pair_is_never_split_across_segments() -> None:
    text = "a" * 152 + "€" + "a" * 152  # 306 septets, yet the € cannot end the first part
    assert size(text) == 306
    assert parts(text)[0] == "a" * 152 and parts(text)[1].startswith("€")
    assert segments(text) == 3


def test_an_emoji_at_a_segment_boundary_starts_the_next_segment() -> None:
    text = "a" * 66 + "😀" + "a" * 66  # 134 code units, yet the emoji cannot straddle a part
    assert size(text) == 134
    assert parts(text)[0] == "a" * 66 and parts(text)[1].startswith("😀")
    assert segments(text) == 3


TRICKY = st.lists(
    st.sampled_from(
        ["a", "b", " ", "\n", "€", "[", "😀", "á", "👍🏽", "🇫🇷", "e\u0301", "-", ",", "word "]
    ),
    max_size=200,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(TRICKY)
def test_parts_rejoin_and_each_fits_its_segment(text: str) -> None:
    found = parts(text)
    assert "".join(found) == text and len(found) == segments(text)
    encoded = encoding(text)
    single, each = LIMITS[encoded]
    limit = single if len(found) == 1 else each
    for part in found:
        assert sum(cost(c, encoded) for c in part) <= limit
        part.encode("utf-16-le")  # a lone surrogate would not encode


def test_fit_keeps_a_text_that_fits_and_cuts_one_that_does_not_at_a_word() -> None:
    assert fit("hello there", 1) == "hello there"
    cut = fit("word " * 100, 1)
    assert cut.endswith("word...") and segments(cut) == 1
    assert fit("word " * 100, 1, suffix=" (417)").endswith("word...")
    assert segments(fit("word " * 100, 1, suffix=" (417)") + " (417)") == 1


def test_fit_ends_a_ucs2_text_with_one_ellipsis_character() -> None:
    cut = fit("😀 " * 100, 1)
    assert cut.endswith("😀…") and segments(cut) == 1


def test_fit_never_parts_an_emoji_from_its_skin_tone_or_a_flag_in_two() -> None:
    for emoji in ("👍🏽", "🇫🇷"):
        for lead in range(60, 64):
            cut = fit("a" * lead + emoji * 20, 1)
            head = cut.removesuffix("…")
            assert (head.removeprefix("a" * lead).replace(emoji, "")) == ""


def test_fit_refuses_a_suffix_that_cannot_fit() -> None:
    with pytest.raises(ValueError):
        fit("a" * 500, 1, suffix="b" * 200)
    with pytest.raises(ValueError):
        fit("a", 0)


SUFFIXES = ["", " (417)", "\nFull reply: https://x.io/threads/t-1", " 😀", "€€"]


@settings(max_examples=400, deadline=None)
@given(TRICKY, st.integers(1, 4), st.sampled_from(SUFFIXES))
def test_fit_never_exceeds_and_keeps_a_prefix(text: str, most: int, suffix: str) -> None:
    cut = fit(text, most, suffix)
    assert fits(cut + suffix, most)
    if fits(text + suffix, most):
        assert cut == text
    else:
        head = cut.removesuffix("...").removesuffix("…")
        assert head != cut and text.startswith(head)
        (cut + suffix).encode("utf-16-le")
