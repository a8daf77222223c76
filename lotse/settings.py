"""One ``Settings``, in sections, from the environment (or a ``.env`` file).

Every environment variable is a declared field. A section reads the variables with its prefix: the
web section's ``port`` is ``LOTSE_WEB_PORT``, the Rasa section's ``timeout_seconds`` is
``LOTSE_RASA_TIMEOUT_SECONDS``; the top-level fields are ``LOTSE_<NAME>``. Secrets are ``SecretStr``
and never logged. Tests build ``Settings(web=WebSettings(port=…), …)`` explicitly.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.db import DEFAULT_DATABASE_URL
from storage.vocabulary import MAX_PEOPLE

ROOT = Path(__file__).resolve().parent.parent


def _section(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix,
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
        validate_by_name=True,  # Settings(telegram=TelegramSettings(bot_token=…)) in tests
        validate_by_alias=True,
    )


class TelegramSettings(BaseSettings):
    """Telegram: long polling when a token is set; the web chat runs either way."""

    model_config = _section("LOTSE_TELEGRAM_")

    bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "LOTSE_TELEGRAM_BOT_TOKEN")
    )
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    # Telegram's flood limits (Bot FAQ): about 30 messages/s per bot, about 1/s per chat.
    overall_per_second: int = 30
    per_chat_per_second: float = 1.0
    chat_burst: int = 2
    outbox_interval_seconds: float = 3.0
    # "polling" (the embedded default: no open port needed) or "webhook" (several app workers behind a
    # load balancer): Telegram then posts to webhook_url with webhook_secret in a header.
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None

    @model_validator(mode="after")
    def _webhook_needs_a_secret(self) -> TelegramSettings:
        if self.mode == "webhook" and self.bot_token is not None:
            secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
            if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", secret):
                raise ValueError(
                    "LOTSE_TELEGRAM_WEBHOOK_SECRET must be 16–256 characters of A–Z a–z 0–9 _ - "
                    "in webhook mode (Telegram sends it with every update)"
                )
        return self


class RasaSettings(BaseSettings):
    """The Rasa server and the action server (both internal: loopback or an internal network)."""

    model_config = _section("LOTSE_RASA_")

    url: str = "http://127.0.0.1:5005"
    port: int = 5005
    action_port: int = 5055
    # A parse takes well under a second and a model swap blocks Rasa for about half a second. A Rasa
    # that hangs longer than this, or is unreachable, gets the message kept and answered later.
    timeout_seconds: float = 30.0
    # The shared secret of the internal endpoints: Rasa's HTTP API (``--auth-token``), the action server
    # and the app's NLG endpoint. ``make run`` makes a fresh one per start when it is not set.
    internal_token: SecretStr | None = None
    model_path: Path = ROOT / "var" / "models" / "lotse.tar.gz"
    tracker_db: Path = ROOT / "var" / "rasa-tracker.db"
    # The endpoints file Rasa runs with: erasure and retention read the tracker store from it.
    endpoints_file: Path = ROOT / "nlu" / "endpoints.yml"
    executable: Path = ROOT / ".venv-rasa" / "bin" / "rasa"  # Rasa 3.6 has its own Python 3.10 venv
    project_dir: Path = ROOT / "nlu"


class WebSettings(BaseSettings):
    """The app's public HTTP listener (web chat, its API, health checks) and its internal one (NLG)."""

    model_config = _section("LOTSE_WEB_")

    host: str = "127.0.0.1"
    port: int = 8080
    # Rasa's NLG endpoint listens here, never on the public port (loopback, or an internal network).
    internal_host: str = "127.0.0.1"
    internal_port: int = 5056
    # Signs the web chat's session cookie (the sender id alone gives nothing). Not set: a random secret
    # is kept in var/web-secret (the embedded default); the scale-out deployment must set it.
    secret: SecretStr | None = None
    secure_cookies: bool = False  # True behind HTTPS (the compose deployment)
    # Abuse limits of the public API (per minute): one browser's sender, one client address.
    sender_per_minute: int = 40
    client_per_minute: int = 240


class ConversationSettings(BaseSettings):
    """The message pipeline."""

    model_config = _section("LOTSE_CONVERSATION_")

    max_message_chars: int = 1000
    retry_interval_seconds: float = 5.0


class BookingSettings(BaseSettings):
    """Appointment booking rules (``storage.calendar.BookingConfig``)."""

    model_config = _section("LOTSE_BOOKING_")

    slot_minutes: int = 60  # the average CM appointment is 63 minutes (seed document §2.3)
    lead_minutes: int = 120  # earliest bookable slot after now
    max_people: int = MAX_PEOPLE
    max_active_per_person: int = 3
    reminder_offsets_minutes: list[int] = [2 * 24 * 60, 2 * 60]  # two days and two hours before


class ReminderSettings(BaseSettings):
    """The reminder dispatcher (``scheduler.reminders``)."""

    model_config = _section("LOTSE_REMINDERS_")

    interval_seconds: float = 30.0
    batch: int = 100
    max_lateness_minutes: int = 12 * 60
    min_lead_minutes: int = 15


class PrivacySettings(BaseSettings):
    """What the privacy notice promises."""

    model_config = _section("LOTSE_PRIVACY_")

    retention_days: int = 180
    consent_version: str = "2026-11"


class HandoffSettings(BaseSettings):
    """Hand-offs to case managers."""

    model_config = _section("LOTSE_HANDOFF_")

    response_days: int = 2  # working days promised for an answer


class ConsoleSettings(BaseSettings):
    """The staff console (``/console``)."""

    model_config = _section("LOTSE_CONSOLE_")

    idle_minutes: int = 30  # a console session ends after this long without a request
    poll_seconds: int = 10  # how often the inbox and delivery states refresh


class MTSettings(BaseSettings):
    """Offline machine translation (Argos packages run with CTranslate2)."""

    model_config = _section("LOTSE_MT_")

    # How long a person's answer may wait for the model (§4: at most 2 s, so that the answer, with
    # German and a note when the model is too slow, is there within 3 s). Offline batch work such as
    # ``lotse models translate-content`` sets its own, longer limit.
    timeout_seconds: float = Field(default=2.0, gt=0, le=2.0)
    threads: int | None = None  # default: every core this process may use


class Settings(BaseSettings):
    """Everything configurable, in sections."""

    model_config = _section("LOTSE_")

    database_url: str = DEFAULT_DATABASE_URL
    # Content variables used in bot messages.
    kreis_name: str = "Rhein-Sieg-Kreis"
    ki_address: str = (
        "Kommunales Integrationszentrum Rhein-Sieg-Kreis, Kaiser-Wilhelm-Platz 1, 53721 Siegburg"
    )
    log_level: str = "INFO"

    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    rasa: RasaSettings = Field(default_factory=RasaSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    conversation: ConversationSettings = Field(default_factory=ConversationSettings)
    booking: BookingSettings = Field(default_factory=BookingSettings)
    reminders: ReminderSettings = Field(default_factory=ReminderSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    handoff: HandoffSettings = Field(default_factory=HandoffSettings)
    mt: MTSettings = Field(default_factory=MTSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)

    def message_variables(self) -> dict[str, object]:
        """The variables bot messages may use (``{kreis}``, ``{retention_days}`` …)."""
        return {
            "kreis": self.kreis_name,
            "ki_address": self.ki_address,
            "retention_days": self.privacy.retention_days,
            "response_days": self.handoff.response_days,
        }


SECTIONS = (
    "telegram",
    "rasa",
    "web",
    "conversation",
    "booking",
    "reminders",
    "privacy",
    "handoff",
    "mt",
    "console",
)


def _env_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, list | tuple):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value)


def to_env(settings: Settings) -> dict[str, str]:
    """The settings as environment variables, so child processes see exactly the same configuration."""
    env: dict[str, str] = {}
    for name in Settings.model_fields:
        if name in SECTIONS:
            section: BaseSettings = getattr(settings, name)
            prefix = str(section.model_config.get("env_prefix", ""))
            for field in type(section).model_fields:
                value = _env_value(getattr(section, field))
                if value is not None:
                    key = "TELEGRAM_BOT_TOKEN" if field == "bot_token" else f"{prefix}{field.upper()}"
                    env[key] = value
            continue
        value = _env_value(getattr(settings, name))
        if value is not None:
            env[f"LOTSE_{name.upper()}"] = value
    return env
