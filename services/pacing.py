"""Pacing of bulk sends within Telegram's flood limits.

Telegram's Bot FAQ: about 30 messages per second in total, and about one message per second to the same
chat ("short bursts are tolerated"). ``RateLimiter`` enforces both:

* overall: never more than ``overall`` sends in any ``window`` seconds *as Telegram counts them*.
  Telegram stamps a request somewhere between our sending it and our receiving the answer, so a send
  counts from the moment it starts until ``window`` seconds after its answer came back (``sending()``).
  Network latency and a slow server thus slow us down a little instead of earning 429s;
* per chat: a token bucket refilled at ``per_chat_rate`` per second, holding at most ``chat_burst``;
* after a 429, ``pause(retry_after)`` stops every send until then (as PTB's ``AIORateLimiter`` does).

Clock and sleep are injectable, so tests run without waiting.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

logger = logging.getLogger(__name__)

TELEGRAM_OVERALL_PER_SECOND = 30
TELEGRAM_PER_CHAT_PER_SECOND = 1.0
_POLL = 0.005  # how often to look again when only sends still in flight block the window


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """At most ``overall`` sends per window overall and ``per_chat_rate``/s per chat (small bursts).

    Use ``async with limiter.sending(chat): await send()`` around each request.
    """

    def __init__(
        self,
        *,
        overall: int = TELEGRAM_OVERALL_PER_SECOND,
        window: float = 1.0,
        margin: float = 0.01,
        per_chat_rate: float = TELEGRAM_PER_CHAT_PER_SECOND,
        chat_burst: int = 2,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if overall < 1 or per_chat_rate <= 0 or chat_burst < 1:
            raise ValueError("limits must be positive")
        self.overall = overall
        self.window = window + margin
        self.per_chat_rate = per_chat_rate
        self.chat_burst = chat_burst
        self._clock = clock
        self._sleep = sleep
        self._done: list[float] = []  # when recent sends finished, ascending
        self._in_flight = 0
        self._chats: dict[str, _Bucket] = {}
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    def _global_delay(self, now: float) -> float:
        cut = bisect.bisect_right(self._done, now - self.window)
        del self._done[:cut]
        waits = [self._paused_until - now]
        busy = len(self._done) + self._in_flight
        if busy >= self.overall:
            expire = busy - self.overall  # this many finished sends must leave the window first
            waits.append(self._done[expire] + self.window - now if expire < len(self._done) else _POLL)
        return max(0.0, *waits)

    def _chat_delay(self, chat: str, now: float) -> float:
        bucket = self._chats.get(chat)
        if bucket is None:
            return 0.0
        tokens = min(self.chat_burst, bucket.tokens + (now - bucket.at) * self.per_chat_rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.per_chat_rate

    def delay(self, chat: str) -> float:
        """Seconds until a send to ``chat`` may start (0: now). Does not reserve it."""
        now = self._clock()
        return max(self._global_delay(now), self._chat_delay(chat, now))

    def _reserve(self, chat: str) -> None:
        now = self._clock()
        self._in_flight += 1
        bucket = self._chats.get(chat)
        tokens = (
            self.chat_burst
            if bucket is None
            else min(self.chat_burst, bucket.tokens + (now - bucket.at) * self.per_chat_rate)
        )
        self._chats[chat] = _Bucket(tokens - 1, now)
        if len(self._chats) > 10_000:
            self._forget_full_buckets(now)

    def _release(self) -> None:
        self._in_flight -= 1
        bisect.insort(self._done, self._clock())

    def record(self, chat: str) -> None:
        """Count a send to ``chat`` that started and finished now."""
        self._reserve(chat)
        self._release()

    def _forget_full_buckets(self, now: float) -> None:
        full_after = self.chat_burst / self.per_chat_rate
        for chat in [c for c, b in self._chats.items() if now - b.at >= full_after]:
            del self._chats[chat]

    async def _wait_and_reserve(self, chat: str) -> None:
        while True:
            # A chat waiting for its own bucket does not hold up anyone else ...
            chat_wait = self._chat_delay(chat, self._clock())
            if chat_wait > 0:
                await self._sleep(chat_wait)
                continue
            # ... while the overall window is handed out first come, first served (the lock is FIFO).
            async with self._lock:
                while (wait := self._global_delay(self._clock())) > 0:
                    await self._sleep(wait)
                if self._chat_delay(chat, self._clock()) <= 0:
                    self._reserve(chat)
                    return

    @asynccontextmanager
    async def sending(self, chat: str) -> AsyncIterator[None]:
        """Wait until a send to ``chat`` is allowed; the send counts until ``window`` after it ends."""
        await self._wait_and_reserve(chat)
        try:
            yield
        finally:
            self._release()

    async def acquire(self, chat: str) -> None:
        """Wait until a send to ``chat`` is allowed and count it as done now (for instant sends)."""
        await self._wait_and_reserve(chat)
        self._release()

    def pause(self, seconds: float) -> None:
        """Stop every send for ``seconds`` (Telegram answered 429 with ``retry_after``)."""
        until = self._clock() + seconds
        if until > self._paused_until:
            self._paused_until = until
            logger.warning("flood control: pausing all sends for %.1f s", seconds)
