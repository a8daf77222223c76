"""A separate OS process that dispatches due reminders (used by the two-process test).

``python -m tests.booking.dispatch_worker DATABASE_URL OUT_FILE START_AT`` waits until the wall-clock
time START_AT (so both processes start together), dispatches everything due with its own engine, and
appends the id of every reminder it sent to OUT_FILE, one per line.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TextIO

from services.booking.reminders import dispatch_due
from services.pacing import RateLimiter
from storage.db import make_engine
from storage.models_booking import Appointment, Reminder


async def dispatch(url: str, sink: TextIO) -> None:
    engine = make_engine(url)

    async def sender(reminder: Reminder, appointment: Appointment) -> None:
        await asyncio.sleep(0.01)  # a network round trip
        sink.write(f"{reminder.id}\n")
        sink.flush()

    await dispatch_due(
        engine,
        sender,
        batch=10,
        concurrency=4,
        limiter=RateLimiter(overall=10_000, per_chat_rate=1_000, chat_burst=1_000),
    )
    engine.dispose()


def main(url: str, out: str, start_at: float) -> None:
    with open(out, "a", encoding="utf-8") as sink:
        time.sleep(max(0.0, start_at - time.time()))
        asyncio.run(dispatch(url, sink))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
