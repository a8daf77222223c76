"""The glossary is content: seeded idempotently, edited by staff, used by the translation at once."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy.engine import Engine
from sqlmodel import select

from storage.db import make_engine, session_scope
from storage.models_translation import GlossaryTerm
from translations.argos import ArgosTranslator
from translations.glossary import SEED_FILE, GlossaryStore, load_glossary, read_glossary_file
from translations.service import TranslationService

REQUIRED_TERMS = {
    "Aufenthaltstitel",
    "Berechtigungsschein",
    "Jugendamt",
    "Kita-Gutschein",
    "Einbürgerungstest",
    "Ausländerbehörde",
    "Jobcenter",
    "Bürgergeld",
    "Fiktionsbescheinigung",
    "Wohnberechtigungsschein",
    "Einbürgerungsbehörde",
    "Kindertagespflege",
}


def test_the_seed_explains_every_term_in_every_chat_language() -> None:
    glossary = read_glossary_file()
    assert set(glossary.terms) >= REQUIRED_TERMS
    assert len(glossary) >= 20
    for term in glossary.terms:
        for lang in ("en", "ar", "uk", "ru", "tr", "fa"):
            note = glossary.explanation(term, lang)
            assert note and len(note) <= 120, (term, lang)
        assert glossary.explanation(term, "de") is None  # never shown to German readers


def test_loading_is_idempotent_and_never_touches_staff_edits(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        first = load_glossary(s)
    assert first.created >= 20 * 7 and not first.errors
    with session_scope(engine) as s:
        again = load_glossary(s)
    assert (again.created, again.updated, again.unchanged) == (0, 0, first.created)

    with session_scope(engine) as s:
        rows = {(r.term, r.language): r for r in s.exec(select(GlossaryTerm)).all()}
        staff = rows[("Jobcenter", "en")]
        staff.explanation, staff.origin, staff.updated_by = "job centre (staff wording)", "staff", "ki"
        s.add(staff)

    # A new seed version changes two explanations and adds a term.
    data = yaml.safe_load(SEED_FILE.read_text(encoding="utf-8"))
    for entry in data["terms"]:
        if entry["term"] in ("Jobcenter", "Jugendamt"):
            entry["explanations"]["en"] += " (new)"
    data["terms"].append({"term": "Elterngeld", "explanations": {"en": "parental allowance"}})
    changed = tmp_path / "glossary.yml"
    changed.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with session_scope(engine) as s:
        report = load_glossary(s, changed)
    assert (report.created, report.updated, report.kept_staff_edits) == (1, 1, 1)
    with session_scope(engine) as s:
        rows = {(r.term, r.language): r for r in s.exec(select(GlossaryTerm)).all()}
    assert rows[("Jobcenter", "en")].explanation == "job centre (staff wording)"
    assert rows[("Jugendamt", "en")].explanation.endswith("(new)")
    assert rows[("Elterngeld", "en")].origin == "seed"


def test_a_staff_edit_is_used_by_the_next_translation(
    content_db: Engine, argos: ArgosTranslator
) -> None:
    with session_scope(content_db) as s:
        load_glossary(s)
    store = GlossaryStore(content_db, check_every=0)
    svc = TranslationService(argos, db=content_db, glossary=store, timeout=10)
    assert "Jugendamt (youth welfare office" in svc.translate("Das Jugendamt hilft.", "de", "en")

    with session_scope(content_db) as s:
        row = s.exec(
            select(GlossaryTerm).where(GlossaryTerm.term == "Jugendamt", GlossaryTerm.language == "en")
        ).one()
        row.explanation, row.origin = "office for children and families", "staff"
        s.add(row)
        s.add(GlossaryTerm(term="Elterngeld", language="en", explanation="parental allowance"))
    out = svc.translate("Das Jugendamt zahlt kein Elterngeld.", "de", "en")
    assert out == (
        "Das Jugendamt (office for children and families) zahlt kein Elterngeld (parental allowance)."
    )


def test_without_the_table_the_seed_file_still_protects(tmp_path: Path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 'not-migrated.db'}")
    try:
        glossary = GlossaryStore(eng).current()
    finally:
        eng.dispose()
    assert set(glossary.terms) >= REQUIRED_TERMS
