"""The content check: the seed content passes it today, and each rule catches what it is for."""

from __future__ import annotations

from datetime import date, timedelta

from services.content.check import check_entry, check_seed, numbers
from storage.calendar import to_local
from storage.db import utcnow
from storage.seed import SEED_DIR

GLOSSES = {
    "Jobcenter": {"de": "Amt für Grundsicherung und Arbeit", "en": "office for Grundsicherung and jobs"}
}


def entry(**overrides):
    raw = {
        "key": "test-entry",
        "topic": "benefits",
        "sources": ["§ 7 SGB II", "https://www.arbeitsagentur.de"],
        "legal_basis": "§ 7 SGB II",
        "last_verified": date(2026, 12, 1),
        "review_due": date(2027, 6, 1),
        "decided_by": ["Jobcenter"],
        "texts": {
            "de": {
                "question": "Was zahlt das Jobcenter?",
                "answer": "Das Jobcenter (Amt für Grundsicherung und Arbeit) entscheidet über 563 € "
                "im Monat ab dem 01.01.2026. Der Beitrag ist 2,29 € pro Stunde.",
            },
            "en": {
                "question": "What does the Jobcenter pay?",
                "answer": "The Jobcenter (office for Grundsicherung and jobs) decides about 563 € "
                "a month from 01.01.2026. The fee is 2.29 € per hour.",
            },
        },
    }
    raw.update(overrides)
    return raw


def problems(raw, today=date(2026, 12, 1)):
    return [p.what for p in check_entry(raw, today=today, glosses=GLOSSES)]


def test_the_seed_content_passes_today():
    today = to_local(utcnow()).date()
    assert [str(p) for p in check_seed(SEED_DIR, today=today)] == []


def test_a_good_entry_passes():
    assert problems(entry()) == []


def test_sources_dates_and_authorities_are_required():
    assert "no source" in problems(entry(sources=[], legal_basis=None))
    assert "neither a legal basis nor a URL among the sources" in problems(
        entry(sources=["seed document"], legal_basis=None)
    )
    assert "no review date" in problems(entry(review_due=None))
    raw = entry()
    del raw["decided_by"]
    assert any("decided_by missing" in p for p in problems(raw))
    assert any("names no authority" in p for p in problems(entry(decided_by=[])))
    assert any("does not name Familienkasse" in p for p in problems(entry(decided_by=["Familienkasse"])))


def test_numbers_must_match_the_german_master():
    bad = entry()
    bad["texts"]["en"]["answer"] = bad["texts"]["en"]["answer"].replace("563", "536")
    assert any("numbers differ" in p and "536" in p for p in problems(bad))
    assert numbers("1.000 € und 2,29 € am 05.03.2027", "de") == numbers(
        "1,000 € and 2.29 € on 05.03.2027", "en"
    )


def test_german_number_format_in_english_is_caught():
    bad = entry()
    bad["texts"]["en"]["answer"] = bad["texts"]["en"]["answer"].replace("2.29 €", "2,29 €")
    assert any("German number format" in p for p in problems(bad))


def test_a_different_gloss_is_caught():
    bad = entry()
    bad["texts"]["de"]["answer"] = bad["texts"]["de"]["answer"].replace(
        "Amt für Grundsicherung und Arbeit", "Amt für Bürgergeld"
    )
    assert any("Jobcenter (Amt für Bürgergeld)" in p for p in problems(bad))


def test_an_entry_past_its_valid_until_date_fails_until_reconfirmed():
    raw = entry(valid_until=date(2026, 12, 31))
    assert problems(raw, today=date(2026, 12, 31)) == []
    assert any("valid until" in p for p in problems(raw, today=date(2026, 12, 31) + timedelta(days=1)))
