"""The button-payload grammar: the one place that encodes and decodes what a button carries.

A payload is a short opaque string (Telegram allows 64 bytes of ``callback_data``)::

    i:<intent>            an intent for Rasa, only those in BUTTON_INTENTS
    f:<faq id>            a chosen FAQ answer
    lang:<code>           set the chat language      pl:<code>    read the privacy notice in a language
    c:y:<code> c:n:<code> consent given / declined   c:l          list the notice languages
    d:y d:n               confirm / cancel erasure
    b:<field>:<value>     answer a booking question (fields in BOOKING_FIELDS), b:x:stop stops the form
    a:c:<ref> a:m:<ref>   cancel / move an appointment
    h:y:<id> h:n:<id>     "did this answer help?" after a closed-loop message (follow-up id)
    h:o:<id>              "no more such messages" (opt out of closed-loop messages)

``decode`` never raises: anything malformed, unknown or too long is ``None`` (an expired or forged
button). ``encode`` refuses (``ValueError``) what could not be decoded again, so no button is ever
dropped silently for being too long.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CALLBACK_DATA_MAX_BYTES = 64

# Intents a button may carry. A payload naming anything else is forged or expired.
TOPIC_INTENTS = (
    "ask_kita",
    "ask_school",
    "ask_integration_course",
    "ask_language_courses",
    "ask_naturalisation",
    "ask_residence",
    "ask_benefits",
    "ask_housing",
    "ask_health",
    "ask_work_recognition",
    "ask_banking",
    "ask_case_management",
    "ask_everyday",
)
BUTTON_INTENTS = frozenset(
    {
        *TOPIC_INTENTS,
        "request_human",
        "affirm",
        "deny",
        "emergency",
        "book_appointment",
        "join_waitlist",
        "my_appointments",
    }
)
# Booking form answers: b:<field>:<value> -> the form slot it fills.
BOOKING_FIELDS = {
    "t": "booking_topic",
    "p": "booking_place",
    "s": "booking_slot",
    "n": "booking_people",
    "i": "booking_interpreter",
    "c": "booking_confirm",
}
_VALUE = re.compile(r"^[A-Za-z0-9_|.-]{1,60}$")
_CODE = re.compile(r"^[a-z]{2,3}$")
_REFERENCE = re.compile(r"^[A-Z]{2}-[0-9A-Z]{4,10}$")


@dataclass(frozen=True)
class Intent:
    name: str


@dataclass(frozen=True)
class FaqChoice:
    faq_id: int


@dataclass(frozen=True)
class SetLanguage:
    code: str


@dataclass(frozen=True)
class NoticeLanguage:
    code: str


@dataclass(frozen=True)
class ConsentAnswer:
    given: bool
    language: str


@dataclass(frozen=True)
class NoticeLanguages:
    pass


@dataclass(frozen=True)
class EraseAnswer:
    confirmed: bool


@dataclass(frozen=True)
class BookingAnswer:
    field: str  # a key of BOOKING_FIELDS
    value: str

    @property
    def slot(self) -> str:
        """The booking form slot this answer fills."""
        return BOOKING_FIELDS[self.field]


@dataclass(frozen=True)
class StopBooking:
    pass


@dataclass(frozen=True)
class AppointmentAction:
    move: bool  # False: cancel
    reference: str


@dataclass(frozen=True)
class Helpful:
    answer_id: int
    helped: bool


@dataclass(frozen=True)
class StopFollowUps:
    answer_id: int  # the follow-up whose button was pressed


Payload = (
    Intent
    | FaqChoice
    | SetLanguage
    | NoticeLanguage
    | ConsentAnswer
    | NoticeLanguages
    | EraseAnswer
    | BookingAnswer
    | StopBooking
    | AppointmentAction
    | Helpful
    | StopFollowUps
)


def _digits(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None


def decode(payload: str | None) -> Payload | None:
    """The payload's meaning, or None when it is malformed, unknown, forged or too long."""
    if not payload or len(payload.encode("utf-8", "surrogatepass")) > CALLBACK_DATA_MAX_BYTES:
        return None
    kind, _, rest = payload.partition(":")
    if kind == "i":
        return Intent(rest) if rest in BUTTON_INTENTS else None
    if kind == "f":
        faq_id = _digits(rest)
        return FaqChoice(faq_id) if faq_id is not None else None
    if kind in ("lang", "pl"):
        if not _CODE.match(rest):
            return None
        return SetLanguage(rest) if kind == "lang" else NoticeLanguage(rest)
    if kind == "c":
        if rest == "l":
            return NoticeLanguages()
        answer, _, code = rest.partition(":")
        if answer in ("y", "n") and _CODE.match(code):
            return ConsentAnswer(answer == "y", code)
        return None
    if kind == "d":
        return EraseAnswer(rest == "y") if rest in ("y", "n") else None
    if kind == "b":
        field, _, value = rest.partition(":")
        if field == "x" and value == "stop":
            return StopBooking()
        if field in BOOKING_FIELDS and _VALUE.match(value):
            return BookingAnswer(field, value)
        return None
    if kind == "a":
        action, _, reference = rest.partition(":")
        if action in ("c", "m") and _REFERENCE.match(reference):
            return AppointmentAction(action == "m", reference)
        return None
    if kind == "h":
        answer, _, ident = rest.partition(":")
        answer_id = _digits(ident)
        if answer in ("y", "n") and answer_id is not None:
            return Helpful(answer_id, answer == "y")
        if answer == "o" and answer_id is not None:
            return StopFollowUps(answer_id)
        return None
    return None


def _encode(p: Payload) -> str:
    match p:
        case Intent(name):
            return f"i:{name}"
        case FaqChoice(faq_id):
            return f"f:{faq_id}"
        case SetLanguage(code):
            return f"lang:{code}"
        case NoticeLanguage(code):
            return f"pl:{code}"
        case ConsentAnswer(given, code):
            return f"c:{'y' if given else 'n'}:{code}"
        case NoticeLanguages():
            return "c:l"
        case EraseAnswer(confirmed):
            return "d:y" if confirmed else "d:n"
        case BookingAnswer(field, value):
            return f"b:{field}:{value}"
        case StopBooking():
            return "b:x:stop"
        case AppointmentAction(move, reference):
            return f"a:{'m' if move else 'c'}:{reference}"
        case Helpful(answer_id, helped):
            return f"h:{'y' if helped else 'n'}:{answer_id}"
        case StopFollowUps(answer_id):
            return f"h:o:{answer_id}"
    raise ValueError(f"not a payload: {p!r}")


def encode(p: Payload) -> str:
    """The payload string; ``ValueError`` if it would not decode to the same meaning (too long too)."""
    text = _encode(p)
    if decode(text) != p:
        raise ValueError(f"payload {text!r} does not round-trip (too long or malformed)")
    return text


# Short helpers for the builders.
def intent(name: str) -> str:
    """``i:<name>`` for a button intent."""
    return encode(Intent(name))


def booking(field: str, value: str) -> str:
    """``b:<field>:<value>`` for a booking answer."""
    return encode(BookingAnswer(field, value))
