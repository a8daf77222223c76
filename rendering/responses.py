"""Build what the person sees for a response name: text, buttons and meta, in their language.

One builder serves the NLG endpoint (responses Rasa asks for) and the app's own messages (consent,
language choice), so every text the bot sends goes through the same rendering and trust rules.

Button payloads are built with ``services.conversation.payloads`` (the one grammar that encodes and
decodes them).
"""

from __future__ import annotations

from typing import Any

from rendering import payloads
from rendering.booking_views import build_booking
from rendering.building import MessageBuilder
from rendering.messages import Button, OutMessage

BOOKING_RESPONSES = frozenset(
    {
        "utter_ask_booking_topic",
        "utter_ask_booking_place",
        "utter_ask_booking_slot",
        "booking_no_slots",
        "booking_town_not_covered",
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


class ResponseBuilder(MessageBuilder):
    """Every message the bot sends: the app's own, and the responses Rasa names (NLG)."""

    # --- the app's own messages --------------------------------------------------------------

    def privacy_notice(self, language: str) -> OutMessage:
        msg = self.message("privacy_notice", language)
        lang = msg.meta["language"]
        msg.buttons = [
            Button(
                self.renderer.text("button_consent_yes", lang),
                payloads.encode(payloads.ConsentAnswer(True, lang)),
            ),
            Button(
                self.renderer.text("button_consent_no", lang),
                payloads.encode(payloads.ConsentAnswer(False, lang)),
            ),
            Button(
                self.renderer.text("button_other_language", lang),
                payloads.encode(payloads.NoticeLanguages()),
            ),
        ]
        return msg

    def notice_languages(self) -> OutMessage:
        # Before consent the language is unknown: the prompt is given in German and English.
        return OutMessage(
            "Sprache / Language / اللغة / Мова / Язык / Dil / زبان / Langue / Idioma / Język / "
            "Limba / Език / Gjuha / Ziman",
            self.language_buttons(payloads.NoticeLanguage),
            {"response": "notice_languages", "language": "de", "translation": "source"},
        )

    def language_prompt(self, language: str) -> OutMessage:
        return self.message(
            "language_prompt", language, buttons=self.language_buttons(payloads.SetLanguage)
        )

    # --- responses Rasa asks for (NLG) -------------------------------------------------------

    def build(
        self, name: str, language: str, args: dict[str, Any], intent: str | None = None
    ) -> OutMessage:
        """Render a Rasa response (FAQ answers carry related questions as buttons)."""
        if name == "utter_faq_answer":
            return self._faq_answer(args, language, intent)
        if name in BOOKING_RESPONSES:
            return build_booking(self, name, language, args, intent)
        buttons: list[Button] = []
        if name in ("utter_greet", "utter_fallback", "utter_faq_not_found", "utter_ok"):
            buttons = self.topic_buttons(language)
        elif name == "utter_fallback_suggestions":
            buttons = self.faq_buttons([int(i) for i in args.get("faq_ids") or []], language)
            buttons.append(
                Button(
                    self.renderer.text("button_request_human", language),
                    payloads.intent("request_human"),
                )
            )
        elif name in ("utter_fallback_offer_human", "utter_book_appointment"):
            buttons = self.yes_no(language, payloads.intent("affirm"), payloads.intent("deny"))
        elif name == "utter_emergency_check":
            buttons = self.yes_no(language, payloads.intent("emergency"), payloads.intent("deny"))
        elif name == "utter_ask_language":
            buttons = self.language_buttons(payloads.SetLanguage)
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
