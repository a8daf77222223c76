"""Telegram channel: thin python-telegram-bot handlers around the conversation pipeline.

Each handler turns an update into an ``Inbound`` and hands it to the pipeline, which answers through the
outbox and the one Telegram sender (``bot.channels.telegram_sender``). The runtime reaches handlers
through a typed context (``BotContext.runtime``).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackContext,
    CallbackQueryHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.channels.telegram_webhook import forget_handled
from lotse.runtime import Runtime
from rendering.messages import OutMessage
from services.conversation.pipeline import Inbound
from storage.vocabulary import MASTER_LANGUAGE
from translations.languages import normalise_code

logger = logging.getLogger(__name__)
# Edited messages are not processed: the person already has the answer to what they first wrote (an
# edit answered again would be a second, confusing reply).
ALLOWED_UPDATES = ["message", "callback_query"]


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """Handlers' context with typed access to the runtime (set once when the application is built)."""

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.application.bot_data["runtime"]
        return runtime


async def on_message(update: Update, context: BotContext) -> None:
    """Any message: text, command, or something the bot cannot read."""
    msg, chat, user = update.effective_message, update.effective_chat, update.effective_user
    if msg is None or chat is None:
        return
    inb = Inbound(
        channel="telegram",
        external_id=str(chat.id),
        text=msg.text,
        unsupported=msg.text is None,
        update_key=f"tg:{update.update_id}",
        hint_language=user.language_code if user else None,
        private=chat.type == ChatType.PRIVATE,
    )
    await context.runtime.conversation.handle(inb)


async def on_button(update: Update, context: BotContext) -> None:
    """A button press. A double click is processed once; the keyboard is removed after use."""
    query, chat = update.callback_query, update.effective_chat
    if query is None or chat is None:
        return
    with contextlib.suppress(TelegramError):  # answering is a courtesy; the press counts either way
        await query.answer()
    message_id = query.message.message_id if query.message else 0
    inb = Inbound(
        channel="telegram",
        external_id=str(chat.id),
        payload=query.data or "",
        update_key=f"tgcb:{chat.id}:{message_id}:{query.data}",
        hint_language=query.from_user.language_code if query.from_user else None,
        private=chat.type == ChatType.PRIVATE,
    )
    await context.runtime.conversation.handle(inb)
    if query.message is not None:
        # Already removed (double click) or too old to edit: nothing to do.
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(reply_markup=None)


async def on_error(update: object, context: BotContext) -> None:
    """Log first (so the error is seen even if telling the person fails too), then apologise."""
    logger.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        user = update.effective_user
        lang = normalise_code(user.language_code if user else None) or MASTER_LANGUAGE
        runtime = context.runtime
        text = runtime.responses.renderer.text("error_generic", lang)
        await runtime.outbox.send_unstored(
            "telegram",
            str(update.effective_chat.id),
            [OutMessage(text, [], {"response": "error_generic"})],
        )


def build_application(runtime: Runtime) -> Application[Any, Any, Any, Any, Any, Any]:
    """The PTB application around the runtime's bot (its rate limiter is the one for every send)."""
    assert runtime.telegram_bot is not None
    application = (
        Application.builder()
        .bot(runtime.telegram_bot)
        .job_queue(None)  # the app's APScheduler runs every job; PTB's JobQueue is not used
        .context_types(ContextTypes(context=BotContext))
        # Different chats in parallel; one chat stays in order (the pipeline's lock).
        .concurrent_updates(8)
        .build()
    )
    application.bot_data["runtime"] = runtime
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(MessageHandler(filters.UpdateType.MESSAGE, on_message))
    application.add_handler(TypeHandler(Update, forget_handled), group=1)  # after every update
    application.add_error_handler(on_error)
    return application
