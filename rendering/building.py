"""The building blocks of every message: a rendered bot text with its buttons and meta."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from rendering import payloads
from rendering.messages import Button, OutMessage
from rendering.renderer import Renderer
from storage import content
from storage.db import session_scope
from storage.vocabulary import TOPICS
from translations.languages import CHAT_LANGUAGES, LANGUAGES

BUTTON_TITLE_MAX = 60


def short_title(title: str) -> str:
    """A button title of at most ``BUTTON_TITLE_MAX`` characters (one line)."""
    title = " ".join(title.split())
    return title if len(title) <= BUTTON_TITLE_MAX else title[: BUTTON_TITLE_MAX - 1] + "…"


class MessageBuilder:
    """Bot messages and buttons in a person's language, through the renderer's trust chain."""

    def __init__(self, engine: Engine, renderer: Renderer) -> None:
        self.engine = engine
        self.renderer = renderer

    def message(
        self,
        key: str,
        language: str,
        *,
        intent: str | None = None,
        buttons: list[Button] | None = None,
        **variables: Any,
    ) -> OutMessage:
        r = self.renderer.message(key, language, **variables)
        return OutMessage(
            r.text,
            buttons or [],
            {"response": key, "intent": intent, "language": r.language, "translation": r.status},
        )

    def topic_buttons(self, language: str, *, with_human: bool = True) -> list[Button]:
        buttons = [
            Button(self.renderer.text(f"topic_{t}", language), payloads.intent(f"ask_{t}"))
            for t in TOPICS
        ]
        if with_human:
            buttons.append(
                Button(
                    self.renderer.text("button_request_human", language),
                    payloads.intent("request_human"),
                )
            )
        return buttons

    @staticmethod
    def language_buttons(kind: type[payloads.SetLanguage | payloads.NoticeLanguage]) -> list[Button]:
        return [Button(LANGUAGES[c].endonym, payloads.encode(kind(c))) for c in CHAT_LANGUAGES]

    def faq_buttons(self, faq_ids: list[int], language: str) -> list[Button]:
        buttons = []
        with session_scope(self.engine) as session:
            for fid in faq_ids:
                entry = content.get_faq(session=session, faq_id=int(fid))
                if entry is None:
                    continue
                q = self.renderer.faq_question(session, entry, language)
                buttons.append(
                    Button(short_title(q.text), payloads.encode(payloads.FaqChoice(entry.id or 0)))
                )
        return buttons

    def yes_no(self, language: str, yes: str, no: str) -> list[Button]:
        return [
            Button(self.renderer.text("button_yes", language), yes),
            Button(self.renderer.text("button_no", language), no),
        ]
