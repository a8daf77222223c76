"""Helpers of the reliability tests: a second app process in webhook mode, people, counts, windows.

``WebhookApp`` is the product's app process (``python -m cli serve``, started through
``bot.supervisor.process_specs`` like every other) in Telegram webhook mode, sharing the session
stack's database, Rasa, action server and fake Telegram: the tests post updates to it as Telegram
does. Everything observed is observed from outside: HTTP answers, rows in the database, events in
Rasa's tracker, calls at the fake Bot API server and the app's own log file.
"""

from __future__ import annotations

import bisect
import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from bot.channels.telegram_webhook import SECRET_HEADER
from bot.supervisor import process_specs, start, stop
from storage import people
from storage.db import session_scope
from tests.support.fake_telegram import free_port
from tests.support.stack import MODEL, Stack


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most events in any half-open window of ``window`` seconds."""
    ordered = sorted(times)
    return max((bisect.bisect_left(ordered, t + window) - i for i, t in enumerate(ordered)), default=0)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))
    return ordered[rank]


def wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def consented(engine: Engine, chat: int, language: str = "de", channel: str = "telegram") -> str:
    """A person who agreed and chose a language (as after the consent buttons); their pseudonym."""
    with session_scope(engine) as s:
        person = people.record_consent(
            session=s,
            channel=channel,
            external_id=str(chat),
            given=True,
            version="2026-11",
            language=language,
        )
        return person.id


def count(engine: Engine, model: type[SQLModel], *where: Any) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(model).where(*where)).one())


def user_turns(stack: Stack, person_id: str) -> list[str]:
    """The texts of the user events in Rasa's tracker for this person, in order."""
    with stack.rasa_client() as rasa:
        resp = rasa.get(f"/conversations/{person_id}/tracker")
        resp.raise_for_status()
        events = resp.json().get("events") or []
    return [str(e.get("text") or "") for e in events if e.get("event") == "user"]


def telegram_update(update_id: int, chat: int, text: str, language: str = "de") -> dict[str, Any]:
    """A private-chat text message as Telegram posts it to a webhook."""
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": int(time.time()),
        "chat": {"id": chat, "type": "private", "first_name": "Test"},
        "from": {"id": chat, "is_bot": False, "first_name": "Test", "language_code": language},
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": message}


@contextmanager
def rasa_frozen(stack: Stack) -> Iterator[None]:
    """Rasa stops answering (SIGSTOP: connections are accepted, nothing comes back) until the end."""
    pgid = os.getpgid(stack.procs["rasa"].pid)
    os.killpg(pgid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(pgid, signal.SIGCONT)


@dataclass
class WebhookApp:
    """The app in webhook mode next to the session stack (same database, Rasa and fake Telegram)."""

    stack: Stack
    secret: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/telegram/webhook"

    @property
    def headers(self) -> dict[str, str]:
        return {SECRET_HEADER: self.secret, "Content-Type": "application/json"}

    def post(self, client: httpx.Client, update: dict[str, Any]) -> httpx.Response:
        return client.post(self.url, content=json.dumps(update), headers=self.headers)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def webhook_app(stack: Stack, workdir: Path, *, log_level: str = "INFO") -> Iterator[WebhookApp]:
    secret = secrets.token_urlsafe(32)
    port = free_port()
    telegram = stack.settings.telegram.model_copy(
        update={"mode": "webhook", "webhook_secret": SecretStr(secret), "webhook_url": None}
    )
    web = stack.settings.web.model_copy(update={"port": port, "internal_port": free_port()})
    settings = stack.settings.model_copy(
        update={"telegram": telegram, "web": web, "log_level": log_level}
    )
    [spec] = [s for s in process_specs(settings, MODEL) if s.name == "app"]
    spec = replace(spec, name="webhook-app", env={**spec.env, **stack.extra_env})
    logs = workdir / "logs"
    proc = start(spec, logs)
    app = WebhookApp(stack, secret, port, proc, logs / "webhook-app.log")
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError("webhook app exited early:\n" + app.log_text()[-3000:])
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("webhook app not ready:\n" + app.log_text()[-3000:])
            time.sleep(0.5)
        yield app
    finally:
        stop({"webhook-app": proc})
