"""The button-payload grammar: every kind round-trips within 64 bytes; forgeries are refused."""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta

import pytest

from rendering import payloads as p
from rendering.booking_views import INTERPRETER_LANGUAGES
from storage.calendar import Slot
from storage.seed_calendar import CASE_MANAGER_ID_MAX, MUNICIPALITY_SLUG_MAX
from storage.vocabulary import MAX_PEOPLE, TOPICS
from translations.languages import CHAT_LANGUAGES

LONGEST_VALUE = "x" * 60  # the grammar's longest booking value
EXAMPLES = [
    p.Intent("ask_kita"),
    p.Intent("request_human"),
    p.FaqChoice(12),
    p.FaqChoice(999_999_999_999),
    p.SetLanguage("uk"),
    p.NoticeLanguage("fa"),
    p.ConsentAnswer(True, "ar"),
    p.ConsentAnswer(False, "de"),
    p.NoticeLanguages(),
    p.EraseAnswer(True),
    p.EraseAnswer(False),
    p.BookingAnswer("t", "naturalisation"),
    p.BookingAnswer("s", "cm-troisdorf|202701011000"),
    p.BookingAnswer("n", "3"),
    p.BookingAnswer("p", LONGEST_VALUE),
    p.StopBooking(),
    p.AppointmentAction(False, "KL-7F3A"),
    p.AppointmentAction(True, "KL-7F3A9KMN"),
    p.Helpful(42, True),
    p.Helpful(42, False),
    p.StopFollowUps(42),
]


@pytest.mark.parametrize("payload", EXAMPLES, ids=repr)
def test_every_kind_round_trips_within_64_bytes(payload: p.Payload):
    text = p.encode(payload)
    assert p.decode(text) == payload
    assert len(text.encode()) <= p.CALLBACK_DATA_MAX_BYTES


def test_every_button_intent_round_trips():
    for name in p.BUTTON_INTENTS:
        assert p.decode(p.intent(name)) == p.Intent(name)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "i:",
        "i:emergency_x",  # not an intent a button carries
        "i:restart",
        "i:Ask Kita",
        "f:1;drop",
        "f:-1",
        "f:١٢",  # Arabic-Indic digits are digits to Python, not to us
        "lang:xx-YY",
        "c:y:",
        "c:maybe:de",
        "d:x",
        'b:s:x"}{"a',
        "b:q:1",
        "a:c:",
        "a:d:KL-7F3A",
        "a:c:kl-7f3a",
        "h:y:abc",
        "h:o:",
        "h:o:12x",
        "h:x:12",
        "z:anything",
        "i:" + "a" * 80,
        "b:p:" + "x" * 61,
    ],
)
def test_forged_or_malformed_payloads_are_refused(text: str):
    assert p.decode(text) is None


def test_encode_refuses_what_would_not_decode_the_same():
    with pytest.raises(ValueError):
        p.encode(p.Intent("restart"))
    with pytest.raises(ValueError):
        p.encode(p.BookingAnswer("p", "x" * 61))


def slot_key(case_manager_id: str) -> str:
    start = datetime(2027, 12, 31, 23, 0, tzinfo=UTC)
    return Slot(start, case_manager_id, "office", start + timedelta(hours=1)).key


# Every kind at the longest value the schema and the seed loader allow.
LONGEST = [
    p.Intent(max(p.BUTTON_INTENTS, key=len)),
    p.FaqChoice(999_999_999_999),  # ids up to 12 digits
    p.SetLanguage(max(CHAT_LANGUAGES, key=len)),
    p.SetLanguage("abc"),  # the grammar's longest code
    p.NoticeLanguage("abc"),
    p.ConsentAnswer(False, "abc"),
    p.NoticeLanguages(),
    p.EraseAnswer(True),
    p.BookingAnswer("t", max([*TOPICS, "other"], key=len)),
    p.BookingAnswer("p", "m" * MUNICIPALITY_SLUG_MAX),
    p.BookingAnswer("s", slot_key("c" * CASE_MANAGER_ID_MAX)),
    p.BookingAnswer("s", "later"),
    p.BookingAnswer("n", str(MAX_PEOPLE)),
    p.BookingAnswer("i", max([*INTERPRETER_LANGUAGES, "none"], key=len)),
    p.BookingAnswer("c", "yes"),
    p.StopBooking(),
    p.AppointmentAction(True, "AB-" + "Z" * 10),  # the grammar's longest reference
    p.Helpful(999_999_999_999, False),
    p.StopFollowUps(999_999_999_999),
]


def test_every_kind_fits_telegrams_64_bytes_at_its_longest():
    assert {type(x) for x in LONGEST} == set(typing.get_args(p.Payload))  # no kind left out
    for payload in LONGEST:
        text = p.encode(payload)
        assert len(text.encode()) <= p.CALLBACK_DATA_MAX_BYTES, text
        assert p.decode(text) == payload


def test_a_slot_payload_fits_only_with_a_short_case_manager_id():
    """b:s:<id>|<yyyymmddHHMM> is 17 bytes plus the id: ids of up to 47 characters fit. The schema
    allows 64; the calendar seed loader refuses ids over CASE_MANAGER_ID_MAX (40)."""
    assert len(p.booking("s", slot_key("c" * 47)).encode()) == 64
    for too_long in (48, 64):
        with pytest.raises(ValueError):
            p.booking("s", slot_key("c" * too_long))
