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
from sqlalchemy.engine import Engine

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
        wait_until(
            lambda: _roles({standby: ports[standby]})[standby] == "leader", 30, "takeover"
        )
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
