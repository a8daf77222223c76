"""A KI editor writes an FAQ entry in the studio and a person gets it in the web chat, in real Chromium,
against the real stack (Rasa with the trained model, the action server, PostgreSQL): no retraining.

The editor creates a new Kreis entry in German and English → a person asks in English in the web chat
and gets the English answer → the editor changes the German text (a new version) → the person asks
again and the English answer is now marked as possibly outdated. axe-core checks every studio page.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlmodel import select

from bot.channels.telegram_sender import TELEGRAM_TEXT_MAX, chunks
from rendering import payloads
from rendering.renderer import Renderer
from rendering.responses import ResponseBuilder
from storage.db import make_engine, session_scope
from storage.models import FaqEntry
from storage.models_audit import AuditEvent
from tests.browser.conftest import axe_violations, sign_in
from tests.support.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

QUESTION = "Wo bekomme ich einen Ausweis für die Kreisbibliothek?"
ANSWER = (
    "Den Ausweis für die Kreisbibliothek bekommen Sie kostenlos an der Theke jeder Zweigstelle. "
    "Bringen Sie Ihren Pass oder Ihre Aufenthaltserlaubnis mit."
)
EN_QUESTION = "Where do I get a card for the district library?"
EN_ANSWER = (
    "You get the district library card for free at the desk of every branch. "
    "Bring your passport or your residence permit."
)
ASK = "How can I get a library card for the district library?"
_chats = itertools.count(830_000)


@pytest.fixture(scope="module")
def texts(console_stack: Stack) -> Iterator[Renderer]:
    engine = make_engine(console_stack.settings.database_url)
    yield Renderer(engine, None, console_stack.settings.message_variables())
    engine.dispose()


def no_violations(page: Page, where: str) -> None:
    found = axe_violations(page)
    assert found == [], f"{where}: {found}"


def entry_key(stack: Stack) -> str:
    engine = make_engine(stack.settings.database_url)
    try:
        with session_scope(engine) as s:
            rows = s.exec(select(AuditEvent).where(AuditEvent.action == "content.create")).all()
            assert rows, "no entry was created"
            return str(rows[-1].target).removeprefix("faq:")
    finally:
        engine.dispose()


def version_of(stack: Stack, key: str) -> int:
    engine = make_engine(stack.settings.database_url)
    try:
        with session_scope(engine) as s:
            return s.exec(select(FaqEntry).where(FaqEntry.key == key)).one().version
    finally:
        engine.dispose()


def ask_in_web_chat(page: Page, question: str, texts: Renderer) -> str:
    """Type ``question`` into the web chat; the bot's answer (choosing a suggestion if it offers one)."""
    bot = page.locator(".msg.bot")
    before = bot.count()
    page.get_by_label("Nachricht / Message").fill(question)
    page.get_by_label("Nachricht / Message").press("Enter")
    expect(bot).to_have_count(before + 1, timeout=30_000)
    answer = bot.nth(before)
    suggestion = answer.get_by_role("button", name=EN_QUESTION)
    if EN_ANSWER[:40] not in (answer.text_content() or "") and suggestion.count():
        suggestion.click()  # the bot was unsure and offered the best matches: the person picks ours
        expect(bot).to_have_count(before + 2, timeout=30_000)
        answer = bot.nth(before + 1)
    return answer.text_content() or ""


def start_web_chat(context: BrowserContext, stack: Stack, texts: Renderer) -> Page:
    page = context.new_page()
    page.goto(f"{stack.web}/")
    page.get_by_role("button", name=texts.text("button_consent_yes", "en")).click()
    page.get_by_role("button", name="English").last.click()
    expect(page.locator(".msg.bot")).to_have_count(4, timeout=30_000)  # the greeting has arrived
    return page


def test_an_entry_written_in_the_studio_answers_in_the_web_chat_at_once(
    console_stack: Stack, context: BrowserContext, texts: Renderer
):
    stack = console_stack
    editor = context.new_page()
    sign_in(editor, stack, "ed")
    expect(editor.get_by_role("heading", name="Inhalte", exact=True)).to_be_visible()
    expect(editor.locator('[data-counts="ar"]')).to_contain_text("Arabisch:")
    no_violations(editor, "start page")

    # A new Kreis entry in German and English.
    editor.get_by_role("link", name="Neuen Eintrag schreiben").click()
    expect(editor.get_by_role("heading", name="Neuer Eintrag")).to_be_visible()
    no_violations(editor, "new entry form")
    editor.get_by_label("Frage (Deutsch) *", exact=True).fill(QUESTION)
    editor.get_by_label("Antwort (Deutsch) *", exact=True).fill(ANSWER)
    editor.get_by_label("Thema *", exact=True).select_option("everyday")
    editor.get_by_label("Gilt für *", exact=True).select_option("kreis")
    editor.get_by_role("button", name="Eintrag speichern").click()
    # No source: refused, and nothing typed is lost.
    expect(editor.get_by_role("alert").first).to_contain_text("Es wurde nichts gespeichert")
    expect(editor.get_by_label("Antwort (Deutsch) *", exact=True)).to_have_value(ANSWER)
    no_violations(editor, "form with mistakes")
    editor.get_by_label(re.compile(r"^Quellen")).fill("https://www.kreis.example/bibliothek")
    editor.get_by_label("Stichwörter (mit Komma getrennt)").fill(
        "Bibliotheksausweis, library card, Bücherei"
    )
    editor.get_by_label("Frage (Englisch)").fill(EN_QUESTION)
    editor.get_by_label("Antwort (Englisch)").fill(EN_ANSWER)
    editor.get_by_role("button", name="Eintrag speichern").click()
    expect(editor.get_by_role("status")).to_contain_text("gilt ab sofort")
    key = entry_key(stack)
    expect(editor.locator('tr[data-lang="en"]')).to_contain_text("geprüft")
    no_violations(editor, "entry page")

    # A person asks in English in the web chat (nothing was retrained) and gets the new entry.
    person_ctx = context.browser.new_context(locale="en-US")  # type: ignore[union-attr]
    try:
        person = start_web_chat(person_ctx, stack, texts)
        answer = ask_in_web_chat(person, ASK, texts)
        assert EN_ANSWER in answer, answer
        assert texts.text("faq_note_outdated", "en") not in answer

        # The editor changes the German text: version 2, the English translation is outdated now.
        editor.get_by_label("Antwort (Deutsch) *", exact=True).fill(
            ANSWER.replace("kostenlos", "für 5 Euro im Jahr")
        )
        editor.get_by_role("button", name="Änderungen speichern").click()
        expect(editor.get_by_role("status")).to_contain_text("Neue Fassung 2")
        expect(editor.locator('tr[data-lang="en"]')).to_contain_text("veraltet")
        assert version_of(stack, key) == 2

        # The person asks again: the reviewed English text, marked as possibly out of date.
        answer = ask_in_web_chat(person, ASK, texts)
        assert EN_ANSWER in answer and texts.text("faq_note_outdated", "en") in answer, answer

        # The editor approves a new English translation of version 2, side by side with the German.
        editor.goto(f"{stack.web}/console/content/entries/{key}/translations/en")
        expect(editor.get_by_text("Deutsch (Original, Version 2)").first).to_be_visible()
        new_english = EN_ANSWER.replace("for free", "for 5 euros a year")
        editor.locator('textarea[name="text__answer"]').fill(new_english)
        editor.get_by_role("button", name="Als geprüft freigeben").click()
        expect(editor.get_by_role("status")).to_contain_text("Als geprüft freigegeben (Version 2)")

        # The person asks once more and gets it as reviewed: the new text, no note.
        answer = ask_in_web_chat(person, ASK, texts)
        assert "5 euros a year" in answer, answer
        assert texts.text("faq_note_outdated", "en") not in answer
    finally:
        person_ctx.close()

    # The editor sees the same in the preview, and the change in the history.
    editor.goto(f"{stack.web}/console/content/entries/{key}/preview?lang=en")
    expect(editor.locator(".bubble")).to_contain_text("5 euros a year")
    no_violations(editor, "preview")
    editor.goto(f"{stack.web}/console/content/entries/{key}/history")
    expect(editor.locator(".history-step").first.locator("ins")).to_contain_text("5 Euro")
    expect(editor.locator(".history-step").first.locator("del")).to_contain_text("kostenlos")
    no_violations(editor, "history")

    # The list finds it by an English word, with its state per language.
    editor.goto(f"{stack.web}/console/content?q=library+card")
    row = editor.locator(f'tr[data-entry="{key}"]')
    expect(row).to_contain_text("geprüft")
    no_violations(editor, "filtered list")


def test_right_to_left_and_markup_in_the_studio(console_stack: Stack, context: BrowserContext):
    stack = console_stack
    page = context.new_page()
    sign_in(page, stack, "ed")
    marker = f"m{uuid.uuid4().hex[:6]}"
    page.goto(f"{stack.web}/console/content/entries/new")
    page.get_by_label("Frage (Deutsch) *", exact=True).fill(
        f'<img src=x onerror="document.title=1"> {marker}?'
    )
    page.get_by_label("Antwort (Deutsch) *", exact=True).fill("مرحبا بكم في المكتبة. <b>fett</b>")
    page.get_by_label("Thema *", exact=True).select_option("everyday")
    page.get_by_label(re.compile(r"^Quellen")).fill("§ 1 Satzung")
    page.get_by_role("button", name="Eintrag speichern").click()
    expect(page.get_by_role("status")).to_contain_text("gilt ab sofort")
    expect(page.locator("h1")).to_contain_text('<img src=x onerror="document.title=1">')
    assert page.title() != "1" and page.locator("main img").count() == 0
    key = entry_key(stack)
    # Saving the form as it came back (the browser sends CRLF line ends): no new version.
    page.get_by_role("button", name="Änderungen speichern").click()
    expect(page.get_by_role("status")).to_have_text(
        "Die Änderungen sind gespeichert und gelten ab sofort."
    )
    assert version_of(stack, key) == 1
    # A version prepared for 1 January, with its English translation written ahead.
    page.get_by_label("Gilt ab *").fill("2099-01-01")
    page.get_by_label("Neue Antwort (Deutsch) *").fill("مرحبا. Ab 2099 geöffnet auch sonntags.")
    page.get_by_role("button", name="Neue Fassung speichern").click()
    expect(page.locator(".pending .notice")).to_contain_text("gilt ab 01.01.2099")
    english = page.locator('[data-pending-lang="en"]')
    english.locator("summary").click()
    english.get_by_label("Frage (Englisch)").fill("All library fees?")
    english.get_by_label("Antwort (Englisch)").fill("From 2099 also open on Sundays.")
    english.get_by_role("button", name="Übersetzung speichern (Englisch)").click()
    expect(page.locator('[data-pending-lang="en"] summary')).to_contain_text("geprüft von ed")
    assert version_of(stack, key) == 1  # until that day people get the current version
    no_violations(page, "entry page with a prepared version")
    page.get_by_role("link", name="Vorschau", exact=True).click()
    page.get_by_label("Sprache der Person").select_option("de")
    page.get_by_role("button", name="Zeigen").click()
    bubble = page.locator(".bubble")
    expect(bubble).to_contain_text("<b>fett</b>")  # as text, never as markup
    assert bubble.locator("b").count() == 0


def test_a_long_answer_with_markup_reaches_telegram_whole_and_as_plain_text(
    console_stack: Stack, context: BrowserContext, texts: Renderer
):
    stack, tg, chat = console_stack, console_stack.telegram, next(_chats)
    page = context.new_page()
    sign_in(page, stack, "ed")
    marker = f"m{uuid.uuid4().hex[:6]}"
    paragraph = "Dieser Absatz erklärt die Gebühren der Kreisbibliothek Schritt für Schritt. " * 6
    long_answer = ("<b>Wichtig</b> & <i>bitte lesen</i>\n" + (paragraph + "\n") * 60)[:20_000].strip()
    page.goto(f"{stack.web}/console/content/entries/new")
    page.get_by_label("Frage (Deutsch) *", exact=True).fill(f"Alle Gebühren der Bibliothek {marker}?")
    page.get_by_label("Antwort (Deutsch) *", exact=True).fill(long_answer)
    page.get_by_label("Thema *", exact=True).select_option("everyday")
    page.get_by_label(re.compile(r"^Quellen")).fill("https://www.kreis.example/gebuehren")
    page.get_by_role("button", name="Eintrag speichern").click()
    expect(page.get_by_role("status")).to_contain_text("gilt ab sofort")
    key = entry_key(stack)
    engine = make_engine(stack.settings.database_url)
    try:
        with session_scope(engine) as s:
            faq_id = s.exec(select(FaqEntry).where(FaqEntry.key == key)).one().id
        assert faq_id is not None
        expected = (
            ResponseBuilder(engine, texts).build("utter_faq_answer", "de", {"faq_id": faq_id}).text
        )
    finally:
        engine.dispose()
    assert long_answer in expected
    pieces = chunks(expected)
    assert len(pieces) >= 5 and all(len(p) <= TELEGRAM_TEXT_MAX for p in pieces)

    # A person on Telegram, in German, chooses the entry.
    tg.send_text(chat, "/start")
    notice = tg.wait_sent(chat, 1)[-1]
    tg.press(chat, "c:y:de", notice["message_id"])
    prompt = tg.wait_sent(chat, 2)[-1]
    tg.press(chat, "lang:de", prompt["message_id"])
    greet = tg.wait_sent(chat, 4)[-1]
    tg.press(chat, payloads.encode(payloads.FaqChoice(faq_id)), greet["message_id"])
    sent = tg.wait_sent(chat, 4 + len(pieces))[4:]
    assert [m["text"] for m in sent] == pieces  # the whole answer, in order, as it was written
    assert all("parse_mode" not in m for m in sent)  # plain text: the markup is shown, not applied
    assert "<b>Wichtig</b> & <i>bitte lesen</i>" in sent[0]["text"]
