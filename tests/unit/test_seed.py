"""Seed content: complete, idempotent, never overwriting staff edits, tracking outdated translations."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml
from sqlalchemy.engine import Engine
from sqlmodel import select

from storage.db import session_scope
from storage.models import BotMessage, FaqEntry, Origin, Translation
from storage.seed import SEED_DIR, TOPICS, load_seed

LANGS = {"de", "en", "ar", "uk", "ru", "tr", "fa"}
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
# Languages whose most-asked FAQ entries are drafts in translations/faq.<lang>.yml, all the same set.
MOST_ASKED_DRAFTS = ("es", "fr")


def test_seed_files_are_complete_and_sourced():
    entries = []
    for path in sorted((SEED_DIR / "faq").glob("*.yml")):
        entries += yaml.safe_load(path.read_text(encoding="utf-8"))["entries"]
    keys = [e["key"] for e in entries]
    assert len(keys) == len(set(keys)), "FAQ keys must be unique"
    assert len(entries) >= 40
    assert {e["topic"] for e in entries} == set(TOPICS)
    for e in entries:
        assert e["sources"], e["key"]
        assert e["last_verified"], e["key"]
        assert {"de", "en"} <= set(e["texts"]), e["key"]
        for lang, t in e["texts"].items():
            assert t["question"].strip() and t["answer"].strip(), (e["key"], lang)
    local = {e["scope"] for e in entries if e.get("scope", "kreis") != "kreis"}
    assert len(local) >= 3, "local entries for at least three municipalities"


def test_every_bot_message_exists_in_german_and_english():
    data = yaml.safe_load((SEED_DIR / "messages.yml").read_text(encoding="utf-8"))["messages"]
    for key, raw in data.items():
        assert {"de", "en"} <= set(raw["texts"]), key


def test_message_translations_keep_keys_and_placeholders_of_the_german_master():
    """Every messages.<lang>.yml (fr, es, pl, …): known keys, the German placeholders, all messages."""
    master = yaml.safe_load((SEED_DIR / "messages.yml").read_text(encoding="utf-8"))["messages"]
    files = sorted(SEED_DIR.glob("messages.*.yml"))
    assert {"es", "pl", "fr"} <= {p.name.split(".")[1] for p in files}
    for path in files:
        lang = path.name.split(".")[1]
        texts = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert set(texts) <= set(master), (lang, set(texts) - set(master))
        if lang != "ku":  # Kurdish has a short set of its own (ku_capabilities)
            assert set(texts) == set(master) - {"ku_capabilities"}, (lang, set(master) - set(texts))
        for key, text in texts.items():
            want = sorted(PLACEHOLDER.findall(str(master[key]["texts"]["de"])))
            assert sorted(PLACEHOLDER.findall(str(text))) == want, (lang, key)


def test_faq_translation_files_translate_existing_entries():
    keys = set()
    for path in sorted((SEED_DIR / "faq").glob("*.yml")):
        keys |= {e["key"] for e in yaml.safe_load(path.read_text(encoding="utf-8"))["entries"]}
    drafts = {}
    for path in sorted((SEED_DIR / "translations").glob("faq.*.yml")):
        lang = path.name.split(".")[1]
        drafts[lang] = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert set(drafts[lang]) <= keys, (lang, set(drafts[lang]) - keys)
        for key, t in drafts[lang].items():
            assert t["question"].strip() and t["answer"].strip(), (lang, key)
    for lang in MOST_ASKED_DRAFTS:
        assert set(drafts[lang]) == set(drafts["es"]) and len(drafts[lang]) >= 30, lang


def test_reload_is_idempotent(seeded: Engine):
    with session_scope(seeded) as s:
        before = len(s.exec(select(Translation)).all())
        report = load_seed(s)
        assert report.created == 0 and report.updated == 0 and not report.errors
        assert len(s.exec(select(Translation)).all()) == before


def test_staff_edits_survive_a_reload(seeded: Engine):
    with session_scope(seeded) as s:
        row = s.exec(
            select(Translation).where(
                Translation.owner_type == "message",
                Translation.owner_key == "utter_greet",
                Translation.language == "en",
            )
        ).one()
        row.text, row.origin = "Edited by KI staff", Origin.STAFF
        entry = s.exec(select(FaqEntry)).first()
        assert entry is not None
        entry.origin, entry.keywords = Origin.STAFF, ["staff-keyword"]
        key = entry.key
    with session_scope(seeded) as s:
        load_seed(s)
    with session_scope(seeded) as s:
        row = s.exec(
            select(Translation).where(
                Translation.owner_type == "message",
                Translation.owner_key == "utter_greet",
                Translation.language == "en",
            )
        ).one()
        assert row.text == "Edited by KI staff"
        entry = s.exec(select(FaqEntry).where(FaqEntry.key == key)).one()
        assert entry.keywords == ["staff-keyword"]


def test_changed_master_marks_unchanged_translations_outdated(seeded: Engine, tmp_path: Path):
    seed = tmp_path / "seed"
    shutil.copytree(SEED_DIR, seed)
    msgs = yaml.safe_load((seed / "messages.yml").read_text(encoding="utf-8"))
    msgs["messages"]["utter_goodbye"]["texts"]["de"] = "Tschüss! Bis bald."
    (seed / "messages.yml").write_text(yaml.safe_dump(msgs, allow_unicode=True), encoding="utf-8")
    with session_scope(seeded) as s:
        report = load_seed(s, seed)
        assert report.updated == 1
    with session_scope(seeded) as s:
        msg = s.get(BotMessage, "utter_goodbye")
        assert msg is not None and msg.version == 2
        texts = {
            t.language: t
            for t in s.exec(
                select(Translation).where(
                    Translation.owner_type == "message", Translation.owner_key == "utter_goodbye"
                )
            )
        }
        assert texts["de"].text == "Tschüss! Bis bald." and texts["de"].source_version == 2
        assert texts["en"].source_version == 1  # not updated: shown as outdated
