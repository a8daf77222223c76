"""The real stack for end-to-end tests: Rasa (trained model), action server and app as processes."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from bot.supervisor import ProcessSpec, process_specs, start, stop, with_internal_token
from lotse.settings import (
    ROOT,
    ConversationSettings,
    RasaSettings,
    Settings,
    TelegramSettings,
    WebSettings,
)
from services.content.seeding import seed_everything
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from tests.support.fake_telegram import FakeTelegram, free_port

MODEL = ROOT / "var" / "models" / "lotse.tar.gz"


@dataclass
class Stack:
    settings: Settings
    telegram: FakeTelegram
    workdir: Path
    specs: dict[str, ProcessSpec] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    browsers: dict[str, httpx.Client] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. ARGOS_PACKAGES_DIR for the app

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.rasa.port}"

    @property
    def rasa_params(self) -> dict[str, str]:
        """Rasa's HTTP API takes the internal token (``rasa run --auth-token``)."""
        token = self.settings.rasa.internal_token
        return {"token": token.get_secret_value()} if token else {}

    def rasa_client(self, timeout: float = 30) -> httpx.Client:
        """A client for Rasa's HTTP API with the token."""
        return httpx.Client(base_url=self.rasa_url, params=self.rasa_params, timeout=timeout)

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.settings.web.port}"

    def start(self, timeout: float = 300.0) -> Stack:
        if not MODEL.exists():
            raise RuntimeError(f"no trained Rasa model at {MODEL}: run 'make setup' first")
        self.telegram.start()
        for spec in process_specs(self.settings, MODEL):
            spec = replace(spec, env={**spec.env, **self.extra_env})
            self.specs[spec.name] = spec
            self.procs[spec.name] = start(spec, self.workdir / "logs")
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited early:\n{self.log_tail(name)}")
            try:
                if httpx.get(f"{self.web}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise RuntimeError(
            "stack not ready in time:\n" + "\n".join(self.log_tail(n) for n in self.procs)
        )

    def wait_rasa_loaded(self, timeout: float = 300.0) -> None:
        """Wait until the Rasa server itself reports a loaded model (after a restart)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status = httpx.get(f"{self.rasa_url}/status", params=self.rasa_params, timeout=2)
                if status.status_code == 200 and status.json().get("model_file"):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise RuntimeError("Rasa did not come back:\n" + self.log_tail("rasa"))

    def stop_process(self, name: str) -> None:
        stop({name: self.procs[name]})

    def restart_process(self, name: str) -> None:
        self.procs[name] = start(self.specs[name], self.workdir / "logs")

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.workdir / "logs" / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return f"--- {name} ---\n" + "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        for client in self.browsers.values():
            client.close()
        self.browsers.clear()
        stop(self.procs)
        self.telegram.stop()

    def browser(self, sender: str) -> httpx.Client:
        """The HTTP client of one web-chat browser: it keeps that browser's session cookie."""
        if sender not in self.browsers:
            self.browsers[sender] = httpx.Client(base_url=self.web, timeout=60)
        return self.browsers[sender]

    def chat(self, sender: str, **body: Any) -> list[dict[str, Any]]:
        """One request to the web chat API from the sender's browser; returns the messages."""
        resp = self.browser(sender).post("/api/chat", json={"sender": sender, **body})
        resp.raise_for_status()
        return list(resp.json()["messages"])

    def updates(self, sender: str) -> list[dict[str, Any]]:
        """The messages produced later, fetched as the sender's browser does."""
        resp = self.browser(sender).get("/api/chat/updates", timeout=10)
        resp.raise_for_status()
        return list(resp.json()["messages"])


def make_stack(
    workdir: Path,
    *,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    outbox_interval_seconds: float = 3.0,
    **sections: Any,
) -> Stack:
    """A stack on a fresh seeded database (SQLite in ``workdir`` unless ``database_url``); ``sections``
    override settings sections (e.g. ``console=ConsoleSettings(poll_seconds=1)``)."""
    database_url = database_url or f"sqlite:///{workdir / 'lotse.db'}"
    upgrade(database_url)
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        seed_everything(session)
    engine.dispose()
    telegram = FakeTelegram()
    settings = Settings(
        database_url=database_url,
        telegram=TelegramSettings(
            bot_token=telegram.token,
            base_url=telegram.base_url,
            base_file_url=telegram.base_file_url,
            outbox_interval_seconds=outbox_interval_seconds,
        ),
        web=WebSettings(port=free_port(), internal_port=free_port()),
        rasa=RasaSettings(
            port=free_port(),
            action_port=free_port(),
            url="http://127.0.0.1:0",  # replaced by process_specs
            tracker_db=workdir / "rasa-tracker.db",
        ),
        conversation=ConversationSettings(retry_interval_seconds=1.0),
        **sections,
    )
    settings = with_internal_token(settings)
    return Stack(settings=settings, telegram=telegram, workdir=workdir, extra_env=extra_env or {})
