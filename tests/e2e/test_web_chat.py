"""Scripted conversations through POST /api/chat against the real stack (German and English)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from rendering.renderer import Renderer
from storage.db import session_scope
from storage.handoff import release_handoff
from storage.models import FaqEntry, HandoffRequest, InboundMessage, Person
from storage.seed import TOPICS
from tests.support.stack import Stack
from translations.languages import CHAT_LANGUAGES

pytestmark = pytest.mark.e2e

LANGUAGE_PAYLOADS = [f"lang:{code}" for code in CHAT_LANGUAGES]


def payloads(message: dict) -> list[str]:
    return [b["payload"] for b in message["buttons"]]


def person_of(db: Engine, sender: str) -> Person | None:
    with session_scope(db) as s:
        return s.exec(select(Person).where(Person.external_id == sender)).first()


def faq_key(db: Engine, faq_id: int) -> str:
    with session_scope(db) as s:
        entry = s.get(FaqEntry, faq_id)
        assert entry is not None
        return entry.key


def onboard(stack: Stack, sender: str, lang: str) -> None:
    stack.chat(sender, text="hi", language=lang)
    stack.chat(sender, payload=f"c:y:{lang}")
    stack.chat(sender, payload=f"lang:{lang}")


def test_consent_comes_first_and_nothing_is_stored_before(
    stack: Stack, stack_db: Engine, texts: Renderer
):
    sender = f"web-{uuid.uuid4()}"
    question = f"Hallo, ich habe eine Frage zur Kita ({sender})"
    [notice] = stack.chat(sender, text=question, language="de")
    assert notice["text"] == texts.text("privacy_notice", "de")
    assert payloads(notice) == ["c:y:de", "c:n:de", "c:l"]
    assert [b["title"] for b in notice["buttons"]] == [
        texts.text("button_consent_yes", "de"),
        texts.text("button_consent_no", "de"),
        texts.text("button_other_language", "de"),
    ]
    # Not even the person exists yet, let alone the message.
    assert person_of(stack_db, sender) is None
    with session_scope(stack_db) as s:
        assert not s.exec(select(InboundMessage).where(InboundMessage.text == question)).all()

    [prompt] = stack.chat(sender, payload="c:y:de")
    assert prompt["text"] == texts.text("language_prompt", "de")
    assert payloads(prompt) == LANGUAGE_PAYLOADS
    assert [b["title"] for b in prompt["buttons"]][:3] == ["Deutsch", "English", "العربية"]
    person = person_of(stack_db, sender)
    assert person is not None and person.consent == "given"

    confirm, greet = stack.chat(sender, payload="lang:de")
    assert confirm["text"] == texts.text("language_set", "de")
    assert greet["text"] == texts.text("utter_greet", "de")
    assert payloads(greet) == [f"i:ask_{t}" for t in TOPICS] + ["i:request_human"]


def test_declining_keeps_only_the_decision(stack: Stack, stack_db: Engine, texts: Renderer):
    sender = f"web-{uuid.uuid4()}"
    stack.chat(sender, text="hello", language="en")
    [declined] = stack.chat(sender, payload="c:n:en")
    assert declined["text"] == texts.text("consent_declined", "en")
    person = person_of(stack_db, sender)
    assert person is not None and person.consent == "declined" and person.language is None
    [again] = stack.chat(sender, text="what about kita?", language="en")  # as the web client sends
    assert again["text"] == texts.text("privacy_notice", "en")
    with session_scope(stack_db) as s:
        assert not s.exec(select(InboundMessage).where(InboundMessage.person_id == person.id)).all()


def test_privacy_notice_in_another_language(stack: Stack, texts: Renderer):
    sender = f"web-{uuid.uuid4()}"
    stack.chat(sender, text="hi")
    [choose] = stack.chat(sender, payload="c:l")
    assert payloads(choose) == [p.replace("lang:", "pl:") for p in LANGUAGE_PAYLOADS]
    [notice] = stack.chat(sender, payload="pl:ar")
    assert notice["text"] == texts.text("privacy_notice", "ar")
    assert notice["meta"]["language"] == "ar"
    assert payloads(notice)[:2] == ["c:y:ar", "c:n:ar"]


@pytest.mark.parametrize(
    ("lang", "question", "topic"),
    [
        ("de", "Wie melde ich mein Kind in der Kita an?", "kita"),
        ("de", "Was kostet die Einbürgerung?", "naturalisation"),
        ("de", "Ich will einen Integrationskurs machen, wie geht das?", "integration_course"),
        ("en", "how do i register my child for kita", "kita"),
        ("en", "How much does naturalisation cost?", "naturalisation"),
        ("en", "who pays for the integration course", "integration_course"),
    ],
)
def test_topic_questions_are_answered_from_stored_content(
    stack: Stack, stack_db: Engine, texts: Renderer, lang: str, question: str, topic: str
):
    sender = f"web-{uuid.uuid4()}"
    [answer] = stack.chat(sender, text=question, consent=True, language=lang)
    meta = answer["meta"]
    assert meta["intent"] == f"ask_{topic}"
    assert meta["topic"] == topic
    assert meta["language"] == lang
    assert meta["translation"] == ("source" if lang == "de" else "reviewed")
    rendered = texts.faq(meta["faq_id"], lang)
    assert rendered is not None and rendered.topic == topic
    assert answer["text"].startswith(rendered.question.text + "\n\n" + rendered.answer.text)
    assert rendered.footer in answer["text"]
    # Related questions of the same topic are offered as buttons.
    assert answer["buttons"] and all(p.startswith("f:") for p in payloads(answer))
    chosen = int(payloads(answer)[0][2:])
    [follow] = stack.chat(sender, payload=f"f:{chosen}")
    assert follow["meta"]["faq_id"] == chosen and follow["meta"]["topic"] == topic


def test_specific_question_picks_the_specific_entry(stack: Stack, stack_db: Engine):
    [answer] = stack.chat(
        f"web-{uuid.uuid4()}", text="Was kostet die Einbürgerung? Gebühr?", consent=True, language="de"
    )
    assert faq_key(stack_db, answer["meta"]["faq_id"]) == "naturalisation-fees"


def test_request_human_pauses_the_bot_until_staff_release(
    stack: Stack, stack_db: Engine, texts: Renderer
):
    sender = f"web-{uuid.uuid4()}"
    [handoff] = stack.chat(
        sender, text="Ich möchte mit einem Menschen sprechen", consent=True, language="de"
    )
    assert handoff["meta"]["intent"] == "request_human"
    assert handoff["text"] == texts.text("utter_handoff_created", "de")
    person = person_of(stack_db, sender)
    assert person is not None and person.paused
    with session_scope(stack_db) as s:
        [req] = s.exec(select(HandoffRequest).where(HandoffRequest.person_id == person.id)).all()
        assert req.status == "open" and req.reason == "user"
        req_id = req.id

    # While paused, messages are kept for the case manager and the bot does not answer them.
    [ack] = stack.chat(sender, text="Wie melde ich mein Kind in der Kita an?")
    assert ack["text"] == texts.text("handoff_paused_ack", "de")
    [ack2] = stack.chat(sender, payload="i:ask_kita")
    assert ack2["meta"]["response"] == "handoff_paused_ack"
    with session_scope(stack_db) as s:
        kept = s.exec(
            select(InboundMessage).where(
                InboundMessage.person_id == person.id, InboundMessage.status == "handed_off"
            )
        ).all()
        assert len(kept) == 2

    with session_scope(stack_db) as s:
        assert release_handoff(session=s, handoff_id=req_id, by="test") is not None
    [answer] = stack.chat(sender, text="Wie melde ich mein Kind in der Kita an?")
    assert answer["meta"]["topic"] == "kita"


def test_english_handoff_text(stack: Stack, texts: Renderer):
    [handoff] = stack.chat(
        f"web-{uuid.uuid4()}", text="I want to talk to a real person please", consent=True, language="en"
    )
    assert handoff["meta"]["intent"] == "request_human"
    assert handoff["text"] == texts.text("utter_handoff_created", "en")


@pytest.mark.parametrize(
    ("lang", "gibberish"), [("de", "xqzv blorp fnord"), ("en", "zzkq wubwub plonk")]
)
def test_unclear_messages_get_a_helpful_fallback(
    stack: Stack, texts: Renderer, lang: str, gibberish: str
):
    sender = f"web-{uuid.uuid4()}"
    [fallback] = stack.chat(sender, text=gibberish, consent=True, language=lang)
    assert fallback["meta"]["response"] in ("utter_fallback", "utter_fallback_suggestions")
    assert fallback["buttons"], "a fallback always offers a way on"
    if fallback["meta"]["response"] == "utter_fallback":
        assert fallback["text"] == texts.text("utter_fallback", lang)
        assert payloads(fallback) == [f"i:ask_{t}" for t in TOPICS] + ["i:request_human"]
    # A second misunderstanding in a row offers a person. (The same words again: a button cannot carry
    # the fallback intent, only the intents a real button sends.)
    [offer] = stack.chat(sender, text=gibberish)
    assert offer["meta"]["response"] == "utter_fallback_offer_human"
    assert offer["text"] == texts.text("utter_fallback_offer_human", lang)
    assert payloads(offer) == ["i:affirm", "i:deny"]


def test_odd_input_gets_a_clear_answer(stack: Stack, texts: Renderer):
    sender = f"web-{uuid.uuid4()}"
    onboard(stack, sender, "en")
    assert stack.chat(sender, text="   ")[0]["text"] == texts.text("empty_message", "en")
    assert stack.chat(sender, text="/frobnicate")[0]["text"] == texts.text("unknown_command", "en")
    assert stack.chat(sender, payload="x:garbage")[0]["text"] == texts.text("button_expired", "en")
    assert stack.chat(sender, payload="f:999999")[0]["meta"]["response"] == "utter_faq_not_found"
    assert stack.chat(sender, text="x" * 5000)[0]["text"] == texts.text("message_too_long", "en")
    # Emoji, right-to-left text and bidi controls do not break anything.
    for odd in ["🙂🙂🙂", "مرحبا \u202e kita \u202c", "kita anmeldung how?"]:
        [reply] = stack.chat(sender, text=odd)
        assert reply["text"]


def test_duplicate_message_id_is_processed_once(stack: Stack, stack_db: Engine):
    sender = f"web-{uuid.uuid4()}"
    onboard(stack, sender, "de")
    first = stack.chat(sender, text="Kita Anmeldung", message_id="m-1")
    again = stack.chat(sender, text="Kita Anmeldung", message_id="m-1")
    # A retry of the same message id gets the same replies, and it is processed once.
    assert first and again == first
    person = person_of(stack_db, sender)
    assert person is not None
    with session_scope(stack_db) as s:
        assert (
            len(
                s.exec(
                    select(InboundMessage).where(
                        InboundMessage.person_id == person.id,
                        InboundMessage.text == "Kita Anmeldung",
                    )
                ).all()
            )
            == 1
        )


def test_danger_phrases_always_reach_the_emergency_flow(stack: Stack, stack_db: Engine, texts: Renderer):
    sender = f"web-{uuid.uuid4()}"
    [reply] = stack.chat(sender, text="ich denke an suizid", consent=True, language="de")
    assert reply["text"] == texts.text("utter_emergency", "de")
    person = person_of(stack_db, sender)
    assert person is not None and person.paused


@pytest.mark.parametrize("noise", ["?", "🙂🙂🙂", "qwrtzp xvbnm", "asdfghjkl"])
def test_noise_after_the_offer_of_a_person_is_no_yes(
    stack: Stack, stack_db: Engine, texts: Renderer, noise: str
):
    """Issue 12: a row of random letters, only emoji or a lone "?" is not "yes": after "shall I
    connect you with a person?" it gets the fallback, and nobody is handed a conversation."""
    sender = f"web-{uuid.uuid4()}"
    stack.chat(sender, text="xqzv blorp fnord", consent=True, language="de")
    [offer] = stack.chat(sender, text="xqzv blorp fnord")
    assert offer["meta"]["response"] == "utter_fallback_offer_human"
    replies = stack.chat(sender, text=noise)
    responses = [m["meta"]["response"] for m in replies]
    assert "utter_handoff_created" not in responses, responses
    assert set(responses) <= {
        "utter_fallback",
        "utter_fallback_suggestions",
        "utter_fallback_offer_human",
    }, responses
    person = person_of(stack_db, sender)
    assert person is not None and not person.paused
    with session_scope(stack_db) as s:
        assert not s.exec(select(HandoffRequest).where(HandoffRequest.person_id == person.id)).all()


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("de", "Ich finde keine Wohnung. Wer hilft mir?"),
        ("en", "I can't find a flat, who can help me?"),
        ("de", "Ich habe kein Geld mehr für die Miete, wer kann helfen?"),
    ],
)
def test_distress_about_housing_or_money_is_not_an_emergency(
    stack: Stack, texts: Renderer, lang: str, text: str
):
    """Issue 12: the safety net is for danger to life and violence, not for a hard search."""
    sender = f"web-{uuid.uuid4()}"
    replies = stack.chat(sender, text=text, consent=True, language=lang)
    responses = [m["meta"]["response"] for m in replies]
    assert "utter_emergency_check" not in responses and "utter_emergency" not in responses
    assert responses[0] in ("utter_faq_answer", "utter_fallback_suggestions"), responses
