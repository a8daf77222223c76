"""SQLModel tables. Alembic migrations in ``storage/migrations`` create them (never create_all)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.db import UTCDateTime, utcnow


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kw)


def _fk_person(**kw: Any) -> Any:
    # Erasure of a person cascades to everything that belongs to them.
    return Field(
        sa_column=Column(String(32), ForeignKey("person.id", ondelete="CASCADE"), index=True, **kw)
    )


class Consent(StrEnum):
    GIVEN = "given"
    DECLINED = "declined"


class TextStatus(StrEnum):
    """How far a text can be trusted, best first."""

    SOURCE = "source"  # the German master
    REVIEWED = "reviewed"  # checked by a person who reads both languages
    DRAFT = "draft"  # written or edited by a person, not yet reviewed
    MACHINE = "machine"  # machine translation, nobody has read it


class Origin(StrEnum):
    SEED = "seed"  # loaded from a seed file; a reload may update it
    STAFF = "staff"  # edited by staff; a seed reload never touches it
    MT = "mt"  # produced by machine translation


class InboundStatus(StrEnum):
    RECEIVED = "received"
    DONE = "done"
    PENDING = "pending"  # Rasa was unavailable; the retry job processes it later
    HANDED_OFF = "handed_off"  # arrived while the conversation was paused for a person
    FAILED = "failed"


class OutboxStatus(StrEnum):
    """Where a message to a person is on its way (``services.outbox``)."""

    QUEUED = "queued"  # waiting for its channel (pushed by the outbox job, or fetched by the web chat)
    SENDING = "sending"  # claimed by a worker; a crash here is detectable and never resent blindly
    SENT = "sent"
    FAILED = "failed"  # refused for good (``failure`` says why)
    UNKNOWN = "unknown"  # the send timed out: it may have arrived


class HandoffStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    CLOSED = "closed"


# --- people and conversations ---------------------------------------------------------------------


class Person(SQLModel, table=True):
    """A newcomer. ``id`` is a random pseudonym: it is what Rasa and the logs see."""

    id: str = Field(primary_key=True, max_length=32)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=64)  # Telegram chat id / web chat sender
    language: str | None = Field(default=None, max_length=8)
    consent: str = Field(max_length=16)
    consent_version: str = Field(max_length=16)
    consent_at: datetime = _ts()
    municipality: str | None = Field(default=None, max_length=64)
    paused: bool = False  # True while a hand-off to a person is open
    created_at: datetime = _ts()
    last_seen_at: datetime = _ts()

    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_person_channel_ext"),)


class SeenUpdate(SQLModel, table=True):
    """Update ids already processed (Telegram delivers at least once). Holds no personal data."""

    key: str = Field(primary_key=True, max_length=80)
    seen_at: datetime = _ts(index=True)


class TelegramUpdate(SQLModel, table=True):
    """An update received by the webhook, kept from the moment Telegram gets its 200 until it is handled.

    Telegram does not resend an update once answered, so it is stored before the answer; a process that
    dies before handling it hands it to the next start. Deleted when handled (and by retention).
    """

    update_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    payload: dict[str, Any] = Field(sa_type=JSON)
    received_at: datetime = _ts()


class InboundMessage(SQLModel, table=True):
    """Every message a person sent after consent, stored (with its update key) before it is processed.

    ``update_key`` is the channel's id of the update (Telegram ``update_id``, a button press, the web
    chat's ``message_id``): stored in the same transaction as the message, so a redelivery is answered
    from what was stored, and erased with the person. ``german`` keeps the machine translation a case
    manager reads (``german_flags``: route, pivot, glossary terms kept), so it goes with the message.
    """

    id: int | None = Field(default=None, primary_key=True)
    person_id: str = _fk_person()
    channel: str = Field(max_length=16)
    text: str | None = Field(default=None, sa_type=Text)
    payload: str | None = Field(default=None, max_length=128)
    status: str = Field(default=InboundStatus.RECEIVED, max_length=16, index=True)
    attempts: int = 0
    received_at: datetime = _ts()
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    update_key: str | None = Field(default=None, max_length=96, unique=True)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    german: str | None = Field(default=None, sa_type=Text)
    german_flags: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class OutboundMessage(SQLModel, table=True):
    """What the bot (or a case manager) said: the transcript, and the outbox of every channel."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: str = _fk_person()
    channel: str = Field(max_length=16)
    text: str = Field(sa_type=Text)
    buttons: list[dict[str, str]] = Field(default_factory=list, sa_type=JSON)
    meta: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = _ts()
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default=OutboxStatus.QUEUED, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failure: str | None = Field(default=None, max_length=300)
    # The message this one answers (a retried request is answered with the same replies).
    in_reply_to: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("inboundmessage.id", ondelete="SET NULL"), index=True),
    )

    __table_args__ = (Index("ix_outboundmessage_status_channel", "status", "channel"),)


class HandoffRequest(SQLModel, table=True):
    """A conversation handed to a human case manager; the bot stays silent while it is open."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: str = _fk_person()
    status: str = Field(default=HandoffStatus.OPEN, max_length=16, index=True)
    reason: str = Field(max_length=32)  # user | fallback | sensitive
    urgent: bool = False  # danger to life or violence: first in the inbox
    topic: str | None = Field(default=None, max_length=32)  # what the person asked about last
    assigned_to: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("staffaccount.id", ondelete="SET NULL"), nullable=True),
    )
    first_reply_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # the answer time passed
    outcome: str | None = Field(default=None, max_length=32)  # how it was closed
    created_at: datetime = _ts()
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: str | None = Field(default=None, max_length=64)


class UnansweredQuestion(SQLModel, table=True):
    """A question nobody could answer, anonymised, for staff to write content for.

    ``person_id`` links it to who asked, so they can be told when an answer is published (and it goes
    with them when they are erased); editors only ever see the anonymised text.
    """

    id: int | None = Field(default=None, primary_key=True)
    person_id: str | None = Field(
        default=None,
        sa_column=Column(
            String(32), ForeignKey("person.id", ondelete="CASCADE"), index=True, nullable=True
        ),
    )
    text: str = Field(sa_type=Text)
    language: str = Field(max_length=8)
    intent: str | None = Field(default=None, max_length=64)
    confidence: float | None = None
    created_at: datetime = _ts()
    # The person's own words, only to quote back to them in the closed-loop message (their data);
    # never shown in the console.
    own_words: str | None = Field(default=None, sa_type=Text)


class ErasureRequest(SQLModel, table=True):
    """A person's ``/delete``: which stores were erased, and what must be retried.

    Holds only the pseudonym (the person row itself is gone); ``receipt`` is one entry per store:
    ``{"store": …, "rows": n, "status": "ok" | "failed", "error": …}``.
    """

    id: int | None = Field(default=None, primary_key=True)
    pseudonym: str = Field(max_length=32, index=True)
    requested_at: datetime = _ts()
    status: str = Field(default="pending", max_length=16, index=True)  # pending | done | failed
    receipt: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    attempts: int = 0
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# --- content ------------------------------------------------------------------------------------


class FaqEntry(SQLModel, table=True):
    """One answer. The German master text and all translations are rows of ``Translation``."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80, unique=True)
    topic: str = Field(max_length=32, index=True)
    scope: str = Field(default="kreis", max_length=64)  # "kreis" or a municipality slug
    version: int = (
        1  # bumped when the German master changes; translations of older versions are outdated
    )
    sources: list[str] = Field(default_factory=list, sa_type=JSON)
    legal_basis: str | None = Field(default=None, max_length=200)
    keywords: list[str] = Field(default_factory=list, sa_type=JSON)
    checklist: str | None = Field(
        default=None, max_length=64
    )  # documents to bring, shown as a tick list
    last_verified: date
    verified_by: str = Field(max_length=120)
    review_due: date | None = None
    needs_review: bool = False
    # A figure that changes on a known date (e.g. Kindergeld per year): after it, the bot adds "please
    # check with the office" until an editor confirms the entry (sets a new date or clears it).
    valid_until: date | None = None
    # The authorities that decide what the answer is about (named in the answer; never an outcome).
    decided_by: list[str] = Field(default_factory=list, sa_type=JSON)
    active: bool = True
    origin: str = Field(default=Origin.SEED, max_length=8)
    seed_hash: str | None = Field(default=None, max_length=64)
    updated_at: datetime = _ts()
    updated_by: str = Field(default="seed", max_length=64)


class ScopeGroup(SQLModel, table=True):
    """A named group of municipalities an entry can be scoped to (e.g. the Kreisjugendamt's eight)."""

    key: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=120)
    municipalities: list[str] = Field(default_factory=list, sa_type=JSON)
    origin: str = Field(default=Origin.SEED, max_length=8)
    seed_hash: str | None = Field(default=None, max_length=64)
    updated_at: datetime = _ts()


class BotMessage(SQLModel, table=True):
    """A text the bot says (greeting, notices, button titles); texts are rows of ``Translation``."""

    key: str = Field(primary_key=True, max_length=64)
    description: str = Field(default="", max_length=300)
    version: int = 1
    origin: str = Field(default=Origin.SEED, max_length=8)
    seed_hash: str | None = Field(default=None, max_length=64)
    updated_at: datetime = _ts()


class Checklist(SQLModel, table=True):
    """Documents to bring for a matter ("Mitbringliste"); item texts are rows of ``Translation``."""

    key: str = Field(primary_key=True, max_length=64)
    topic: str = Field(max_length=32, index=True)
    items: list[str] = Field(default_factory=list, sa_type=JSON)  # ordered item keys
    version: int = 1
    origin: str = Field(default=Origin.SEED, max_length=8)
    seed_hash: str | None = Field(default=None, max_length=64)
    updated_at: datetime = _ts()


class Translation(SQLModel, table=True):
    """A text of some content in one language, with how far it can be trusted."""

    id: int | None = Field(default=None, primary_key=True)
    owner_type: str = Field(max_length=16)  # faq | message | checklist
    owner_key: str = Field(max_length=120)
    field: str = Field(max_length=32)  # question | answer | text | title | item:<key>
    language: str = Field(max_length=8)
    text: str = Field(sa_type=Text)
    status: str = Field(max_length=16)
    source_version: int = 1  # the master version this text translates
    reviewer: str | None = Field(default=None, max_length=64)
    origin: str = Field(default=Origin.SEED, max_length=8)
    updated_at: datetime = _ts()

    __table_args__ = (
        UniqueConstraint("owner_type", "owner_key", "field", "language", name="uq_translation"),
    )


# Feature tables live in their own modules; importing them here registers them on the metadata, so
# Alembic and every process see one schema.
from storage import (  # noqa: E402, F401
    models_audit,
    models_booking,
    models_closed_loop,
    models_staff,
    models_studio,
    models_translation,
)
