"""Machine-translation engines behind one small interface.

The product must work with no model installed: ``NullTranslator`` supports no pair and every caller
falls back to human content. ``translations.argos`` implements the real offline engine.
"""

from __future__ import annotations

from typing import Protocol


class TranslationUnavailable(Exception):
    """The pair is not installed, the engine failed, or it ran out of time."""


class Translator(Protocol):
    """Offline machine translation."""

    def supports(self, source: str, target: str) -> bool:
        """Whether ``source`` → ``target`` can be translated (directly or through English)."""
        ...

    def translate(self, text: str, source: str, target: str) -> str:
        """Translate or raise ``TranslationUnavailable``."""
        ...


class NullTranslator:
    """No machine translation: every pair is unsupported."""

    def supports(self, source: str, target: str) -> bool:
        return False

    def translate(self, text: str, source: str, target: str) -> str:
        raise TranslationUnavailable(f"no engine for {source}->{target}")
