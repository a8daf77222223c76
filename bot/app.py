"""Run the app process: web chat + NLG (uvicorn), Telegram (when a token is set), the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import uvicorn
from fastapi import FastAPI

from bot.appointments_out import make_reminder_sender, notify_waitlist
from bot.rasa_client import RasaUnavailable
from bot.services import Services, build_services
from bot.settings import Settings
from bot.web.app import create_web_app
from scheduler.reminders import install_reminder_job, reminder_config_from
from scheduler.setup import add_interval_job, build_scheduler
from storage import conversations
from storage.db import session_scope, utcnow

logger = logging.getLogger(__name__)


async def watch_rasa(services: Services, interval: float = 2.0) -> None:
    """Keep ``/readyz`` true: ready only while Rasa has its model loaded and answered a warm-up parse."""
    state = services.state
    while True:
        loaded = await services.rasa.model_loaded()
        if loaded and not state.rasa_ready:
            try:
                await services.rasa.parse("hallo")  # the first parse is slow (graph warm-up)
            except RasaUnavailable:
                loaded = False
        if loaded != state.rasa_ready:
            logger.info("Rasa is %s", "ready" if loaded else "not available")
        state.rasa_ready = loaded
        await asyncio.sleep(interval)


def purge_expired(services: Services) -> int:
    """The retention job: old messages, old update ids and old translation memory go."""
    from translations.memory import purge_memory

    keep = timedelta(days=services.settings.retention_days)
    with session_scope(services.engine) as s:
        n = conversations.purge_transcripts(session=s, older_than=keep)
        n += conversations.purge_seen_updates(session=s, older_than=timedelta(days=2))
        n += purge_memory(s, utcnow() - keep)
    if n:
        logger.info("retention: %s rows deleted", n)
    return n


def build_app(services: Services) -> FastAPI:
    settings = services.settings

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ready_task = asyncio.create_task(watch_rasa(services))
        scheduler = build_scheduler()
        add_interval_job(
            scheduler,
            "retry-pending",
            services.conversation.retry_pending,
            settings.retry_interval_seconds,
        )
        # Reminders: the rows are the truth; this job only wakes the dispatcher.
        install_reminder_job(
            scheduler,
            services.engine,
            make_reminder_sender(services),
            interval_seconds=settings.reminder_interval_seconds,
            config=reminder_config_from(settings),
        )
        add_interval_job(
            scheduler, "retention", lambda: asyncio.to_thread(purge_expired, services), 6 * 3600
        )
        add_interval_job(scheduler, "waitlist", lambda: notify_waitlist(services), 300)
        if settings.telegram_bot_token is not None:
            from bot.telegram import deliver_outbox

            # Case managers' replies wait in the outbox; the web chat fetches its own.
            add_interval_job(scheduler, "outbox", lambda: deliver_outbox(services), 3)
        scheduler.start()
        telegram = None
        if settings.telegram_bot_token is not None:
            from bot.telegram import build_telegram

            telegram = build_telegram(services)
            await telegram.initialize()
            await telegram.start()
            assert telegram.updater is not None
            await telegram.updater.start_polling(
                allowed_updates=["message", "edited_message", "callback_query"]
            )
            logger.info("Telegram: long polling as @%s", telegram.bot.username)
        else:
            logger.info("Telegram: no TELEGRAM_BOT_TOKEN set, web chat only")
        logger.info("Chat in your browser: http://%s:%s/", settings.web_host, settings.web_port)
        try:
            yield
        finally:
            ready_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ready_task
            scheduler.shutdown(wait=False)
            if telegram is not None:
                assert telegram.updater is not None
                await telegram.updater.stop()
                await telegram.stop()
                await telegram.shutdown()
            await services.close()

    return create_web_app(services, lifespan)


def serve(settings: Settings) -> None:
    services = build_services(settings)
    app = build_app(services)
    uvicorn.run(
        app,
        host=settings.web_host,
        port=settings.web_port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
