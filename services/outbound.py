"""What can happen to a message on its way to a person: the outcomes of the one send path.

Every channel sender (``bot.channels.telegram_sender``) maps its transport's errors to these, once;
the outbox and the reminder dispatcher decide from them what to do next:

* ``RateLimited`` — the service answered 429: nothing was sent; wait ``retry_after`` seconds;
* ``SendTimeout`` — the request may or may not have arrived: never resend blindly (``unknown``);
* ``SendFailed(retryable=True)`` — the request did not get through (a network error): try again later;
* ``SendFailed(retryable=False)`` — refused for good (chat not found, the person blocked the bot).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta


class SendFailed(Exception):
    """The message was refused (e.g. the person blocked the bot); ``retryable`` for transient errors."""

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class RateLimited(Exception):
    """The service answered 429: nothing was sent; wait ``retry_after`` seconds before any send.

    Accepts seconds or a ``timedelta`` (what PTB's ``RetryAfter.retry_after`` gives).
    """

    def __init__(self, retry_after: float | timedelta) -> None:
        seconds = (
            retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)
        )
        super().__init__(f"retry after {seconds} s")
        self.retry_after = seconds


class SendTimeout(Exception):
    """The send timed out: it may or may not have been delivered, so it is never retried blindly."""


class SendAborted(Exception):
    """The caller withdrew the send just before its request (e.g. the reminder was cancelled)."""


# --- "the request leaves now" ------------------------------------------------------------------------
# A caller that must record that a send began (the reminder dispatcher: a row is ``sending`` only
# while a request may really be on its way, so a crash before it leaves is safe to retry) installs a
# callback with ``announcing``; the send path calls ``request_starting()`` after every wait (pacing,
# flood control) and right before the request. The callback may raise ``SendAborted``.

StartCallback = Callable[[], Awaitable[None]]
_starting: ContextVar[StartCallback | None] = ContextVar("lotse_request_starting", default=None)


@contextmanager
def announcing(callback: StartCallback) -> Iterator[None]:
    """Run ``callback`` when a send inside this block is about to leave the process."""
    token = _starting.set(callback)
    try:
        yield
    finally:
        _starting.reset(token)


async def request_starting() -> None:
    """Called by a send path right before its request leaves the process (after any waiting)."""
    callback = _starting.get()
    if callback is not None:
        await callback()
