"""Settings of the app process, from the environment (prefix ``LOTSE_``) or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.db import DEFAULT_DATABASE_URL

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything configurable. Secrets are ``SecretStr`` and never logged."""

    model_config = SettingsConfigDict(
        env_prefix="LOTSE_", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    database_url: str = DEFAULT_DATABASE_URL
    # Telegram: long polling when a token is set; the web chat runs either way.
    telegram_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "LOTSE_TELEGRAM_BOT_TOKEN")
    )
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_base_file_url: str = "https://api.telegram.org/file/bot"
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    rasa_url: str = "http://127.0.0.1:5005"
    # A parse takes well under a second and a model swap blocks Rasa for about half a second (the
    # logistic-regression model loads at once). A Rasa that hangs longer than this, or is unreachable
    # (connection refused, at once), gets the message kept and answered later.
    rasa_timeout_seconds: float = 30.0
    action_port: int = 5055
    rasa_port: int = 5005
    model_path: Path = ROOT / "var" / "models" / "lotse.tar.gz"
    rasa_tracker_db: Path = ROOT / "var" / "rasa-tracker.db"
    # Content variables used in bot messages.
    kreis_name: str = "Rhein-Sieg-Kreis"
    ki_address: str = (
        "Kommunales Integrationszentrum Rhein-Sieg-Kreis, Kaiser-Wilhelm-Platz 1, 53721 Siegburg"
    )
    retention_days: int = 180
    handoff_response_days: int = 2
    consent_version: str = "2026-11"
    # Operations.
    retry_interval_seconds: float = 5.0
    reminder_interval_seconds: float = 30.0
    max_message_chars: int = 1000
    log_level: str = "INFO"

    def message_variables(self) -> dict[str, object]:
        return {
            "kreis": self.kreis_name,
            "ki_address": self.ki_address,
            "retention_days": self.retention_days,
            "response_days": self.handoff_response_days,
        }
