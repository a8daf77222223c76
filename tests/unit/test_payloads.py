"""The button-payload grammar: every kind round-trips within 64 bytes; forgeries are refused."""

from __future__ import annotations

import pytest

from rendering import payloads as p

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
