"""A case manager's German reply reaches the person machine translated and marked as such."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from rendering.renderer import Renderer
from services.audit import Audit
from services.handoff import HandoffDesk
from services.outbox import Outbox
from storage import conversations, people
from storage.db import session_scope
from storage.handoff import open_handoff
from translations.factory import build_translator


def _handoff(engine: Engine, language: str, text: str) -> tuple[int, str]:
    with session_scope(engine) as s:
        person = people.record_consent(
            session=s,
            channel="web",
            external_id=f"w-{language}",
            given=True,
            version="v1",
            language=language,
        )
        conversations.store_inbound(
            session=s, person_id=person.id, channel="web", text=text, payload=None
        )
        req, _ = open_handoff(session=s, person_id=person.id, reason="user")
        assert req.id is not None
        return req.id, person.id


def test_reply_is_translated_and_marked(content_db: Engine, installed_dir: Path):
    translator = build_translator(content_db, dirs=[installed_dir])
    renderer = Renderer(content_db, translator, {})
    handoff_id, person_id = _handoff(content_db, "ar", "موعد")
    desk = HandoffDesk(content_db, translator, renderer, Outbox(content_db, {}), Audit(content_db))
    sent = desk.reply(handoff_id, staff="k.mueller", text="Das Kind hat heute einen Termin.")
    # de→en→ar through the tiny real models (they translate a few words, word by word).
    assert sent.translation == "machine" and sent.language == "ar"
    assert sent.text.startswith("Das طفل hat اليوم einen موعد.")
    assert renderer.message("faq_note_machine", "ar").text in sent.text
    assert sent.back_translation is None  # no ar→de model installed: nothing to check against
    with session_scope(content_db) as s:
        [out] = Outbox(content_db, {}).take(session=s, person_id=person_id)
        assert out.meta["translation"] == "machine" and out.text == sent.text


def test_the_persons_messages_are_shown_in_german_where_a_model_exists(
    content_db: Engine, installed_dir: Path
):
    translator = build_translator(content_db, dirs=[installed_dir])
    # The tiny set has no X→de model, so German stays empty; the original is always there.
    handoff_id, _ = _handoff(content_db, "uk", "дитина")
    desk = HandoffDesk(
        content_db,
        translator,
        Renderer(content_db, translator, {}),
        Outbox(content_db, {}),
        Audit(content_db),
    )
    conv = desk.conversation(handoff_id, staff="k.mueller")
    assert [(line.text, line.german) for line in conv.lines] == [("дитина", None)]
