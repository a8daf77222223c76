"""Telegram channel: thin python-telegram-bot handlers around the conversation pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.conversation import Inbound
from bot.responses import OutMessage
from bot.services import Services
from storage.models import Person
from translations.languages import MASTER, normalise_code

logger = logging.getLogger(__name__)
TELEGRAM_TEXT_MAX = 4096
CALLBACK_DATA_MAX = 64


def keyboard(out: OutMessage) -> InlineKeyboardMarkup | None:
    """Inline buttons: two per row when titles are short, else one per row."""
    buttons = [b for b in out.buttons if len(b.payload.encode()) <= CALLBACK_DATA_MAX]
    if not buttons:
        return None
    per_row = 2 if all(len(b.title) <= 22 for b in buttons) else 1
    rows = [
        [InlineKeyboardButton(b.title, callback_data=b.payload) for b in buttons[i : i + per_row]]
        for i in range(0, len(buttons), per_row)
    ]
    return InlineKeyboardMarkup(rows)


def chunks(text: str, size: int = TELEGRAM_TEXT_MAX) -> list[str]:
    if len(text) <= size:
        return [text]
    parts, rest = [], text
    while len(rest) > size:
        cut = rest.rfind("\n", 0, size)
        cut = cut if cut > size // 2 else size
        parts.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    return [*parts, rest] if rest else parts


async def send(app_bot: Bot, chat_id: int, messages: list[OutMessage]) -> None:
    """Send in order; the rate limiter spaces them within Telegram's limits."""
    for out in messages:
        pieces = chunks(out.text or " ")
        for i, piece in enumerate(pieces):
            markup = keyboard(out) if i == len(pieces) - 1 else None
            await app_bot.send_message(chat_id=chat_id, text=piece, reply_markup=markup)


async def deliver_outbox(services: Services) -> int:
    """Send what waits in the outbox for Telegram (a case manager's reply); returns how many were sent.

    A message that Telegram refuses for good (the person blocked the bot) is marked with the reason and
    not tried again; a network error leaves it for the next run.
    """
    from telegram.error import NetworkError, RetryAfter, TimedOut

    from storage import conversations, people
    from storage.db import session_scope

    bot = services.telegram_bot
    if bot is None:
        return 0

    def load() -> list[tuple[int, str, str | None]]:
        with session_scope(services.engine) as s:
            rows = conversations.undelivered_staff_replies(session=s, channel="telegram")
            out = []
            for row in rows:
                person = people.get_person(session=s, person_id=row.person_id)
                assert row.id is not None
                out.append((row.id, row.text, person.external_id if person else None))
            return out

    def mark(message_id: int, failure: str | None = None) -> None:
        with session_scope(services.engine) as s:
            conversations.mark_delivered(session=s, message_id=message_id, failure=failure)

    sent = 0
    for message_id, text, chat in await asyncio.to_thread(load):
        if chat is None:
            await asyncio.to_thread(mark, message_id, "person erased")
            continue
        try:
            await send(bot, int(chat), [OutMessage(text, [], {})])
        except TimedOut:
            # It may have arrived: never send it twice. Marked, so the case manager can check.
            logger.warning("outbox message %s timed out; not sent again", message_id)
            await asyncio.to_thread(mark, message_id, "timed out: may not have arrived")
            continue
        except BadRequest as exc:  # e.g. chat not found: permanent (BadRequest is a NetworkError)
            logger.warning("outbox message %s refused: %s", message_id, exc)
            await asyncio.to_thread(mark, message_id, str(exc))
            continue
        except (RetryAfter, NetworkError):
            break  # the request did not get through: try again on the next run, in order
        except TelegramError as exc:  # e.g. Forbidden: the person blocked the bot
            logger.warning("outbox message %s not delivered: %s", message_id, exc)
            await asyncio.to_thread(mark, message_id, str(exc))
            continue
        await asyncio.to_thread(mark, message_id)
        sent += 1
    return sent


def build_telegram(services: Services) -> Application:
    settings = services.settings
    assert settings.telegram_bot_token is not None
    application = (
        Application.builder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_file_url)
        # 30 msg/s overall; a RetryAfter (429) pauses sending and is retried once, other errors
        # (e.g. a timeout after the request may have arrived) are not retried blindly.
        .rate_limiter(AIORateLimiter(max_retries=1))
        .concurrent_updates(8)  # different chats in parallel; one chat stays in order (lock)
        .build()
    )
    conversation = services.conversation

    async def send_with_files(bot: Bot, chat_id: int, out: list[OutMessage]) -> None:
        """Send the messages; a booked or moved appointment also gets its .ics calendar file."""
        await send(bot, chat_id, out)
        for m in out:
            if m.meta.get("ics") and m.meta.get("response") in ("booking_done", "appointment_moved"):
                from bot.appointments_out import ics_for

                person = await asyncio.to_thread(conversation._find, "telegram", str(chat_id))
                if person is None:
                    continue
                body = await asyncio.to_thread(
                    ics_for, services, str(m.meta["reference"]), person.id, person.language or MASTER
                )
                if body:
                    await bot.send_document(
                        chat_id, document=InputFile(body, filename=f"Termin-{m.meta['reference']}.ics")
                    )

    async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
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
        )
        await send_with_files(context.bot, chat.id, await conversation.handle(inb))

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button press. A double click is processed once; the keyboard is removed after use."""
        query, chat = update.callback_query, update.effective_chat
        if query is None or chat is None:
            return
        await query.answer()
        message_id = query.message.message_id if query.message else 0
        inb = Inbound(
            channel="telegram",
            external_id=str(chat.id),
            payload=query.data or "",
            update_key=f"tgcb:{chat.id}:{message_id}:{query.data}",
            hint_language=query.from_user.language_code if query.from_user else None,
        )
        out = await conversation.handle(inb)
        if query.message is not None:
            # Already removed (double click) or too old to edit: nothing to do.
            with contextlib.suppress(BadRequest):
                await query.edit_message_reply_markup(reply_markup=None)
        await send_with_files(context.bot, chat.id, out)

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Log first, so the error is seen even if telling the person fails too.
        logger.error("error while handling an update", exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            user = update.effective_user
            lang = normalise_code(user.language_code if user else None) or MASTER
            try:
                await context.bot.send_message(
                    update.effective_chat.id, services.renderer.text("error_generic", lang)
                )
            except TelegramError:
                logger.warning("could not send the error message")

    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(MessageHandler(filters.UpdateType.MESSAGES, on_message))
    application.add_error_handler(on_error)

    async def deliver(person: Person, out: list[OutMessage]) -> bool:
        try:
            await send(application.bot, int(person.external_id), out)
        except TelegramError as exc:
            logger.warning("could not deliver to %s: %s", person.id[:8], exc)
            return False
        return True

    conversation.deliverers["telegram"] = deliver
    services.telegram_bot = application.bot
    return application
