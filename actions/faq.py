"""Answering questions from the stored FAQ content."""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import ServiceAction
from actions.constants import (
    ENTITY_CHILD_AGE,
    ENTITY_FAQ_ID,
    ENTITY_MUNICIPALITY,
    SLOT_FALLBACK_COUNT,
    SLOT_MUNICIPALITY,
    SLOT_TOPIC,
    TOPIC_INTENTS,
)
from storage import content, people
from storage.db import session_scope

logger = logging.getLogger(__name__)

RELATED = 3
# Below this similarity the words do not pick an entry; the topic's overview answers instead.
MIN_SCORE_IN_TOPIC = 0.05
# When the content clearly points to another topic than the classifier (see _second_opinion).
SECOND_OPINION_MIN = 0.2
SECOND_OPINION_RATIO = 2.0


# Children start school in NRW at 6; below that Kita is the matter, from 7 on school. At exactly 6 either
# can be right, so the classifier's choice stands.
KITA_BEFORE_AGE = 6
SCHOOL_FROM_AGE = 7
CHILD_MAX_AGE = 17
_DIGITS = re.compile(r"\d{1,2}")
_WORD = re.compile(r"\w+")
# "seit 3 Jahren", "for 2 years", "3 years ago", "il y a 2 ans", "منذ 3 سنوات": a duration, not an age.
_DURATION_BEFORE = {
    "seit", "since", "for", "vor", "in", "depuis", "pendant", "dans", "منذ", "صرلي", "از", "через",
    "протягом", "за",
}  # fmt: skip
_DURATION_AFTER = {"ago", "her", "назад", "тому", "önce", "قبل", "پیش"}


def _is_duration(text: str, start: int, end: int) -> bool:
    before = _WORD.findall(text[:start].lower())[-2:]
    after = _WORD.findall(text[end:].lower())[:1]
    return bool(
        (before and before[-1] in _DURATION_BEFORE)
        or before == ["y", "a"]
        or (after and after[0] in _DURATION_AFTER)
    )


def child_age(tracker: Tracker) -> int | None:
    """The child's age if the message states exactly one ("mein sohn ist 3 jahre", "ابني عمره ٤").

    Durations ("seit 3 Jahren") and adult ages (over 17) are not a child's age.
    """
    text = str(tracker.latest_message.get("text") or "")
    ages = set()
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") != ENTITY_CHILD_AGE:
            continue
        start, end = entity.get("start"), entity.get("end")
        if isinstance(start, int) and isinstance(end, int) and _is_duration(text, start, end):
            continue
        match = _DIGITS.search(str(entity.get("value", "")))
        if match and int(match.group(0)) <= CHILD_MAX_AGE:
            ages.add(int(match.group(0)))
    return ages.pop() if len(ages) == 1 else None


def topic_by_age(topic: str, age: int | None) -> str:
    """Kita and school questions are easily confused; a stated age decides between the two."""
    if age is None or topic not in ("kita", "school"):
        return topic
    if age < KITA_BEFORE_AGE:
        return "kita"
    if age >= SCHOOL_FROM_AGE:
        return "school"
    return topic


class ActionAnswerFaq(ServiceAction):
    """Answer with the best entry of the recognised topic, or the entry the person chose."""

    def name(self) -> str:
        return "action_answer_faq"

    def _second_opinion(self, tracker: Tracker, topic: str, municipality: str | None) -> str:
        """The stored content may know better than the classifier which topic the words are about.

        Only a clear case overrides the NLU topic: the best Kreis-wide entry overall is in another topic,
        scores well, and scores far above the best Kreis-wide entry of the recognised topic.
        """
        text = self.user_text(tracker)
        if not text:
            return topic
        # Kreis-wide entries only: a town's own entry may override the Kreis entry of its topic, but
        # never move a question to another topic (a housing question naming a town is not its Kita).
        best = self.services.index.search(text, municipality=None, limit=1)
        if not best or best[0].topic == topic or best[0].score < SECOND_OPINION_MIN:
            return topic
        own = self.services.index.search(text, topic=topic, municipality=None, limit=1)
        if own and best[0].score < SECOND_OPINION_RATIO * own[0].score:
            return topic
        logger.info("topic %s -> %s by content search", topic, best[0].topic)
        return best[0].topic

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events: list[EventType] = [SlotSet(SLOT_FALLBACK_COUNT, 0.0)]
        municipality = next(tracker.get_latest_entity_values(ENTITY_MUNICIPALITY), None)
        if municipality:
            with session_scope(self.services.engine) as s:
                people.set_municipality(
                    session=s, person_id=tracker.sender_id, municipality=str(municipality)
                )
        municipality = municipality or tracker.get_slot(SLOT_MUNICIPALITY)
        intent = self.intent(tracker)

        if intent == "choose_faq":
            faq_id = next(tracker.get_latest_entity_values(ENTITY_FAQ_ID), None)
            with session_scope(self.services.engine) as s:
                entry = (
                    content.get_faq(session=s, faq_id=int(str(faq_id)))
                    if str(faq_id).isdigit()
                    else None
                )
                if entry is None:
                    dispatcher.utter_message(response="utter_faq_not_found")
                    return events
                assert entry.id is not None
                chosen, topic = entry.id, entry.topic
                related: list[int] = [
                    e.id
                    for e in content.faqs_in_topic(session=s, topic=topic)
                    if e.id is not None
                    and e.id != chosen
                    and self.services.index.applies(e.scope, municipality)
                ][:RELATED]
        else:
            topic = TOPIC_INTENTS.get(intent or "") or tracker.get_slot(SLOT_TOPIC)
            if topic is None:
                dispatcher.utter_message(response="utter_fallback")
                return events
            topic = topic_by_age(self._second_opinion(tracker, topic, municipality), child_age(tracker))
            hits = self.services.index.search(
                self.user_text(tracker),
                topic=topic,
                municipality=municipality,
                limit=RELATED + 1,
                min_score=MIN_SCORE_IN_TOPIC,
            )
            with session_scope(self.services.engine) as s:
                in_topic = [
                    e
                    for e in content.faqs_in_topic(session=s, topic=topic)
                    if self.services.index.applies(e.scope, municipality)
                ]
            if not in_topic:
                dispatcher.utter_message(response="utter_faq_not_found")
                return events
            ranked = [h.faq_id for h in hits] + [e.id for e in in_topic if e.id is not None]
            ordered = list(dict.fromkeys(ranked))
            chosen, related = ordered[0], ordered[1 : 1 + RELATED]
        logger.info("faq answer %s (topic %s)", chosen, topic)
        dispatcher.utter_message(response="utter_faq_answer", faq_id=chosen, related=related)
        return [*events, SlotSet(SLOT_TOPIC, topic)]
