"""Hand-off to a human case manager: open a request and pause the bot for this person."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import ServiceAction
from actions.constants import SLOT_FALLBACK_COUNT
from storage.db import session_scope
from storage.handoff import open_handoff

logger = logging.getLogger(__name__)


class ActionRequestHuman(ServiceAction):
    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        with session_scope(self.services.engine) as s:
            req, created = open_handoff(session=s, person_id=tracker.sender_id, reason="user")
            req_id = req.id
        logger.info("hand-off %s %s", req_id, "opened" if created else "already open")
        dispatcher.utter_message(response="utter_handoff_created" if created else "utter_handoff_exists")
        return [SlotSet(SLOT_FALLBACK_COUNT, 0.0)]


# Below this confidence a predicted emergency is asked about instead of handed off. The safety net's
# phrases and the "yes" button arrive as /emergency, with confidence 1.
EMERGENCY_CERTAIN = 0.6


class ActionEmergency(ServiceAction):
    """Danger or crisis: emergency numbers first, then a person."""

    def name(self) -> str:
        return "action_emergency"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = tracker.latest_message.get("intent") or {}
        confidence = float(intent.get("confidence") or 0.0)
        # A typed "yes" after the check (rule in nlu/data/rules/handoff.yml) is the person's answer.
        if intent.get("name") == "emergency" and confidence < EMERGENCY_CERTAIN:
            # The classifier only suspects danger ("Jobcenter stopped my money" can look like it).
            # The numbers come at once; the conversation is paused for a person only if they say yes.
            dispatcher.utter_message(response="utter_emergency_check")
            logger.warning("possible emergency (confidence %.2f): asked", confidence)
            return [SlotSet(SLOT_FALLBACK_COUNT, 0.0)]
        dispatcher.utter_message(response="utter_emergency")
        with session_scope(self.services.engine) as s:
            req, _ = open_handoff(session=s, person_id=tracker.sender_id, reason="sensitive")
        logger.warning("sensitive topic: hand-off %s", req.id)
        return [SlotSet(SLOT_FALLBACK_COUNT, 0.0)]
