"""The app process: web chat and API (uvicorn), Telegram (when a token is set), the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from bot.channels import telegram_webhook, web
from bot.channels.rasa_client import RasaUnavailable
from bot.channels.telegram import ALLOWED_UPDATES, build_application
from bot.channels.telegram_webhook import requeue_waiting
from console.app import install_console, invalid_console_request
from lotse import runtime as composition
from lotse.runtime import Runtime
from lotse.settings import ROOT, Settings
from scheduler.jobs import install_jobs
from scheduler.leader import Leadership
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
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.telegram = None
        if not background:
            yield
            return
        ready_task = asyncio.create_task(watch_rasa(runtime))
        leader_task = asyncio.create_task(run_scheduler_when_leader(runtime))
        telegram = None
        if runtime.telegram_bot is not None:
            telegram = build_application(runtime)
            await telegram.initialize()
            await telegram.start()
            app.state.telegram = telegram
            if settings.telegram.mode == "webhook":
                await requeue_waiting(runtime, telegram)
                if settings.telegram.webhook_url:
                    secret = settings.telegram.webhook_secret
                    await telegram.bot.set_webhook(
                        settings.telegram.webhook_url,
                        secret_token=secret.get_secret_value() if secret else None,
                        allowed_updates=ALLOWED_UPDATES,
                    )
                logger.info("Telegram: webhook as @%s", telegram.bot.username)
            else:
                assert telegram.updater is not None
                await telegram.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
                logger.info("Telegram: long polling as @%s", telegram.bot.username)
        else:
            logger.info("Telegram: no TELEGRAM_BOT_TOKEN set, web chat only")
        logger.info("Chat in your browser: http://%s:%s/", settings.web.host, settings.web.port)
        try:
            yield
        finally:
            for task in (ready_task, leader_task):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if telegram is not None:
                if telegram.updater is not None and telegram.updater.running:
                    await telegram.updater.stop()
                await telegram.stop()
                await telegram.shutdown()
            await runtime.close()

    app = FastAPI(title="KIM Lotse", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runtime = runtime
    app.add_exception_handler(RequestValidationError, invalid_request)
    web.install_web_state(app, runtime, web_secret(settings))
    app.include_router(web.router)
    app.include_router(telegram_webhook.router)
    install_console(app)
    return app


async def run_scheduler_when_leader(runtime: Runtime, retry: float = 15.0) -> None:
    """Run the jobs only while this process holds the scheduler lock; stand by otherwise."""
    leadership = Leadership(runtime.engine)
    scheduler = None
    try:
        while True:
            held = await asyncio.to_thread(leadership.try_acquire)
            if held and scheduler is None:
                scheduler = build_scheduler()
                install_jobs(scheduler, runtime)
                scheduler.start()
                logger.info("scheduler: this process runs the jobs")
            elif not held and scheduler is not None:
                scheduler.shutdown(wait=False)
                scheduler = None
                logger.warning("scheduler: leadership lost, standing by")
            runtime.state.scheduler = "leader" if held else "standby"
            await asyncio.sleep(retry)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        await asyncio.to_thread(leadership.release)
        runtime.state.scheduler = "off"


def web_secret(settings: Settings) -> str:
    """The web chat's signing secret: configured, or one kept in var/ (the embedded default)."""
    if settings.web.secret is not None:
        return settings.web.secret.get_secret_value()
    path = ROOT / "var" / "web-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


async def invalid_request(request: Request, exc: Exception) -> Response:
    """422 with what is wrong, never echoing the input (a lone surrogate cannot even be encoded)."""
    if request.url.path.startswith("/console/"):
        return invalid_console_request(request)
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [
        {
            "loc": [str(part) for part in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": e.get("type"),
        }
        for e in errors
    ]
    return JSONResponse({"detail": detail or "invalid request"}, status_code=422)


def create_internal_app(runtime: Runtime) -> FastAPI:
    """The internal listener: Rasa's NLG endpoint, behind the shared token, never on the public port."""
    app = FastAPI(title="KIM Lotse internal", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runtime = runtime
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.include_router(web.nlg_router)
    return app


class _InnerServer(uvicorn.Server):
    """The internal listener: stopped by the public server, never by signals of its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_both(runtime: Runtime) -> None:
    """The public app and the internal NLG listener in one process, stopped together."""
    settings = runtime.settings
    level = settings.log_level.lower()
    public = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime),
            host=settings.web.host,
            port=settings.web.port,
            log_level=level,
            access_log=False,
        )
    )
    internal = _InnerServer(
        uvicorn.Config(
            create_internal_app(runtime),
            host=settings.web.internal_host,
            port=settings.web.internal_port,
            log_level=level,
            access_log=False,
            lifespan="off",
        )
    )
    internal_task = asyncio.create_task(internal.serve())
    try:
        await public.serve()
    finally:
        internal.should_exit = True
        await internal_task


def serve(settings: Settings) -> None:
    """Build the runtime and serve the app until stopped (never without the internal token)."""
    if settings.rasa.internal_token is None:
        raise SystemExit(
            "LOTSE_RASA_INTERNAL_TOKEN is not set: the NLG endpoint must not run unprotected"
        )
    runtime = composition.build(settings, preload_models=True)
    asyncio.run(serve_both(runtime))
