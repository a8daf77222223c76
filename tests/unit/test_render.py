"""The trust chain: reviewed/draft translation, then machine, then German — never stale as current."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import select

from rendering.renderer import Renderer, fill
from storage.db import session_scope
from storage.models import FaqEntry, Translation
from translations.engine import TranslationUnavailable


class UpperTranslator:
    """A deterministic stand-in engine for the chain logic (the Argos engine has its own tests)."""

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    def supports(self, source: str, target: str) -> bool:
        return target == "uk"

    def translate(self, text: str, source: str, target: str) -> str:
        self.calls += 1
        if self.fail:
            raise TranslationUnavailable("boom")
        return f"[{target}] {text.upper()}"


def first_faq(engine: Engine) -> FaqEntry:
    with session_scope(engine) as s:
        return s.exec(select(FaqEntry).where(FaqEntry.key == "naturalisation-fees")).one()


def drop_language(engine: Engine, key: str, lang: str) -> None:
    with session_scope(engine) as s:
        for row in s.exec(
            select(Translation).where(Translation.owner_key == key, Translation.language == lang)
        ):
            s.delete(row)


def test_german_master_english_reviewed_arabic_draft(seeded: Engine):
    r = Renderer(seeded)
    entry = first_faq(seeded)
    assert entry.id is not None
    de, en, ar = (r.faq(entry.id, lang) for lang in ("de", "en", "ar"))
    assert de and en and ar
    assert (de.answer.status, en.answer.status, ar.answer.status) == ("source", "reviewed", "draft")
    assert ar.notes == [r.text("faq_note_draft", "ar")]
    assert "255" in de.answer.text and "255" in en.answer.text and "255" in ar.answer.text


def test_missing_translation_falls_back_to_german_with_a_note(seeded: Engine):
    entry = first_faq(seeded)
    assert entry.id is not None
    drop_language(seeded, entry.key, "uk")
    faq = Renderer(seeded).faq(entry.id, "uk")
    assert faq is not None
    assert faq.answer.language == "de" and faq.answer.status == "source"
    assert faq.notes[0] == Renderer(seeded).text("faq_note_german", "uk")


def test_machine_translation_is_marked_and_remembered(seeded: Engine):
    entry = first_faq(seeded)
    assert entry.id is not None
    drop_language(seeded, entry.key, "uk")
    mt = UpperTranslator()
    r = Renderer(seeded, mt)
    first = r.faq(entry.id, "uk")
    second = r.faq(entry.id, "uk")
    assert first and second
    assert first.answer.status == "machine" and first.answer.text.startswith("[uk] ")
    assert first.notes[0] == r.text("faq_note_machine", "uk")
    assert second.answer.text == first.answer.text
    assert mt.calls == 2  # question + answer once; the second view comes from the translation memory


def test_a_failing_engine_degrades_to_german(seeded: Engine):
    entry = first_faq(seeded)
    assert entry.id is not None
    drop_language(seeded, entry.key, "uk")
    faq = Renderer(seeded, UpperTranslator(fail=True)).faq(entry.id, "uk")
    assert faq is not None and faq.answer.language == "de"


def test_outdated_translations(seeded: Engine):
    """A new master version: a reviewed translation is shown with a note, a draft is not shown."""
    entry = first_faq(seeded)
    assert entry.id is not None
    with session_scope(seeded) as s:
        e = s.get(FaqEntry, entry.id)
        assert e is not None
        e.version += 1
    r = Renderer(seeded)
    en, ar = r.faq(entry.id, "en"), r.faq(entry.id, "ar")
    assert en and ar
    assert en.answer.status == "reviewed" and en.answer.outdated
    assert en.notes[0] == r.text("faq_note_outdated", "en")
    assert ar.answer.language == "de"  # the stale Arabic draft is never presented as current


def test_french_bridges_through_english_before_german(seeded: Engine):
    entry = first_faq(seeded)
    assert entry.id is not None
    faq = Renderer(seeded).faq(entry.id, "fr")
    assert faq is not None and faq.answer.language == "en"


def test_french_draft_of_a_most_asked_entry_is_shown_in_french(seeded: Engine):
    with session_scope(seeded) as s:
        entry = s.exec(select(FaqEntry).where(FaqEntry.key == "integration-course-costs")).one()
    assert entry.id is not None
    r = Renderer(seeded)
    faq = r.faq(entry.id, "fr")
    assert faq is not None
    assert (faq.answer.language, faq.answer.status) == ("fr", "draft")
    assert "2,29 €" in faq.answer.text and "BAMF" in faq.answer.text
    assert faq.notes == [r.text("faq_note_draft", "fr")]


def test_placeholders_are_filled_and_unknown_ones_kept(sqlite_seeded: Engine):
    r = Renderer(
        sqlite_seeded,
        variables={
            "kreis": "Rhein-Sieg-Kreis",
            "retention_days": 180,
            "ki_address": "X",
            "response_days": 2,
        },
    )
    assert "Rhein-Sieg-Kreis" in r.text("privacy_notice", "de")
    assert "{" not in r.text("privacy_notice", "ar")
    assert fill("a {b} {c}", {"b": 1}) == "a 1 {c}"
    assert fill("broken { brace", {}) == "broken { brace"
