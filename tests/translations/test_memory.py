"""Translation memory: never the same text twice through the model; human translations win."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select

from storage.db import session_scope, utcnow
from storage.models import TextStatus, Translation
from storage.models_translation import MemoryEntry
from translations.argos import ArgosTranslator
from translations.engine import Provenance
from translations.glossary import Glossary
from translations.memory import memory_key, purge_memory
from translations.service import TranslationService

TEXT = "Das Kind hat heute einen Termin. Bitte rufen Sie 02241 13-0 an oder schreiben Sie an a@b.de."


def model_calls(engine: ArgosTranslator) -> int:
    return sum(engine.calls.values())


def test_a_text_is_translated_once(engine: Engine, argos: ArgosTranslator) -> None:
    svc = TranslationService(argos, db=engine, glossary=Glossary(), timeout=10)
    [first] = svc.translate_results([TEXT], "de", "ar")
    assert first.origin == Provenance.MACHINE and first.route == ("de", "en", "ar")
    calls = model_calls(argos)
    assert calls == 2  # de->en, en->ar

    [second] = svc.translate_results([TEXT], "de", "ar")
    assert second.text == first.text
    assert second.origin == Provenance.MEMORY and second.route == ("de", "en", "ar")
    assert model_calls(argos) == calls

    # Another process (a restart, another worker) finds it too, once it is written.
    assert svc.memory is not None
    svc.memory.flush()
    other = ArgosTranslator(list(argos.packages.values()))
    again = TranslationService(other, db=engine, glossary=Glossary(), timeout=10)
    assert again.translate(TEXT, "de", "ar") == first.text
    assert model_calls(other) == 0


def test_the_same_sentence_with_another_date_is_a_memory_hit(
    engine: Engine, argos: ArgosTranslator
) -> None:
    svc = TranslationService(argos, db=engine, glossary=Glossary(), timeout=10)
    one = svc.translate("Ihr Termin ist am 12.03.2026 um 10:30 Uhr.", "de", "en")
    calls = model_calls(argos)
    [two] = svc.translate_results(["Ihr Termin ist am 14.04.2026 um 9:00 Uhr."], "de", "en")
    assert one == "Ihr appointment ist am 12.03.2026 um 10:30 Uhr."
    assert two.text == "Ihr appointment ist am 14.04.2026 um 9:00 Uhr."
    assert two.origin == Provenance.MEMORY and model_calls(argos) == calls


def test_only_new_texts_of_a_batch_reach_the_model(engine: Engine, argos: ArgosTranslator) -> None:
    svc = TranslationService(argos, db=engine, glossary=Glossary(), timeout=10)
    svc.translate("Hallo Kind.", "de", "en")
    argos.sentences.clear()
    results = svc.translate_results(["Hallo Kind.", "Danke, bis morgen."], "de", "en")
    assert [r.origin for r in results] == [Provenance.MEMORY, Provenance.MACHINE]
    assert argos.sentences == {("de", "en"): 1}


def test_the_memory_keeps_no_personal_details(engine: Engine, argos: ArgosTranslator) -> None:
    svc = TranslationService(argos, db=engine, glossary=Glossary(), timeout=10)
    svc.translate(TEXT, "de", "en")
    assert svc.memory is not None
    svc.memory.flush()
    with session_scope(engine) as s:
        rows = s.exec(select(MemoryEntry)).all()
    assert len(rows) == 1
    row = rows[0]
    assert row.key == memory_key("Das Kind hat heute einen Termin. Bitte rufen Sie ZQXA an oder "
                                 "schreiben Sie an ZQXB.", "de", "en")  # fmt: skip
    assert "02241" not in row.text and "a@b.de" not in row.text and "Kind" not in row.text
    assert (row.source, row.target, row.route, row.status) == ("de", "en", "de>en", "machine")


def test_purge_applies_the_retention_period(engine: Engine, argos: ArgosTranslator) -> None:
    svc = TranslationService(argos, db=engine, glossary=Glossary(), timeout=10)
    svc.translate("Hallo Kind.", "de", "en")
    assert svc.memory is not None
    svc.memory.flush()
    with session_scope(engine) as s:
        assert purge_memory(s, utcnow() - timedelta(days=1)) == 0
        assert purge_memory(s, utcnow() + timedelta(seconds=1)) == 1
    svc = TranslationService(argos, db=engine, glossary=Glossary(), timeout=10)
    svc.translate("Hallo Kind.", "de", "en")
    assert argos.calls[("de", "en")] == 2


def test_reviewed_human_translations_win(content_db: Engine, argos: ArgosTranslator) -> None:
    with session_scope(content_db) as s:
        de = s.exec(
            select(Translation).where(
                Translation.owner_type == "message",
                Translation.owner_key == "utter_goodbye",
                Translation.language == "de",
            )
        ).one()
        en = s.exec(
            select(Translation).where(
                Translation.owner_key == "utter_goodbye", Translation.language == "en"
            )
        ).one()
    assert en.status == TextStatus.REVIEWED
    svc = TranslationService(argos, db=content_db, glossary=Glossary(), timeout=10)
    [result] = svc.translate_results([de.text + "\n"], "de", "en")
    assert result.text == en.text + "\n" and result.origin == Provenance.HUMAN
    assert not result.machine and model_calls(argos) == 0

    # A draft is not trusted: the Arabic draft of the same message goes through the model.
    [ar] = svc.translate_results([de.text], "de", "ar")
    assert ar.origin == Provenance.MACHINE and model_calls(argos) == 2
