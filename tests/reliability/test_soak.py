"""Reference tests #10 and #11: a long conversation, and memory under a steady load.

Both send far more from one address than the abuse limits allow a person, so they run on a stack of
their own with the per-minute limits lifted (the shared stack keeps the product's limits).
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from storage import people
from storage.db import make_engine, session_scope
from tests.reliability.conftest import Figure, scale
from tests.reliability.support import percentile, rss_mb
from tests.support.stack import Stack

QUESTIONS = [
    ("Wie melde ich mein Kind in der Kita an?", "kita"),
    ("Was kostet die Einbürgerung?", "naturalisation"),
    ("Wie viel kostet der Integrationskurs?", "integration_course"),
    ("Wo finde ich einen Deutschkurs?", None),
]


@pytest.fixture(scope="module")
def soak_stack(private_stack: Stack) -> Stack:
    return private_stack


def _turn(client: httpx.Client, sender: str, text: str, **body: Any) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    resp = client.post("/api/chat", json={"sender": sender, "text": text, **body})
    took = time.perf_counter() - started
    assert resp.status_code == 200, resp.text
    messages = resp.json()["messages"]
    assert messages, "no answer"
    return took, messages[-1]


def test_10_a_long_conversation_does_not_slow_down(soak_stack: Stack, figure: Figure) -> None:
    turns = scale(80, 400)
    window = scale(20, 50)
    sender = f"web-{uuid.uuid4()}"
    client = soak_stack.browser(sender)
    _turn(client, sender, "hallo", consent=True, language="de")
    waits = []
    for i in range(turns):
        question, topic = QUESTIONS[i % len(QUESTIONS)]
        took, answer = _turn(client, sender, question)
        if topic is not None:
            assert answer["meta"].get("topic") == topic, (i, answer)
        waits.append(took)
    first, last = percentile(waits[:window], 95), percentile(waits[-window:], 95)
    with soak_stack.rasa_client() as rasa:
        events = rasa.get(f"/conversations/{_rasa_id(soak_stack, sender)}/tracker").json()["events"]
    starts = [i for i, e in enumerate(events) if e.get("event") == "session_started"]
    current = len(events) - starts[-1] if starts else len(events)
    ratio = last / first
    assert ratio <= 2.0, (first, last)
    # The cause, checked directly: what Rasa loads per turn stays short (it grew to over 1,000
    # events in 80 turns when one session held the whole conversation: about 13 events a turn).
    assert current < 600, (current, len(events))
    figure(
        10,
        "long conversation",
        f"{turns} turns in one conversation: p95 turns {turns - window + 1}-{turns} = "
        f"{last * 1000:.0f} ms, {ratio:.2f}x turns 1-{window} ({first * 1000:.0f} ms); "
        f"{len(starts)} Rasa sessions, the current one {current} of {len(events)} events",
    )


def _rasa_id(stack: Stack, sender: str) -> str:
    engine = make_engine(stack.settings.database_url)
    try:
        with session_scope(engine) as s:
            person = people.find_person(session=s, channel="web", external_id=sender)
            assert person is not None
            return person.id
    finally:
        engine.dispose()


def test_11_memory_is_stable_under_a_steady_load(soak_stack: Stack, figure: Figure) -> None:
    seconds = scale(20, 3600)
    warmup = scale(5, 300)
    rate = 5.0
    senders = [f"web-{uuid.uuid4()}" for _ in range(10)]
    clients = {s: httpx.Client(base_url=soak_stack.web, timeout=60) for s in senders}
    pids = {"rasa": soak_stack.procs["rasa"].pid, "app": soak_stack.procs["app"].pid}
    samples: list[tuple[float, dict[str, float]]] = []
    waits: list[float] = []
    errors: list[str] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append((time.monotonic(), {n: rss_mb(p) for n, p in pids.items()}))
            stop.wait(1.0)

    def one(i: int) -> None:
        sender = senders[i % len(senders)]
        try:
            took, _ = _turn(clients[sender], sender, QUESTIONS[i % len(QUESTIONS)][0])
            waits.append(took)
        except (AssertionError, httpx.HTTPError) as exc:
            errors.append(repr(exc)[:200])

    try:
        for sender in senders:
            _turn(clients[sender], sender, "hallo", consent=True, language="de")
        sampler = threading.Thread(target=sample, daemon=True)
        started = time.monotonic()
        sampler.start()
        with ThreadPoolExecutor(max_workers=10) as pool:
            i = 0
            while (elapsed := time.monotonic() - started) < seconds:
                if i < elapsed * rate:
                    pool.submit(one, i)
                    i += 1
                else:
                    time.sleep(0.01)
        sent_seconds = time.monotonic() - started
        stop.set()
        sampler.join(5)
    finally:
        stop.set()
        for c in clients.values():
            c.close()
    assert not errors, errors[:5]
    after_warmup = [m for t, m in samples if t - started >= warmup]
    base = {n: statistics.median(m[n] for m in after_warmup[:5]) for n in pids}
    end = {n: statistics.median(m[n] for m in after_warmup[-5:]) for n in pids}
    rasa_growth = (end["rasa"] - base["rasa"]) / base["rasa"]
    app_growth = end["app"] - base["app"]
    achieved = len(waits) / sent_seconds
    assert achieved >= 0.9 * rate, achieved
    assert rasa_growth < 0.10, (base, end)
    assert app_growth < 50, (base, end)
    figure(
        11,
        "memory stability",
        f"{sent_seconds:.0f} s at {achieved:.1f} turns/s ({len(waits)} turns, p95 "
        f"{percentile(waits, 95) * 1000:.0f} ms): Rasa RSS {base['rasa']:.0f} -> {end['rasa']:.0f} MB "
        f"({rasa_growth * 100:+.1f}%), app {base['app']:.0f} -> {end['app']:.0f} MB "
        f"({app_growth:+.0f} MB) after a {warmup} s warm-up",
    )
