"""The one outbound path: every message to a person is an outbox row, sent by one sender per channel.

* Replies to a request are recorded as they are returned: the web chat shows them at once (``sent``),
  Telegram rows are ``queued`` and delivered right away by ``deliver(person_id=…)``.
* Messages produced later (answers to kept messages, case managers' replies, notices) are ``enqueue``d:
  the outbox job pushes them to Telegram, the web chat fetches them (``take``).
* Messages before consent are not stored (nothing is, but the decision): ``send_unstored`` sends them
  through the same sender, rate limiter and error mapping.

Delivery claims a person's rows in order (``storage.outbox.claim``), marks each ``sending`` before the
request and settles it from the sender's outcome (``services.outbound``): sent; ``unknown`` after a
timeout (never resent blindly); queued again after a 429 or a network error; ``failed`` when refused.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session

from rendering.messages import OutMessage
from services.outbound import RateLimited, SendFailed, SendTimeout
from storage import outbox as rows
from storage.db import utcnow
from storage.models import OutboundMessage, OutboxStatus, Person

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# Channels whose messages are fetched by the channel itself (``take``), never pushed: the web chat.
PULL_CHANNELS = frozenset({"web"})
STALE_AFTER = timedelta(minutes=10)
MAX_FOLLOW_UPS = 20  # further claims of one delivery for one person (rows queued meanwhile)


@dataclass(frozen=True)
class Attachment:
    """A file sent after a message (an appointment's ``.ics``)."""

    filename: str
    content: bytes


class ChannelSender(Protocol):
    """Delivers to one channel; raises ``RateLimited``, ``SendTimeout`` or ``SendFailed``."""

    async def send(self, external_id: str, message: OutMessage) -> None:
        """Send one message (with its buttons)."""
        ...

    async def send_file(self, external_id: str, attachment: Attachment) -> None:
        """Send one file."""
        ...


Attachments = Callable[[str, OutMessage], list[Attachment]]


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    requeued: int = 0
    reaped: int = 0
    reasons: list[str] = field(default_factory=list)


def default_worker_id() -> str:
    """``host:pid``, recorded on claimed rows so staff can see which process sent what."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def _row_message(row: OutboundMessage) -> OutMessage:
    return OutMessage.from_dict({"text": row.text, "buttons": row.buttons, "meta": row.meta})


class Outbox:
    """Records and delivers every message to a person."""

    def __init__(
        self,
        engine: Engine,
        senders: Mapping[str, ChannelSender],
        *,
        attachments: Attachments | None = None,
        worker_id: str | None = None,
        concurrency: int = 8,
    ) -> None:
        self.engine = engine
        self.senders = dict(senders)
        self.attachments = attachments
        self.worker = worker_id or default_worker_id()
        self.concurrency = concurrency

    @property
    def push_channels(self) -> list[str]:
        """Channels the outbox delivers to itself (the others fetch their messages)."""
        return sorted(self.senders)

    # --- recording (inside the caller's unit of work) ---------------------------------------------

    def _add(
        self,
        session: Session,
        person: Person,
        messages: Sequence[OutMessage],
        status: str,
        in_reply_to: int | None = None,
    ) -> list[int]:
        ids = []
        for m in messages:
            row = rows.add(
                session=session,
                person_id=person.id,
                channel=person.channel,
                text=m.text,
                buttons=[b.to_dict() for b in m.buttons],
                meta=m.meta,
                status=status,
                in_reply_to=in_reply_to,
            )
            assert row.id is not None
            ids.append(row.id)
        return ids

    def record_replies(
        self,
        *,
        session: Session,
        person: Person,
        messages: Sequence[OutMessage],
        in_reply_to: int | None = None,
    ) -> list[int]:
        """Replies the channel returns to a request: shown at once (pull) or delivered next (push)."""
        if session.get(Person, person.id) is None:
            return []  # erased in this very request: nothing of theirs is kept
        status = OutboxStatus.QUEUED if person.channel in self.senders else OutboxStatus.SENT
        return self._add(session, person, messages, status, in_reply_to)

    def record_sent(
        self, *, session: Session, person: Person, messages: Sequence[OutMessage]
    ) -> list[int]:
        """Messages a sender has just delivered itself (reminders): kept for the transcript."""
        return self._add(session, person, messages, OutboxStatus.SENT)

    def enqueue(
        self,
        *,
        session: Session,
        person: Person,
        messages: Sequence[OutMessage],
        in_reply_to: int | None = None,
    ) -> list[int]:
        """Messages produced outside a request: pushed by ``deliver`` or fetched with ``take``."""
        return self._add(session, person, messages, OutboxStatus.QUEUED, in_reply_to)

    def take(self, *, session: Session, person_id: str) -> list[OutMessage]:
        """A pull channel's queued messages, oldest first; each is returned once."""
        return [_row_message(r) for r in rows.take_queued(session=session, person_id=person_id)]

    # --- delivery ---------------------------------------------------------------------------------

    async def send_unstored(
        self, channel: str, external_id: str, messages: Sequence[OutMessage]
    ) -> bool:
        """Send messages that must not be stored (before consent); False when they did not arrive."""
        sender = self.senders.get(channel)
        if sender is None:
            return False
        try:
            for m in messages:
                await sender.send(external_id, m)
        except (RateLimited, SendTimeout, SendFailed) as exc:
            logger.warning(
                "unstored message to a %s chat not delivered: %s", channel, type(exc).__name__
            )
            return False
        return True

    async def deliver(self, *, person_id: str | None = None) -> DeliveryReport:
        """Push the queued messages of ``person_id`` (default: everyone's), in order per person."""
        report = DeliveryReport()
        now = utcnow()
        if person_id is None:
            report.reaped = await asyncio.to_thread(
                rows.reap, self.engine, now=now, stale_after=STALE_AFTER
            )
        claimed = await asyncio.to_thread(
            rows.claim,
            self.engine,
            channels=self.push_channels,
            worker=self.worker,
            now=now,
            person_id=person_id,
        )
        await self._send_claimed(claimed, report)
        # One person's delivery also takes the rows queued while it was sending (a second delivery
        # for them found these rows behind the ones in flight and left them, to keep the order).
        for _ in range(MAX_FOLLOW_UPS if person_id is not None and claimed else 0):
            claimed = await asyncio.to_thread(
                rows.claim,
                self.engine,
                channels=self.push_channels,
                worker=self.worker,
                now=utcnow(),
                person_id=person_id,
            )
            if not claimed:
                break
            await self._send_claimed(claimed, report)
        if report.sent or report.failed or report.unknown or report.requeued or report.reaped:
            logger.info(
                "outbox: %d sent, %d failed, %d unknown, %d requeued, %d reaped",
                report.sent,
                report.failed,
                report.unknown,
                report.requeued,
                report.reaped,
            )
        return report

    async def _send_claimed(self, claimed: list[OutboundMessage], report: DeliveryReport) -> None:
        by_person: dict[str, list[OutboundMessage]] = {}
        for row in claimed:
            by_person.setdefault(row.person_id, []).append(row)
        gate = asyncio.Semaphore(max(1, self.concurrency))

        async def one_person(queue: list[OutboundMessage]) -> None:
            async with gate:
                external = await asyncio.to_thread(self._external_id, queue[0].person_id)
                for i, row in enumerate(queue):
                    if not await self._deliver_row(row, external, report):
                        # Order: the rest waits for the next run behind the one that must be retried.
                        for rest in queue[i + 1 :]:
                            await self._finish(rest, OutboxStatus.QUEUED, None, attempted=False)
                        return

        await asyncio.gather(*(one_person(q) for q in by_person.values()))

    def _external_id(self, person_id: str) -> str | None:
        with Session(self.engine) as s:
            person = s.get(Person, person_id)
            return person.external_id if person is not None else None

    async def _finish(
        self,
        row: OutboundMessage,
        status: str,
        failure: str | None,
        *,
        attempted: bool = True,
        retry_in: timedelta | None = None,
    ) -> None:
        assert row.id is not None
        await asyncio.to_thread(
            rows.finish,
            self.engine,
            row.id,
            worker=self.worker,
            status=status,
            failure=failure,
            next_attempt_at=utcnow() + retry_in if retry_in is not None else None,
            attempted=attempted,
        )

    async def _deliver_row(
        self, row: OutboundMessage, external: str | None, report: DeliveryReport
    ) -> bool:
        """Send one claimed row; False when the person's later rows must wait (keep the order)."""
        sender = self.senders.get(row.channel)
        if sender is None or external is None:
            await self._finish(
                row, OutboxStatus.FAILED, "person erased" if external is None else "no sender"
            )
            report.failed += 1
            return True
        message = _row_message(row)
        try:
            await sender.send(external, message)
        except RateLimited as exc:
            await self._finish(
                row,
                OutboxStatus.QUEUED,
                "rate limited",
                attempted=False,
                retry_in=timedelta(seconds=exc.retry_after),
            )
            report.requeued += 1
            return False
        except SendTimeout:
            await self._finish(row, OutboxStatus.UNKNOWN, "send timed out; may have been delivered")
            report.unknown += 1
            return True
        except SendFailed as exc:
            if exc.retryable and row.attempts + 1 < MAX_ATTEMPTS:
                await self._finish(
                    row, OutboxStatus.QUEUED, exc.reason, retry_in=timedelta(seconds=5 * 2**row.attempts)
                )
                report.requeued += 1
                return False
            await self._finish(row, OutboxStatus.FAILED, exc.reason)
            report.failed += 1
            report.reasons.append(f"{row.id}: {exc.reason}")
            return True
        except Exception as exc:  # the sender broke mid-send: outcome unknown, never resend
            logger.exception("outbox message %s: sender raised", row.id)
            await self._finish(row, OutboxStatus.UNKNOWN, f"sender error {type(exc).__name__}")
            report.unknown += 1
            return True
        await self._finish(row, OutboxStatus.SENT, None)
        report.sent += 1
        files = (
            await asyncio.to_thread(self.attachments, row.person_id, message) if self.attachments else []
        )
        for attachment in files:
            try:
                await sender.send_file(external, attachment)
            except (RateLimited, SendTimeout, SendFailed) as exc:
                logger.warning(
                    "attachment of outbox message %s not sent: %s", row.id, type(exc).__name__
                )
        return True
