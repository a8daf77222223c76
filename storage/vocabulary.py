"""The names the whole product shares, defined once (the lowest layer: imports nothing of ours)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

# The language every text is written in first; every other language translates it.
MASTER_LANGUAGE = "de"
# Office hours, appointments and dates shown to people are Europe/Berlin wall-clock time.
BERLIN = ZoneInfo("Europe/Berlin")
# The most people one appointment can be booked for (the booking form offers 1 … MAX_PEOPLE).
MAX_PEOPLE = 10
# The fixed topic taxonomy of the FAQ content (and of the ``ask_<topic>`` intents).
TOPICS = (
    "kita",
    "school",
    "integration_course",
    "language_courses",
    "naturalisation",
    "residence",
    "benefits",
    "housing",
    "health",
    "work_recognition",
    "banking",
    "case_management",
    "everyday",
)
