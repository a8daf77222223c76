"""Reference tests #6–#9: ordering under a burst, one scheduler, Rasa down, cold start and readiness.

#6 runs on the shared stack; #7 starts app processes of its own; #8 and #9 kill and restart Rasa, so
they run on a stack of their own (the shared one is never broken).
"""

from __future__ import annotations

import itertools
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rendering.renderer import Renderer
from storage import people
from storage.db import make_engine, session_scope
from tests.conftest import _pg_database
from tests.reliability.conftest import Figure, scale
from tests.reliability.support import (
    app_spec,
    get_json,
    kill,
    log_text,
    percentile,
    start_spec,
    wait_until,
    web_only,
)
from tests.support.stack import Stack, make_stack

_chat_ids = itertools.count(6_600_000)
_takeovers: dict[str, float] = {}


# --- #7 one scheduler across app processes ----------------------------------------------------------


def _roles(ports: dict[str, int]) -> dict[str, str]:
    """What each process's /healthz says about the scheduler (``down`` when it does not answer)."""
    roles = {}
    for name, port in ports.items():
        answer = get_json(f"http://127.0.0.1:{port}/healthz")
        roles[name] = str(answer[1].get("scheduler")) if answer and answer[0] == 200 else "down"
    return roles


def _one_leader(ports: dict[str, int]) -> dict[str, str] | None:
    roles = _roles(ports)
    return roles if sorted(roles.values()) == ["leader", "standby"] else None


@pytest.mark.postgres
@pytest.mark.parametrize("database", scale(["postgresql"], ["postgresql", "sqlite"]))
def test_07_two_app_processes_run_exactly_one_scheduler(
    database: str, tmp_path: Path, figure: Figure
) -> None:
    pg = _pg_database() if database == "postgresql" else None
    url = next(pg) if pg is not None else None
    base = make_stack(tmp_path, database_url=url)
    env = {"ARGOS_PACKAGES_DIR": str(tmp_path / "no-models")}  # nothing to load: a quick start
    logs = tmp_path / "logs"
    settings = {name: web_only(base.settings) for name in ("app-a", "app-b")}
    ports = {name: s.web.port for name, s in settings.items()}
    procs = {}
    try:
        for name, s in settings.items():
            procs[name] = start_spec(app_spec(s, name, env), logs)
        # Both answer, and both have tried the lock: one runs the jobs, the other stands by.
        roles = wait_until(lambda: _one_leader(ports), 60, "one leader and one standby")
        # And it stays that way (the standby retries every 15 s and must keep failing).
        samples = []
        for _ in range(scale(10, 40)):
            samples.append(_roles(ports))
            time.sleep(0.5)
        assert all(sorted(s.values()) == ["leader", "standby"] for s in samples), samples
        assert [s for s in samples if s != roles] == []  # no flapping
        leader = next(n for n, r in roles.items() if r == "leader")
        standby = next(n for n, r in roles.items() if r == "standby")
        assert "this process runs the jobs" in log_text(logs, leader)
        assert "this process runs the jobs" not in log_text(logs, standby)

        # kill -9 the leader: its lock goes with it, and the standby takes over within its retry.
        killed = time.monotonic()
        kill(procs[leader])
        procs[leader].wait(10)
        wait_until(lambda: _roles({standby: ports[standby]})[standby] == "leader", 30, "takeover")
        takeover = time.monotonic() - killed
        assert "this process runs the jobs" in log_text(logs, standby)

        # A clean stop (SIGTERM) shuts the scheduler down and releases the lock without an error.
        kill(procs[standby], signal.SIGTERM)
        code = procs[standby].wait(20)
        tail = log_text(logs, standby)
        # uvicorn re-raises the signal after its clean shutdown: the exit says "terminated by SIGTERM".
        assert code in (0, -signal.SIGTERM), tail[-3000:]
        assert "Scheduler has been shut down" in tail and "Application shutdown complete" in tail
        for trouble in ("Traceback", "ERROR", "Task was destroyed", "Exception"):
            assert trouble not in tail, tail[-3000:]
        _takeovers[database] = takeover
        figure(
            7,
            "two app processes, one scheduler",
            f"{' and '.join(_takeovers)}: 1 leader + 1 standby in all {len(samples)} /healthz samples; "
            "after kill -9 the standby led in "
            + ", ".join(f"{t:.1f} s" for t in _takeovers.values())
            + " (retry 15 s); SIGTERM stops the scheduler cleanly",
        )
    finally:
        for proc in procs.values():
            kill(proc)
            proc.wait(10)
        if pg is not None:
            pg.close()


# --- #6 one person's burst stays in order -----------------------------------------------------------

# Four questions whose answers are told apart by a word (sent in rotation: each reply must name its
# own question's word, so a reply out of order fails).
BURST = [
    ("Wie melde ich mein Kind in der Kita an?", "kita"),
    ("Was kostet die Einbürgerung?", "einbürgerung"),
    ("Wie viel kostet der Integrationskurs?", "integrationskurs"),
    ("Ich brauche eine Wohnung", "wohn"),
]


def _person_id(stack: Stack, chat: int) -> str:
    engine = make_engine(stack.settings.database_url)
    try:
        with session_scope(engine) as s:
            person = people.find_person(session=s, channel="telegram", external_id=str(chat))
            assert person is not None
            return person.id
    finally:
        engine.dispose()


def _events(stack: Stack, sender: str) -> list[dict[str, Any]]:
    with stack.rasa_client() as rasa:
        return list(rasa.get(f"/conversations/{sender}/tracker").json()["events"])


def _user_texts(stack: Stack, sender: str) -> list[str]:
    return [e.get("text") or "" for e in _events(stack, sender) if e.get("event") == "user"]


def _telegram_person(stack: Stack) -> int:
    tg, chat = stack.telegram, next(_chat_ids)
    tg.send_text(chat, "/start")
    tg.press(chat, "c:y:de", tg.wait_sent(chat, 1)[0]["message_id"])
    tg.press(chat, "lang:de", tg.wait_sent(chat, 2)[-1]["message_id"])
    tg.wait_sent(chat, 4)
    return chat


def test_06_one_persons_burst_is_answered_in_order(stack: Stack, figure: Figure) -> None:
    tg = stack.telegram
    n = scale(20, 20)
    rounds = scale(1, 5)
    took, processed, others, lock_errors_before = [], [], [], _lock_errors(stack)
    for _ in range(rounds):
        chat, other = _telegram_person(stack), _telegram_person(stack)
        sender = _person_id(stack, chat)
        before = len(_user_texts(stack, sender))
        sent = [BURST[i % len(BURST)] for i in range(n)]
        started, wall = time.monotonic(), time.time()
        for question, _ in sent:  # 20 messages in 1 s; the bot processes updates concurrently
            tg.send_text(chat, question)
            time.sleep(1 / n)
        # Someone else writes during the burst: their answer does not wait behind it.
        asked = time.monotonic()
        tg.send_text(other, BURST[1][0])
        assert BURST[1][1] in tg.wait_sent(other, 5, timeout=60)[-1]["text"].lower()
        others.append(time.monotonic() - asked)
        replies = tg.wait_sent(chat, 4 + n, timeout=120)[4:]
        took.append(time.monotonic() - started)
        assert len(replies) == n, [r["text"][:40] for r in replies]
        assert [word in r["text"].lower() for r, (_, word) in zip(replies, sent, strict=True)] == [
            True
        ] * n, [r["text"][:40] for r in replies]
        assert _user_texts(stack, sender)[before:] == [q for q, _ in sent]
        # Rasa's own clock: when the last answer was produced (delivery is paced at 1/s per chat).
        processed.append(max(e["timestamp"] for e in _events(stack, sender)) - wall)
    assert _lock_errors(stack) == lock_errors_before == 0
    # Baseline 1.57 s for 20; generous on 2 shared cores (held behind the 1/s delivery: about 19 s).
    assert max(processed) < 12, processed
    assert max(others) < 8, others  # behind the burst's update slots: about 13 s
    figure(
        6,
        "per-user ordering under a burst",
        f"{rounds}x{n} messages in 1 s: all in send order in Rasa's tracker and answered in order, "
        f"0 LockError; processed in {max(processed):.1f} s (baseline 1.57 s), delivered in "
        f"{max(took):.1f} s (Telegram's 1 message/s per chat); another person answered in "
        f"{max(others):.1f} s meanwhile",
    )


def _lock_errors(stack: Stack) -> int:
    return sum(
        stack.log_tail(name, 100_000).count(word)
        for name in ("rasa", "app")
        for word in ("LockError", "Failed to acquire lock")
    )


# --- #8 and #9: a stack of their own (they kill Rasa) -------------------------------------------------


@pytest.fixture(scope="module")
def own_stack(private_stack: Stack) -> Stack:
    return private_stack


@pytest.fixture(scope="module")
def own_texts(own_stack: Stack) -> Iterator[Renderer]:
    engine = make_engine(own_stack.settings.database_url)
    yield Renderer(engine, None, own_stack.settings.message_variables())
    engine.dispose()


def _timed_chat(stack: Stack, sender: str, **body: Any) -> tuple[float, list[dict[str, Any]]]:
    started = time.perf_counter()
    resp = stack.browser(sender).post("/api/chat", json={"sender": sender, **body})
    assert resp.status_code == 200, resp.text  # never a 500, whatever is down
    return time.perf_counter() - started, list(resp.json()["messages"])


def _troubles(stack: Stack, name: str) -> list[str]:
    return [
        line
        for line in log_text(stack.workdir / "logs", name).splitlines()
        if "Traceback" in line or "ERROR" in line
    ]


def test_08_rasa_killed_mid_conversation(own_stack: Stack, own_texts: Renderer, figure: Figure) -> None:
    stack = own_stack
    troubles_before = _troubles(stack, "app")
    senders = [f"web-{uuid.uuid4()}" for _ in range(scale(3, 10))]
    langs = ["uk", "ar", "en", "de", "tr", "ru", "fa", "fr", "uk", "ar"]
    for sender, lang in zip(senders, langs, strict=False):
        _timed_chat(stack, sender, text="hallo", consent=True, language=lang)
        [answer] = _timed_chat(stack, sender, text=BURST[0][0])[1]
        assert answer["meta"].get("topic") == "kita"
    kill(stack.procs["rasa"])  # kill -9 mid-conversation
    stack.procs["rasa"].wait(10)
    waits = []
    try:
        for sender, lang in zip(senders, langs, strict=False):
            for question in (BURST[1][0], BURST[2][0]):
                took, [kept] = _timed_chat(stack, sender, text=question)
                waits.append(took)
                assert kept["text"] == own_texts.text("rasa_unavailable", lang)  # in their language
    finally:
        restarted = time.monotonic()
        stack.restart_process("rasa")
    assert max(waits) < 5
    stack.wait_rasa_loaded()
    # Every kept message is answered once Rasa is back, in order, exactly once.
    answers: dict[str, list[str]] = {s: [] for s in senders}

    def all_answered() -> bool:
        for sender in senders:
            answers[sender] += [m["meta"].get("topic") or "" for m in stack.updates(sender)]
        return all(len(a) >= 2 for a in answers.values())

    wait_until(all_answered, 180, "kept messages answered", step=1.0)
    replayed = time.monotonic() - restarted
    time.sleep(3)  # a second replay would show up now
    all_answered()
    assert all(a == ["naturalisation", "integration_course"] for a in answers.values()), answers
    for sender in senders:
        person = _web_person_id(stack, sender)
        assert _user_texts(stack, person)[-2:] == [BURST[1][0], BURST[2][0]]
        assert _user_texts(stack, person).count(BURST[1][0]) == 1
    assert _troubles(stack, "app") == troubles_before  # no unhandled exception in the app
    figure(
        8,
        "Rasa killed mid-conversation",
        f"{len(waits)}/{len(waits)} messages got the localised 'kept' answer in at most "
        f"{max(waits) * 1000:.0f} ms; all replayed once, in order, {replayed:.0f} s after the restart "
        "(Rasa's load included); no unhandled exception",
    )


def _web_person_id(stack: Stack, sender: str) -> str:
    engine = make_engine(stack.settings.database_url)
    try:
        with session_scope(engine) as s:
            person = people.find_person(session=s, channel="web", external_id=sender)
            assert person is not None
            return person.id
    finally:
        engine.dispose()


class _Readiness:
    """Polls /readyz and Rasa's /status in the background, keeping (time, state) samples."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.ready: list[tuple[float, bool]] = []
        self.loaded: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=3) as client:
            while not self._stop.is_set():
                now = time.monotonic()
                try:
                    self.ready.append((now, client.get(f"{self.stack.web}/readyz").status_code == 200))
                except httpx.HTTPError:
                    self.ready.append((now, False))
                try:
                    status = client.get(
                        f"{self.stack.rasa_url}/status", params=self.stack.rasa_params, timeout=0.5
                    )
                    self.loaded.append((now, bool(status.json().get("model_file"))))
                except (httpx.HTTPError, ValueError):
                    self.loaded.append((time.monotonic(), False))
                time.sleep(0.1)

    def __enter__(self) -> _Readiness:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def first(self, samples: list[tuple[float, bool]], value: bool, after: float) -> float:
        return next(t for t, v in samples if t >= after and v is value)


def test_09_cold_start_and_readiness(own_stack: Stack, figure: Figure) -> None:
    stack = own_stack
    sender, fresh = f"web-{uuid.uuid4()}", f"web-{uuid.uuid4()}"
    for s in (sender, fresh):
        _timed_chat(stack, s, text="hallo", consent=True, language="de")
    warm = [_timed_chat(stack, fresh, text=BURST[i % 4][0])[0] for i in range(10)]

    with _Readiness(stack) as probe:
        # A frozen Rasa (SIGSTOP) is not ready either: readiness follows within seconds.
        time.sleep(0.5)
        frozen = time.monotonic()
        kill(stack.procs["rasa"], signal.SIGSTOP)
        try:
            wait_until(lambda: _any(probe.ready, False, frozen), 10, "/readyz false while frozen")
            not_ready = probe.first(probe.ready, False, frozen)
        finally:
            kill(stack.procs["rasa"], signal.SIGCONT)
        frozen_after = not_ready - frozen
        wait_until(lambda: _any(probe.ready, True, time.monotonic() - 0.3), 30, "ready again")

        # Restart Rasa under traffic: readiness is false until the model is loaded and warmed up.
        traffic: list[tuple[float, float, str]] = []
        stop = threading.Event()

        def keep_asking() -> None:
            while not stop.is_set():
                asked = time.monotonic()
                took, messages = _timed_chat(stack, sender, text=BURST[1][0])
                traffic.append((asked, took, messages[0]["meta"].get("topic") or "kept"))
                time.sleep(0.2)

        asker = threading.Thread(target=keep_asking, daemon=True)
        asker.start()
        try:
            time.sleep(1)
            killed = time.monotonic()
            kill(stack.procs["rasa"])
            stack.procs["rasa"].wait(10)
            stack.restart_process("rasa")
            wait_until(lambda: _any(probe.ready, False, killed), 10, "not ready after kill -9")
            down = probe.first(probe.ready, False, killed)
            wait_until(lambda: _any(probe.ready, True, down), 300, "ready after the restart")
            # The first requests after readiness: Rasa's parse, then whole turns (a person whose
            # messages were not kept meanwhile).
            with stack.rasa_client() as rasa:
                parses = []
                for i in range(10):
                    started = time.perf_counter()
                    rasa.post("/model/parse", json={"text": BURST[i % 4][0]}).raise_for_status()
                    parses.append(time.perf_counter() - started)
            first_after = [_timed_chat(stack, fresh, text=BURST[1][0]) for _ in range(10)]
        finally:
            stop.set()
            asker.join(60)
    went_down = probe.first(probe.ready, False, killed)
    loaded = probe.first(probe.loaded, True, went_down)
    ready = probe.first(probe.ready, True, went_down)
    # Never ready while Rasa had no model loaded: from going down until the model was loaded.
    assert went_down - killed < 1.5 and frozen_after < 2.5
    assert ready >= loaded
    assert not [t for t, v in probe.ready if went_down <= t < loaded and v]
    # Rasa itself reported the model before the app did (the app warms up first, then says ready).
    assert all(m[0]["meta"].get("topic") == "naturalisation" for _, m in first_after)
    p95_after, p95_warm = percentile([t for t, _ in first_after], 95), percentile(warm, 95)
    # §4: under 100 ms for the first requests after readiness (Rasa's parse; generous on two shared
    # cores), and whole turns (app, Rasa, action server, NLG) no slower than before the restart.
    p95_parse = percentile(parses, 95)
    assert p95_parse < 0.5, parses
    assert p95_after < max(2.0, 1.5 * p95_warm), (first_after, warm)
    assert any(topic == "kept" for _, _, topic in traffic)  # the traffic did meet the outage
    figure(
        9,
        "cold start and readiness",
        f"/readyz false {went_down - killed:.1f} s after kill -9 ({frozen_after:.1f} s after SIGSTOP), "
        f"until Rasa loaded its model {loaded - killed:.0f} s later and the warm-up parse ran "
        f"(ready at {ready - killed:.0f} s); first 10 parses after: p95 {p95_parse * 1000:.0f} ms, "
        f"first 10 whole turns p95 {p95_after * 1000:.0f} ms (before: {p95_warm * 1000:.0f} ms)",
    )


def _any(samples: list[tuple[float, bool]], value: bool, after: float) -> bool:
    return any(t >= after and v is value for t, v in list(samples))
