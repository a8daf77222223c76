"""Reminder burst: 2,000 due reminders dispatched to the fake Telegram server, which allows 30 sends/s.

1,990 people get one reminder and one person gets 10, spread over the first batches (Telegram also
limits one chat to about one message per second). Prints the achieved send rate as a ratio of the
allowed 30/s (goal >= 0.9), the duplicates and misses (goal 0), the 429 answers, and the most sends seen
in any 1-second window overall and to one chat. ``python -m bench.reminders [N]``;
``LOTSE_BENCH_DATABASE_URL`` selects the database (default: a fresh SQLite file).
"""

from __future__ import annotations

import asyncio
import bisect
import os
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.channels.telegram_sender import TelegramSender
from lotse.runtime import telegram_bot
from lotse.settings import Settings, TelegramSettings
from rendering.messages import OutMessage
from services.booking.reminders import DispatchReport, dispatch_due
from services.pacing import TELEGRAM_OVERALL_PER_SECOND
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models import Person
from storage.models_booking import Appointment, CaseManager, Office, OfficeHours, Reminder
from tests.support.fake_telegram import FakeTelegram

ALLOWED = TELEGRAM_OVERALL_PER_SECOND
_ID_IN_TEXT = re.compile(r"#(\d+)")


@dataclass
class Result:
    n: int
    elapsed: float
    delivered: int
    duplicates: int
    misses: int
    rejected_429: int
    max_overall_per_second: int
    max_per_chat_per_second: int
    report: DispatchReport

    @property
    def ratio(self) -> float:
        """Achieved send rate over the allowed 30/s."""
        return (self.delivered / self.elapsed) / ALLOWED if self.elapsed else 0.0


def _max_in_window(times: list[float], window: float = 1.0) -> int:
    ordered = sorted(times)
    return max((bisect.bisect_left(ordered, t + window) - i for i, t in enumerate(ordered)), default=0)


def _prepare(engine: Engine, n: int, now: datetime, busy: int = 10) -> dict[str, int]:
    """People, appointments tomorrow and one due reminder each; returns person id -> chat id."""
    chats: dict[str, int] = {}
    busy_count = min(busy, n)
    with session_scope(engine) as s:
        s.add(Office(id="bench", name="Rathaus Bench", address="Markt 1", municipality="bench"))
        s.add(CaseManager(id="bench-cm", name="Bench", languages=["de"]))
        s.flush()
        s.add(
            OfficeHours(
                case_manager_id="bench-cm",
                office_id="bench",
                weekday=0,
                start_time=dtime(9),
                end_time=dtime(15),
            )
        )
        people_needed = n - busy_count + 1  # the first person is the busy one
        for i in range(people_needed):
            pid = f"bench{i:07d}"
            chats[pid] = 700_000 + i
            s.add(
                Person(
                    id=pid,
                    channel="telegram",
                    external_id=str(700_000 + i),
                    language="de",
                    consent="given",
                    consent_version="bench",
                )
            )
        s.flush()
        start = now + timedelta(days=1)
        # The busy chat's reminders are spread over the first batches (due order is id order).
        owners = list(chats)[1:]
        for k in range(busy_count):
            owners.insert(k * 10, next(iter(chats)))
        appointments = [
            Appointment(
                reference=f"BN-{i:06d}",  # the product's form (its buttons carry it)
                person_id=pid,
                case_manager_id="bench-cm",
                office_id="bench",
                start=start + timedelta(seconds=i),
                end=start + timedelta(seconds=i + 3600),
                topic="kita",
                language="de",
            )
            for i, pid in enumerate(owners)
        ]
        s.add_all(appointments)
        s.flush()
        s.add_all(
            Reminder(
                appointment_id=a.id or 0,
                offset_minutes=120,
                due_at=now - timedelta(minutes=1),
                language="de",
            )
            for a in appointments
        )
    return chats


async def _dispatch(
    engine: Engine, tg: FakeTelegram, chats: dict[str, int]
) -> tuple[DispatchReport, float]:
    """The product's own path: the dispatcher, the one Telegram sender and its rate limiter."""
    bot = telegram_bot(
        Settings(
            telegram=TelegramSettings(
                bot_token=tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url
            )
        )
    )
    assert bot is not None
    telegram = TelegramSender(bot)

    async def sender(reminder: Reminder, appointment: Appointment) -> None:
        text = f"Erinnerung: Ihr Termin {appointment.reference} ist morgen. #{reminder.id}"
        await telegram.send(str(chats[appointment.person_id]), OutMessage(text))

    began = time.monotonic()
    try:
        report = await dispatch_due(engine, sender, batch=100, concurrency=8)
    finally:
        await bot.shutdown()
    return report, time.monotonic() - began


def run(n: int = 2000, database_url: str | None = None) -> Result:
    """Dispatch ``n`` due reminders against a fake Telegram that answers 429 beyond 30 sends/s."""
    with tempfile.TemporaryDirectory(prefix="lotse-bench-reminders-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        tg = FakeTelegram(global_rate=ALLOWED).start()
        try:
            chats = _prepare(engine, n, datetime.now(UTC))
            for chat in chats.values():
                tg.open_chat(chat)  # the people started the bot (Telegram refuses unknown chats)
            report, elapsed = asyncio.run(_dispatch(engine, tg, chats))
            sends = [c for c in tg.calls if c.method == "sendMessage"]
            ids = Counter(int(m.group(1)) for c in sends if (m := _ID_IN_TEXT.search(c.params["text"])))
            with Session(engine) as s:
                all_ids = set(s.exec(select(Reminder.id)).all())
                not_sent = len(s.exec(select(Reminder.id).where(Reminder.status != "sent")).all())
            per_chat: dict[int, list[float]] = defaultdict(list)
            for c in sends:
                per_chat[int(c.params["chat_id"])].append(c.at)
            return Result(
                n=n,
                elapsed=elapsed,
                delivered=len(ids),
                duplicates=sum(count - 1 for count in ids.values()),
                misses=max(len(all_ids - set(ids)), not_sent),
                rejected_429=tg.rejected_429,
                max_overall_per_second=_max_in_window([c.at for c in sends]),
                max_per_chat_per_second=max((_max_in_window(t) for t in per_chat.values()), default=0),
                report=report,
            )
        finally:
            tg.stop()
            engine.dispose()


def report(result: Result) -> None:
    """Print the benchmark's lines; the last one is the summary."""
    print(
        f"reminders: {result.delivered} of {result.n} delivered in {result.elapsed:.1f} s "
        f"({result.delivered / result.elapsed:.1f}/s, allowed {ALLOWED}/s)"
    )
    print(
        f"reminders: 429 answers {result.rejected_429}; most sends in any 1 s: "
        f"{result.max_overall_per_second} overall, {result.max_per_chat_per_second} to one chat"
    )
    print(
        f"reminders: send rate ratio {result.ratio:.2f} (goal >= 0.90), duplicates {result.duplicates}, "
        f"misses {result.misses} (goal 0)"
    )


def main() -> int:
    """Run the reminder burst benchmark and print its result; exit status 1 if a goal is missed."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    print(
        f"dispatching {n} due reminders to the fake Telegram server (about {n / ALLOWED:.0f} s) …",
        flush=True,
    )
    result = run(n, os.environ.get("LOTSE_BENCH_DATABASE_URL"))
    report(result)
    return 0 if result.ratio >= 0.9 and result.duplicates == 0 and result.misses == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
