"""The composition root: ``build(settings)`` makes every long-lived object once, wired together.

The app process, the command line, the action server and the tests all start here; nothing changes
the runtime after it is built (the Telegram application only holds a reference to it).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.engine import Engine
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.channels.rasa_client import RasaClient
from bot.channels.telegram_sender import TelegramRateLimiter, TelegramSender
from lotse.settings import Settings
from rendering.messages import OutMessage
from rendering.renderer import Renderer
from rendering.responses import ResponseBuilder
from services.audit import Audit
from services.booking.notices import CalendarFiles, Notices
from services.booking.reminders import ReminderConfig
from services.content.closed_loop import ClosedLoop
from services.content.entries import EntryStudio
from services.content.texts import Texts
from services.conversation.pipeline import Conversation
from services.handoff import HandoffDesk
from services.outbox import Attachment, ChannelSender, Outbox
from services.pacing import RateLimiter
from services.privacy import Privacy, TrackerStore, tracker_store_url
from services.staff import Staff
from storage.calendar import BookingConfig
from storage.db import make_engine
from storage.search import FaqIndex
from translations.engine import Translator
from translations.factory import build_translator
from translations.memory import flush_all

logger = logging.getLogger(__name__)


@dataclass
class AppState:
    """What the app learns while it runs (not wiring): whether Rasa is ready, who runs the jobs."""

    rasa_ready: bool = False
    scheduler: str = "off"  # leader (this process runs the jobs) | standby | off


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: Engine
    translator: Translator
    renderer: Renderer
    responses: ResponseBuilder
    rasa: RasaClient
    telegram_bot: ExtBot[None] | None
    senders: dict[str, ChannelSender]
    outbox: Outbox
    audit: Audit
    privacy: Privacy
    conversation: Conversation
    handoff: HandoffDesk
    staff: Staff
    notices: Notices
    calendar_files: CalendarFiles
    index: FaqIndex
    booking_config: BookingConfig
    reminder_config: ReminderConfig
    closed_loop: ClosedLoop
    texts: Texts
    entries: EntryStudio
    state: AppState = field(default_factory=AppState)

    async def close(self) -> None:
        """Release what the runtime holds: HTTP clients, pending memory writes, the database."""
        await self.rasa.close()
        if self.telegram_bot is not None:
            await self.telegram_bot.shutdown()  # nothing to do if it was never initialised
        flush_all()  # pending translation-memory writes, before the database goes away
        self.engine.dispose()

    def close_sync(self) -> None:
        """``close`` for command-line use (no event loop, nothing async was started)."""
        flush_all()
        self.engine.dispose()


def booking_config(settings: Settings) -> BookingConfig:
    b = settings.booking
    return BookingConfig(
        slot_minutes=b.slot_minutes,
        lead_time=timedelta(minutes=b.lead_minutes),
        reminder_offsets=tuple(timedelta(minutes=m) for m in b.reminder_offsets_minutes),
        max_people=b.max_people,
        max_active_per_person=b.max_active_per_person,
    )


def reminder_config(settings: Settings) -> ReminderConfig:
    r = settings.reminders
    return ReminderConfig(
        batch=r.batch,
        max_lateness=timedelta(minutes=r.max_lateness_minutes),
        min_lead=timedelta(minutes=r.min_lead_minutes),
    )


def telegram_bot(settings: Settings) -> ExtBot[None] | None:
    """The bot every Telegram request goes through (its rate limiter paces every send), if configured."""
    t = settings.telegram
    if t.bot_token is None:
        return None
    pacing = RateLimiter(
        overall=t.overall_per_second, per_chat_rate=t.per_chat_per_second, chat_burst=t.chat_burst
    )
    return ExtBot(
        t.bot_token.get_secret_value(),
        base_url=t.base_url,
        base_file_url=t.base_file_url,
        request=HTTPXRequest(connection_pool_size=16),
        rate_limiter=TelegramRateLimiter(pacing),
    )


def build(
    settings: Settings, *, preload_models: bool = False, translator: Translator | None = None
) -> Runtime:
    """Build the runtime. ``preload_models`` loads translation models now (the app); the CLI does not."""
    engine = make_engine(settings.database_url)
    if translator is None:
        translator = build_translator(
            engine,
            timeout=settings.mt.timeout_seconds,
            threads=settings.mt.threads,
            preload=preload_models,
        )
    renderer = Renderer(engine, translator, settings.message_variables())
    responses = ResponseBuilder(engine, renderer)
    token = settings.rasa.internal_token
    rasa = RasaClient(
        settings.rasa.url, settings.rasa.timeout_seconds, token.get_secret_value() if token else None
    )
    bot = telegram_bot(settings)
    senders: dict[str, ChannelSender] = {"telegram": TelegramSender(bot)} if bot is not None else {}
    env = {"RASA_TRACKER_DB": str(settings.rasa.tracker_db), **os.environ}
    audit = Audit(engine)
    calendar_files = CalendarFiles(engine, responses, audit)
    privacy = Privacy(
        engine,
        tracker=TrackerStore(tracker_store_url(settings.rasa.endpoints_file, env)),
        retention_days=settings.privacy.retention_days,
        audit=audit,
    )

    def attachments(person_id: str, message: OutMessage) -> list[Attachment]:
        return calendar_files.attachments(person_id, message) + privacy.attachments(person_id, message)

    outbox = Outbox(engine, senders, attachments=attachments)
    index = FaqIndex(engine)
    closed_loop = ClosedLoop(engine, responses, outbox, audit, index)
    conversation = Conversation(
        engine=engine,
        responses=responses,
        dialogue=rasa,
        translator=translator,
        outbox=outbox,
        privacy=privacy,
        consent_version=settings.privacy.consent_version,
        max_message_chars=settings.conversation.max_message_chars,
        closed_loop=closed_loop,
    )
    return Runtime(
        settings=settings,
        engine=engine,
        translator=translator,
        renderer=renderer,
        responses=responses,
        rasa=rasa,
        telegram_bot=bot,
        senders=senders,
        outbox=outbox,
        audit=audit,
        privacy=privacy,
        conversation=conversation,
        handoff=HandoffDesk(
            engine,
            translator,
            renderer,
            outbox,
            audit,
            response_days=settings.handoff.response_days,
        ),
        staff=Staff(engine, audit, idle=timedelta(minutes=settings.console.idle_minutes)),
        notices=Notices(engine, responses, outbox),
        calendar_files=calendar_files,
        index=index,
        booking_config=booking_config(settings),
        reminder_config=reminder_config(settings),
        closed_loop=closed_loop,
        texts=Texts(engine, translator, audit),
        entries=EntryStudio(engine, audit, responses, link_group=closed_loop.link_new_entry),
    )
