"""The case manager's side of a hand-off (no translation model installed), SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from cli.main import main
from rendering.messages import OutMessage
from rendering.renderer import Renderer
from services import handoff as handoff_desk
from services.audit import Audit
from services.handoff import HandoffDesk
from services.outbox import Outbox
from storage import conversations, people
from storage import outbox as outbox_rows
from storage.db import session_scope
from storage.handoff import open_handoff, release_handoff
from storage.models import OutboxStatus
from translations.engine import NullTranslator


def desk(engine: Engine) -> HandoffDesk:
    """The desk as the web chat has it: no push channel, the web chat fetches its messages."""
    return HandoffDesk(
        engine, NullTranslator(), Renderer(engine, None, {}), Outbox(engine, {}), Audit(engine)
    )


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
    conv = desk(seeded).conversation(handoff_id, staff="k.mueller")
    assert conv.language == "ar"
    assert [(line.speaker, line.text, line.german) for line in conv.lines] == [
        ("person", "بدي احكي مع موظف", None)
    ]
    renderer = Renderer(seeded, None, {})
    sent = desk(seeded).reply(handoff_id, staff="k.mueller", text="Guten Tag!")
    assert (sent.language, sent.translation) == ("de", "untranslated")
    # A note in the person's language says the case manager wrote in German.
    note = renderer.message("staff_reply_untranslated", "ar")
    assert note.language == "ar" and sent.text == f"Guten Tag!\n\n{note.text}"
    mine = desk(seeded).reply(
        handoff_id, staff="k.mueller", text="مرحبا، أنا مديرة الحالة", written_in="ar"
    )
    assert (mine.language, mine.translation, mine.back_translation) == ("ar", "staff", None)
    # The web chat fetches both from its outbox, in order, marked as the case manager's.
    with session_scope(seeded) as s:
        out = Outbox(seeded, {}).take(session=s, person_id=person_id)
        assert [m.text for m in out] == [sent.text, "مرحبا، أنا مديرة الحالة"]
        assert {m.meta["response"] for m in out} == {"staff_reply"}
    speakers = [line.speaker for line in desk(seeded).conversation(handoff_id, staff="x").lines]
    assert speakers == ["person", "staff", "staff"]


def test_a_closed_handoff_takes_no_replies(seeded: Engine, handoff):
    handoff_id, _ = handoff
    with session_scope(seeded) as s:
        release_handoff(session=s, handoff_id=handoff_id, by="k.mueller")
    with pytest.raises(handoff_desk.HandoffNotOpen):
        desk(seeded).reply(handoff_id, staff="x", text="Hallo")
    with pytest.raises(ValueError):
        desk(seeded).reply(999999, staff="x", text="  ")


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


class RefusingSender:
    """A push channel whose every send is refused for good (the person blocked the bot)."""

    def __init__(self) -> None:
        self.tries = 0

    async def send(self, external_id: str, message: OutMessage) -> None:
        from services.outbound import SendFailed

        self.tries += 1
        raise SendFailed("Forbidden: bot blocked")

    async def send_file(self, external_id, attachment) -> None:  # pragma: no cover
        raise AssertionError


async def test_a_refused_reply_is_marked_and_shown_in_the_conversation(seeded: Engine, handoff):
    """The outbox delivers every queued message once; a refusal is kept with its reason."""
    handoff_id, person_id = handoff
    with session_scope(seeded) as s:
        person = people.get_person(session=s, person_id=person_id)
        person.channel = "telegram"
        s.add(person)
    sender = RefusingSender()
    outbox = Outbox(seeded, {"telegram": sender})
    reply_desk = HandoffDesk(seeded, NullTranslator(), Renderer(seeded, None, {}), outbox, Audit(seeded))
    reply_desk.reply(handoff_id, staff="x", text="Hallo")
    report = await outbox.deliver()
    assert (report.failed, sender.tries) == (1, 1)
    assert (await outbox.deliver()).failed == 0 and sender.tries == 1  # never tried again
    with session_scope(seeded) as s:
        [row] = outbox_rows.of_person(session=s, person_id=person_id)
        assert row.status == OutboxStatus.FAILED and row.failure == "Forbidden: bot blocked"
    lines = reply_desk.conversation(handoff_id, staff="x").lines
    assert lines[-1].speaker == "staff"
    assert lines[-1].text.endswith("  [not delivered: Forbidden: bot blocked]")
