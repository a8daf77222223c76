"""A real app-side process for the crash tests: the reminder job, the dispatcher and the Telegram sender.

``python -m tests.reliability.reminder_worker MODE CONFIG_JSON`` builds the runtime the app builds
(``lotse.runtime.build``) against ``database_url`` and a Telegram Bot API at ``base_url`` (the fake),
logs as the command line does (stderr, which the test writes to a log file), and then:

* ``scheduler`` — runs APScheduler with every job of the app (``scheduler.jobs.install_jobs``), the
  reminder job every ``interval`` seconds, until it is killed;
* ``once`` — one ``dispatch_due`` run with the app's sender, then exits 0;
* ``crash`` — the same, but the process kills itself with SIGKILL right after the ``crash_after``-th
  ``sendMessage`` was answered by Telegram and before anything is committed about it.

CONFIG_JSON: ``database_url``, ``token``, ``base_url``, ``base_file_url`` and optionally ``interval``,
``crash_after``, ``stale_after`` (seconds), ``batch`` (rows per claim), ``per_second`` (the process's
overall Telegram rate) and ``start_at`` (a wall-clock time to wait for, so that several processes start
together).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from datetime import timedelta
from typing import Any

from pydantic import SecretStr

from cli.main import _setup_logging
from lotse.runtime import Runtime, build
from lotse.settings import ReminderSettings, Settings, TelegramSettings
from rendering.messages import OutMessage
from scheduler.jobs import install_jobs
from scheduler.setup import build_scheduler
from services.booking.reminders import dispatch_due
from services.outbox import ChannelSender

logger = logging.getLogger("reliability.worker")


class CrashAfter:
    """The real Telegram sender, killed (SIGKILL) after its n-th answered send: nothing is committed."""

    def __init__(self, real: ChannelSender, n: int) -> None:
        self.real = real
        self.left = n

    async def send(self, external_id: str, message: OutMessage) -> None:
        await self.real.send(external_id, message)
        self.left -= 1
        if self.left <= 0:
            os.kill(os.getpid(), signal.SIGKILL)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def runtime_for(config: dict[str, Any]) -> Runtime:
    settings = Settings(
        database_url=config["database_url"],
        telegram=TelegramSettings(
            bot_token=SecretStr(config["token"]),
            base_url=config["base_url"],
            base_file_url=config["base_file_url"],
            overall_per_second=int(config.get("per_second", 30)),
            outbox_interval_seconds=1.0,
        ),
        reminders=ReminderSettings(
            interval_seconds=float(config.get("interval", 1.0)), batch=int(config.get("batch", 100))
        ),
    )
    return build(settings)


async def once(config: dict[str, Any], crash_after: int | None) -> None:
    runtime = runtime_for(config)
    senders = dict(runtime.senders)
    if crash_after is not None:
        senders["telegram"] = CrashAfter(senders["telegram"], crash_after)  # type: ignore[assignment]
    kwargs = runtime.reminder_config.as_kwargs()
    if "stale_after" in config:
        kwargs["stale_after"] = timedelta(seconds=float(config["stale_after"]))
    report = await dispatch_due(runtime.engine, runtime.notices.reminder_sender(senders), **kwargs)
    logger.info("worker %s: %s sent, %s unknown", os.getpid(), report.sent, report.unknown)
    await runtime.close()


async def scheduler(config: dict[str, Any]) -> None:
    runtime = runtime_for(config)
    sched = build_scheduler()
    install_jobs(sched, runtime)
    sched.start()
    logger.info("worker %s: scheduler started", os.getpid())
    await asyncio.Event().wait()  # until killed


def main(mode: str, raw: str) -> None:
    config = json.loads(raw)
    _setup_logging("INFO")
    time.sleep(max(0.0, float(config.get("start_at", 0)) - time.time()))
    if mode == "scheduler":
        asyncio.run(scheduler(config))
    elif mode in ("once", "crash"):
        asyncio.run(once(config, int(config["crash_after"]) if mode == "crash" else None))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
