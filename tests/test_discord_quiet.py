"""discord.py's warning that voice is unsupported is dropped, and nothing else it logs."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator

import pytest

from channels.discord.quiet import LOGGER, VOICE_WARNING, not_voice_warning, quiet_voice_warning

with warnings.catch_warnings():
    # discord.py imports audioop (for voice), deprecated since 3.11; warnings are errors here.
    warnings.simplefilter("ignore", DeprecationWarning)
    import discord
    from discord.voice_client import VoiceClient


@pytest.fixture
def quiet() -> Iterator[logging.Logger]:
    logger = logging.getLogger(LOGGER)
    quiet_voice_warning()
    quiet_voice_warning()
    try:
        yield logger
    finally:
        logger.removeFilter(not_voice_warning)


def test_the_filter_is_installed_once(quiet: logging.Logger) -> None:
    assert quiet.filters.count(not_voice_warning) == 1


def test_the_clients_voice_warning_is_dropped(
    quiet: logging.Logger, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client warns once a process (it clears this flag): set again, so this client warns.
    monkeypatch.setattr(VoiceClient, "warn_dave", True)
    with caplog.at_level(logging.DEBUG, logger="discord"):
        discord.Client(intents=discord.Intents.none())
    assert VoiceClient.warn_dave is False  # the client did warn, into the filter
    assert not [r for r in caplog.records if "voice" in r.getMessage()]


def test_every_other_discord_record_is_kept(
    quiet: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="discord"):
        quiet.warning("PyNaCl is not installed, voice will NOT be supported")
        quiet.error(VOICE_WARNING)
        quiet.warning("Shard ID %s has stopped responding to the gateway.", None)
        logging.getLogger("discord.gateway").warning(VOICE_WARNING)  # another logger: kept
    assert len(caplog.records) == 4
