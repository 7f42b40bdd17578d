"""Logging for the CLI and services: one line per record, configured secrets never printed.

Redaction happens on the finished text of a record, so a traceback, a record's `exc_info` and the
arguments of a library's own log call (uvicorn's "Exception in ASGI application", SQL parameters
in a database error) are redacted like the message itself.
"""

from __future__ import annotations

import logging

from core.context import Redactor

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingFormatter(logging.Formatter):
    def __init__(self, redact: Redactor, fmt: str = FORMAT) -> None:
        super().__init__(fmt)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


def configure_logging(redact: Redactor, level: int = logging.WARNING) -> None:
    """One handler, on the root logger: every library's records (uvicorn's too) pass through it."""
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(redact))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
