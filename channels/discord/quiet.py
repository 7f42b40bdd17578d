"""discord.py's client warns, once, that voice will not work without the `davey` library. This bot
never joins voice, so the line only alarms whoever reads the logs: `quiet_voice_warning` drops that
one record and nothing else discord.py logs.
"""

from __future__ import annotations

import logging

LOGGER = "discord.client"
VOICE_WARNING = "davey is not installed, voice will NOT be supported"


def not_voice_warning(record: logging.LogRecord) -> bool:
    """False for discord.py's warning that voice is unsupported, True for every other record."""
    return not (record.levelno == logging.WARNING and record.getMessage() == VOICE_WARNING)


def quiet_voice_warning() -> None:
    """Filter that warning out of discord.py's client logger. Calling it again changes nothing."""
    logging.getLogger(LOGGER).addFilter(not_voice_warning)  # a filter already there is not added
