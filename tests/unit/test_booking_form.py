"""The booking form's validation (actions/booking.py): tracker in, events and responses out.

Real seeded database (SQLite and PostgreSQL), real calendar; no Rasa server: the action is called as
rasa_sdk calls it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.engine import Engine

from actions.booking import ValidateBookingForm
from lotse.runtime import Runtime, build
from lotse.settings import Settings
from storage import calendar
from storage.db import session_scope, utcnow


@pytest.fixture
def form(seeded: Engine, database_url: str) -> Iterator[ValidateBookingForm]:
    runtime: Runtime = build(Settings(database_url=database_url))
    yield ValidateBookingForm(runtime)
    runtime.close_sync()


def tracker(text: str, requested: str, *, intent: str = "inform", **slots: Any) -> Tracker:
    return Tracker(
        sender_id="p-form",
        slots={"requested_slot": requested, **slots},
        latest_message={"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": text},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={"name": "booking_form"},
        latest_action_name="action_listen",
    )


def responses(d: CollectingDispatcher) -> list[str]:
    return [m["response"] for m in d.messages]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("zu dritt", "3"), ("we are 2 people", "2"), ("одна", "1"), ("بس انا", None), ("", None)],
)
async def test_a_typed_number_of_people_is_understood(form, text: str, expected: str | None):
    d = CollectingDispatcher()
    got = await form.extract_booking_people(d, tracker(text, "booking_people"), {})
    assert got == ({"booking_people": expected} if expected else {})


async def test_the_number_of_people_is_bounded_by_the_booking_rules(form):
    max_people = form.services.booking_config.max_people
    d = CollectingDispatcher()
    ok = await form.validate_booking_people(str(max_people), d, tracker("", "booking_people"), {})
    assert ok == {"booking_people": str(max_people)} and d.messages == []
    too_many = await form.validate_booking_people(
        str(max_people + 1), d, tracker("", "booking_people"), {}
    )
    assert too_many == {"booking_people": None} and responses(d) == ["booking_invalid"]
    d = CollectingDispatcher()
    assert await form.validate_booking_people("0", d, tracker("", "booking_people"), {}) == {
        "booking_people": None
    }


async def test_a_typed_town_and_an_unknown_place(form):
    d = CollectingDispatcher()
    got = await form.extract_booking_place(d, tracker("in sankt augustin bitte", "booking_place"), {})
    assert got == {"booking_place": "sankt-augustin"}
    ok = await form.validate_booking_place("sankt-augustin", d, tracker("", "booking_place"), {})
    assert ok == {"booking_place": "sankt-augustin", "booking_page": 0.0}
    bad = await form.validate_booking_place("atlantis", d, tracker("", "booking_place"), {})
    assert bad == {"booking_place": None} and responses(d) == ["booking_invalid"]


async def test_topics_and_interpreters(form):
    d = CollectingDispatcher()
    assert await form.validate_booking_topic("kita", d, tracker("", "booking_topic"), {}) == {
        "booking_topic": "kita"
    }
    assert await form.validate_booking_topic("../etc", d, tracker("", "booking_topic"), {}) == {
        "booking_topic": None
    }
    typed = await form.extract_booking_topic(
        d, tracker("Einbürgerung", "booking_topic", intent="ask_naturalisation"), {}
    )
    assert typed == {"booking_topic": "naturalisation"}
    interpreter = await form.extract_booking_interpreter(
        d, tracker("auf arabic bitte", "booking_interpreter"), {}
    )
    assert interpreter == {"booking_interpreter": "ar"}
    assert await form.validate_booking_interpreter("xx", d, tracker("", "booking_interpreter"), {}) == {
        "booking_interpreter": None
    }
    assert responses(d) == ["booking_invalid", "booking_invalid"]


async def test_a_slot_is_re_derived_from_the_calendar(form, seeded: Engine):
    now = utcnow()
    with session_scope(seeded) as s:
        free = calendar.free_slots(s, start=now.date(), days=28, now=now, municipality="troisdorf")
    assert free, "the seed calendar offers times in Troisdorf"
    d = CollectingDispatcher()
    ok = await form.validate_booking_slot(free[0].key, d, tracker("", "booking_slot"), {})
    assert ok == {"booking_slot": free[0].key, "booking_office": free[0].office_id}
    later = await form.validate_booking_slot("later", d, tracker("", "booking_slot", booking_page=1), {})
    assert later == {"booking_slot": None, "booking_page": 2.0}
    past = free[0].start - timedelta(days=400)
    forged = f"{free[0].case_manager_id}|{past:%Y%m%d%H%M}"
    refused = await form.validate_booking_slot(forged, d, tracker("", "booking_slot"), {})
    assert refused == {"booking_slot": None} and responses(d) == ["booking_slot_taken"]
