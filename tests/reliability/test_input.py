"""Reference tests #22 and #23: hostile and odd input, and access to someone else's appointment.

Both run on the session stack: Telegram long polling against the fake Bot API server (the real PTB
parsing of every update), the web chat API, the trained Rasa and the action server.
"""

from __future__ import annotations

import itertools
import json
import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from rendering.dates import local_date_time
from rendering.renderer import Renderer
from storage.db import make_engine
from storage.models import InboundMessage, OutboundMessage, Person
from storage.models_audit import AuditEvent
from storage.models_booking import Appointment, Office
from tests.e2e.test_booking import book
from tests.reliability.channel_support import consented
from tests.reliability.conftest import Figure, scale
from tests.support.stack import Stack

pytestmark = pytest.mark.reliability

_chats = itertools.count(4_400_001)
PHONE = "+4915112345678"


@pytest.fixture(scope="module")
def db(stack: Stack) -> Iterator[Engine]:
    eng = make_engine(stack.settings.database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def texts(stack: Stack, db: Engine) -> Renderer:
    return Renderer(db, None, stack.settings.message_variables())


def _hostile_texts() -> dict[str, str]:
    return {
        "4,096 characters": "A" * 4096,
        "4,096 emoji": "😀" * 4096,
        "zero-width only": "\u200b\u200c\u200d\ufeff\u2060",
        "RTL override": "\u202eWie viel kostet der Integrationskurs?\u202c",
        "zero-width command": "\u200b/help",
        "emoji": "🙂🙂🙂 👍🏽",
        "MarkdownV2": r"*fett* _kursiv_ `code` [link](http://example.org) ~x~ ||sp|| \ > # + = { } !",
        "HTML": "<b>fett</b> <script>alert(1)</script> &amp; &lt; <a href='javascript:x'>y</a>",
        "start payload 64 bytes": "/start " + "Ab0_-" * 12 + "Ab0_",
        "forged log line": "hallo\r\n2026-12-02 06:00:00 INFO bot: staff login ok\n",
        "control characters": "hallo\x00\x07\x1b[31m rot",
    }


def _odd_updates(chat: int) -> dict[str, dict[str, Any]]:
    """Message contents that are no plain text, as Telegram sends them."""
    now = int(time.time())
    return {
        "sticker": {
            "sticker": {
                "file_id": "s",
                "file_unique_id": "s",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            }
        },
        "voice": {"voice": {"file_id": "v", "file_unique_id": "v", "duration": 3}},
        "document": {
            "document": {"file_id": "d", "file_unique_id": "d", "file_name": "pass.pdf"},
            "caption": "<b>mein Pass</b>",
        },
        "photo": {"photo": [{"file_id": "p", "file_unique_id": "p", "width": 9, "height": 9}]},
        "location": {"location": {"latitude": 50.79, "longitude": 7.2}},
        "contact": {"contact": {"phone_number": PHONE, "first_name": "Ali", "user_id": chat}},
        "invalid entities": {
            "text": "hallo",
            "entities": [
                {"type": "bold", "offset": 10, "length": 50},
                {"type": "text_link", "offset": 0, "length": 3},
                {"type": "no_such_entity", "offset": -1, "length": 0},
            ],
        },
        "forward from a channel": {
            "text": "Wie viel kostet der Integrationskurs?",
            "forward_origin": {
                "type": "channel",
                "chat": {"id": -1001234567890, "type": "channel", "title": "Nachrichten"},
                "message_id": 7,
                "date": now,
            },
        },
    }


def _fuzz(rng: random.Random, n: int) -> list[str]:
    pool = (
        "aZ09 /@#*_`[]()~>|{}<>&;\"'\\\n\r\t\u200b\u200e\u200f\u202a\u202b\u202d\u202e\u2066\u2069"
        "\ufeff\u00ad\u034f😀👍🏽🇩🇪ع ي ü ß ж ї ç ş"
    )
    return ["".join(rng.choice(pool) for _ in range(rng.randint(1, 300))) for _ in range(n)]


def test_22_hostile_and_odd_input(stack: Stack, db: Engine, texts: Renderer, figure: Figure):
    """Long, invisible, bidi, markup, commands with payloads, stickers, voice, files, locations,
    contacts, forwards, edits, random junk: no 5xx and no crash; a safe, translated reply (or the
    polite "unsupported") to each; replies sent as plain text (nothing the person wrote is parsed
    as markup); a shared phone number is not stored."""
    tg = stack.telegram
    app_log = stack.workdir / "logs" / "app.log"
    log_start = app_log.stat().st_size if app_log.exists() else 0  # this test's part of the log
    generic_error = texts.text("error_generic", "de")
    unsupported = texts.text("unsupported_content", "de")
    # One person per input, all at once (as many people write at the same time).
    inputs: list[tuple[str, int, dict[str, Any]]] = [
        (name, next(_chats), {"text": text}) for name, text in _hostile_texts().items()
    ]
    inputs += [(name, next(_chats), content) for name, content in _odd_updates(0).items()]
    rng = random.Random(22)
    junk = _fuzz(rng, scale(8, 400))
    inputs += [(f"random {i}", next(_chats), {"text": text}) for i, text in enumerate(junk)]
    for _, chat, _content in inputs:
        consented(db, chat)
    for _name, chat, content in inputs:
        if set(content) == {"text"}:
            tg.send_text(chat, content["text"])
        else:
            if "contact" in content:
                content = {"contact": {**content["contact"], "user_id": chat}}
            tg.send_content(chat, content)
    wait = scale(90, 600)
    answered = {name: tg.wait_sent(chat, 1, timeout=wait)[0]["text"] for name, chat, _ in inputs}
    chats = [chat for _, chat, _ in inputs]
    for kind in ("sticker", "voice", "document", "photo", "location", "contact"):
        assert answered[kind] == unsupported, (kind, answered[kind])
    assert answered["4,096 characters"] == texts.text("message_too_long", "de")
    assert answered["zero-width only"] == texts.text("empty_message", "de")
    assert answered["zero-width command"] == texts.text("help", "de")
    assert "Integrationskurs" in answered["RTL override"]
    # An edit is not a new question (the answer to the first version stands): no reply, no crash.
    edited = chats[0]
    before = len(tg.sent(edited))
    tg.send_content(edited, {"text": "/help"}, kind="edited_message", message_id=1)
    # The web chat API gets the same texts, and random junk (within its abuse limit of 40 a minute
    # per sender: each gets an answer, none is turned away).
    web_junk = _fuzz(rng, scale(8, 20))
    sender = f"web-fuzz-{uuid.uuid4()}"
    stack.chat(sender, text="hallo", consent=True, language="de")
    web_codes: list[int] = []
    for text in [*_hostile_texts().values(), *web_junk, "\ud800 lone surrogate"]:
        resp = stack.browser(sender).post(  # escaped JSON: a lone surrogate travels as "\ud800"
            "/api/chat",
            content=json.dumps({"sender": sender, "text": text}),
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        web_codes.append(resp.status_code)
        if resp.status_code == 200:
            replies = resp.json()["messages"]
            assert replies and all(r["text"] != generic_error for r in replies), (text, replies)
    time.sleep(1.0)
    assert len(tg.sent(edited)) == before  # nothing for the edit

    assert all(code < 500 for code in web_codes), web_codes
    assert web_codes == [200] * (len(web_codes) - 1) + [422]  # a lone surrogate: a clear 422
    assert generic_error not in answered.values()
    # Plain text only: no parse mode, so "<b>" or "*" from anyone is shown as it is, never parsed.
    ours = [m for chat in chats for m in tg.sent(chat)]
    assert not any(m["text"] == generic_error for m in ours)  # no handler failed, later either
    assert all(m.get("parse_mode") in (None, "") for m in ours)
    assert not any("<script>" in m["text"] for m in ours)
    with Session(db) as s:
        stored = [m.text or "" for m in s.exec(select(InboundMessage)).all()]
        stored += [m.text for m in s.exec(select(OutboundMessage)).all()]
    assert not any(PHONE in t for t in stored)
    with app_log.open("rb") as f:
        f.seek(log_start)
        log = f.read().decode("utf-8", "replace")
    assert "Traceback" not in log, log[-3000:]
    assert "error while handling an update" not in log
    assert "\n2026-12-02 06:00:00 INFO bot: staff login ok" not in log
    figure(
        22,
        "hostile and odd input",
        f"{len(answered) - len(junk)} kinds + {len(junk)} random texts on Telegram + 1 edit, "
        f"{len(web_codes)} web posts ({len(web_junk)} random): 0 5xx, 0 crashes, each answered "
        "(unsupported where not text; a lone surrogate 422), plain-text replies, shared phone "
        "number not stored",
    )


# --- #23 -----------------------------------------------------------------------------------------


def test_23_someone_elses_appointment(stack: Stack, db: Engine, texts: Renderer, figure: Figure):
    """Forged buttons and typed references naming another person's appointment, on Telegram and
    the web chat: the generic "not found" answer, an ``access.denied`` audit row naming the one
    who tried, nothing of the appointment shown, the appointment untouched."""
    owner = f"web-owner-{uuid.uuid4()}"
    reference = book(stack, owner, "de", "Ich möchte einen Termin")["meta"]["reference"]
    with Session(db) as s:
        appt = s.exec(select(Appointment).where(Appointment.reference == reference)).one()
        office = s.get(Office, appt.office_id)
        assert office is not None
        secrets_of_owner = [*local_date_time(appt.start, "de"), office.name, office.address]
        audit_before = s.exec(select(AuditEvent.id).order_by(col(AuditEvent.id).desc())).first()
    not_found = texts.text("appointment_not_found", "de")

    tg = stack.telegram
    chat = next(_chats)
    intruder_tg = consented(db, chat)
    intruder_web = f"web-intruder-{uuid.uuid4()}"
    stack.chat(intruder_web, text="hallo", consent=True, language="de")
    with Session(db) as s:
        intruder_web_id = s.exec(select(Person.id).where(Person.external_id == intruder_web)).one()
    attempts = [f"a:c:{reference}", f"a:m:{reference}"] * scale(1, 5)
    shown: list[str] = []
    for data in attempts:
        # A fresh message of the bot's to press under: the same button twice is a double click.
        before = len(tg.sent(chat))
        tg.send_text(chat, "/help")
        anchor = tg.wait_sent(chat, before + 1, timeout=60)[before]["message_id"]
        tg.press(chat, data, anchor)
        reply = tg.wait_sent(chat, before + 2, timeout=60)[before + 1]
        shown.append(reply["text"])
        assert reply["text"] == not_found, reply["text"]
    for data in attempts:
        out = stack.chat(intruder_web, payload=data)
        shown += [m["text"] for m in out]
        assert [m["meta"]["response"] for m in out] == ["appointment_not_found"], out
    # A reference that exists nowhere gets the very same answer (nothing tells the two apart).
    nowhere = "KL-" + ("9" if reference[3] != "9" else "3") + reference[4:]  # same alphabet, no one's
    with Session(db) as s:
        assert s.exec(select(Appointment).where(Appointment.reference == nowhere)).first() is None
    [unknown] = stack.chat(intruder_web, payload=f"a:c:{nowhere}")
    assert unknown["text"] == not_found
    time.sleep(1.0)

    with Session(db) as s:
        appt_now = s.exec(select(Appointment).where(Appointment.reference == reference)).one()
        denied = s.exec(
            select(AuditEvent).where(
                AuditEvent.action == "access.denied", col(AuditEvent.id) > (audit_before or 0)
            )
        ).all()
    assert (appt_now.status, appt_now.start) == (appt.status, appt.start)
    assert not any(secret and secret in text for text in shown for secret in secrets_of_owner)
    assert len(denied) == 2 * len(attempts), [(e.person, e.target) for e in denied]
    assert {e.person for e in denied} == {intruder_tg, intruder_web_id}
    assert {e.target for e in denied} == {f"appointment:{reference}"}
    assert all(e.actor == "system" and set((e.details or {}).keys()) == {"attempt"} for e in denied)
    with stack.rasa_client() as rasa:  # the owner's conversation was not touched either
        owner_id = appt.person_id
        events = rasa.get(f"/conversations/{owner_id}/tracker").json()["events"]
    assert not any(e.get("event") == "user" and "a:" in str(e.get("text")) for e in events)

    # Command arguments: the reference typed (as a person would read it out), in both channels.
    typed = [f"bitte {reference} streichen", f"{reference} bitte auf freitag verlegen"]
    for text in typed:
        before = len(tg.sent(chat))
        tg.send_text(chat, text)
        shown += [m["text"] for m in tg.wait_sent(chat, before + 1, timeout=60)[before:]]
        shown += [m["text"] for m in stack.chat(intruder_web, text=text)]
    time.sleep(1.0)
    with Session(db) as s:
        appt_now = s.exec(select(Appointment).where(Appointment.reference == reference)).one()
        typed_denied = s.exec(
            select(AuditEvent).where(
                AuditEvent.action == "access.denied", col(AuditEvent.id) > (denied[-1].id or 0)
            )
        ).all()
    assert (appt_now.status, appt_now.start) == (appt.status, appt.start)
    assert not any(secret and secret in text for text in shown for secret in secrets_of_owner)
    assert {e.person for e in typed_denied} <= {intruder_tg, intruder_web_id}

    # The calendar file of the owner's appointment, asked for by the intruder's browser: 404 as for
    # no appointment at all, and audited.
    ics = stack.browser(intruder_web).get(f"/api/appointments/{reference}.ics")
    nothing = stack.browser(intruder_web).get(f"/api/appointments/{nowhere}.ics")
    assert (ics.status_code, ics.text) == (nothing.status_code, nothing.text) == (404, nothing.text)
    assert "BEGIN:VCALENDAR" not in ics.text
    with Session(db) as s:
        ics_denied = s.exec(
            select(AuditEvent).where(
                AuditEvent.action == "access.denied",
                col(AuditEvent.details).is_not(None),
                col(AuditEvent.id) > max([e.id or 0 for e in [*denied, *typed_denied]]),
            )
        ).all()
    assert [(e.person, e.target, e.details) for e in ics_denied] == [
        (intruder_web_id, f"appointment:{reference}", {"attempt": "calendar_file"})
    ]
    figure(
        23,
        "access control (IDOR)",
        f"{2 * len(attempts)} forged cancel/move buttons (Telegram and web) for another person's "
        f"appointment: {2 * len(attempts)} generic 'not found' answers, {len(denied)} access.denied "
        "audit rows with the pseudonym of the one who tried; the reference typed 4 times "
        f"({len(typed_denied)} more rows); its .ics asked for: 404, audited; 0 details shown, "
        "appointment untouched",
    )
