"""Secrets stay out of logs: messages, tracebacks and other libraries' records alike."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from core.context import Redactor
from core.logs import configure_logging
from core.serve import http_server
from core.service import Service, open_service
from tests.fixtures import service_settings

SECRET = "sk-live-abcdef123456"


@pytest.fixture
def root_logging() -> Iterator[None]:
    """configure_logging replaces the root handlers: give pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_configured_secrets_are_redacted_from_log_records(
    root_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(Redactor([SECRET]))
    logging.getLogger("switchboard.test").warning("provider refused key %s", SECRET)
    assert "provider refused key [redacted]" in capsys.readouterr().err


def test_a_traceback_is_redacted_like_the_message(
    root_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(Redactor([SECRET]))
    try:
        raise RuntimeError(f"INSERT ... parameters: ('{SECRET}',)")
    except RuntimeError:
        logging.getLogger("switchboard.test").exception("the worker's run failed")
    logged = capsys.readouterr().err
    assert "RuntimeError: INSERT ... parameters: ('[redacted]',)" in logged
    assert SECRET not in logged


async def test_the_http_servers_own_error_log_is_redacted(
    root_logging: None, capsys: pytest.CaptureFixture[str], sqlite_url: str
) -> None:
    settings = service_settings(sqlite_url, switchboard_api_token=SECRET)
    async with open_service(settings, migrate=False) as service:
        http_server(service)  # uvicorn configures its loggers when its config is built
        try:
            raise ValueError(f"bad token {SECRET}")
        except ValueError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    logged = capsys.readouterr().err
    assert "Exception in ASGI application" in logged
    # litellm, once imported (by another test), blanks keys in every record in its own way
    assert "ValueError: bad token " in logged
    assert SECRET not in logged


async def test_provider_keys_from_the_environment_and_a_generated_token_are_redacted(
    root_logging: None, monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    """litellm reads OPENAI_API_KEY and its kin from the environment: no setting names them."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-secretvalue")
    monkeypatch.setenv("DEBUG_TOKEN", "1")  # a flag, not a key: left alone
    settings = service_settings(sqlite_url, switchboard_api_token=None)
    service: Service
    async with open_service(settings, migrate=False) as service:
        redact = service.app.runtime.redact
        assert redact("key sk-ant-api03-secretvalue") == "key [redacted]"
        assert redact(f"token={service.api_token}") == "token=[redacted]"
        assert redact("DEBUG_TOKEN=1") == "DEBUG_TOKEN=1"
