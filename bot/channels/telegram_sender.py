"""The one way a message reaches a Telegram chat: one rate limiter, one mapping of Telegram's errors.

* ``TelegramRateLimiter`` is PTB's rate-limiter hook (``telegram.ext.BaseRateLimiter``) holding the
  product's pacing (``services.pacing.RateLimiter``: about 30 messages/s per bot, about 1/s per chat
  with a small burst). Every request that sends to a chat goes through it; a 429 pauses every send for
  ``retry_after`` and is handed to the caller (``max_retries`` is 0: the outbox or the reminder
  dispatcher decide what to do, so nothing is ever retried blindly).
* ``TelegramSender`` sends an ``OutMessage`` (split at Telegram's 4,096 characters, buttons as an
  inline keyboard) and maps errors to the outcomes of ``services.outbound``: a refused chat
  (``BadRequest`` "chat not found", ``Forbidden`` "bot was blocked") is permanent; ``RetryAfter`` is
  ``RateLimited``; ``TimedOut`` is ``SendTimeout`` (it may have arrived); any other ``NetworkError``
  is retryable, but a 413 "Request Entity Too Large" (a file over 50 MB) is permanent. Once a part
  of a split message has arrived, anything but a refusal is ``SendTimeout`` (never resent). Note
  ``BadRequest`` and ``TimedOut`` are subclasses of ``NetworkError``: the order of the checks matters.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from rendering.messages import OutMessage
from rendering.payloads import CALLBACK_DATA_MAX_BYTES
from services.outbound import RateLimited, SendFailed, SendTimeout, request_starting
from services.outbox import Attachment
from services.pacing import RateLimiter

logger = logging.getLogger(__name__)

TELEGRAM_TEXT_MAX = 4096
# Telegram's answer (HTTP 413) to a file over 50 MB; PTB raises it as a plain NetworkError.
TOO_LARGE = "Request Entity Too Large"
# Requests that put something into a chat: these count against Telegram's flood limits.
SENDING_ENDPOINTS = frozenset(
    {
        "sendMessage",
        "sendDocument",
        "sendPhoto",
        "sendAudio",
        "sendVoice",
        "sendVideo",
        "sendSticker",
        "sendLocation",
        "sendContact",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
    }
)


class TelegramRateLimiter(BaseRateLimiter[None]):
    """PTB's rate-limiter hook over the product's pacing: every send to a chat waits its turn."""

    def __init__(self, pacing: RateLimiter | None = None) -> None:
        self.pacing = pacing or RateLimiter()

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Pace sends to chats; other requests (getUpdates, answerCallbackQuery …) pass at once."""
        chat = data.get("chat_id")
        if endpoint not in SENDING_ENDPOINTS or chat is None:
            return await callback(*args, **kwargs)
        try:
            async with self.pacing.sending(str(chat)):
                await request_starting()  # after the wait: the request leaves now
                return await callback(*args, **kwargs)
        except RetryAfter as exc:
            self.pacing.pause(retry_after_seconds(exc) + 0.1)
            raise


def retry_after_seconds(exc: RetryAfter) -> float:
    """``RetryAfter.retry_after`` in seconds (PTB gives an int or a ``timedelta``)."""
    with warnings.catch_warnings():
        # PTB 22 warns that the attribute becomes a timedelta in a future version: both are handled.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return float(value if isinstance(value, int | float) else value.total_seconds())


def keyboard(out: OutMessage) -> InlineKeyboardMarkup | None:
    """Inline buttons: up to five per row for numbers, two when titles are short, else one per row."""
    buttons = []
    for b in out.buttons:
        if not b.title.strip() or not b.payload:
            continue
        if len(b.payload.encode()) > CALLBACK_DATA_MAX_BYTES:
            # The payload grammar refuses such buttons when they are built (a unit test checks every
            # kind at its longest); anything else (a Rasa default) is logged, never sent broken.
            logger.error(
                "button %r dropped: callback data over %d bytes", b.title[:20], CALLBACK_DATA_MAX_BYTES
            )
            continue
        buttons.append(b)
    if not buttons:
        return None
    if all(len(b.title) <= 3 for b in buttons):
        per_row = 5
    elif all(len(b.title) <= 22 for b in buttons):
        per_row = 2
    else:
        per_row = 1
    rows = [
        [InlineKeyboardButton(b.title, callback_data=b.payload) for b in buttons[i : i + per_row]]
        for i in range(0, len(buttons), per_row)
    ]
    return InlineKeyboardMarkup(rows)


def chunks(text: str, size: int = TELEGRAM_TEXT_MAX) -> list[str]:
    """Split a long text at line breaks (else hard) into pieces Telegram accepts."""
    if len(text) <= size:
        return [text]
    parts, rest = [], text
    while len(rest) > size:
        cut = rest.rfind("\n", 0, size)
        cut = cut if cut > size // 2 else size
        parts.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    return [*parts, rest] if rest else parts


def outcome(exc: TelegramError) -> Exception:
    """The one mapping of Telegram's errors to what the callers do next."""
    if isinstance(exc, RetryAfter):
        return RateLimited(retry_after_seconds(exc))
    if isinstance(exc, TimedOut):
        return SendTimeout(str(exc))
    if isinstance(exc, BadRequest | Forbidden):
        return SendFailed(str(exc)[:200])  # chat not found, blocked, message refused: permanent
    if isinstance(exc, NetworkError) and str(exc).startswith(TOO_LARGE):
        return SendFailed(str(exc)[:200])  # a file over 50 MB (PTB has no class for 413): permanent
    if isinstance(exc, NetworkError):
        return SendFailed(str(exc)[:200], retryable=True)  # it did not get through: try again later
    return SendFailed(str(exc)[:200])


def telegram_chat_id(external_id: str) -> int:
    """A Telegram chat id is an integer; anything else can never be sent to (refused for good)."""
    try:
        return int(external_id)
    except ValueError:
        raise SendFailed(f"not a Telegram chat id: {external_id[:40]!r}") from None


class TelegramSender:
    """Sends messages and files to Telegram chats; raises the outcomes of ``services.outbound``."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    @property
    def announces_requests(self) -> bool:
        """Whether each request calls ``request_starting()`` right before it leaves: it does when it goes
        through ``TelegramRateLimiter`` (the runtime's bot), see ``services.outbound.announcing``."""
        return isinstance(getattr(self.bot, "rate_limiter", None), TelegramRateLimiter)

    async def _ready(self) -> None:
        # Idempotent: the app's Telegram application initialises the same bot; a command-line or
        # test process that only sends does it here, on first use.
        try:
            await self.bot.initialize()
        except TelegramError as exc:
            raise outcome(exc) from exc

    async def send(self, external_id: str, message: OutMessage) -> None:
        """Send one message; a text that renders empty is not sent (Telegram refuses it)."""
        chat_id = telegram_chat_id(external_id)
        await self._ready()
        text = message.text.strip()
        if not text:
            logger.warning("empty message (%s) not sent", message.meta.get("response"))
            return
        pieces = chunks(message.text)
        markup = keyboard(message)
        for i, piece in enumerate(pieces):
            try:
                await self.bot.send_message(
                    chat_id=chat_id,
                    text=piece,
                    reply_markup=markup if i == len(pieces) - 1 else None,
                )
            except TelegramError as exc:
                result = outcome(exc)
                if i and not (isinstance(result, SendFailed) and not result.retryable):
                    # Part of it arrived: sending again (after a 429 or a network error too) would
                    # repeat that part. Only a refusal for good stays what it is.
                    raise SendTimeout(f"sent {i} of {len(pieces)} parts, then: {exc}") from exc
                raise result from exc

    async def send_file(self, external_id: str, attachment: Attachment) -> None:
        """Send one file (e.g. an appointment's ``.ics``)."""
        chat_id = telegram_chat_id(external_id)
        await self._ready()
        try:
            await self.bot.send_document(
                chat_id, document=InputFile(attachment.content, filename=attachment.filename)
            )
        except TelegramError as exc:
            raise outcome(exc) from exc
