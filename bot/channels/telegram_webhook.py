"""Telegram's webhook: the secret header checked in constant time, the update stored, 200 at once.

Telegram resends an update it got no 2xx for, and gives up after 24 h; it never resends one that was
answered. So the update is stored (``storage.telegram_updates``) before the 200, then handed to the
PTB application's queue; once handled its content is forgotten and its id stays seen for two days
(``forget_handled``). A process that dies in between hands the stored updates to the next start
(``requeue_waiting``). Repeats of an update id, while it waits or after it was handled, are answered
200 and not queued again (the handlers never run twice); the message pipeline deduplicates too.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from telegram import Update
from telegram.ext import Application, ContextTypes

from bot.channels.web import RuntimeDep
from lotse.runtime import Runtime
from storage import telegram_updates
from storage.db import session_scope

logger = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1_000_000  # an update is a few kB; Telegram's own limit is far below this

router = APIRouter()


def _keep(runtime: Runtime, update_id: int, payload: dict[str, Any]) -> bool:
    with session_scope(runtime.engine) as s:
        return telegram_updates.keep(session=s, update_id=update_id, payload=payload)


@router.post("/telegram/webhook", include_in_schema=False)
async def webhook(request: Request, runtime: RuntimeDep) -> Response:
    """One update from Telegram (webhook mode only)."""
    secret = runtime.settings.telegram.webhook_secret
    given = request.headers.get(SECRET_HEADER, "")
    if (
        runtime.settings.telegram.mode != "webhook"
        or secret is None
        or not hmac.compare_digest(given.encode(), secret.get_secret_value().encode())
    ):
        return JSONResponse({"ok": False}, status_code=403)  # the header is never logged
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"ok": False, "error": "too large"}, status_code=413)
    try:
        payload = json.loads(body)
        update_id = int(payload["update_id"])
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"ok": False, "error": "not an update"}, status_code=400)
    application: Application[Any, Any, Any, Any, Any, Any] | None = request.app.state.telegram
    if application is None:
        return JSONResponse({"ok": False, "error": "not ready"}, status_code=503)
    if await asyncio.to_thread(_keep, runtime, update_id, payload):
        await application.update_queue.put(Update.de_json(payload, application.bot))
    else:
        logger.info("webhook: update %d delivered again: answered, not queued", update_id)
    return JSONResponse({"ok": True})


async def forget_handled(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The last handler of every update: a handled webhook update is no longer kept."""
    if not isinstance(update, Update):
        return
    runtime: Runtime = context.application.bot_data["runtime"]
    if runtime.settings.telegram.mode != "webhook":
        return

    def forget() -> None:
        with session_scope(runtime.engine) as s:
            telegram_updates.forget(session=s, update_id=update.update_id)

    await asyncio.to_thread(forget)


async def requeue_waiting(
    runtime: Runtime, application: Application[Any, Any, Any, Any, Any, Any]
) -> int:
    """Updates a previous process stored but did not handle go into the queue again."""

    def waiting() -> list[dict[str, Any]]:
        with session_scope(runtime.engine) as s:
            return telegram_updates.waiting(session=s)

    pending = await asyncio.to_thread(waiting)
    for payload in pending:
        await application.update_queue.put(Update.de_json(payload, application.bot))
    if pending:
        logger.info("webhook: %d stored updates handed to the queue again", len(pending))
    return len(pending)
