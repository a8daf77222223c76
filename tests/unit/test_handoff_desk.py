"""The case manager's side of a hand-off (no translation model installed), SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from bot import handoff_desk
from bot.cli import main
from storage import conversations, people
from storage.db import session_scope
from storage.handoff import open_handoff, release_handoff
from translations.engine import NullTranslator
from translations.render import Renderer


@pytest.fixture
def handoff(seeded: Engine) -> tuple[int, str]:
    with session_scope(seeded) as s:
        person = people.record_consent(
            session=s, channel="web", external_id="w-ho", given=True, version="v1", language="ar"
        )
        conversations.store_inbound(
            session=s, person_id=person.id, channel="web", text="بدي احكي مع موظف", payload=None
        )
        req, _ = open_handoff(session=s, person_id=person.id, reason="user")
        assert req.id is not None
        return req.id, person.id


def test_conversation_and_reply_without_a_translation_model(seeded: Engine, handoff):
    handoff_id, person_id = handoff
    conv = handoff_desk.conversation(seeded, NullTranslator(), handoff_id, staff="k.mueller")
    assert conv.language == "ar"
    assert [(line.speaker, line.text, line.german) for line in conv.lines] == [
        ("person", "بدي احكي مع موظف", None)
    ]
    renderer = Renderer(seeded, None, {})
    sent = handoff_desk.reply(
        seeded, NullTranslator(), renderer, handoff_id, staff="k.mueller", text="Guten Tag!"
    )
    assert (sent.language, sent.translation) == ("de", "untranslated")
    # A note in the person's language says the case manager wrote in German.
    note = renderer.message("staff_reply_untranslated", "ar")
    assert note.language == "ar" and sent.text == f"Guten Tag!\n\n{note.text}"
    mine = handoff_desk.reply(
        seeded,
        NullTranslator(),
        renderer,
        handoff_id,
        staff="k.mueller",
        text="مرحبا، أنا مديرة الحالة",
        written_in="ar",
    )
    assert (mine.language, mine.translation, mine.back_translation) == ("ar", "staff", None)
    # The web chat fetches both from its outbox, in order, marked as the case manager's.
    with session_scope(seeded) as s:
        out = conversations.take_undelivered(session=s, person_id=person_id)
        assert [m.text for m in out] == [sent.text, "مرحبا، أنا مديرة الحالة"]
        assert {m.meta["response"] for m in out} == {"staff_reply"}
    speakers = [
        line.speaker
        for line in handoff_desk.conversation(seeded, NullTranslator(), handoff_id, staff="x").lines
    ]
    assert speakers == ["person", "staff", "staff"]


def test_a_closed_handoff_takes_no_replies(seeded: Engine, handoff):
    handoff_id, _ = handoff
    with session_scope(seeded) as s:
        release_handoff(session=s, handoff_id=handoff_id, by="k.mueller")
    with pytest.raises(handoff_desk.HandoffNotOpen):
        handoff_desk.reply(
            seeded, NullTranslator(), Renderer(seeded, None, {}), handoff_id, staff="x", text="Hallo"
        )
    with pytest.raises(ValueError):
        handoff_desk.reply(
            seeded, NullTranslator(), Renderer(seeded, None, {}), 999999, staff="x", text="  "
        )


def test_the_command_line(seeded: Engine, database_url: str, handoff, monkeypatch, capsys):
    handoff_id, _ = handoff
    monkeypatch.setenv("LOTSE_DATABASE_URL", database_url)
    monkeypatch.setenv("ARGOS_PACKAGES_DIR", "/nonexistent-argos-packages")
    assert main(["handoff", "show", str(handoff_id), "--by", "k.mueller"]) == 0
    out = capsys.readouterr().out
    assert "language: ar" in out and "بدي احكي مع موظف" in out
    assert main(["handoff", "reply", str(handoff_id), "Wir rufen Sie an.", "--by", "k.mueller"]) == 0
    assert "sent in German" in capsys.readouterr().out
    assert main(["handoff", "reply", "999999", "Hallo", "--by", "k.mueller"]) == 1
    assert main(["handoff", "reply", str(handoff_id), "   ", "--by", "k.mueller"]) == 1


def test_the_outbox_holds_only_staff_replies_until_delivered(seeded: Engine, handoff):
    handoff_id, person_id = handoff
    with session_scope(seeded) as s:
        conversations.store_outbound(
            session=s,
            person_id=person_id,
            channel="web",
            text="a bot answer kept for later",
            buttons=[],
            meta={"response": "utter_greet"},
            delivered=False,
        )
    handoff_desk.reply(
        seeded, NullTranslator(), Renderer(seeded, None, {}), handoff_id, staff="x", text="Hallo"
    )
    with session_scope(seeded) as s:
        [row] = conversations.undelivered_staff_replies(session=s, channel="web")
        assert row.text.startswith("Hallo\n\n") and row.id is not None
        assert conversations.undelivered_staff_replies(session=s, channel="telegram") == []
        conversations.mark_delivered(session=s, message_id=row.id, failure="Forbidden: bot blocked")
    with session_scope(seeded) as s:
        assert conversations.undelivered_staff_replies(session=s, channel="web") == []
    lines = handoff_desk.conversation(seeded, NullTranslator(), handoff_id, staff="x").lines
    assert lines[-1].speaker == "staff"
    assert lines[-1].text.endswith("  [not delivered: Forbidden: bot blocked]")
