"""Every setting, from the environment or `.env`. Built once in `main()` and passed down."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.escalation import Escalation

# Keys that no setting of ours names but that litellm and SDKs read from the environment
# (OPENAI_API_KEY, ANTHROPIC_API_KEY, AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN, …): redacted as well.
SECRET_VARIABLE = re.compile(r"API_?KEY|SECRET|TOKEN|PASSWORD|PASSPHRASE|ACCESS_KEY|CREDENTIAL")
MIN_ENVIRONMENT_SECRET = 8  # shorter values ("true", "1") are flags, not keys
# A URL's password: after `scheme://user:`, up to the last `@` (greedy: an unescaped `@` in the
# password hides the rest of it too); and libpq's `password=` in the query string.
_URL_PASSWORD = re.compile(r"^([A-Za-z][\w+.-]*://[^:/@?#]*:)(.*)@")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&]*", re.IGNORECASE)


def mask_url(url: str) -> str:
    """`url` fit to show: its password replaced by `***` (postgresql://user:***@host/db). Every
    place a database URL is printed, logged or put in an error message shows it through this;
    it takes malformed URLs too, since those end up in error messages."""
    masked = _URL_PASSWORD.sub(lambda m: f"{m[1]}***@" if m[2] else m[0], url, count=1)
    return _QUERY_PASSWORD.sub(r"\1***", masked)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./switchboard.db"
    switchboard_model: str | None = None  # a litellm model string; None: the offline demo model
    switchboard_llm_api_base: str | None = None
    switchboard_llm_api_key: SecretStr | None = None
    switchboard_api_token: SecretStr | None = None
    switchboard_public_url: str = "http://127.0.0.1:8000"
    switchboard_people: Path | None = None
    switchboard_redact: str = ""  # extra values to keep out of prompts and logs, comma-separated
    # An unanswered request: re-sent on the next channel, widened to more people, then timed out.
    switchboard_resend_minutes: float = 30.0  # 0: never re-send
    switchboard_widen_minutes: float = 120.0  # 0: never widen
    switchboard_request_timeout_hours: float = 24.0
    # Which agent a new conversation on each channel talks to; `*` for any other channel.
    switchboard_channel_agents: str = (
        "slack=deploy,discord=deploy,sms=support,email=support,*=deploy"
    )
    # Channels by import path, beside (or instead of) the installed ones: name=module:factory, …
    switchboard_channels: str = ""
    switchboard_host: str = "127.0.0.1"
    switchboard_port: int = 8000
    switchboard_workers: int = 4  # threads advanced at once per process
    # The largest request body each kind of endpoint takes (bytes); a larger one is answered 413.
    switchboard_max_body_bytes: int = Field(1_048_576, gt=0)  # the REST API
    switchboard_max_webhook_bytes: int = Field(1_048_576, gt=0)  # the platforms' webhooks
    switchboard_max_form_bytes: int = Field(262_144, gt=0)  # the console, and any other path
    # A worker's lease on a thread, renewed every third of it: another process takes over a dead
    # worker's threads within about 1.5x this (the lease, then a sweep every half of it).
    switchboard_lease_seconds: float = Field(6.0, gt=0)
    switchboard_context_tokens: int = 6000
    # A platform's or a provider's Retry-After longer than this is not waited out: a message goes to
    # the dead letters (its request's escalation re-sends it elsewhere), a model step fails.
    switchboard_retry_after_max_seconds: float = Field(120.0, ge=0)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    discord_bot_token: SecretStr | None = None
    discord_public_key: str | None = None
    discord_api_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg"

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_url: str = "https://api.twilio.com"

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    email_from: str | None = None
    imap_host: str | None = None
    imap_port: int = 993
    imap_username: str | None = None
    imap_password: SecretStr | None = None
    imap_security: Literal["none", "starttls", "tls"] = "tls"
    imap_mailbox: str = "INBOX"
    email_trusted_authserv_id: str | None = None
    email_token_secret: SecretStr | None = None

    def escalation(self) -> Escalation:
        return Escalation(
            resend_after=timedelta(minutes=self.switchboard_resend_minutes) or None,
            widen_after=timedelta(minutes=self.switchboard_widen_minutes) or None,
            timeout_after=timedelta(hours=self.switchboard_request_timeout_hours),
        )

    def channel_agents(self) -> dict[str, str]:
        pairs = (p.partition("=") for p in self.switchboard_channel_agents.split(",") if p.strip())
        return {k.strip(): v.strip() for k, _, v in pairs}

    def extra_channels(self) -> dict[str, str]:
        pairs = (p.partition("=") for p in self.switchboard_channels.split(",") if p.strip())
        return {k.strip(): v.strip() for k, _, v in pairs}

    def secrets(self, environ: Mapping[str, str] = os.environ) -> list[str]:
        """Every secret value we know of: redacted from prompts and logs."""
        values = [v.get_secret_value() for v in self.__dict__.values() if isinstance(v, SecretStr)]
        values += [s.strip() for s in self.switchboard_redact.split(",")]
        password = urlsplit(self.database_url).password or ""  # as written, and as meant
        values += [password, unquote(password)]
        values += [
            value
            for name, value in environ.items()
            if SECRET_VARIABLE.search(name.upper()) and len(value) >= MIN_ENVIRONMENT_SECRET
        ]
        return [v for v in values if v]


def load_settings(**updates: object) -> Settings:
    """This process's settings, read from the environment and `.env` (the one place they are),
    with `updates` over them. Raises BadSettings, each wrong value a line with its fix."""
    from core.errors import BadSettings

    try:
        return Settings().model_copy(update=updates)
    except ValidationError as e:
        raise BadSettings(
            [
                f"{'_'.join(str(part) for part in p['loc']).upper()}={p.get('input')!r}:"
                f" {p['msg']}: fix it in the environment or .env"
                for p in e.errors()
            ]
        ) from None
