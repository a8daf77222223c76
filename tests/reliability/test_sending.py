"""Reference tests #4 and #5: flood control and the reminder burst, within Telegram's limits.

#4 runs on the app process of the session stack (its outbox and its one Telegram sender) with the
fake Bot API server answering 429 and holding an answer past the client's timeout. #5 is the
product's reminder dispatcher, its real reminder sender (the runtime's) and rate limiter, on
PostgreSQL, against a fake that refuses (429) anything beyond 30 sends a second.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bench.reminders import _prepare
from lotse.runtime import build
from lotse.settings import Settings, TelegramSettings
from services.booking.reminders import dispatch_due
from storage.db import make_engine
from storage.models import OutboundMessage, OutboxStatus, Person
from storage.models_booking import Reminder, ReminderStatus
from tests.conftest import _pg_database
from tests.reliability.channel_support import consented, max_in_window, wait_until
from tests.reliability.conftest import Figure, scale
from tests.support import fake_telegram as ft
from tests.support.fake_telegram import FakeTelegram
from tests.support.stack import Stack

pytestmark = pytest.mark.reliability

_chats = itertools.count(4_300_001)


@pytest.fixture(scope="module")
def db(stack: Stack) -> Iterator[Engine]:
    eng = make_engine(stack.settings.database_url)
    yield eng
    eng.dispose()


def _outbox_of(db: Engine, chat: int) -> list[OutboundMessage]:
    with Session(db) as s:
        person = s.exec(select(Person).where(Person.external_id == str(chat))).one()
        return list(s.exec(select(OutboundMessage).where(OutboundMessage.person_id == person.id)))


# --- #4 ------------------------------------------------------------------------------------------


def test_04_flood_control(stack: Stack, db: Engine, figure: Figure):
    """Telegram answers 429 retry_after for 3 sends (and holds one answer past the timeout): no
    request before retry_after + 0.1 s, every message delivered exactly once, the timed-out one
    never sent again."""
    retry_after = scale(2, 5)
    tg = stack.telegram
    chats = [next(_chats) for _ in range(scale(6, 30))]
    for chat in chats:
        consented(db, chat)
        tg.open_chat(chat)
    timed_out = chats[0]
    tg.clear_injections()
    tg.inject("sendMessage", ft.Timeout(7.0), chat_id=timed_out)  # PTB reads for 5 s
    flood = tg.inject("sendMessage", ft.too_many_requests(retry_after), times=3)
    began = time.monotonic()
    for chat in chats:
        tg.send_text(chat, "/help")
    try:
        wait_until(
            lambda: all(tg.sent(c) for c in chats[1:]) and flood.remaining == 0,
            scale(60, 120),
            "every reply to be delivered",
        )
        wait_until(
            lambda: [r.status for r in _outbox_of(db, timed_out)] == [OutboxStatus.UNKNOWN],
            30,
            "the timed-out reply to be marked unknown",
        )
        time.sleep(stack.settings.telegram.outbox_interval_seconds + 0.5)  # a resend would show now
    finally:
        tg.clear_injections()
    elapsed = time.monotonic() - began

    ours = {str(c) for c in chats}
    requests = sorted(
        [c for c in tg.calls if c.method == "sendMessage" and str(c.params["chat_id"]) in ours]
        + [c for c in tg.refused if c.method == "sendMessage" and str(c.params["chat_id"]) in ours],
        key=lambda c: c.at,
    )
    floods = [c for c in requests if c.error and "Too Many Requests" in c.error]
    assert len(floods) == 3
    # Requests already on their way when a 429 is answered cannot be called back: allow 0.25 s.
    in_flight = 0.25
    gaps = []
    for refused in floods:
        later = [c.at - refused.at for c in requests if c.at - refused.at > in_flight]
        if later:
            gaps.append(min(later))
    assert gaps and min(gaps) >= retry_after + 0.1, gaps
    # Every message delivered exactly once; the one whose answer timed out was not sent again.
    delivered = Counter(str(c.params["chat_id"]) for c in tg.calls if c.method == "sendMessage")
    assert {c: delivered[str(c)] for c in chats} == dict.fromkeys(chats, 1)
    tries_timed_out = [c for c in requests if str(c.params["chat_id"]) == str(timed_out)]
    assert len(tries_timed_out) == 1
    statuses = Counter(r.status for c in chats for r in _outbox_of(db, c))
    assert statuses == {OutboxStatus.SENT: len(chats) - 1, OutboxStatus.UNKNOWN: 1}
    figure(
        4,
        "429 / flood control",
        f"3 x 429 retry_after={retry_after} s: next request after {min(gaps):.2f} s at the "
        f"earliest; {len(chats)}/{len(chats)} replies delivered exactly once in {elapsed:.0f} s; "
        "the timed-out send never repeated (unknown)",
    )


# --- #5 ------------------------------------------------------------------------------------------


@pytest.fixture
def pg_url(pg_seeded_template: str) -> Iterator[str]:
    yield from _pg_database(pg_seeded_template)


_REFERENCE = re.compile(r"BN-\d{6}")


def test_05_reminder_burst_within_telegram_limits(pg_url: str, figure: Figure):
    """2,000 reminders to 2,000 chats and 10 to one chat (quick: 100 and 4), through the product's
    dispatcher and reminder sender: never over 30 sends in any second overall, about 1 per second
    per chat (burst 2), all sent well within 100 s."""
    others = scale(100, 2000)
    to_one = scale(4, 10)  # the one chat's sends take a second each: quick keeps them few
    n = others + to_one
    engine = make_engine(pg_url)
    tg = FakeTelegram(global_rate=30).start()
    try:
        chats = _prepare(engine, n, datetime.now(UTC), busy=to_one)
        for chat in chats.values():
            tg.open_chat(chat)
        busy = next(iter(chats.values()))
        settings = Settings(
            database_url=pg_url,
            telegram=TelegramSettings(
                bot_token=tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url
            ),
        )
        runtime = build(settings)

        async def run() -> float:
            began = time.monotonic()
            try:
                await dispatch_due(
                    runtime.engine,
                    runtime.notices.reminder_sender(runtime.senders),
                    **runtime.reminder_config.as_kwargs(),
                )
            finally:
                await runtime.close()
            return time.monotonic() - began

        elapsed = asyncio.run(run())
        sends = [c for c in tg.calls if c.method == "sendMessage"]
        with Session(engine) as s:
            statuses = Counter(r.status for r in s.exec(select(Reminder)).all())
    finally:
        tg.stop()
        engine.dispose()

    references = Counter(m.group(0) for c in sends if (m := _REFERENCE.search(c.params["text"])))
    assert statuses == {ReminderStatus.SENT: n}, statuses
    assert len(sends) == n and len(references) == n  # each once: no duplicate, none missed
    assert tg.rejected_429 == 0
    overall = max_in_window([c.at for c in sends])
    assert overall <= 30
    per_chat: dict[int, list[float]] = defaultdict(list)
    for c in sends:
        per_chat[int(c.params["chat_id"])].append(c.at)
    busy_times = sorted(per_chat[busy])
    assert len(busy_times) == to_one
    # About one a second, bursts of 2 tolerated: in any w seconds at most w + 1 sends to one chat.
    # The fake stamps a request when it arrives, after the limiter let it go; it shares this
    # process (and its GIL) with the dispatcher, so a stamp can lag: windows 150 ms short absorb it.
    jitter = 0.15
    for w in range(1, to_one):
        most = max(max_in_window(times, w - jitter) for times in per_chat.values())
        assert most <= w + 1, (w, [round(b - busy_times[0], 3) for b in busy_times])
    busiest = max(max_in_window(times, 1 - jitter) for times in per_chat.values())
    span = busy_times[-1] - busy_times[0]
    limit = 100.0 * n / 2010 + (0 if n >= 2010 else 10)  # quick: + 10 s for a loaded machine
    assert elapsed < limit
    figure(
        5,
        "reminder burst within Telegram limits",
        f"{others} chats + {to_one} to one chat: {len(sends)}/{n} sent once in {elapsed:.1f} s "
        f"({len(sends) / elapsed:.1f}/s); at most {overall} in any 1 s overall, {busiest} to one "
        f"chat (its {to_one} over {span:.1f} s, w+1 in any w s); 0 answered 429",
    )
