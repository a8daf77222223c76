"""The composition root's product: every long-lived object of the app process, built once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from bot.conversation import Conversation
from bot.rasa_client import RasaClient
from bot.responses import ResponseBuilder
from bot.settings import Settings
from storage import people
from storage.db import make_engine, session_scope
from translations.engine import Translator
from translations.factory import build_translator
from translations.render import Renderer


@dataclass
class AppState:
    rasa_ready: bool = False


@dataclass
class Services:
    settings: Settings
    engine: Engine
    translator: Translator
    renderer: Renderer
    responses: ResponseBuilder
    rasa: RasaClient
    conversation: Conversation
    state: AppState = field(default_factory=AppState)
    telegram_bot: Any = None  # telegram.Bot once Telegram runs (reminders are sent through it)

    def person_language(self, person_id: str) -> str | None:
        with session_scope(self.engine) as s:
            person = people.get_person(session=s, person_id=person_id)
            return person.language if person else None

    async def close(self) -> None:
        from translations.memory import flush_all

        await self.rasa.close()
        flush_all()  # pending translation-memory writes, before the database goes away
        self.engine.dispose()


def build_services(settings: Settings) -> Services:
    engine = make_engine(settings.database_url)
    translator = build_translator(engine, preload=True)
    renderer = Renderer(engine, translator, settings.message_variables())
    responses = ResponseBuilder(engine, renderer)
    rasa = RasaClient(settings.rasa_url, settings.rasa_timeout_seconds)
    conversation = Conversation(settings, engine, responses, rasa, translator)
    return Services(settings, engine, translator, renderer, responses, rasa, conversation)
