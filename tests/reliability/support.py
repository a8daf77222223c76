"""Helpers of the reliability suite: percentiles, process memory, waiting, extra app processes."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import httpx

from bot.supervisor import ProcessSpec, process_specs, start
from lotse.settings import Settings, TelegramSettings, WebSettings
from tests.support.fake_telegram import free_port
from tests.support.stack import Stack

T = TypeVar("T")


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process (``VmRSS`` in ``/proc``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def wait_until(check: Callable[[], T | None], timeout: float, what: str, step: float = 0.2) -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(step)


def get_json(url: str, timeout: float = 2.0) -> tuple[int, dict[str, object]] | None:
    """Status and JSON body of a GET, or None when nothing answers."""
    try:
        resp = httpx.get(url, timeout=timeout)
        return resp.status_code, resp.json()
    except (httpx.HTTPError, ValueError):
        return None


def web_only(settings: Settings) -> Settings:
    """The same settings with fresh web ports and no Telegram (several app processes side by side)."""
    return settings.model_copy(
        update={
            "web": WebSettings(port=free_port(), internal_port=free_port()),
            "telegram": TelegramSettings(bot_token=None),
        }
    )


def app_spec(settings: Settings, name: str, extra_env: dict[str, str] | None = None) -> ProcessSpec:
    """The app process exactly as ``make run`` starts it (``python -m cli serve``), named ``name``."""
    [spec] = [s for s in process_specs(settings) if s.name == "app"]
    return replace(spec, name=name, env={**spec.env, **(extra_env or {})})


def start_spec(spec: ProcessSpec, log_dir: Path) -> subprocess.Popen[bytes]:
    return start(spec, log_dir)


def kill(proc: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGKILL) -> None:
    """Send ``sig`` to the process (and its children: each runs in its own session)."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)


def log_text(log_dir: Path, name: str) -> str:
    path = log_dir / f"{name}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def without_abuse_limits(stack: Stack) -> Stack:
    """Load tests send far more than one person would from one address: lift the per-minute limits."""
    web = stack.settings.web.model_copy(
        update={"sender_per_minute": 1_000_000, "client_per_minute": 1_000_000}
    )
    stack.settings = stack.settings.model_copy(update={"web": web})
    return stack
