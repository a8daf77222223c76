"""The studio's translations in real Chromium against the real stack (Rasa with the trained model, the
action server, the app on PostgreSQL).

The German master of an entry changes → a person asking in English in the web chat gets the reviewed
old English text with the note that it may be out of date → the editor opens the review queue (the
entry is first: outdated), edits the English translation side by side and approves it for the new
version → the person asking again gets it as reviewed, without a note. axe-core checks every page of
the texts studio.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlmodel import select

from storage.db import make_engine, session_scope, utcnow
from storage.models import FaqEntry, Origin, TextStatus, Translation
from storage.models_translation import GlossaryTerm
from tests.browser.conftest import axe_violations, sign_in
from tests.support.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

ENTRY = "banking-basic-account"
QUESTION = "Do I have a right to a bank account?"
OLD_ENGLISH = "Everyone who is legally resident in the EU has a right to a Basiskonto"
NEW_ENGLISH = (
    "Yes. Everyone who lives legally in the EU has a right to a Basiskonto (basic current account). "
    "New since 2027: banks must open it within ten days."
)
OUTDATED_NOTE = "The German text has changed"


def change_german_answer(stack: Stack, key: str, addition: str) -> int:
    """What the entry editor does when the German answer changes: a new version, a staff edit."""
    engine = make_engine(stack.settings.database_url)
    try:
        with session_scope(engine) as s:
            entry = s.exec(select(FaqEntry).where(FaqEntry.key == key)).one()
            entry.version += 1
            entry.origin, entry.updated_at, entry.updated_by = Origin.STAFF, utcnow(), "ed"
            for row in s.exec(
                select(Translation).where(
                    Translation.owner_type == "faq",
                    Translation.owner_key == key,
                    Translation.language == "de",
                )
            ).all():
                if row.field == "answer":
                    row.text = f"{row.text} {addition}"
                row.source_version, row.origin, row.updated_at = entry.version, Origin.STAFF, utcnow()
                s.add(row)
            s.add(entry)
            return entry.version
    finally:
        engine.dispose()


def english_answer(stack: Stack, key: str) -> Translation:
    engine = make_engine(stack.settings.database_url)
    try:
        with session_scope(engine) as s:
            row = s.exec(
                select(Translation).where(
                    Translation.owner_type == "faq",
                    Translation.owner_key == key,
                    Translation.field == "answer",
                    Translation.language == "en",
                )
            ).one()
            s.expunge(row)
            return row
    finally:
        engine.dispose()


@pytest.fixture
def person(chromium: Browser) -> Iterator[BrowserContext]:
    """A newcomer's browser in English (the web chat takes its language hint from it)."""
    ctx = chromium.new_context(locale="en-US", timezone_id="Europe/Berlin")
    ctx.set_default_timeout(30_000)
    yield ctx
    ctx.close()


def start_chat_in_english(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.web}/")
    page.get_by_role("button", name="Yes, I agree").click()
    english = page.get_by_role("button", name="English")
    english.last.click()
    expect(
        page.locator(".msg.bot").filter(has_text="I will write to you in English now")
    ).to_be_visible()


def ask(page: Page, text: str, expected: str) -> str:
    """Type a question into the web chat; the bot message containing ``expected``."""
    page.get_by_label("Nachricht / Message").fill(text)
    page.get_by_role("button", name="Senden / Send").click()
    answer = page.locator(".msg.bot").filter(has_text=expected).last
    expect(answer).to_be_visible(timeout=45_000)
    return answer.inner_text()


def test_outdated_english_answer_is_reviewed_in_the_queue_and_reaches_the_person(
    console_stack: Stack, context: BrowserContext, person: BrowserContext
):
    stack = console_stack
    version = change_german_answer(
        stack, ENTRY, "Neu seit 2027: Die Bank muss es in zehn Tagen eröffnen."
    )
    assert version == 2

    # The person, in the web chat, in English: the reviewed old translation, marked as out of date.
    chat = person.new_page()
    start_chat_in_english(chat, stack)
    first = ask(chat, QUESTION, OLD_ENGLISH)
    assert OUTDATED_NOTE in first

    # The editor: the review queue of English lists the entry first, as outdated.
    page = context.new_page()
    sign_in(page, stack, "ed")
    page.goto(f"{stack.web}/console/content/translations?lang=en")
    expect(page.get_by_role("heading", name="Übersetzungen prüfen: Englisch")).to_be_visible()
    assert axe_violations(page) == []
    first_row = page.locator("table.queue tbody tr").first
    expect(first_row).to_have_attribute("data-item", f"faq:{ENTRY}")
    expect(first_row).to_contain_text("veraltet")
    first_row.get_by_role("link", name=re.compile("Übersetzung bearbeiten")).click()

    # Side by side: German version 2 and the English text of version 1.
    expect(page.get_by_role("heading", name=re.compile("FAQ-Eintrag übersetzen"))).to_be_visible()
    expect(page.locator(".master-text").nth(1)).to_contain_text("Neu seit 2027")
    expect(page.get_by_text("Deutsch (Original, Version 2)").first).to_be_visible()
    expect(page.locator(".alert-inline")).to_contain_text("Der deutsche Text wurde geändert")
    # A model for German → English is installed here: the machine button is offered.
    expect(
        page.get_by_role("button", name="Maschinell übersetzen (fehlende und veraltete)")
    ).to_be_visible()
    assert axe_violations(page) == []
    page.locator('textarea[name="text__answer"]').fill(NEW_ENGLISH)
    page.get_by_role("button", name="Als geprüft freigeben").click()
    expect(page.get_by_role("status")).to_contain_text("Als geprüft freigegeben (Version 2)")
    expect(page.locator('textarea[name="text__answer"]')).to_have_value(NEW_ENGLISH)
    row = english_answer(stack, ENTRY)
    assert (row.status, row.source_version, row.reviewer) == (TextStatus.REVIEWED, 2, "ed")

    # The person asks again: the reviewed translation of the new version, without a note.
    second = ask(chat, QUESTION, "New since 2027")
    assert OUTDATED_NOTE not in second

    # The queue no longer lists the entry.
    page.goto(f"{stack.web}/console/content/translations?lang=en")
    assert page.locator(f'tr[data-item="faq:{ENTRY}"]').count() == 0


def test_texts_pages_pass_axe(console_stack: Stack, context: BrowserContext):
    stack = console_stack
    engine = make_engine(stack.settings.database_url)
    try:
        with session_scope(engine) as s:
            term = s.exec(
                select(GlossaryTerm).where(
                    GlossaryTerm.term == "Jobcenter", GlossaryTerm.language == "de"
                )
            ).one()
            term_id = term.id
    finally:
        engine.dispose()
    page = context.new_page()
    sign_in(page, stack, "ed")
    for path, heading in (
        ("/console/content/translations?lang=ar", "Übersetzungen prüfen: Arabisch"),
        (f"/console/content/entries/{ENTRY}/translations/ar", "FAQ-Eintrag übersetzen"),
        ("/console/content/messages?lang=fa", "Bot-Nachrichten"),
        ("/console/content/messages/privacy_notice", "Bot-Nachricht bearbeiten"),
        ("/console/content/messages/privacy_notice/translations/ar", "Bot-Nachricht übersetzen"),
        ("/console/content/glossary?lang=uk", "Glossar"),
        (f"/console/content/glossary/{term_id}", "Glossar-Begriff bearbeiten"),
        (f"/console/content/glossary/{term_id}/translations/ar", "Glossar-Begriff übersetzen"),
        ("/console/content/checklists?lang=ar", "Mitbringlisten"),
        ("/console/content/export", "Inhalte exportieren"),
    ):
        page.goto(f"{stack.web}{path}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        assert axe_violations(page) == [], path
    # A refused save (a placeholder dropped) keeps the text and passes axe too.
    page.goto(f"{stack.web}/console/content/messages/privacy_notice/translations/en")
    page.locator('textarea[name="text__text"]').fill("Hello, no placeholders here.")
    page.get_by_role("button", name="Als Entwurf speichern").click()
    expect(page.get_by_role("alert")).to_contain_text("Platzhalter stimmen nicht")
    expect(page.locator('textarea[name="text__text"]')).to_have_value("Hello, no placeholders here.")
    assert axe_violations(page) == []
    # The download works in the browser (a form post, no JavaScript needed).
    page.goto(f"{stack.web}/console/content/export")
    with page.expect_download() as download:
        page.get_by_role("button", name="ZIP-Datei herunterladen").click()
    assert download.value.suggested_filename == "kim-lotse-inhalte.zip"
