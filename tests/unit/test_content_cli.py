"""The editors' work lists (`lotse content …`) on the seeded content, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from cli.main import main
from storage import content, editorial
from storage.db import session_scope
from storage.models import FaqEntry, Origin, TextStatus, Translation
from storage.seed import load_seed


@pytest.fixture
def cli(seeded: Engine, database_url: str, monkeypatch):
    monkeypatch.setenv("LOTSE_DATABASE_URL", database_url)
    return main


def _translation(engine: Engine, key: str, language: str, field: str = "answer") -> Translation:
    with session_scope(engine) as s:
        row = s.exec(
            select(Translation).where(
                Translation.owner_type == "faq",
                Translation.owner_key == key,
                Translation.language == language,
                Translation.field == field,
            )
        ).one()
        s.expunge(row)
        return row


def test_unanswered_questions_are_grouped_and_counted(cli, seeded: Engine, capsys):
    with session_scope(seeded) as s:
        for text in ("Wo ist das Standesamt?", "wo ist das  standesamt?", "Wo ist das Standesamt?"):
            content.record_unanswered(
                session=s, text=text, language="de", intent="ask_residence", confidence=0.2
            )
        content.record_unanswered(session=s, text="где загс", language="ru", intent=None, confidence=0.1)
    with session_scope(seeded) as s:
        groups = editorial.unanswered(session=s)
    assert [(g.count, g.language) for g in groups] == [(3, "de"), (1, "ru")]
    assert groups[0].intents == ("ask_residence",)
    assert cli(["content", "unanswered", "--language", "ru"]) == 0
    out = capsys.readouterr().out
    assert "1 unanswered question(s)" in out and "где загс" in out and "Standesamt" not in out


def test_review_queue_puts_outdated_translations_first(cli, seeded: Engine, capsys):
    key = "naturalisation-fees"
    with session_scope(seeded) as s:
        entry = s.exec(select(FaqEntry).where(FaqEntry.key == key)).one()
        entry.version += 1  # an editor changed the German master
        s.add(entry)
    with session_scope(seeded) as s:
        queue = editorial.review_queue(session=s)
    outdated = [i for i in queue if i.reason == "outdated"]
    assert outdated and {i.owner_key for i in outdated} == {key}
    assert queue[: len(outdated)] == outdated
    assert {i.language for i in outdated} >= {"en", "ar", "uk"}
    # Reviewed English texts of unchanged entries are not in the queue; drafts are.
    assert not [i for i in queue if i.language == "en" and i.reason != "outdated"]
    assert any(i.reason == "draft" and i.language == "ar" for i in queue)
    assert cli(["content", "review", "--language", "uk"]) == 0
    out = capsys.readouterr().out
    assert f"outdated  uk  faq/{key}" in out


def test_show_and_approve_a_translation(cli, seeded: Engine, capsys):
    row = _translation(seeded, "naturalisation-fees", "ar")
    assert row.status == TextStatus.DRAFT
    assert cli(["content", "show", str(row.id)]) == 0
    out = capsys.readouterr().out
    german = _translation(seeded, "naturalisation-fees", "de")
    assert german.text in out and row.text in out and "(master version 1)" in out
    # Approving against a version that is not the current master is refused.
    assert cli(["content", "approve", str(row.id), "--by", "s.yilmaz", "--version", "2"]) == 1
    assert _translation(seeded, "naturalisation-fees", "ar").status == TextStatus.DRAFT
    assert cli(["content", "approve", str(row.id), "--by", "s.yilmaz", "--version", "1"]) == 0
    approved = _translation(seeded, "naturalisation-fees", "ar")
    assert approved.status == TextStatus.REVIEWED and approved.reviewer == "s.yilmaz"
    assert approved.origin == Origin.STAFF
    with session_scope(seeded) as s:
        assert row.id not in {i.translation_id for i in editorial.review_queue(session=s)}
    # A seed reload keeps the review.
    with session_scope(seeded) as s:
        load_seed(s)
    assert _translation(seeded, "naturalisation-fees", "ar").status == TextStatus.REVIEWED
    assert cli(["content", "approve", "99999999", "--by", "x", "--version", "1"]) == 1


def test_due_lists_flagged_and_overdue_entries(cli, seeded: Engine, capsys):
    with session_scope(seeded) as s:
        entry = s.exec(select(FaqEntry).where(FaqEntry.key == "kita-costs")).one()
        entry.review_due = date(2020, 1, 1)
        s.add(entry)
    with session_scope(seeded) as s:
        due = editorial.entries_due(session=s, today=date(2026, 11, 22))
        flagged = s.exec(select(FaqEntry).where(FaqEntry.needs_review)).all()
    keys = [e.key for e in due]
    assert keys[0] == "kita-costs"
    assert {e.key for e in flagged} <= set(keys)
    assert cli(["content", "due"]) == 0
    assert "kita-costs" in capsys.readouterr().out
