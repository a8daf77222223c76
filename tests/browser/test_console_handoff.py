"""A case manager answers people in their language, in real Chromium, against the real stack.

Telegram in Arabic: the person asks for a human → the hand-off appears in the open inbox without a
reload → the case manager signs in, opens it with a reason (an audit row), reads the person's message
with its German machine translation, writes German, checks the translation and its back-translation,
sends → the person gets it on the fake Telegram server, marked as machine translated → release → the
bot answers again. The same through the web chat. The tiny Argos models swap a few words
("Kind" ↔ "child" ↔ "طفل"), which makes every step of the translation visible.
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import update
from sqlmodel import col, select

from rendering.renderer import Renderer
from storage.db import make_engine, session_scope, utcnow
from storage.models import HandoffRequest, Person
from storage.models_audit import AuditEvent
from storage.models_staff import StaffSession
from tests.browser.conftest import axe_violations, sign_in
from tests.support.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
_chats = itertools.count(810_000)
GERMAN_REPLY = "Hallo, das Kind hat heute einen Termin."


def handoff_of(stack: Stack, channel: str, external_id: str) -> int:
    engine = make_engine(stack.settings.database_url)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with session_scope(engine) as s:
                person = s.exec(
                    select(Person).where(Person.channel == channel, Person.external_id == external_id)
                ).first()
                if person is not None:
                    req = s.exec(
                        select(HandoffRequest)
                        .where(HandoffRequest.person_id == person.id)
                        .order_by(col(HandoffRequest.id).desc())
                    ).first()
                    if req is not None and req.id is not None:
                        return req.id
            time.sleep(0.2)
        raise AssertionError(f"no hand-off for {channel}:{external_id}")
    finally:
        engine.dispose()


def audit_of(stack: Stack, action: str, target: str) -> list[AuditEvent]:
    engine = make_engine(stack.settings.database_url)
    try:
        with session_scope(engine) as s:
            rows = list(
                s.exec(
                    select(AuditEvent).where(AuditEvent.action == action, AuditEvent.target == target)
                ).all()
            )
            s.expunge_all()
            return rows
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def texts(console_stack: Stack) -> Iterator[Renderer]:
    engine = make_engine(console_stack.settings.database_url)
    yield Renderer(engine, None, console_stack.settings.message_variables())
    engine.dispose()


def open_and_read(page: Page, handoff_id: int) -> None:
    """From the inbox: open the conversation, choose the reason, confirm."""
    row = page.locator(f'tr[data-handoff="{handoff_id}"]')
    expect(row).to_be_visible(timeout=15_000)  # appears by itself: the inbox refreshes
    row.get_by_role("link", name=re.compile("Gespräch öffnen")).click()
    expect(page.get_by_role("heading", name=re.compile("Gespräch öffnen"))).to_be_visible()
    page.get_by_label("Anfrage beantworten").check()
    page.get_by_role("button", name="Öffnen und protokollieren").click()
    expect(page.get_by_role("heading", name=f"Übergabe {handoff_id}")).to_be_visible()


def reply_in_german(page: Page) -> None:
    page.get_by_label("Ihre Antwort").fill(GERMAN_REPLY)
    page.get_by_role("button", name="Vorschau").click()
    preview = page.locator("#preview .preview")
    expect(preview).to_be_visible()
    # de→en→ar with the tiny models: the dictionary words are Arabic now, the rest is copied.
    expect(preview.locator(".sent")).to_contain_text("طفل")
    expect(preview.locator(".sent")).to_contain_text("موعد")
    # ar→en→de back: the case manager sees the meaning came through.
    expect(preview.locator(".back")).to_have_text(GERMAN_REPLY)
    page.get_by_role("button", name="So senden").click()
    expect(page.locator("#preview")).to_contain_text("Antwort gesendet.")
    expect(page.get_by_label("Ihre Antwort")).to_have_value("")  # ready for the next one


def test_telegram_arabic_handoff_from_inbox_to_release(
    console_stack: Stack, context: BrowserContext, texts: Renderer
):
    stack, tg, chat = console_stack, console_stack.telegram, next(_chats)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, stack, "cm")
    expect(page.get_by_role("heading", name="Offene Übergaben")).to_be_visible()

    # The person, on Telegram, in Arabic: consent, language, then asks for a human.
    tg.send_text(chat, "/start", language="ar")
    notice = tg.wait_sent(chat, 1)[-1]
    tg.press(chat, "c:y:ar", notice["message_id"], language="ar")
    prompt = tg.wait_sent(chat, 2)[-1]
    tg.press(chat, "lang:ar", prompt["message_id"], language="ar")
    greet = tg.wait_sent(chat, 4)[-1]
    tg.send_text(chat, "بدي اتواصل مع انسان بالتلفون", language="ar")
    created = tg.wait_sent(chat, 5)[-1]
    assert created["text"] == texts.text("utter_handoff_created", "ar")
    tg.send_text(chat, "موعد اليوم مع طفل", language="ar")  # while waiting for the person
    tg.wait_sent(chat, 6)
    handoff_id = handoff_of(stack, "telegram", str(chat))

    open_and_read(page, handoff_id)
    [read] = audit_of(stack, "conversation.read", f"handoff:{handoff_id}")
    assert (read.actor, read.reason) == ("cm", "answer_request")
    person_line = page.locator(".line-person").filter(has_text="موعد اليوم مع طفل")
    expect(person_line.locator(".german")).to_contain_text("Termin heute")
    expect(person_line.locator(".german")).to_contain_text("Kind")
    expect(person_line).to_contain_text("über Englisch übersetzt")
    assert axe_violations(page) == []

    reply_in_german(page)
    sent = tg.wait_sent(chat, 7)[-1]
    assert "طفل" in sent["text"] and "موعد" in sent["text"]
    assert texts.text("faq_note_machine", "ar") in sent["text"]  # marked as machine translated
    expect(page.locator("#replies")).to_contain_text("Zugestellt", timeout=15_000)
    assert [r.details for r in audit_of(stack, "handoff.reply", f"handoff:{handoff_id}")] == [
        {"language": "ar", "translation": "machine"}
    ]

    page.get_by_role("button", name="An den Bot zurückgeben").click()
    expect(page.get_by_role("status")).to_contain_text("an den Bot zurückgegeben")
    expect(page.locator(f'tr[data-handoff="{handoff_id}"]')).to_have_count(0)
    released = tg.wait_sent(chat, 8)[-1]
    assert released["text"] == texts.text("handoff_released", "ar")
    # The bot answers again.
    tg.press(chat, "i:ask_kita", greet["message_id"], language="ar")
    answer = tg.wait_sent(chat, 9)[-1]
    assert answer["text"] != texts.text("handoff_paused_ack", "ar") and len(answer["text"]) > 80
    assert dialogs == []


def test_web_chat_handoff_reply_reaches_the_browser_of_the_person(
    console_stack: Stack, context: BrowserContext, texts: Renderer
):
    stack = console_stack
    sender = f"web-{uuid.uuid4()}"
    stack.chat(sender, text="hi", consent=True, language="ar")
    [created] = stack.chat(sender, text="بدي اتواصل مع انسان بالتلفون")
    assert created["text"] == texts.text("utter_handoff_created", "ar")
    handoff_id = handoff_of(stack, "web", sender)

    page = context.new_page()
    sign_in(page, stack, "cm")
    open_and_read(page, handoff_id)
    reply_in_german(page)
    deadline, got = time.monotonic() + 20, []
    while time.monotonic() < deadline and not got:
        got = stack.updates(sender)
        time.sleep(0.3)
    [reply] = got
    assert "طفل" in reply["text"] and reply["meta"]["translation"] == "machine"
    # The web chat fetched it: delivered.
    expect(page.locator("#replies")).to_contain_text("Zugestellt", timeout=15_000)
    page.get_by_role("button", name="An den Bot zurückgeben").click()
    expect(page.get_by_role("status")).to_contain_text("an den Bot zurückgegeben")
    [released] = stack.updates(sender)
    assert released["text"] == texts.text("handoff_released", "ar")
    [answer] = stack.chat(sender, payload="i:ask_kita")
    assert answer["meta"]["response"] == "utter_faq_answer"


def test_a_persons_markup_is_shown_as_text(console_stack: Stack, context: BrowserContext):
    stack = console_stack
    sender = f"web-{uuid.uuid4()}"
    stack.chat(sender, text="hi", consent=True, language="en")
    stack.chat(sender, text="i want to talk to a person")
    attack = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'
    stack.chat(sender, text=attack)
    handoff_id = handoff_of(stack, "web", sender)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, stack, "cm")
    open_and_read(page, handoff_id)
    line = page.locator('.line-person > p.text[lang="en"]').filter(has_text="onerror")
    expect(line).to_have_text(attack)  # the characters, not an element
    assert page.locator(".transcript img, .transcript script").count() == 0
    assert page.title() != "pwned" and dialogs == []


def test_login_inbox_and_admin_pages_pass_axe(console_stack: Stack, context: BrowserContext):
    page = context.new_page()
    page.goto(f"{console_stack.web}/console/login")
    assert axe_violations(page) == []
    page.get_by_label("Benutzername").fill("cm")
    page.get_by_label("Passwort").fill("falsch")
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("alert")).to_contain_text("Benutzername oder Passwort ist falsch")
    assert axe_violations(page) == []
    sign_in(page, console_stack, "cm")
    expect(page.get_by_role("heading", name="Offene Übergaben")).to_be_visible()
    assert axe_violations(page) == []
    page.goto(f"{console_stack.web}/console/snippets")
    expect(page.get_by_role("heading", name="Textbausteine")).to_be_visible()
    assert axe_violations(page) == []
    page.goto(f"{console_stack.web}/console/reminders")
    expect(
        page.get_by_role("heading", name="Erinnerungen, die nicht sicher angekommen sind")
    ).to_be_visible()
    assert axe_violations(page) == []
    # A case manager is refused the administration, with a page that says so.
    page.goto(f"{console_stack.web}/console/admin/accounts")
    expect(page.get_by_role("alert")).to_contain_text("fehlt Ihrem Konto die Berechtigung")
    admin = context.browser.new_context(locale="de-DE") if context.browser else None
    assert admin is not None
    try:
        apage = admin.new_page()
        sign_in(apage, console_stack, "admin")
        for path in ("/console/admin/accounts", "/console/admin/audit", "/console/admin/escalations"):
            apage.goto(f"{console_stack.web}{path}")
            assert axe_violations(apage) == [], path
        apage.get_by_role("link", name="Protokoll").click()
        apage.get_by_role("button", name="Kette jetzt prüfen").click()
        expect(apage.get_by_role("status")).to_contain_text("Die Kette ist unversehrt")
    finally:
        admin.close()


def test_a_signed_out_page_sends_its_refresh_to_the_login(console_stack: Stack, context: BrowserContext):
    page = context.new_page()
    sign_in(page, console_stack, "cm")
    expect(page.get_by_role("heading", name="Offene Übergaben")).to_be_visible()
    engine = make_engine(console_stack.settings.database_url)
    try:  # an hour without activity: the session has expired
        with session_scope(engine) as s:
            s.exec(update(StaffSession).values(last_seen_at=utcnow() - timedelta(hours=1)))
    finally:
        engine.dispose()
    # The next refresh of the inbox (htmx) leads the whole page to the login, not into a fragment.
    expect(page).to_have_url(re.compile(r"/console/login\?expired=1$"), timeout=15_000)
    expect(page.get_by_role("heading", name="Anmelden")).to_be_visible()
