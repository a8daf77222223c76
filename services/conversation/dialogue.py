"""The dialogue engine as the pipeline sees it (Rasa, behind ``bot.channels.rasa_client``)."""

from __future__ import annotations

from typing import Any, Protocol


class DialogueUnavailable(Exception):
    """The dialogue engine could not be reached, timed out, or answered with an error."""


class Dialogue(Protocol):
    """One user turn in, the bot's messages out."""

    async def send(
        self, sender: str, message: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """One turn; raises ``DialogueUnavailable``."""
        ...

    async def model_loaded(self) -> bool:
        """Whether the engine has a model loaded and can answer."""
        ...

    async def start_new_session(self, sender: str, metadata: dict[str, Any] | None = None) -> bool:
        """Start a new session (slots carry over) unless a form is active; raises
        ``DialogueUnavailable``. Keeps the engine's per-turn history short."""
        ...
