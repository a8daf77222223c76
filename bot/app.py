"""The app process: web chat and API (uvicorn), Telegram (when a token is set), the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from bot.channels import web
from bot.channels.rasa_client import RasaUnavailable
from bot.channels.telegram import ALLOWED_UPDATES, build_application
from lotse import runtime as composition
from lotse.runtime import Runtime
from lotse.settings import Settings
from scheduler.jobs import install_jobs
from scheduler.setup import build_scheduler

logger = logging.getLogger(__name__)


async def watch_rasa(runtime: Runtime, interval: float = 2.0) -> None:
    """Keep ``/readyz`` true: ready only while Rasa has its model loaded and answered a warm-up parse."""
    state = runtime.state
    while True:
        loaded = await runtime.rasa.model_loaded()
        if loaded and not state.rasa_ready:
            try:
                await runtime.rasa.parse("hallo")  # the first parse is slow (graph warm-up)
            except RasaUnavailable:
                loaded = False
        if loaded != state.rasa_ready:
            logger.info("Rasa is %s", "ready" if loaded else "not available")
        state.rasa_ready = loaded
        await asyncio.sleep(interval)


def create_app(runtime: Runtime, *, background: bool = True) -> FastAPI:
    """The FastAPI app around a runtime; ``background`` starts the scheduler, Telegram and readiness."""
    settings = runtime.settings

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not background:
            yield
            return
        ready_task = asyncio.create_task(watch_rasa(runtime))
        scheduler = build_scheduler()
        install_jobs(scheduler, runtime)
        scheduler.start()
        telegram = None
        if runtime.telegram_bot is not None:
            telegram = build_application(runtime)
            await telegram.initialize()
            await telegram.start()
            assert telegram.updater is not None
            await telegram.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
            logger.info("Telegram: long polling as @%s", telegram.bot.username)
        else:
            logger.info("Telegram: no TELEGRAM_BOT_TOKEN set, web chat only")
        logger.info("Chat in your browser: http://%s:%s/", settings.web.host, settings.web.port)
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
            await runtime.close()

    app = FastAPI(title="KIM Lotse", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runtime = runtime
    app.include_router(web.router)
    app.include_router(web.nlg_router)
    return app


def serve(settings: Settings) -> None:
    """Build the runtime and serve the app until stopped."""
    runtime = composition.build(settings, preload_models=True)
    uvicorn.run(
        create_app(runtime),
        host=settings.web.host,
        port=settings.web.port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
