"""Secrets stay out of logs."""

from __future__ import annotations

import logging

import pytest

from core.context import Redactor
from core.logs import RedactingFilter


def test_configured_secrets_are_redacted_from_log_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("switchboard.test")
    logger.addFilter(RedactingFilter(Redactor(["sk-live-abcdef"])))
    with caplog.at_level(logging.WARNING):
        logger.warning("provider refused key %s", "sk-live-abcdef")
    assert caplog.messages == ["provider refused key [redacted]"]
