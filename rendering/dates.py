"""Dates and times written in the person's language and locale (Europe/Berlin wall-clock time)."""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_date, format_time

from storage.vocabulary import BERLIN


def local_date_time(moment: datetime, language: str) -> tuple[str, str]:
    """``("Dienstag, 24. November 2026", "10:00")`` for ``language`` (falls back to German)."""
    local = moment.astimezone(BERLIN)
    try:
        return (
            format_date(local.date(), format="full", locale=language),
            format_time(local.time(), format="short", locale=language),
        )
    except (ValueError, LookupError):
        return (
            format_date(local.date(), format="full", locale="de"),
            format_time(local.time(), format="short", locale="de"),
        )


def short_date_time(moment: datetime, language: str) -> str:
    """A compact label for a button: ``"Di., 24.11. 10:00"``."""
    local = moment.astimezone(BERLIN)
    try:
        day = format_date(local.date(), format="EEE d. MMM", locale=language)
        at = format_time(local.time(), format="short", locale=language)
    except (ValueError, LookupError):
        day, at = local.strftime("%d.%m."), local.strftime("%H:%M")
    return f"{day} {at}"
