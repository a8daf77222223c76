"""Pre-translating content: machine drafts where no current text exists; human texts never replaced."""

from __future__ import annotations

import math

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services.content.pretranslate import CONTENT_CHUNK, translate_content
from storage.db import session_scope
from storage.models import BotMessage, FaqEntry, TextStatus, Translation
from translations.argos import ArgosTranslator
from translations.glossary import read_glossary_file
from translations.service import TranslationService

Key = tuple[str, str, str]  # owner key, field, language


def human_rows(engine: Engine) -> dict[tuple[str, str, str, str], tuple[str, str, int]]:
    with session_scope(engine) as s:
        return {
            (r.owner_type, r.owner_key, r.field, r.language): (r.text, r.status, r.source_version)
            for r in s.exec(select(Translation)).all()
            if r.status != TextStatus.MACHINE
        }


def without_text(engine: Engine, languages: list[str]) -> set[Key]:
    """FAQ questions/answers and bot messages with no text at all in ``languages``."""
    with session_scope(engine) as s:
        active = {e.key for e in s.exec(select(FaqEntry).where(col(FaqEntry.active))).all()}
        messages = {m.key for m in s.exec(select(BotMessage)).all()}
        rows = s.exec(select(Translation)).all()
    have = {(r.owner_key, r.field, r.language) for r in rows}
    wanted = {
        (r.owner_key, r.field)
        for r in rows
        if r.language == "de"
        and (
            (r.owner_type == "faq" and r.owner_key in active and r.field in ("question", "answer"))
            or (r.owner_type == "message" and r.owner_key in messages)
        )
    }
    return {(k, f, lang) for k, f in wanted for lang in languages if (k, f, lang) not in have}


def drop(engine: Engine, owner_type: str, key: str, language: str) -> None:
    with session_scope(engine) as s:
        for row in s.exec(
            select(Translation).where(
                Translation.owner_type == owner_type,
                Translation.owner_key == key,
                Translation.language == language,
            )
        ):
            s.delete(row)


def test_missing_texts_become_machine_drafts(content_db: Engine, argos: ArgosTranslator) -> None:
    drop(content_db, "faq", "naturalisation-fees", "uk")
    drop(content_db, "message", "privacy_notice", "uk")
    drop(content_db, "message", "utter_goodbye", "ar")
    expected = without_text(content_db, ["uk", "ar"])
    assert {
        ("naturalisation-fees", "question", "uk"),
        ("naturalisation-fees", "answer", "uk"),
        ("privacy_notice", "text", "uk"),
        ("utter_goodbye", "text", "ar"),
    } <= expected
    before = human_rows(content_db)
    svc = TranslationService(argos, db=content_db, glossary=read_glossary_file(), timeout=30)

    report = translate_content(content_db, svc, ["uk", "ar", "tr"])
    per_lang = {lang: sum(1 for *_, lg in expected if lg == lang) for lang in ("uk", "ar")}
    # tr has no model; French (no content of its own) was not asked for.
    assert dict(report.translated) == per_lang
    assert report.kept_human == 0 and not report.failed
    batches = {lang: math.ceil(n / CONTENT_CHUNK) for lang, n in per_lang.items()}
    assert argos.calls == {  # all texts of a language in as few engine calls as the chunking allows
        ("de", "en"): batches["uk"] + batches["ar"],
        ("en", "uk"): batches["uk"],
        ("en", "ar"): batches["ar"],
    }

    with session_scope(content_db) as s:
        version = s.exec(select(FaqEntry).where(FaqEntry.key == "naturalisation-fees")).one().version
        made = {
            (r.owner_key, r.field, r.language): r
            for r in s.exec(select(Translation).where(Translation.status == TextStatus.MACHINE))
        }
        notice = s.get(BotMessage, "privacy_notice")
        assert notice is not None
        notice_version = notice.version
    assert set(made) == expected
    assert made[("naturalisation-fees", "answer", "uk")].source_version == version
    assert made[("privacy_notice", "text", "uk")].source_version == notice_version
    notice_text = made[("privacy_notice", "text", "uk")].text
    for value in ("{kreis}", "{retention_days}", "/mydata", "/delete"):
        assert value in notice_text  # placeholders and commands come back untouched
    assert human_rows(content_db) == before  # no human text was touched

    # Everything is current now: a second run translates nothing.
    again = translate_content(content_db, svc, ["uk", "ar"])
    assert sum(again.translated.values()) == 0


def test_outdated_human_texts_are_kept_and_outdated_machine_drafts_renewed(
    content_db: Engine, argos: ArgosTranslator
) -> None:
    drop(content_db, "message", "utter_goodbye", "uk")
    svc = TranslationService(argos, db=content_db, glossary=read_glossary_file(), timeout=30)
    translate_content(content_db, svc, ["uk"])
    with session_scope(content_db) as s:
        for key in ("utter_goodbye", "utter_greet"):  # now a machine draft and a human draft
            msg = s.get(BotMessage, key)
            assert msg is not None
            msg.version += 1
            s.add(msg)
    before = human_rows(content_db)
    report = translate_content(content_db, svc, ["uk"])
    assert report.translated["uk"] == 1 and report.kept_human == 1
    assert human_rows(content_db) == before
    with session_scope(content_db) as s:
        goodbye = s.exec(
            select(Translation).where(
                Translation.owner_key == "utter_goodbye", Translation.language == "uk"
            )
        ).one()
        version = s.get(BotMessage, "utter_goodbye").version  # type: ignore[union-attr]
    assert goodbye.status == TextStatus.MACHINE and goodbye.source_version == version
