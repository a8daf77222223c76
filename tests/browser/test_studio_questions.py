"""The closed loop in real Chromium against the real stack (Rasa with the trained model, the action
server, PostgreSQL, the fake Telegram server).

A person on Telegram asks something nobody can answer → the action server keeps it, anonymised → it
appears, grouped, on the editor's page of unanswered questions → an entry that answers it is created
(through storage: the new-entry page is built elsewhere) → the editor links the group to it in the
console → the person receives the closed-loop message (their question, the answer, "Did this help?")
on the fake Telegram server and presses "Ja" → the page counts it. axe-core on both views.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from datetime import date

import pytest
from playwright.sync_api import BrowserContext, expect
from sqlalchemy.engine import Engine
from sqlmodel import select

from rendering import payloads
from rendering.renderer import Renderer
from storage.db import make_engine, session_scope
from storage.models import FaqEntry, Origin, Person, TextStatus, Translation, UnansweredQuestion
from storage.models_closed_loop import FollowUp, QuestionGroupMember
from tests.browser.conftest import axe_violations, sign_in
from tests.support.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
_chats = itertools.count(850_000)  # apart from the other browser modules
# Words the trained model cannot place (the e2e tests' gibberish).
QUESTION = "xqzv blorp fnord"
ANSWER = "Blorp-Fnord gibt es im Bürgerbüro Ihrer Stadt. Bringen Sie Ihren Ausweis mit."


@pytest.fixture(scope="module")
def engine(console_stack: Stack) -> Iterator[Engine]:
    eng = make_engine(console_stack.settings.database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def texts(engine: Engine, console_stack: Stack) -> Renderer:
    return Renderer(engine, None, console_stack.settings.message_variables())


def create_entry(engine: Engine, key: str) -> None:
    """A new Kreis entry in German, as an editor's save stores it."""
    with session_scope(engine) as s:
        s.add(
            FaqEntry(
                key=key,
                topic="everyday",
                sources=["Bürgerbüro Rhein-Sieg-Kreis"],
                last_verified=date(2026, 12, 1),
                verified_by="Test ed",
                origin=Origin.STAFF,
                updated_by="ed",
            )
        )
        for field, text in (("question", "Wo bekomme ich Blorp-Fnord?"), ("answer", ANSWER)):
            s.add(
                Translation(
                    owner_type="faq",
                    owner_key=key,
                    field=field,
                    language="de",
                    text=text,
                    status=TextStatus.SOURCE,
                    origin=Origin.STAFF,
                    reviewer="ed",
                )
            )


def wait_question(engine: Engine, chat: int) -> UnansweredQuestion:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with session_scope(engine) as s:
            person = s.exec(
                select(Person).where(Person.channel == "telegram", Person.external_id == str(chat))
            ).first()
            if person is not None:
                found = s.exec(
                    select(UnansweredQuestion).where(UnansweredQuestion.person_id == person.id)
                ).first()
                if found is not None:
                    s.expunge(found)
                    return found
        time.sleep(0.2)
    raise AssertionError("the question was not kept")


def test_a_question_nobody_could_answer_comes_back_answered(
    console_stack: Stack, context: BrowserContext, engine: Engine, texts: Renderer
):
    stack, tg, chat = console_stack, console_stack.telegram, next(_chats)
    tg.send_text(chat, "/start")
    notice = tg.wait_sent(chat, 1)[-1]
    tg.press(chat, "c:y:de", notice["message_id"])
    prompt = tg.wait_sent(chat, 2)[-1]
    tg.press(chat, "lang:de", prompt["message_id"])
    tg.wait_sent(chat, 4)
    tg.send_text(chat, QUESTION)
    fallback = tg.wait_sent(chat, 5)[-1]
    assert fallback["text"] in (
        texts.text("utter_fallback", "de"),
        texts.text("utter_fallback_suggestions", "de"),
    )
    kept = wait_question(engine, chat)
    assert kept.text == QUESTION and kept.own_words == QUESTION

    page = context.new_page()
    sign_in(page, stack, "ed")
    page.goto(f"{stack.web}/console/content/questions")
    expect(page.get_by_role("heading", name="Offene Fragen", exact=True)).to_be_visible()
    group = page.locator("section.question-group").filter(has_text="xqzv blorp fnord")
    expect(group).to_have_count(1)
    with session_scope(engine) as s:
        member = s.get(QuestionGroupMember, kept.id)
        assert member is not None
        gid = member.group_id
    expect(group).to_have_attribute("id", f"group-{gid}")
    new_entry = group.get_by_role("link", name="Eintrag aus dieser Gruppe anlegen")
    expect(new_entry).to_have_attribute(
        "href",
        f"/console/content/entries/new?question=xqzv+blorp+fnord&group={gid}",
    )
    assert axe_violations(page) == []

    key = f"blorp-{uuid.uuid4().hex[:8]}"
    create_entry(engine, key)
    page.reload()
    group = page.locator("section.question-group").filter(has_text="xqzv blorp fnord")
    group.get_by_label("Oder einen anderen Eintrag wählen").select_option(key)
    group.get_by_role("button", name="Beantwortet durch diesen Eintrag", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Eine Person hat die Antwort jetzt")
    linked = page.locator("section.question-group").filter(has_text="xqzv blorp fnord")
    expect(linked).to_contain_text(key)
    assert axe_violations(page) == []

    # On Telegram: their own words, the new answer, and the buttons.
    message = tg.wait_sent(chat, 6)[-1]
    assert f"„{QUESTION}“" in message["text"] and ANSWER in message["text"]
    assert "Hat das geholfen?" in message["text"]
    buttons = tg.buttons(message)
    assert [title for title, _ in buttons] == ["Ja", "Nein", "Keine solchen Nachrichten mehr"]
    yes = buttons[0][1]
    assert isinstance(payloads.decode(yes), payloads.Helpful)
    tg.press(chat, yes, message["message_id"])
    thanks = tg.wait_sent(chat, 7)[-1]
    assert thanks["text"] == texts.text("closed_loop_thanks", "de")
    with session_scope(engine) as s:
        [fu] = s.exec(select(FollowUp).where(FollowUp.entry_key == key)).all()
        assert fu.answer == "helped"
    page.reload()
    linked = page.locator("section.question-group").filter(has_text="xqzv blorp fnord")
    expect(linked.locator("dl.feedback")).to_contain_text("Hat geholfen")
    expect(linked.locator("dl.feedback dd").nth(1)).to_have_text("1")
    # Told once: the job's next run sends nothing more.
    time.sleep(1)
    assert len(tg.sent(chat)) == 7
