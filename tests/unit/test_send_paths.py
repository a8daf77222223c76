"""Every product send path against Telegram's real errors, through the real PTB bot.

The bot is the product's (``lotse.runtime.telegram_bot``: ExtBot with the ``TelegramRateLimiter``),
pointed at the fake Bot API server; only its read timeout is shortened (0.5 s instead of PTB's 5 s)
so that the fake's held answers (``Timeout(1.0)``) time out quickly. The paths: ``TelegramSender``,
the ``Outbox`` delivering queued rows, ``send_unstored``, and the reminder dispatcher with
``Notices.reminder_sender`` (real SQLite databases, seeded once and copied per test).
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.channels.telegram_sender import TelegramSender
from lotse.runtime import telegram_bot
from lotse.settings import Settings, TelegramSettings
from rendering.messages import Button, OutMessage
from rendering.renderer import Renderer
from rendering.responses import ResponseBuilder
from services.booking.notices import Notices
from services.booking.reminders import dispatch_due
from services.content.seeding import seed_everything
from services.outbound import RateLimited, SendFailed, SendTimeout
from services.outbox import Attachment, Outbox
from storage import outbox as outbox_rows
from storage import people
from storage.db import make_engine, session_scope, utcnow
from storage.migrate import upgrade
from storage.models import OutboundMessage, OutboxStatus, Person
from storage.models_booking import Appointment, CaseManager, Office, Reminder, ReminderStatus
from tests.support import fake_telegram as ft
from tests.support import telegram_fixtures
from tests.support.fake_telegram import FakeTelegram

_chats = itertools.count(6_000_001)
# The shared fixtures: one fake server per module, no fault left over, a fresh chat per test.
fake = telegram_fixtures.fake
chat = telegram_fixtures.chat
no_leftover_faults = telegram_fixtures.no_leftover_faults
_refs = itertools.count(1)
HELD = ft.Timeout(1.0)  # longer than the 0.5 s the bot reads


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[ExtBot[None]]:
    b = telegram_bot(
        Settings(
            telegram=TelegramSettings(
                bot_token=fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url
            )
        )
    )
    assert b is not None
    request = b.request
    assert isinstance(request, HTTPXRequest)
    request._client.timeout = httpx.Timeout(connect=5.0, read=0.5, write=5.0, pool=1.0)
    try:
        yield b
    finally:
        await b.shutdown()


@pytest.fixture
def sender(bot: ExtBot[None]) -> TelegramSender:
    return TelegramSender(bot)


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated, seeded SQLite database (content and calendar); each test gets a copy."""
    path = tmp_path_factory.mktemp("send-paths") / "seeded.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    eng = make_engine(url)
    with session_scope(eng) as s:
        assert not seed_everything(s).errors
    eng.dispose()
    return path


@pytest.fixture
def db(seeded_file: Path, tmp_path: Path) -> Iterator[Engine]:
    for part in seeded_file.parent.glob(seeded_file.name + "*"):
        shutil.copy(part, tmp_path / part.name)
    eng = make_engine(f"sqlite:///{tmp_path / seeded_file.name}")
    yield eng
    eng.dispose()


def telegram_person(engine: Engine, chat_id: int) -> str:
    with session_scope(engine) as s:
        person = people.record_consent(
            session=s,
            channel="telegram",
            external_id=str(chat_id),
            given=True,
            version="v1",
            language="de",
        )
        return person.id


def enqueue(engine: Engine, outbox: Outbox, person_id: str, *texts: str) -> list[int]:
    with session_scope(engine) as s:
        person = s.get(Person, person_id)
        assert person is not None
        return outbox.enqueue(session=s, person=person, messages=[OutMessage(t) for t in texts])


def rows(engine: Engine, person_id: str) -> list[OutboundMessage]:
    with session_scope(engine) as s:
        found = list(outbox_rows.of_person(session=s, person_id=person_id))
        s.expunge_all()
        return found


def texts(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [m["text"] for m in fake.sent(chat_id)]


# --- (a) TelegramSender ----------------------------------------------------------------------------


async def test_sender_delivers_text_and_buttons(fake: FakeTelegram, sender: TelegramSender, chat: int):
    await sender.send(
        str(chat), OutMessage("Hallo", [Button("Ja", "i:affirm"), Button("Nein", "i:deny")])
    )
    [msg] = fake.sent(chat)
    assert msg["text"] == "Hallo"
    assert fake.buttons(msg) == [("Ja", "i:affirm"), ("Nein", "i:deny")]


async def test_sender_splits_long_text_and_puts_the_buttons_under_the_last_part(
    fake: FakeTelegram, sender: TelegramSender, chat: int
):
    long = "a" * 4000 + "\n" + "b" * 4000 + "\n" + "c" * 100
    await sender.send(str(chat), OutMessage(long, [Button("Ja", "i:affirm")]))
    parts = fake.sent(chat)
    assert [len(p["text"]) for p in parts] == [4000, 4000, 100]  # each within Telegram's 4,096
    assert [bool(p.get("reply_markup")) for p in parts] == [False, False, True]
    assert all(c.params.get("chat_id") != chat for c in fake.refused)  # Telegram took every part


async def test_sender_sends_nothing_for_an_empty_text(
    fake: FakeTelegram, sender: TelegramSender, chat: int
):
    await sender.send(str(chat), OutMessage(" \n "))  # Telegram would refuse it
    assert fake.sent(chat) == []


@pytest.mark.parametrize(
    ("fault", "expected", "retryable"),
    [
        (ft.BLOCKED, SendFailed, False),
        (ft.CHAT_NOT_FOUND, SendFailed, False),
        (ft.TOO_LONG, SendFailed, False),
        (ft.too_many_requests(1), RateLimited, None),
        (HELD, SendTimeout, None),
        (ft.DROP, SendFailed, True),
    ],
    ids=["blocked", "chat-not-found", "too-long", "429", "timeout", "dropped"],
)
async def test_sender_maps_each_telegram_error(
    fake: FakeTelegram,
    sender: TelegramSender,
    chat: int,
    fault: ft.Fault,
    expected: type[Exception],
    retryable: bool | None,
):
    fake.inject("sendMessage", fault, chat_id=chat)
    with pytest.raises(expected) as info:
        await sender.send(str(chat), OutMessage("Hallo"))
    if retryable is not None:
        assert isinstance(info.value, SendFailed) and info.value.retryable is retryable
    if isinstance(fault, ft.ApiError) and fault.error_code == 429:
        assert isinstance(info.value, RateLimited) and info.value.retry_after == 1
    # Only a held answer was carried out by Telegram.
    assert texts(fake, chat) == (["Hallo"] if fault is HELD else [])


async def test_sender_refusals_from_telegrams_own_rules(fake: FakeTelegram, sender: TelegramSender):
    stranger = next(_chats)  # never started the bot
    with pytest.raises(SendFailed) as info:
        await sender.send(str(stranger), OutMessage("Hallo"))
    assert not info.value.retryable and "chat not found" in info.value.reason.lower()
    blocked = next(_chats)
    fake.block(blocked)
    with pytest.raises(SendFailed) as info:
        await sender.send(str(blocked), OutMessage("Hallo"))
    assert not info.value.retryable and "blocked" in info.value.reason


async def test_sender_refuses_an_id_that_is_no_telegram_chat(fake: FakeTelegram, sender: TelegramSender):
    """Regression: int("chat-1") raised ValueError, which callers took for "may have been sent"."""
    with pytest.raises(SendFailed) as info:
        await sender.send("chat-1", OutMessage("Hallo"))
    assert not info.value.retryable
    with pytest.raises(SendFailed):
        await sender.send_file("chat-1", Attachment("a.ics", b"x"))


@pytest.mark.parametrize("fault", [ft.DROP, ft.too_many_requests(1)], ids=["dropped", "429"])
async def test_a_failure_after_the_first_part_is_never_resent(
    fake: FakeTelegram, sender: TelegramSender, chat: int, fault: ft.Fault
):
    """Regression: a network error on the 2nd part was retryable, so the 1st part was sent again."""
    fake.inject("sendMessage", fault, chat_id=chat, after=1)
    with pytest.raises(SendTimeout, match="sent 1 of 2 parts"):
        await sender.send(str(chat), OutMessage("a" * 4000 + "\n" + "b" * 100))
    assert texts(fake, chat) == ["a" * 4000]


async def test_a_refusal_after_the_first_part_stays_a_refusal(
    fake: FakeTelegram, sender: TelegramSender, chat: int
):
    fake.inject("sendMessage", ft.BLOCKED, chat_id=chat, after=1)
    with pytest.raises(SendFailed) as info:
        await sender.send(str(chat), OutMessage("a" * 4000 + "\n" + "b" * 100))
    assert not info.value.retryable


async def test_send_file(fake: FakeTelegram, sender: TelegramSender, chat: int):
    await sender.send_file(str(chat), Attachment("KL-7F3A.ics", b"BEGIN:VCALENDAR"))
    [doc] = fake.documents(chat)
    assert doc.files["document"] == ("KL-7F3A.ics", b"BEGIN:VCALENDAR")
    fake.inject("sendDocument", ft.BLOCKED, chat_id=chat)
    with pytest.raises(SendFailed) as info:
        await sender.send_file(str(chat), Attachment("a.ics", b"x"))
    assert not info.value.retryable
    fake.inject("sendDocument", HELD, chat_id=chat)
    with pytest.raises(SendTimeout):
        await sender.send_file(str(chat), Attachment("b.ics", b"x"))
    assert len(fake.documents(chat)) == 2  # the first, and the held one Telegram carried out


async def test_a_file_over_50_mb_is_refused_for_good(
    fake: FakeTelegram, sender: TelegramSender, chat: int
):
    """Regression: Telegram's 413 reaches PTB as a plain NetworkError, which was mapped retryable."""
    with pytest.raises(SendFailed) as info:
        await sender.send_file(str(chat), Attachment("big.ics", b"\0" * (ft.UPLOAD_MAX_BYTES + 1)))
    assert not info.value.retryable and "Request Entity Too Large" in info.value.reason
    assert fake.documents(chat) == []


# --- (b) the outbox --------------------------------------------------------------------------------


async def test_outbox_sends_queued_rows_in_order(
    fake: FakeTelegram, sender: TelegramSender, db: Engine, chat: int
):
    outbox = Outbox(db, {"telegram": sender})
    pid = telegram_person(db, chat)
    enqueue(db, outbox, pid, "eins", "zwei", "drei")
    report = await outbox.deliver()
    assert report.sent == 3
    assert texts(fake, chat) == ["eins", "zwei", "drei"]
    assert [(r.status, r.attempts) for r in rows(db, pid)] == [(OutboxStatus.SENT, 1)] * 3
    assert all(r.delivered_at is not None for r in rows(db, pid))


@pytest.mark.parametrize("how", ["blocked", "chat-not-found"])
async def test_outbox_refused_chat_fails_with_the_reason_and_is_never_tried_again(
    fake: FakeTelegram, sender: TelegramSender, db: Engine, how: str
):
    refused_chat, fine_chat = next(_chats), next(_chats)
    fake.open_chat(fine_chat)
    if how == "blocked":
        fake.block(refused_chat)  # else: the person never started the bot
    outbox = Outbox(db, {"telegram": sender})
    refused_pid, fine_pid = telegram_person(db, refused_chat), telegram_person(db, fine_chat)
    enqueue(db, outbox, refused_pid, "eins", "zwei")
    enqueue(db, outbox, fine_pid, "hallo")
    report = await outbox.deliver()
    assert (report.sent, report.failed) == (1, 2)
    assert texts(fake, fine_chat) == ["hallo"]  # others are not held up
    failed = rows(db, refused_pid)
    assert [r.status for r in failed] == [OutboxStatus.FAILED] * 2
    expected = "blocked by the user" if how == "blocked" else "chat not found"
    assert all(expected in (r.failure or "").lower() for r in failed)
    tries = len(fake.refused)
    again = await outbox.deliver()
    assert (again.sent, again.failed) == (0, 0) and len(fake.refused) == tries


async def test_outbox_429_requeues_after_retry_after_and_keeps_the_order(
    fake: FakeTelegram, sender: TelegramSender, db: Engine, chat: int
):
    outbox = Outbox(db, {"telegram": sender})
    pid = telegram_person(db, chat)
    enqueue(db, outbox, pid, "eins", "zwei", "drei")
    fake.inject("sendMessage", ft.too_many_requests(1), chat_id=chat)
    before = utcnow()
    report = await outbox.deliver()
    assert (report.sent, report.requeued) == (0, 1)
    first, *later = rows(db, pid)
    assert first.status == OutboxStatus.QUEUED and first.failure == "rate limited"
    assert first.attempts == 0  # nothing was sent: the try does not count
    assert first.next_attempt_at is not None and first.next_attempt_at >= before + timedelta(seconds=1)
    assert [r.status for r in later] == [OutboxStatus.QUEUED] * 2  # waiting behind the first
    # Before retry_after nothing of this person moves (no later row overtakes the first).
    assert (await outbox.deliver()).sent == 0 and texts(fake, chat) == []
    await asyncio.sleep((first.next_attempt_at - utcnow()).total_seconds())
    assert (await outbox.deliver()).sent == 3
    assert texts(fake, chat) == ["eins", "zwei", "drei"]


async def test_outbox_timeout_is_unknown_and_never_resent(
    fake: FakeTelegram, sender: TelegramSender, db: Engine, chat: int
):
    outbox = Outbox(db, {"telegram": sender})
    pid = telegram_person(db, chat)
    enqueue(db, outbox, pid, "eins", "zwei")
    fake.inject("sendMessage", HELD, chat_id=chat)
    report = await outbox.deliver()
    assert (report.unknown, report.sent) == (1, 1)
    first, second = rows(db, pid)
    assert first.status == OutboxStatus.UNKNOWN and "timed out" in (first.failure or "")
    assert second.status == OutboxStatus.SENT
    await outbox.deliver()
    assert texts(fake, chat) == ["eins", "zwei"]  # it did arrive, and only once


async def test_outbox_network_error_is_queued_for_a_retry(
    fake: FakeTelegram, sender: TelegramSender, db: Engine, chat: int
):
    outbox = Outbox(db, {"telegram": sender})
    pid = telegram_person(db, chat)
    enqueue(db, outbox, pid, "eins", "zwei")
    fake.inject("sendMessage", ft.DROP, chat_id=chat)
    before = utcnow()
    report = await outbox.deliver()
    assert (report.requeued, report.sent) == (1, 0)
    first, second = rows(db, pid)
    assert first.status == OutboxStatus.QUEUED and first.attempts == 1
    assert first.next_attempt_at is not None and first.next_attempt_at >= before + timedelta(seconds=5)
    assert "disconnected" in (first.failure or "").lower()
    assert second.status == OutboxStatus.QUEUED  # the order is kept
    assert texts(fake, chat) == []


async def test_outbox_a_refused_attachment_does_not_undo_the_message(
    fake: FakeTelegram, sender: TelegramSender, db: Engine, chat: int
):
    outbox = Outbox(
        db, {"telegram": sender}, attachments=lambda pid, msg: [Attachment("t.ics", b"BEGIN")]
    )
    pid = telegram_person(db, chat)
    enqueue(db, outbox, pid, "Gebucht")
    fake.inject("sendDocument", ft.BLOCKED, chat_id=chat)
    report = await outbox.deliver()
    assert report.sent == 1 and texts(fake, chat) == ["Gebucht"]
    assert fake.documents(chat) == []
    assert [r.status for r in rows(db, pid)] == [OutboxStatus.SENT]


async def test_send_unstored_says_whether_it_arrived(
    fake: FakeTelegram, sender: TelegramSender, db: Engine, chat: int
):
    outbox = Outbox(db, {"telegram": sender})
    assert await outbox.send_unstored("telegram", str(chat), [OutMessage("Datenschutz")])
    fake.inject("sendMessage", ft.BLOCKED, chat_id=chat)
    assert not await outbox.send_unstored("telegram", str(chat), [OutMessage("Datenschutz")])
    assert not await outbox.send_unstored("telegram", str(next(_chats)), [OutMessage("x")])
    with Session(db) as s:
        assert s.exec(select(OutboundMessage)).all() == []  # nothing stored before consent


# --- (c) the reminder dispatcher -------------------------------------------------------------------


def due_reminder(engine: Engine, person_id: str) -> int:
    """A booked appointment tomorrow with one reminder due a minute ago; the reminder's id."""
    now = utcnow()
    with session_scope(engine) as s:
        cm = s.exec(select(CaseManager)).first()
        office = s.exec(select(Office)).first()
        assert cm is not None and office is not None
        appt = Appointment(
            reference=f"KL-T{next(_refs):05d}",
            person_id=person_id,
            case_manager_id=cm.id,
            office_id=office.id,
            start=now + timedelta(days=1),
            end=now + timedelta(days=1, hours=1),
            topic="kita",
            language="de",
        )
        s.add(appt)
        s.flush()
        assert appt.id is not None
        reminder = Reminder(
            appointment_id=appt.id,
            offset_minutes=24 * 60,
            due_at=now - timedelta(minutes=1),
            language="de",
        )
        s.add(reminder)
        s.flush()
        assert reminder.id is not None
        return reminder.id


def reminder(engine: Engine, rid: int) -> Reminder:
    with Session(engine) as s:
        row = s.get(Reminder, rid)
        assert row is not None
        s.expunge(row)
        return row


def notices(engine: Engine, senders: dict[str, TelegramSender]) -> Notices:
    return Notices(engine, ResponseBuilder(engine, Renderer(engine)), Outbox(engine, dict(senders)))


async def test_a_due_reminder_is_sent_once(
    fake: FakeTelegram, sender: TelegramSender, db: Engine, chat: int
):
    pid = telegram_person(db, chat)
    rid = due_reminder(db, pid)
    senders = {"telegram": sender}
    report = await dispatch_due(db, notices(db, senders).reminder_sender(senders))
    assert report.sent == 1
    row = reminder(db, rid)
    assert row.status == ReminderStatus.SENT and row.sent_at is not None
    [msg] = fake.sent(chat)
    assert "KL-T" in msg["text"]
    assert all(len(d.encode()) <= 64 for _, d in fake.buttons(msg))  # Telegram accepted them
    assert [r.status for r in rows(db, pid)] == [OutboxStatus.SENT]  # kept for the transcript
    again = await dispatch_due(db, notices(db, senders).reminder_sender(senders))
    assert again.sent == 0 and len(fake.sent(chat)) == 1


@pytest.mark.parametrize("fault", [ft.BLOCKED, ft.CHAT_NOT_FOUND], ids=["blocked", "chat-not-found"])
async def test_a_refused_reminder_is_failed(
    fake: FakeTelegram, sender: TelegramSender, db: Engine, chat: int, fault: ft.ApiError
):
    pid = telegram_person(db, chat)
    rid = due_reminder(db, pid)
    fake.inject("sendMessage", fault, chat_id=chat, times=10)
    senders = {"telegram": sender}
    report = await dispatch_due(db, notices(db, senders).reminder_sender(senders))
    assert report.failed == 1
    row = reminder(db, rid)
    assert row.status == ReminderStatus.FAILED
    assert fault.description.split(": ", 1)[1].lower() in (row.reason or "").lower()
    assert rows(db, pid) == []  # nothing recorded as said


async def test_a_rate_limited_reminder_is_retried_after_retry_after(
    fake: FakeTelegram, sender: TelegramSender, db: Engine, chat: int
):
    pid = telegram_person(db, chat)
    rid = due_reminder(db, pid)
    fake.inject("sendMessage", ft.too_many_requests(1), chat_id=chat)
    senders = {"telegram": sender}
    began = time.monotonic()
    report = await dispatch_due(db, notices(db, senders).reminder_sender(senders))
    elapsed = time.monotonic() - began
    assert (report.rate_limited, report.sent) == (1, 1)
    assert elapsed >= 1.0  # the rate limiter waited out retry_after before the second try
    row = reminder(db, rid)
    assert row.status == ReminderStatus.SENT and row.attempts == 1  # the 429 did not count
    assert len(fake.sent(chat)) == 1


async def test_a_timed_out_reminder_is_unknown_and_never_resent(
    fake: FakeTelegram, sender: TelegramSender, db: Engine, chat: int
):
    pid = telegram_person(db, chat)
    rid = due_reminder(db, pid)
    fake.inject("sendMessage", HELD, chat_id=chat)
    senders = {"telegram": sender}
    report = await dispatch_due(db, notices(db, senders).reminder_sender(senders))
    assert report.unknown == 1
    row = reminder(db, rid)
    assert row.status == ReminderStatus.UNKNOWN and "timed out" in (row.reason or "")
    await dispatch_due(db, notices(db, senders).reminder_sender(senders))
    assert len(fake.sent(chat)) == 1  # Telegram had it; it is not sent again


async def test_without_telegram_a_reminder_stays_pending(db: Engine, chat: int):
    """Regression: with no Telegram token the outbox has no push channel, so a Telegram person's
    reminder was queued as if the person fetched messages, and marked sent."""
    pid = telegram_person(db, chat)
    rid = due_reminder(db, pid)
    report = await dispatch_due(db, notices(db, {}).reminder_sender({}))
    assert (report.sent, report.requeued) == (0, 1)
    row = reminder(db, rid)
    assert row.status == ReminderStatus.PENDING and row.sent_at is None
    assert row.reason == "no telegram sender configured" and row.next_attempt_at is not None
    assert rows(db, pid) == []  # nothing queued in its name either
