"""What can happen to a message on its way to a person: the outcomes of the one send path.

Every channel sender (``bot.channels.telegram_sender``) maps its transport's errors to these, once;
the outbox and the reminder dispatcher decide from them what to do next:

* ``RateLimited`` — the service answered 429: nothing was sent; wait ``retry_after`` seconds;
* ``SendTimeout`` — the request may or may not have arrived: never resend blindly (``unknown``);
* ``SendFailed(retryable=True)`` — the request did not get through (a network error): try again later;
* ``SendFailed(retryable=False)`` — refused for good (chat not found, the person blocked the bot).
"""

from __future__ import annotations

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
