"""The rate limiter's windows, with an injected clock (nothing waits for real)."""

from __future__ import annotations

import bisect
import itertools

import pytest

from services.pacing import RateLimiter
from tests.booking.conftest import FakeClock


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(bisect.bisect_left(times, t + window) - i for i, t in enumerate(times))


async def test_never_more_than_30_in_any_second_overall(clock: FakeClock):
    limiter = RateLimiter(clock=clock.monotonic, sleep=clock.sleep)
    sent = []
    for i in range(300):
        await limiter.acquire(f"chat-{i}")
        sent.append(clock.monotonic())
    assert max_in_window(sent, 1.0) == 30
    elapsed = sent[-1] - sent[0]
    assert 9 * 1.0 <= elapsed <= 10 * 1.05 + 0.01  # 300 at 30 per (1 s + margin)
    assert 300 / elapsed >= 0.9 * 30 * (1 / 1.05) * 0.99


async def test_one_chat_gets_a_small_burst_then_one_per_second(clock: FakeClock):
    limiter = RateLimiter(clock=clock.monotonic, sleep=clock.sleep, chat_burst=2)
    sent = []
    for _ in range(10):
        await limiter.acquire("chat")
        sent.append(clock.monotonic())
    assert sent[1] - sent[0] == 0  # the burst
    gaps = [b - a for a, b in itertools.pairwise(sent[1:])]
    assert all(g == pytest.approx(1.0) for g in gaps)
    assert max_in_window(sent, 1.0) == 2
    assert max_in_window(sent[2:], 1.0 - 1e-9) == 1


async def test_other_chats_are_not_held_up_by_one_busy_chat(clock: FakeClock):
    limiter = RateLimiter(clock=clock.monotonic, sleep=clock.sleep, chat_burst=1)
    await limiter.acquire("busy")
    assert limiter.delay("busy") == pytest.approx(1.0)
    assert limiter.delay("quiet") == 0


async def test_pause_after_429_stops_everything(clock: FakeClock):
    limiter = RateLimiter(clock=clock.monotonic, sleep=clock.sleep)
    await limiter.acquire("a")
    start = clock.monotonic()
    limiter.pause(5.1)
    limiter.pause(1.0)  # a shorter pause never shortens a longer one
    await limiter.acquire("b")
    assert clock.monotonic() - start >= 5.1


def test_limits_must_be_positive():
    with pytest.raises(ValueError):
        RateLimiter(overall=0)
    with pytest.raises(ValueError):
        RateLimiter(per_chat_rate=0)


def test_old_chat_buckets_are_forgotten(clock: FakeClock):
    limiter = RateLimiter(clock=clock.monotonic, sleep=clock.sleep, overall=100_000)
    for i in range(10_001):
        limiter.record(f"c{i}")
    clock.advance(10)
    limiter.record("late")
    assert len(limiter._chats) < 10


async def test_a_send_counts_until_a_window_after_its_answer(clock: FakeClock):
    """Telegram stamps a request before answering it: slow answers must not let a 31st send slip in."""
    limiter = RateLimiter(clock=clock.monotonic, sleep=clock.sleep, margin=0.0)
    contexts = [limiter.sending(f"chat-{i}") for i in range(30)]
    for ctx in contexts:
        await ctx.__aenter__()  # 30 requests in flight
    assert limiter.delay("next") > 0  # blocked while they are in flight
    clock.advance(0.7)  # a slow server
    await contexts[0].__aexit__(None, None, None)
    finished = clock.monotonic()
    clock.advance(0.5)
    assert limiter.delay("next") == pytest.approx(finished + 1.0 - clock.monotonic())
    clock.advance(0.5)
    assert limiter.delay("next") == 0
    for ctx in contexts[1:]:
        await ctx.__aexit__(None, None, None)
