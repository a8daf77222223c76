"""When the NLU model is unsure: search the content, offer the best matches, or a person."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import ServiceAction
from actions.constants import FALLBACKS_BEFORE_HUMAN, SLOT_FALLBACK_COUNT, SLOT_MUNICIPALITY
from storage import content
from storage.db import session_scope
from storage.privacy import anonymise

SUGGESTIONS = 3
MIN_SCORE_SUGGEST = 0.12


class ActionFallback(ServiceAction):
    """Never silence: suggestions from the stored content, else topics, and a person if it repeats."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        count = int(tracker.get_slot(SLOT_FALLBACK_COUNT) or 0) + 1
        text = self.user_text(tracker)
        intent_info = tracker.latest_message.get("intent") or {}
        if text:
            # Questions nobody could answer, anonymised, so KI editors can write content for them.
            with session_scope(self.services.engine) as s:
                content.record_unanswered(
                    session=s,
                    text=anonymise(text),
                    language=self.language(tracker),
                    intent=intent_info.get("name"),
                    confidence=intent_info.get("confidence"),
                    # Rasa's sender id is the person's pseudonym: they are told when it is answered.
                    person_id=tracker.sender_id,
                    own_words=text,
                )
        if count >= FALLBACKS_BEFORE_HUMAN:
            dispatcher.utter_message(response="utter_fallback_offer_human")
            return [SlotSet(SLOT_FALLBACK_COUNT, 0.0)]
        hits = (
            self.services.index.search(
                text,
                municipality=tracker.get_slot(SLOT_MUNICIPALITY),
                limit=SUGGESTIONS,
                min_score=MIN_SCORE_SUGGEST,
            )
            if text
            else []
        )
        if hits:
            dispatcher.utter_message(
                response="utter_fallback_suggestions", faq_ids=[h.faq_id for h in hits]
            )
        else:
            dispatcher.utter_message(response="utter_fallback")
        return [SlotSet(SLOT_FALLBACK_COUNT, float(count))]
