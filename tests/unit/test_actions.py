"""Custom actions: tracker in, events and responses out, against a real seeded database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.engine import Engine
from sqlmodel import select

from actions.fallback import ActionFallback
from actions.faq import ActionAnswerFaq, child_age, topic_by_age
from actions.handoff import ActionEmergency, ActionRequestHuman
from lotse.runtime import Runtime, build
from lotse.settings import ROOT, Settings
from rendering.renderer import Renderer
from rendering.responses import ResponseBuilder
from storage import people
from storage.db import session_scope
from storage.models import FaqEntry, HandoffRequest, Person, UnansweredQuestion


def make_tracker(
    person_id: str,
    intent: str,
    text: str,
    *,
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    lang: str = "de",
    confidence: float = 0.93,
) -> Tracker:
    return Tracker(
        sender_id=person_id,
        slots=slots or {},
        latest_message={
            "intent": {"name": intent, "confidence": confidence},
            "entities": entities or [],
            "text": text,
            "metadata": {"language": lang},
        },
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


@pytest.fixture
def services(seeded: Engine, database_url: str) -> Iterator[Runtime]:
    svc = build(Settings(database_url=database_url))
    yield svc
    svc.close_sync()


@pytest.fixture
def person(seeded: Engine) -> Person:
    with session_scope(seeded) as s:
        return people.record_consent(
            session=s, channel="web", external_id="w1", given=True, version="v1", language="de"
        )


def key_of(engine: Engine, faq_id: int) -> str:
    with session_scope(engine) as s:
        entry = s.get(FaqEntry, faq_id)
        assert entry is not None
        return entry.key


async def test_topic_question_gets_the_best_entry_and_related(services, person, seeded):
    d = CollectingDispatcher()
    events = await ActionAnswerFaq(services).run(
        d, make_tracker(person.id, "ask_naturalisation", "Was kostet die Einbürgerung?"), {}
    )
    assert events == [SlotSet("fallback_count", 0.0), SlotSet("topic", "naturalisation")]
    [msg] = d.messages
    assert msg["response"] == "utter_faq_answer"
    assert key_of(seeded, msg["faq_id"]) == "naturalisation-fees"
    assert 1 <= len(msg["related"]) <= 3 and msg["faq_id"] not in msg["related"]


async def test_button_payload_gets_the_topic_overview(services, person, seeded):
    d = CollectingDispatcher()
    await ActionAnswerFaq(services).run(d, make_tracker(person.id, "ask_kita", "/ask_kita"), {})
    with session_scope(seeded) as s:
        first = s.exec(select(FaqEntry).where(FaqEntry.topic == "kita").order_by(FaqEntry.id)).first()
        assert first is not None
    assert d.messages[0]["faq_id"] == first.id


async def test_chosen_entry_and_expired_choice(services, person):
    d = CollectingDispatcher()
    await ActionAnswerFaq(services).run(
        d,
        make_tracker(
            person.id, "choose_faq", "/choose_faq", entities=[{"entity": "faq_id", "value": "2"}]
        ),
        {},
    )
    assert d.messages[0]["response"] == "utter_faq_answer" and d.messages[0]["faq_id"] == 2
    d = CollectingDispatcher()
    await ActionAnswerFaq(services).run(
        d,
        make_tracker(
            person.id, "choose_faq", "/choose_faq", entities=[{"entity": "faq_id", "value": "99999"}]
        ),
        {},
    )
    assert d.messages[0]["response"] == "utter_faq_not_found"


async def test_municipality_is_remembered_for_local_answers(services, person, seeded):
    d = CollectingDispatcher()
    await ActionAnswerFaq(services).run(
        d,
        make_tracker(
            person.id,
            "ask_kita",
            "kita anmeldung in siegburg",
            entities=[{"entity": "municipality", "value": "siegburg"}],
        ),
        {},
    )
    with session_scope(seeded) as s:
        p = s.get(Person, person.id)
        assert p is not None and p.municipality == "siegburg"


async def test_fallback_suggests_then_offers_a_person(services, person, seeded):
    d = CollectingDispatcher()
    events = await ActionFallback(services).run(
        d, make_tracker(person.id, "nlu_fallback", "Einbürgerung Gebühren 255 Euro? mail me a@b.de"), {}
    )
    assert events == [SlotSet("fallback_count", 1.0)]
    assert d.messages[0]["response"] == "utter_fallback_suggestions"
    assert d.messages[0]["faq_ids"]
    with session_scope(seeded) as s:
        [q] = s.exec(select(UnansweredQuestion)).all()
        assert "a@b.de" not in q.text and "[email]" in q.text and q.language == "de"
    d = CollectingDispatcher()
    events = await ActionFallback(services).run(
        d, make_tracker(person.id, "nlu_fallback", "blorp", slots={"fallback_count": 1.0}), {}
    )
    assert d.messages[0]["response"] == "utter_fallback_offer_human"
    assert events == [SlotSet("fallback_count", 0.0)]


async def test_fallback_without_any_match_offers_topics(services, person):
    d = CollectingDispatcher()
    await ActionFallback(services).run(d, make_tracker(person.id, "nlu_fallback", "xqzv"), {})
    assert d.messages[0]["response"] == "utter_fallback"


async def test_request_human_opens_one_handoff(services, person, seeded):
    for expected in ("utter_handoff_created", "utter_handoff_exists"):
        d = CollectingDispatcher()
        events = await ActionRequestHuman(services).run(
            d, make_tracker(person.id, "request_human", "mensch"), {}
        )
        assert d.messages[0]["response"] == expected
        assert events == [SlotSet("fallback_count", 0.0)]
    with session_scope(seeded) as s:
        assert len(s.exec(select(HandoffRequest)).all()) == 1
        p = s.get(Person, person.id)
        assert p is not None and p.paused


async def test_emergency_shows_numbers_and_hands_off(services, person, seeded):
    d = CollectingDispatcher()
    await ActionEmergency(services).run(d, make_tracker(person.id, "emergency", "ich bin in gefahr"), {})
    assert d.messages[0]["response"] == "utter_emergency"
    with session_scope(seeded) as s:
        [req] = s.exec(select(HandoffRequest)).all()
        assert req.reason == "sensitive"


async def test_a_suspected_emergency_asks_before_pausing_the_conversation(services, person, seeded):
    d = CollectingDispatcher()
    tracker = make_tracker(person.id, "emergency", "jobcenter hat mein geld gestoppt", confidence=0.41)
    await ActionEmergency(services).run(d, tracker, {})
    assert [m["response"] for m in d.messages] == ["utter_emergency_check"]
    with session_scope(seeded) as s:
        assert s.exec(select(HandoffRequest)).all() == []
        p = s.get(Person, person.id)
        assert p is not None and not p.paused


async def test_a_typed_yes_after_the_check_reaches_a_person(services, person, seeded):
    d = CollectingDispatcher()
    await ActionEmergency(services).run(
        d, make_tracker(person.id, "affirm", "ja bitte", confidence=0.55), {}
    )
    assert [m["response"] for m in d.messages] == ["utter_emergency"]
    with session_scope(seeded) as s:
        [req] = s.exec(select(HandoffRequest)).all()
        assert req.reason == "sensitive"


@pytest.mark.parametrize("lang", ["de", "en", "ar", "uk", "ru", "tr", "fa"])
def test_the_emergency_check_gives_the_numbers_and_asks(sqlite_seeded: Engine, lang: str):
    builder = ResponseBuilder(sqlite_seeded, Renderer(sqlite_seeded, None, {}))
    msg = builder.build("utter_emergency_check", lang, {})
    assert "110" in msg.text and "112" in msg.text
    assert "116 016" in msg.text and "0800 111 0 111" in msg.text  # the helplines too
    assert msg.meta["language"] == lang
    # "Yes" is the full emergency path (numbers, helplines, a person); "no" goes on as usual.
    assert [b.payload for b in msg.buttons] == ["i:emergency", "i:deny"]


@pytest.mark.parametrize(
    ("intent", "text", "age_text", "topic"),
    [
        ("ask_school", "meine tochter ist 3 jahre welche schule", "3 jahre", "kita"),
        ("ask_kita", "oğlum 8 yaşında kreş", "8 yaşında", "school"),
        ("ask_kita", "ابني عمره ٤ روضة", "عمره ٤", "kita"),
        ("ask_school", "my son is 6 years, school?", "6 years", "school"),
        (
            "ask_naturalisation",
            "ich lebe seit 3 jahren hier, einbürgerung?",
            "3 jahren",
            "naturalisation",
        ),
    ],
)
async def test_a_stated_child_age_decides_between_kita_and_school(
    services, person, intent, text, age_text, topic
):
    d = CollectingDispatcher()
    events = await ActionAnswerFaq(services).run(
        d,
        make_tracker(person.id, intent, text, entities=[{"entity": "child_age", "value": age_text}]),
        {},
    )
    assert events[-1] == SlotSet("topic", topic)
    assert d.messages[0]["response"] == "utter_faq_answer"


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("mon fils a 3 ans, crèche?", 3),
        ("Oğlum 4 Yaşında kreş", 4),
        ("wir wohnen seit 3 jahren hier, welche schule für meinen sohn", None),
        ("ich bin 30 jahre alt und suche einen kitaplatz", None),
        ("in 2 years school for my son", None),
        ("we came 2 years ago, school?", None),
        ("on est arrivés il y a 2 ans, école?", None),
        ("منذ 3 سنوات في المانيا مدرسة", None),
    ],
)
def test_durations_and_adult_ages_are_not_a_childs_age(text: str, age: int | None):
    pattern = re.compile(
        yaml.safe_load((ROOT / "nlu/data/nlu/regex_child_age.yml").read_text(encoding="utf-8"))["nlu"][
            0
        ]["examples"]
        .splitlines()[0]
        .strip()[2:]
    )
    entities = [
        {"entity": "child_age", "value": m.group(0), "start": m.start(), "end": m.end()}
        for m in pattern.finditer(text)
    ]
    assert entities, text  # the regex Rasa uses finds the number
    assert child_age(make_tracker("p", "ask_school", text, entities=entities)) == age


def test_two_different_ages_decide_nothing():
    tracker = make_tracker(
        "p",
        "ask_school",
        "3 jahre und 9 jahre",
        entities=[
            {"entity": "child_age", "value": "3 jahre"},
            {"entity": "child_age", "value": "9 jahre"},
        ],
    )
    assert child_age(tracker) is None
    assert topic_by_age("school", None) == "school"


async def test_a_question_naming_a_town_stays_in_its_topic(services, person, seeded):
    """Issue 12: a town's own entry may override the Kreis entry of the same topic only (a housing
    question naming Siegburg, which has its own Kita entry, is answered from housing)."""
    d = CollectingDispatcher()
    await ActionAnswerFaq(services).run(
        d,
        make_tracker(
            person.id,
            "ask_housing",
            "Wer hilft mir in Siegburg bei der Wohnungssuche?",
            entities=[{"entity": "municipality", "value": "siegburg"}],
        ),
        {},
    )
    [msg] = d.messages
    with session_scope(seeded) as s:
        entry = s.get(FaqEntry, msg["faq_id"])
        assert entry is not None and entry.topic == "housing"
    # The town's own Kita entry still answers a Kita question from there.
    d = CollectingDispatcher()
    await ActionAnswerFaq(services).run(
        d,
        make_tracker(
            person.id,
            "ask_kita",
            "Kita Anmeldung in Siegburg",
            entities=[{"entity": "municipality", "value": "siegburg"}],
        ),
        {},
    )
    with session_scope(seeded) as s:
        entry = s.get(FaqEntry, d.messages[0]["faq_id"])
        assert entry is not None and entry.topic == "kita" and entry.scope == "siegburg"


@pytest.mark.parametrize("lang", ["de", "ar", "uk"])
async def test_a_town_without_case_management_is_told_who_serves_it(services, person, lang):
    """Issue 12: no waiting list for an office that does not exist, no staff note in the answer."""
    from actions.booking import ActionAskBookingSlot

    d = CollectingDispatcher()
    events = await ActionAskBookingSlot(services).run(
        d,
        make_tracker(
            person.id,
            "inform",
            "Siegburg",
            slots={"booking_place": "siegburg", "booking_topic": "kita"},
            lang=lang,
        ),
        {},
    )
    [msg] = d.messages
    assert msg["response"] == "booking_town_not_covered"
    rendered = services.responses.build(msg["response"], lang, msg, None)
    assert "Kaiser-Wilhelm-Platz 1" in rendered.text and "Siegburg" in rendered.text
    assert "nicht abgedeckt" not in rendered.text and "angefragt" not in rendered.text
    assert [b.payload for b in rendered.buttons] == ["i:request_human", "i:book_appointment"]
    if lang != "de":
        assert rendered.meta["language"] == lang  # in their language, not the German master
    # The booking form ends there (no "no free time, shall I put you on the waiting list?").
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)
    assert "booking_no_slots" not in [m.get("response") for m in d.messages]
