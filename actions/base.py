"""Shared behaviour of the project's actions."""

from __future__ import annotations

import abc
from typing import Any

from rasa_sdk import Action, Tracker

from actions.services import get_services
from lotse.runtime import Runtime
from storage.vocabulary import MASTER_LANGUAGE


class ServiceAction(Action, abc.ABC):
    """An action with injectable services: tests pass them, the server builds them lazily.

    Abstract, so rasa_sdk does not register this base class itself as an action.
    """

    def __init__(self, services: Runtime | None = None) -> None:
        self._services = services

    @abc.abstractmethod
    def name(self) -> str:
        """The action's name in the Rasa domain."""

    @property
    def services(self) -> Runtime:
        if self._services is None:
            self._services = get_services()
        return self._services

    @staticmethod
    def user_text(tracker: Tracker) -> str:
        """The person's words; button payloads ("/ask_kita") are not words."""
        text = str(tracker.latest_message.get("text") or "")
        return "" if text.startswith("/") else text

    @staticmethod
    def intent(tracker: Tracker) -> str | None:
        intent: dict[str, Any] = tracker.latest_message.get("intent") or {}
        return intent.get("name")

    @staticmethod
    def language(tracker: Tracker) -> str:
        metadata = tracker.latest_message.get("metadata") or {}
        return str(metadata.get("language") or MASTER_LANGUAGE)
