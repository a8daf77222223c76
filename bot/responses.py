"""Build what the person sees for a response name: text, buttons and meta, in their language.

One builder serves the NLG endpoint (responses Rasa asks for) and the app's own messages (consent,
language choice), so every text the bot sends goes through the same rendering and trust rules.

Button payloads are short opaque strings (Telegram allows 64 bytes of callback data):

* ``i:<intent>`` — an intent for Rasa, ``f:<id>`` — a chosen FAQ answer,
* ``lang:<code>`` — set the language, ``pl:<code>`` — read the privacy notice in a language,
* ``c:y:<code>`` / ``c:n:<code>`` — consent given / declined, ``c:l`` — list notice languages,
* ``d:y`` / ``d:n`` — confirm or cancel erasure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from storage import content
from storage.db import session_scope
from storage.seed import TOPICS
from translations.languages import CHAT_LANGUAGES, LANGUAGES
from translations.render import Renderer

BUTTON_TITLE_MAX = 60
BOOKING_RESPONSES = frozenset(
    {
        "utter_ask_booking_topic",
        "utter_ask_booking_place",
        "utter_ask_booking_slot",
        "booking_no_slots",
        "utter_ask_booking_people",
        "utter_ask_booking_interpreter",
        "utter_ask_booking_confirm",
        "booking_done",
        "booking_slot_taken",
        "booking_stopped",
        "booking_invalid",
        "waitlist_joined",
        "my_appointments_list",
        "my_appointments_none",
        "appointment_cancelled",
        "appointment_moved",
        "appointment_not_found",
        "reminder",
        "staff_cancelled",
    }
)


@dataclass(frozen=True)
class Button:
    title: str
    payload: str

    def to_dict(self) -> dict[str, str]:
        return {"title": self.title, "payload": self.payload}


@dataclass
class OutMessage:
    text: str
    buttons: list[Button] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "buttons": [b.to_dict() for b in self.buttons],
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutMessage:
        return cls(
            text=str(data.get("text") or ""),
            buttons=[Button(str(b["title"]), str(b["payload"])) for b in data.get("buttons") or []],
            meta=dict(data.get("meta") or {}),
        )


def _short(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= BUTTON_TITLE_MAX else title[: BUTTON_TITLE_MAX - 1] + "…"


class ResponseBuilder:
    def __init__(self, engine: Engine, renderer: Renderer) -> None:
        self.engine = engine
        self.renderer = renderer

    # --- building blocks ---------------------------------------------------------------------

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
        buttons = [Button(self.renderer.text(f"topic_{t}", language), f"i:ask_{t}") for t in TOPICS]
        if with_human:
            buttons.append(
                Button(self.renderer.text("button_request_human", language), "i:request_human")
            )
        return buttons

    @staticmethod
    def language_buttons(prefix: str) -> list[Button]:
        return [Button(LANGUAGES[c].endonym, f"{prefix}:{c}") for c in CHAT_LANGUAGES]

    def faq_buttons(self, faq_ids: list[int], language: str) -> list[Button]:
        buttons = []
        with session_scope(self.engine) as session:
            for fid in faq_ids:
                entry = content.get_faq(session=session, faq_id=int(fid))
                if entry is None:
                    continue
                q = self.renderer.faq_question(session, entry, language)
                buttons.append(Button(_short(q.text), f"f:{entry.id}"))
        return buttons

    def yes_no(self, language: str, yes: str, no: str) -> list[Button]:
        return [
            Button(self.renderer.text("button_yes", language), yes),
            Button(self.renderer.text("button_no", language), no),
        ]

    # --- the app's own messages --------------------------------------------------------------

    def privacy_notice(self, language: str) -> OutMessage:
        msg = self.message("privacy_notice", language)
        lang = msg.meta["language"]
        msg.buttons = [
            Button(self.renderer.text("button_consent_yes", lang), f"c:y:{lang}"),
            Button(self.renderer.text("button_consent_no", lang), f"c:n:{lang}"),
            Button(self.renderer.text("button_other_language", lang), "c:l"),
        ]
        return msg

    def notice_languages(self) -> OutMessage:
        # Before consent the language is unknown: the prompt is given in German and English.
        return OutMessage(
            "Sprache / Language / اللغة / Мова / Язык / Dil / زبان / Langue",
            self.language_buttons("pl"),
            {"response": "notice_languages", "language": "de", "translation": "source"},
        )

    def language_prompt(self, language: str) -> OutMessage:
        return self.message("language_prompt", language, buttons=self.language_buttons("lang"))

    # --- responses Rasa asks for (NLG) -------------------------------------------------------

    def build(
        self, name: str, language: str, args: dict[str, Any], intent: str | None = None
    ) -> OutMessage:
        """Render a Rasa response (FAQ answers carry related questions as buttons)."""
        if name == "utter_faq_answer":
            return self._faq_answer(args, language, intent)
        if name in BOOKING_RESPONSES:
            from bot.booking_views import build_booking

            return build_booking(self, name, language, args, intent)
        buttons: list[Button] = []
        if name in ("utter_greet", "utter_fallback", "utter_faq_not_found", "utter_ok"):
            buttons = self.topic_buttons(language)
        elif name == "utter_fallback_suggestions":
            buttons = self.faq_buttons([int(i) for i in args.get("faq_ids") or []], language)
            buttons.append(
                Button(self.renderer.text("button_request_human", language), "i:request_human")
            )
        elif name in ("utter_fallback_offer_human", "utter_book_appointment"):
            buttons = self.yes_no(language, "i:affirm", "i:deny")
        elif name == "utter_emergency_check":
            buttons = self.yes_no(language, "i:emergency", "i:deny")
        elif name == "utter_ask_language":
            buttons = self.language_buttons("lang")
        variables = {k: v for k, v in args.items() if isinstance(v, str | int | float)}
        return self.message(name, language, intent=intent, buttons=buttons, **variables)

    def _faq_answer(self, args: dict[str, Any], language: str, intent: str | None) -> OutMessage:
        try:
            faq_id = int(args.get("faq_id") or 0)
        except (TypeError, ValueError):
            faq_id = 0
        faq = self.renderer.faq(faq_id, language) if faq_id else None
        if faq is None:
            return self.build("utter_faq_not_found", language, {}, intent)
        tick_list = ""
        if faq.checklist:
            tick_list = "\n".join(
                [f"📋 {faq.checklist_title}", *(f"☐ {item}" for item in faq.checklist)]
            )
        parts = [faq.question.text, faq.answer.text, tick_list, *faq.notes, "ℹ️ " + faq.footer]
        meta = {
            "response": "utter_faq_answer",
            "intent": intent,
            "topic": faq.topic,
            "faq_id": faq.faq_id,
            "faq_key": faq.key,
            "language": faq.answer.language,
            "translation": faq.answer.status,
            "outdated": faq.answer.outdated,
            "checklist": len(faq.checklist),
        }
        related = [int(i) for i in args.get("related") or [] if str(i).isdigit()]
        buttons = self.faq_buttons(related, language) if related else []
        return OutMessage("\n\n".join(p for p in parts if p), buttons, meta)
