"""FAQ search across languages; staff edits are found before any retraining."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import select

from storage.db import session_scope, utcnow
from storage.models import FaqEntry, Origin, Translation
from storage.search import FaqIndex, normalise


def keys(engine: Engine, hits) -> list[str]:
    with session_scope(engine) as s:
        return [s.get(FaqEntry, h.faq_id).key for h in hits]  # type: ignore[union-attr]


def test_search_finds_answers_in_several_languages(sqlite_seeded: Engine):
    index = FaqIndex(sqlite_seeded)
    for query in [
        "Was kostet die Einbürgerung?",
        "naturalisation fee how much",
        "كم تكلفة التجنيس",
        "скільки коштує громадянство",
    ]:
        hits = index.search(query, limit=3)
        assert hits, query
        assert hits[0].topic == "naturalisation", (query, keys(sqlite_seeded, hits))


def test_misspellings_still_match(sqlite_seeded: Engine):
    hits = FaqIndex(sqlite_seeded).search("kita anmeldug wie", limit=3)
    assert hits and hits[0].topic == "kita"


def test_local_entries_only_for_their_municipality(sqlite_seeded: Engine):
    index = FaqIndex(sqlite_seeded)
    with session_scope(sqlite_seeded) as s:
        local = s.exec(select(FaqEntry).where(FaqEntry.scope != "kreis")).first()
        assert local is not None
        scope, topic = local.scope, local.topic
    assert all(h.scope == "kreis" for h in index.search("kita anmeldung", topic=topic, limit=20))
    assert any(
        h.scope == scope
        for h in index.search("kita anmeldung", topic=topic, municipality=scope, limit=20)
    )


def test_staff_edit_is_found_at_once(seeded: Engine):
    index = FaqIndex(seeded)
    assert not index.search("Zebrastreifenfahrradhelm", min_score=0.05)
    with session_scope(seeded) as s:
        row = s.exec(
            select(Translation).where(
                Translation.owner_type == "faq",
                Translation.field == "question",
                Translation.language == "de",
            )
        ).first()
        assert row is not None
        row.text, row.origin, row.updated_at = (
            "Brauche ich einen Zebrastreifenfahrradhelm?",
            Origin.STAFF,
            utcnow(),
        )
        owner = row.owner_key
    hits = index.search("Zebrastreifenfahrradhelm", min_score=0.05)
    assert keys(seeded, hits)[0] == owner


def test_normalise_folds_case_accents_and_arabic_marks():
    assert normalise("Einbürgerung") == "einburgerung"
    assert normalise("Straße") == "strasse"
    assert normalise("مَرْحَبًا") == "مرحبا"
