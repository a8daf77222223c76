"""The language registry says per language what the product can do: content, NLU, MT route."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.engine import Engine

from storage.db import session_scope
from storage.models import BotMessage, FaqEntry, TextStatus, Translation
from translations.argos import ArgosTranslator
from translations.engine import NullTranslator
from translations.languages import LANGUAGES, nlu_languages
from translations.registry import language_registry, registry_table
from translations.service import TranslationService


def by_code(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["code"]: r for r in rows}


def add_content(engine: Engine) -> None:
    """Two FAQ entries (and an inactive one) and two bot messages, in various states."""

    def text(kind: str, key: str, field: str, lang: str, status: str, version: int = 1) -> Translation:
        return Translation(
            owner_type=kind,
            owner_key=key,
            field=field,
            language=lang,
            text=f"{key} {field} {lang}",
            status=status,
            source_version=version,
        )

    day = date(2026, 11, 1)
    with session_scope(engine) as s:
        s.add(FaqEntry(key="a", topic="kita", last_verified=day, verified_by="t"))
        s.add(FaqEntry(key="b", topic="kita", version=2, last_verified=day, verified_by="t"))
        s.add(FaqEntry(key="c", topic="kita", last_verified=day, verified_by="t", active=False))
        s.add(BotMessage(key="m1"))
        s.add(BotMessage(key="m2"))
        for field in ("question", "answer"):
            s.add(text("faq", "a", field, "de", TextStatus.SOURCE))
            s.add(text("faq", "a", field, "en", TextStatus.REVIEWED))
            s.add(text("faq", "a", field, "ar", TextStatus.DRAFT))
            s.add(text("faq", "b", field, "de", TextStatus.SOURCE, 2))
            s.add(text("faq", "b", field, "en", TextStatus.REVIEWED, 1))  # outdated
            s.add(text("faq", "b", field, "ar", TextStatus.DRAFT, 2))
            s.add(text("faq", "c", field, "uk", TextStatus.REVIEWED))  # inactive entry
        s.add(text("faq", "a", "question", "uk", TextStatus.DRAFT))  # no answer: incomplete
        s.add(text("message", "m1", "text", "de", TextStatus.SOURCE))
        s.add(text("message", "m1", "text", "en", TextStatus.REVIEWED))
        s.add(text("message", "m1", "text", "ar", TextStatus.MACHINE))  # nobody wrote it
        s.add(text("message", "m1", "text", "uk", TextStatus.DRAFT))
        s.add(text("message", "m2", "text", "de", TextStatus.SOURCE))


def test_content_coverage_counts_only_current_human_texts(engine: Engine) -> None:
    add_content(engine)
    with session_scope(engine) as s:
        reg = by_code(language_registry(s, NullTranslator(), nlu=frozenset({"de", "en", "ar"})))
    assert list(reg) == list(LANGUAGES)

    assert reg["de"]["master"] and reg["de"]["content"]["share"] == 1.0
    assert reg["de"]["missing"] == {"faq": [], "messages": []}

    en = reg["en"]
    assert en["content"]["faq"] == {"total": 2, "reviewed": 1, "draft": 0}
    assert en["content"]["messages"] == {"total": 2, "reviewed": 1, "draft": 0}
    assert en["missing"] == {"faq": ["b"], "messages": ["m2"]}
    assert en["content"]["share"] == 0.5

    ar = reg["ar"]
    assert ar["content"]["faq"] == {"total": 2, "reviewed": 0, "draft": 2}
    assert ar["missing"]["messages"] == ["m1", "m2"]  # a machine text is not content
    assert ar["content"]["share"] == 0.5

    uk = reg["uk"]
    assert uk["missing"] == {"faq": ["a", "b"], "messages": ["m2"]}
    assert uk["content"]["share"] == 0.25
    assert reg["fr"]["content"]["share"] == 0.0 and reg["fr"]["bridge"] == ["en"]

    # Without NLU data a language needs MT into English; without models there is none.
    assert (uk["nlu"], uk["mt_inbound"]) == (False, "none")
    assert (ar["nlu"], ar["mt_inbound"]) == (True, "not needed")
    assert all(r["mt"] == ("source" if r["master"] else "none") for r in reg.values())


def test_machine_translation_routes(content_db: Engine, argos: ArgosTranslator) -> None:
    with session_scope(content_db) as s:
        reg = by_code(language_registry(s, TranslationService(argos)))
    assert reg["de"]["mt"] == "source"
    assert reg["en"]["mt"] == "direct" and reg["en"]["mt_route"] == ["de", "en"]
    assert reg["ar"]["mt"] == "pivot" and reg["ar"]["mt_route"] == ["de", "en", "ar"]
    assert reg["uk"]["mt"] == "pivot"
    assert reg["tr"]["mt"] == "none" and reg["tr"]["mt_route"] == []
    for code, row in reg.items():
        assert row["nlu"] == (code in nlu_languages())
        assert row["rtl"] == LANGUAGES[code].rtl
        content = row["content"]
        total = content["faq"]["total"] + content["messages"]["total"]
        missing = len(row["missing"]["faq"]) + len(row["missing"]["messages"])
        assert content["share"] == round((total - missing) / total, 3)


def test_registry_table_for_readme_and_cli(engine: Engine, argos: ArgosTranslator) -> None:
    add_content(engine)
    with session_scope(engine) as s:
        table = registry_table(language_registry(s, argos, nlu=frozenset({"de", "en"})))
    lines = table.splitlines()
    assert lines[0].startswith("| language |") and len(lines) == 2 + len(LANGUAGES)
    assert "| German (de) | master | yes | source | not needed |" in lines
    assert (
        "| Arabic (ar) | 50% (FAQ 0+2 of 2, messages 0+0 of 2) | no | pivot (de→en→ar) | none |" in lines
    )
    assert (
        "| English (en) | 50% (FAQ 1+0 of 2, messages 1+0 of 2) | yes | direct | not needed |" in lines
    )
