"""Tests never see the developer's settings or keys, and never reach a real model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.models.base import ModelRequest
from core.models.llm import LiteLLMModel
from tests.fixtures import KEEP, service_settings
from tests.server import FOREIGN


def test_the_developers_settings_and_keys_do_not_reach_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    leaked = [k for k in os.environ if k.startswith(FOREIGN) and not k.startswith(KEEP)]
    assert leaked == []
    (tmp_path / ".env").write_text("SWITCHBOARD_MODEL=openai/gpt-4o\nSLACK_BOT_TOKEN=xoxb-real\n")
    monkeypatch.chdir(tmp_path)
    settings = service_settings(sqlite_url)
    assert settings.switchboard_model is None and settings.slack_bot_token is None


async def test_a_test_that_would_call_a_real_model_fails_loudly() -> None:
    model = LiteLLMModel("openai/gpt-4o-mini", api_key="sk-test-not-a-key")
    with pytest.raises(pytest.fail.Exception, match="tried to call the real model openai/gpt-4o"):
        await model.complete(ModelRequest(agent="deploy", system="", context="hi"))
