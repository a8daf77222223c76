"""The conversation pipeline without a Rasa server: consent, commands, privacy, outage handling."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from lotse.runtime import Runtime, build
from lotse.settings import RasaSettings, Settings
from rendering import payloads
from services.conversation.pipeline import Inbound, clean_text, to_rasa
from storage.db import session_scope
from storage.models import InboundMessage, Person
from tests.support.fake_telegram import free_port
from translations.languages import CHAT_LANGUAGES


@pytest.fixture
async def services(seeded: Engine, database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    # Rasa is not running: its port is closed, which is exactly the outage case.
    settings = Settings(
        database_url=database_url,
        rasa=RasaSettings(
            url=f"http://127.0.0.1:{free_port()}",
            tracker_db=tmp_path / "tracker.db",
            timeout_seconds=2,
        ),
    )
    svc = build(settings)
    yield svc
    await svc.close()


def inbound(**kw) -> Inbound:
    return Inbound(channel="web", external_id="w-unit", **kw)


async def onboard(svc: Runtime, lang: str = "de") -> None:
    await svc.conversation.handle(inbound(text="hi", hint_language=lang))
    await svc.conversation.handle(inbound(payload=f"c:y:{lang}"))
    await svc.conversation.handle(inbound(payload=f"lang:{lang}"))


def rows(engine: Engine, model) -> list:
    with session_scope(engine) as s:
        return list(s.exec(select(model)).all())


async def test_nothing_is_stored_before_consent(services: Runtime):
    for text in ["Hallo", "/start", "/mydata", "ich heiße Ali, Tel 0176 1234567"]:
        [notice] = await services.conversation.handle(inbound(text=text, hint_language="ar"))
        assert notice.meta["response"] == "privacy_notice" and notice.meta["language"] == "ar"
    assert rows(services.engine, Person) == [] and rows(services.engine, InboundMessage) == []


async def test_rasa_outage_keeps_the_message(services: Runtime):
    await onboard(services)
    [reply] = await services.conversation.handle(inbound(text="Kita Anmeldung"))
    assert reply.meta["response"] == "rasa_unavailable"
    [msg] = [m for m in rows(services.engine, InboundMessage) if m.status != "done"]
    assert msg.status == "pending" and msg.text == "Kita Anmeldung"
    # Later messages queue behind it, so the order is kept.
    [reply2] = await services.conversation.handle(inbound(payload="i:ask_kita"))
    assert reply2.meta["response"] == "rasa_unavailable"
    kept = [m.status for m in rows(services.engine, InboundMessage) if m.payload != "lang:de"]
    assert kept == ["pending", "pending"]
    assert await services.conversation.retry_pending() == 0  # Rasa still away: nothing lost


async def test_mydata_and_delete(services: Runtime):
    await onboard(services, "en")
    await services.conversation.handle(inbound(text="my question"))
    [summary] = await services.conversation.handle(inbound(text="/mydata"))
    assert summary.meta["response"] == "mydata_summary" and summary.meta["language"] == "en"
    pid = rows(services.engine, Person)[0].id
    data = json.loads(services.privacy.export_json(pid))
    typed = [m for m in data["messages"] if m["text"]]
    assert data["person"]["language"] == "en" and typed[0]["text"] == "my question"
    [confirm] = await services.conversation.handle(inbound(text="/delete"))
    assert [b.payload for b in confirm.buttons] == ["d:y", "d:n"]
    [kept] = await services.conversation.handle(inbound(payload="d:n"))
    assert kept.meta["response"] == "delete_cancelled" and rows(services.engine, Person)
    done, receipt = await services.conversation.handle(inbound(payload="d:y"))
    assert done.meta["response"] == "delete_done" and receipt.meta["response"] == "delete_receipt"
    assert rows(services.engine, Person) == [] and rows(services.engine, InboundMessage) == []


async def test_help_language_and_duplicates(services: Runtime):
    await onboard(services, "tr")
    [helptext] = await services.conversation.handle(inbound(text="/help"))
    assert helptext.meta["response"] == "help" and helptext.meta["language"] == "tr"
    [prompt] = await services.conversation.handle(inbound(text="/language"))
    assert len(prompt.buttons) == len(CHAT_LANGUAGES)
    first = await services.conversation.handle(inbound(text="/help", update_key="tg:77"))
    again = await services.conversation.handle(inbound(text="/help", update_key="tg:77"))
    # A redelivery is not processed again: it gets the replies already given (a web retry sees them).
    assert first and [m.text for m in again] == [m.text for m in first]
    assert len([m for m in rows(services.engine, InboundMessage) if m.text == "/help"]) == 2


def test_clean_text_removes_bidi_overrides_and_controls():
    assert clean_text(" \u202ekita\u202c\x00 ") == "kita"
    assert clean_text("مرحبا 🙂") == "مرحبا 🙂"
    # Every invisible character goes, so a text of them alone is empty (reliability #22).
    assert clean_text("\u200b\u200c\u200d\ufeff\u2060\u00ad\u034f\u061c\u180e\u2063") == ""
    assert clean_text("Integra\u00adtions\u2060kurs") == "Integrationskurs"


async def test_request_language_never_overrides_the_persons_choice(services: Runtime):
    await onboard(services, "uk")
    [helptext] = await services.conversation.handle(
        inbound(text="/help", language="de", hint_language="de")
    )
    assert helptext.meta["language"] == "uk"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("i:ask_kita", "/ask_kita"),
        ("f:12", '/choose_faq{"faq_id": "12"}'),
        ("b:s:cm-ki-1|202612011000", '/choose_booking{"booking_slot": "cm-ki-1|202612011000"}'),
        ("b:n:2", '/choose_booking{"booking_people": "2"}'),
        ("b:x:stop", "/stop_booking"),
        ("a:c:KL-7F3A", '/cancel_appointment{"reference": "KL-7F3A"}'),
        ("a:m:KL-7F3A", '/reschedule_appointment{"reference": "KL-7F3A"}'),
        # Anything else is an expired or forged button, never passed to Rasa.
        ("i:Ask Kita", None),
        ("f:1;drop", None),
        ('b:s:x"}{"a', None),
        ("b:q:1", None),
        ("a:c:", None),
        ("a:d:KL-7F3A", None),
        ("", None),
        ("i:" + "a" * 80, None),
    ],
)
def test_button_payloads_map_to_rasa_or_are_refused(payload: str, expected):
    decoded = payloads.decode(payload)
    assert (to_rasa(decoded) if decoded is not None else None) == expected
