"""Helpers that keep personal data out of places it does not belong."""

from __future__ import annotations

import re

_PATTERNS = [
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "[email]"),
    (re.compile(r"https?://\S+|www\.\S+"), "[link]"),
    (re.compile(r"(?<!\w)\+?\d[\d\s/().-]{6,}\d"), "[number]"),
    (re.compile(r"\b[A-Z]{1,2}\d{6,9}\b"), "[id]"),  # passport-like document numbers
    (re.compile(r"\d{3,}"), "[number]"),
]


def anonymise(text: str, limit: int = 500) -> str:
    """Remove e-mail addresses, links, phone and document numbers; cut to ``limit`` characters."""
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text[:limit]


def log_safe(text: str, limit: int = 60) -> str:
    """User text for a log line: no line breaks (no forged log lines), short, anonymised."""
    return anonymise(text, limit).replace("\r", " ").replace("\n", " ")
