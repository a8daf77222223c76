"""The content studio's FAQ entries (issue 13), on SQLite and the real PostgreSQL: the service
(create, edit with versions, concurrent saves, deactivate, history, freshness, versions prepared ahead)
and the console pages over HTTP (roles, CSRF, escaping, long and right-to-left texts)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from lotse.runtime import Runtime
from services.content.entries import (
    Conflict,
    EntryForm,
    EntryStudio,
    Invalid,
    today_local,
)
from storage import content
from storage.db import session_scope
from storage.models import FaqEntry, Origin, TextStatus, Translation
from storage.search import FaqIndex
from storage.seed import load_seed
from tests.support.console import (
    PASSWORD,
    audit_rows,
    browser,
    console_runtime,
    csrf_of,
)

XSS = '<script>alert("x")</script><img src=x onerror="alert(1)">'
QUESTION = "Wo bekomme ich einen Bibliotheksausweis für die Kreisbibliothek?"
ANSWER = (
    "Den Bibliotheksausweis bekommen Sie kostenlos in jeder Kreisbibliothek. Bringen Sie Ihren Pass mit."
)
EN_QUESTION = "Where do I get a library card for the district library?"
EN_ANSWER = "You get the library card for free in every district library. Bring your passport."


@pytest.fixture
async def runtime(seeded: Engine, database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = console_runtime(database_url, tmp_path)
    yield rt
    await rt.close()


def form(**changes: object) -> EntryForm:
    base = EntryForm(
        question=QUESTION,
        answer=ANSWER,
        topic="everyday",
        scope="kreis",
        sources=["https://www.kreis.example/bibliothek"],
        legal_basis=None,
        keywords=["Bibliothek", "library", "Bücherei"],
        last_verified=today_local(),
        review_due=today_local() + timedelta(days=180),
        en_question=EN_QUESTION,
        en_answer=EN_ANSWER,
    )
    for k, v in changes.items():
        setattr(base, k, v)
    return base


def faq_id(engine: Engine, key: str) -> int:
    with session_scope(engine) as s:
        entry = content.get_faq_by_key(session=s, key=key)
        assert entry is not None and entry.id is not None
        return entry.id


# --- the service ------------------------------------------------------------------------------------


def test_a_new_entry_is_found_and_answered_at_once(runtime: Runtime):
    studio, index = runtime.entries, FaqIndex(runtime.engine)
    before = [h.key for h in index.search(EN_QUESTION, limit=3)]
    entry = studio.create(form(), by="ed")
    # The actions' FAQ search (the same class the action server uses) finds it without retraining.
    assert entry.key not in before
    assert index.search(EN_QUESTION, limit=1)[0].key == entry.key
    assert index.search("Bibliotheksausweis", topic="everyday", limit=1)[0].key == entry.key
    rendered = runtime.renderer.faq(faq_id(runtime.engine, entry.key), "en")
    assert rendered is not None
    assert (rendered.question.text, rendered.answer.text) == (EN_QUESTION, EN_ANSWER)
    assert rendered.answer.status == TextStatus.REVIEWED and not rendered.answer.outdated
    with session_scope(runtime.engine) as s:
        en = s.exec(
            select(Translation).where(Translation.owner_key == entry.key, Translation.language == "en")
        ).all()
        assert {(t.reviewer, t.origin, t.source_version) for t in en} == {("ed", "staff", 1)}
        stored = content.get_faq_by_key(session=s, key=entry.key)
        assert stored is not None and stored.verified_by == "ed" and stored.origin == Origin.STAFF
    [created] = audit_rows(runtime.engine, "content.create")
    assert created.actor == "ed" and created.target == f"faq:{entry.key}"
    assert created.details == {"version": 1, "languages": ["de", "en"], "topic": "everyday"}


def test_a_changed_german_text_makes_a_new_version_and_every_translation_outdated(runtime: Runtime):
    studio = runtime.entries
    entry = studio.create(form(), by="ed")
    with session_scope(runtime.engine) as s:  # an unreviewed Arabic draft of version 1
        for name, text in (("question", "سؤال"), ("answer", "جواب قديم")):
            s.add(
                Translation(
                    owner_type="faq",
                    owner_key=entry.key,
                    field=name,
                    language="ar",
                    text=text,
                    status=TextStatus.DRAFT,
                    source_version=1,
                )
            )
    view = studio.get(entry.key)
    assert view.status["en"] == "reviewed" and view.status["ar"] == "draft"
    new_answer = ANSWER.replace("kostenlos", "für 5 Euro im Jahr")
    saved = studio.update(entry.key, form(answer=new_answer), stamp=view.stamp, by="ed2")
    assert saved.version == 2
    view = studio.get(entry.key)
    assert view.status["en"] == "outdated" and view.status["ar"] == "outdated"
    assert view.status["uk"] == "missing"
    fid = faq_id(runtime.engine, entry.key)
    en = runtime.renderer.faq(fid, "en")
    assert en is not None and en.answer.outdated and en.answer.text == EN_ANSWER
    assert runtime.renderer.text("faq_note_outdated", "en") in en.notes
    # A stale draft is never shown: the German master, with its note.
    ar = runtime.renderer.faq(fid, "ar")
    assert ar is not None and ar.answer.text == new_answer and ar.answer.language == "de"
    assert ar.answer.note_key == "faq_note_german"
    # Only the metadata changed: no new version.
    view = studio.get(entry.key)
    again = studio.update(
        entry.key, form(answer=new_answer, keywords=["Bibliothek"]), stamp=view.stamp, by="ed"
    )
    assert again.version == 2
    edits = audit_rows(runtime.engine, "content.edit")
    assert [(e.actor, e.details["text_changed"]) for e in edits] == [("ed2", True), ("ed", False)]  # type: ignore[index]
    assert edits[1].details["fields"] == ["keywords"]  # type: ignore[index]
    # The history: newest first, with the German text's change word by word.
    steps = studio.history(entry.key)
    assert [(s.change, s.version, s.by) for s in steps] == [
        ("edited", 2, "ed"),
        ("edited", 2, "ed2"),
        ("created", 1, "ed"),
    ]
    assert not steps[0].text_changed and steps[1].text_changed
    changes = [(seg.kind, seg.text.strip()) for seg in steps[1].answer if seg.kind != "same"]
    assert changes == [("del", "kostenlos"), ("ins", "für 5 Euro im Jahr")]


def test_the_second_of_two_concurrent_saves_is_refused_and_nothing_is_lost(runtime: Runtime):
    studio = runtime.entries
    entry = studio.create(form(), by="ed")
    stamp = studio.get(entry.key).stamp  # both editors opened the form on this state
    studio.update(entry.key, form(answer=ANSWER + " Erste Änderung."), stamp=stamp, by="ed")
    with pytest.raises(Conflict) as refused:
        studio.update(entry.key, form(answer=ANSWER + " Zweite Änderung."), stamp=stamp, by="ed2")
    assert refused.value.by == "ed"
    view = studio.get(entry.key)
    assert view.answer == ANSWER + " Erste Änderung." and view.entry.version == 2
    assert [e.actor for e in audit_rows(runtime.engine, "content.edit")] == ["ed"]
    # The compare-and-set itself: a save whose state was read before another commit loses.
    with session_scope(runtime.engine) as s:
        stale = content.get_faq_by_key(session=s, key=entry.key)
        assert stale is not None
        s.expunge(stale)
    studio.update(entry.key, form(answer="Noch eine Änderung."), stamp=stamp_of_row(stale), by="ed")
    with session_scope(runtime.engine) as s, pytest.raises(Conflict):
        EntryStudio._claim(s, stale)


def stamp_of_row(entry: FaqEntry) -> str:
    return entry.updated_at.isoformat()


def test_the_form_is_checked(runtime: Runtime):
    studio = runtime.entries
    with pytest.raises(Invalid) as bad:
        studio.create(
            form(sources=[], legal_basis=None, topic="nope", scope="atlantis", en_answer=""),
            by="ed",
        )
    assert bad.value.errors == {
        "sources": "err_sources_missing",
        "topic": "err_topic",
        "scope": "err_scope",
        "en_answer": "err_en_both",
    }
    # A legal basis alone is a source; a 20,000-character answer and right-to-left text are fine.
    long_answer = ("Dies ist ein sehr langer Absatz. " * 700)[:20_000]
    entry = studio.create(
        form(
            sources=[],
            legal_basis="§ 27 SGB VIII",
            answer=long_answer,
            en_question="",
            en_answer="",
            question="سؤال بالعربية؟ Wo ist das Amt?",
        ),
        by="ed",
    )
    assert studio.get(entry.key).answer == long_answer
    assert entry.key == "wo_ist_das_amt"  # the key keeps what can be written in a web address
    # A scope group and a municipality are scopes too.
    with session_scope(runtime.engine) as s:
        from services.content.entries import valid_scopes

        scopes = valid_scopes(s)
    assert {"kreis", "kreisjugendamt"} <= scopes and len(scopes) > 10


def test_deactivated_entries_are_kept_but_no_longer_answered(runtime: Runtime):
    studio, index = runtime.entries, FaqIndex(runtime.engine)
    entry = studio.create(form(), by="ed")
    fid = faq_id(runtime.engine, entry.key)
    studio.set_active(entry.key, False, stamp=studio.get(entry.key).stamp, by="ed")
    assert entry.key not in [h.key for h in index.search(EN_QUESTION, limit=5)]
    assert runtime.renderer.faq(fid, "en") is None and studio.preview(entry.key, "en") is None
    assert studio.get(entry.key).answer == ANSWER  # kept for history
    assert [r.key for r in studio.rows(state="inactive")] == [entry.key]
    studio.set_active(entry.key, True, stamp=studio.get(entry.key).stamp, by="ed2")
    assert index.search(EN_QUESTION, limit=1)[0].key == entry.key
    assert [s.change for s in studio.history(entry.key)][:2] == ["reactivated", "deactivated"]
    assert [e.actor for e in audit_rows(runtime.engine, "content.deactivate")] == ["ed"]
    assert [e.actor for e in audit_rows(runtime.engine, "content.reactivate")] == ["ed2"]


def test_a_staff_edit_of_a_seed_entry_survives_a_seed_reload(runtime: Runtime):
    studio = runtime.entries
    key = studio.rows(topic="kita")[0].key
    view = studio.get(key)
    changed = EntryForm.of(view.entry, view.question, view.answer + " (vom Kreis ergänzt)")
    studio.update(key, changed, stamp=view.stamp, by="ed")
    with session_scope(runtime.engine) as s:
        report = load_seed(s)
    assert report.kept_staff_edits >= 1
    assert studio.get(key).answer.endswith("(vom Kreis ergänzt)")
    steps = studio.history(key)
    assert [s.change for s in steps] == ["edited", "seed"]  # the seed text before the first change
    assert steps[1].at < steps[0].at and steps[1].version == 1 and steps[0].version == 2
    # Another seed entry, only its keywords changed: its history starts with the seed text too.
    other = studio.rows(topic="school")[0].key
    view = studio.get(other)
    meta = EntryForm.of(view.entry, view.question, view.answer)
    meta.keywords = [*meta.keywords, "Schulanmeldung"]
    studio.update(other, meta, stamp=view.stamp, by="ed")
    steps = studio.history(other)
    assert [(s.change, s.version, s.text_changed) for s in steps] == [
        ("edited", 1, False),
        ("seed", 1, True),
    ]


def test_freshness_marks_entries_due_and_confirm_clears_them(runtime: Runtime):
    today = date(2027, 3, 1)
    studio = EntryStudio(runtime.engine, runtime.audit, runtime.responses, today=lambda: today)
    with session_scope(runtime.engine) as s:  # a known state: nothing due
        for e in s.exec(select(FaqEntry)).all():
            e.review_due, e.needs_review, e.valid_until = date(2030, 1, 1), False, None
            s.add(e)
    soon = studio.create(form(review_due=today + timedelta(days=10)), by="ed")
    later = studio.create(
        form(question="Später prüfen?", review_due=today + timedelta(days=30)), by="ed"
    )
    expired = studio.create(
        form(question="Wie hoch ist der Betrag?", valid_until=today - timedelta(days=1)), by="ed"
    )
    assert studio.freshness(today) == [soon.key]
    assert studio.freshness(today) == []  # once
    due = {d.key: d.reasons for d in studio.due()}
    assert due == {soon.key: ("soon", "needs_review"), expired.key: ("expired",)}
    assert [r.key for r in studio.rows(needs_review=True)] == [soon.key]
    assert {r.key for r in studio.rows(due="due")} == {soon.key}
    assert later.key not in due
    # The person is told to check with the office after "valid until" (the bot's existing note).
    runtime.renderer.today = lambda: today
    rendered = runtime.renderer.faq(faq_id(runtime.engine, expired.key), "en")
    assert rendered is not None
    assert runtime.renderer.text("faq_note_check_office", "en") in rendered.notes
    flagged = runtime.renderer.faq(faq_id(runtime.engine, soon.key), "en")
    assert flagged is not None
    assert runtime.renderer.text("faq_note_needs_review", "en") in flagged.notes
    # Confirming: checked today by the signed-in editor, new dates, the flag gone, an audit row.
    with pytest.raises(Invalid) as too_soon:
        studio.confirm(
            soon.key,
            stamp=studio.get(soon.key).stamp,
            by="ed2",
            review_due=today + timedelta(days=7),
            valid_until=None,
        )
    assert too_soon.value.errors == {"review_due": "err_review_too_soon"}
    for key in (soon.key, expired.key):
        studio.confirm(
            key,
            stamp=studio.get(key).stamp,
            by="ed2",
            review_due=today + timedelta(days=200),
            valid_until=None,
        )
    assert studio.due() == [] and studio.freshness(today) == []
    confirmed = studio.get(expired.key).entry
    assert (confirmed.last_verified, confirmed.verified_by, confirmed.needs_review) == (
        today,
        "ed2",
        False,
    )
    rendered = runtime.renderer.faq(faq_id(runtime.engine, expired.key), "en")
    assert rendered is not None and rendered.notes == []
    assert [e.target for e in audit_rows(runtime.engine, "content.confirm")] == [
        f"faq:{soon.key}",
        f"faq:{expired.key}",
    ]


def test_a_version_prepared_ahead_goes_live_on_its_day(runtime: Runtime):
    today = date(2027, 12, 10)
    studio = EntryStudio(runtime.engine, runtime.audit, runtime.responses, today=lambda: today)
    entry = studio.create(form(), by="ed")
    new_year = date(2028, 1, 1)
    with pytest.raises(Invalid):
        studio.prepare(entry.key, valid_from=today, question=QUESTION, answer="x", stamp=None, by="ed")
    new_de = "Ab 1. Januar kostet der Bibliotheksausweis 5 Euro im Jahr."
    studio.prepare(entry.key, valid_from=new_year, question=QUESTION, answer=new_de, stamp=None, by="ed")
    pending = studio.get(entry.key).pending
    assert pending is not None
    new_en = "From 1 January the library card costs 5 euros a year."
    studio.prepare_translation(
        entry.key, "en", question=EN_QUESTION, answer=new_en, stamp=pending.stamp, by="ed2"
    )
    # A translation for an older text of the prepared version is not taken over.
    pending = studio.get(entry.key).pending
    assert pending is not None and pending.translations["en"]["current"]
    with pytest.raises(Conflict):  # the form was based on the state before the translation
        studio.prepare(
            entry.key,
            valid_from=new_year,
            question=QUESTION,
            answer=new_de + "!",
            stamp="stale",
            by="ed",
        )
    fid = faq_id(runtime.engine, entry.key)
    # Before the day: people get the current version.
    assert studio.activate_due(date(2027, 12, 31)) == []
    rendered = runtime.renderer.faq(fid, "en")
    assert rendered is not None and rendered.answer.text == EN_ANSWER
    assert studio.get(entry.key).entry.version == 1
    # On the day (the freshness job): version 2, with its reviewed translation, nothing outdated.
    studio.freshness(new_year)
    view = studio.get(entry.key)
    assert (view.entry.version, view.answer, view.pending) == (2, new_de, None)
    assert view.status["en"] == "reviewed"
    rendered = runtime.renderer.faq(fid, "en")
    assert rendered is not None and rendered.answer.text == new_en and not rendered.answer.outdated
    de = runtime.renderer.faq(fid, "de")
    assert de is not None and de.answer.text == new_de
    [activated] = audit_rows(runtime.engine, "content.activate")
    assert activated.actor == "system" and activated.details == {
        "version": 2,
        "valid_from": "2028-01-01",
        "languages": ["en"],
        "prepared_by": "ed2",
    }
    assert studio.history(entry.key)[0].change == "activated"
    assert studio.activate_due(new_year) == []


def test_counts_per_language(runtime: Runtime):
    studio = runtime.entries
    before = studio.counts()
    entry = studio.create(form(), by="ed")
    after = studio.counts()
    assert after["en"]["reviewed"] == before["en"]["reviewed"] + 1
    assert after["ar"]["missing"] == before["ar"]["missing"] + 1
    studio.update(entry.key, form(answer="Neu."), stamp=studio.get(entry.key).stamp, by="ed")
    assert studio.counts()["en"]["outdated"] == before["en"]["outdated"] + 1
    total = sum(after["ar"].values())
    with session_scope(runtime.engine) as s:
        assert total == len(content.active_faqs(session=s))


# --- the console pages --------------------------------------------------------------------------------


def field_of(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no field {name}"
    return match.group(1).replace("&#43;", "+").replace("&#x2B;", "+")


async def sign_in(c: httpx.AsyncClient, username: str) -> str:
    page = await c.get("/console/login")
    resp = await c.post(
        "/console/login",
        data={"username": username, "password": PASSWORD, "csrf": csrf_of(page.text)},
    )
    assert resp.status_code == 303, resp.text
    return csrf_of((await c.get("/console/account/password")).text)


def entry_form(csrf: str, **changes: str) -> dict[str, str]:
    data = {
        "csrf": csrf,
        "question": QUESTION,
        "answer": ANSWER,
        "topic": "everyday",
        "scope": "kreis",
        "sources": "https://www.kreis.example/bibliothek\n§ 1 Bibliothekssatzung",
        "legal_basis": "",
        "decided_by": "Kreisbibliothek",
        "checklist": "",
        "keywords": "Bibliothek, library",
        "last_verified": today_local().isoformat(),
        "review_due": (today_local() + timedelta(days=100)).isoformat(),
        "valid_until": "",
        "en_question": EN_QUESTION,
        "en_answer": EN_ANSWER,
    }
    return {**data, **changes}


async def test_only_editors_may_use_the_studio_and_every_form_needs_csrf(runtime: Runtime):
    entry = runtime.entries.create(form(), by="ed")
    paths = [
        "/console/content",
        "/console/content/entries/new",
        f"/console/content/entries/{entry.key}",
        f"/console/content/entries/{entry.key}/history",
        f"/console/content/entries/{entry.key}/preview?lang=en",
    ]
    async with browser(runtime) as cm:
        cm_csrf = await sign_in(cm, "cm")
        for path in paths:
            refused = await cm.get(path)
            assert refused.status_code == 403 and "Berechtigung" in refused.text, path
        for path in ("/console/content/entries", f"/console/content/entries/{entry.key}/active"):
            made = await cm.post(path, data={**entry_form(cm_csrf), "active": "0"})
            assert made.status_code == 403, path
    async with browser(runtime) as ed:
        csrf = await sign_in(ed, "ed")
        for path in paths:
            assert (await ed.get(path)).status_code == 200, path
        no_token = await ed.post("/console/content/entries", data={**entry_form(""), "csrf": ""})
        assert no_token.status_code == 403 and "Formular ist abgelaufen" in no_token.text
        cross = await ed.post(
            "/console/content/entries",
            data=entry_form(csrf),
            headers={"Origin": "http://evil.example"},
        )
        assert cross.status_code == 403
    assert len(audit_rows(runtime.engine, "content.create")) == 1  # only the one made above
    with session_scope(runtime.engine) as s:
        stored = s.exec(select(FaqEntry).where(FaqEntry.key == entry.key)).one()
        assert stored.active


async def test_an_editor_writes_edits_and_previews_an_entry(runtime: Runtime):
    async with browser(runtime) as ed:
        csrf = await sign_in(ed, "ed")
        start = await ed.get("/console/content")
        assert re.search(r"Arabisch: \d+ geprüft|Arabisch: .*Entwurf", start.text), start.text[:500]
        assert "Bitte prüfen" in start.text and "Alle Einträge" in start.text
        pre = await ed.get("/console/content/entries/new?question=Wo+ist+die+Bibliothek%3F&group=7")
        assert 'value="Wo ist die Bibliothek?"' in pre.text and 'name="group" value="7"' in pre.text
        # Mistakes: the page comes back with what was typed and says what is wrong.
        bad = await ed.post("/console/content/entries", data=entry_form(csrf, sources="", answer=XSS))
        assert bad.status_code == 400 and "mindestens eine Quelle" in bad.text
        assert (
            "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in bad.text
            and "<script>alert" not in bad.text
        )
        made = await ed.post("/console/content/entries", data=entry_form(csrf, question=XSS + "?"))
        assert made.status_code == 303
        location = made.headers["location"]
        assert location.endswith("?done=created")
        page = await ed.get(location)
        assert "gilt ab sofort" in page.text and "<img src=x" not in page.text
        key = location.split("/")[-1].split("?")[0]
        listed = await ed.get("/console/content", params={"q": "library", "topic": "everyday"})
        assert f'data-entry="{key}"' in listed.text and "<script>alert" not in listed.text
        nothing = await ed.get("/console/content", params={"q": "gibt-es-nicht-xyz"})
        assert "Kein Eintrag passt" in nothing.text
        # Preview in English, as the bot would send it.
        preview = await ed.get(f"/console/content/entries/{key}/preview", params={"lang": "en"})
        assert EN_ANSWER in preview.text and "geprüft" in preview.text
        kurdish = await ed.get(f"/console/content/entries/{key}/preview", params={"lang": "ku"})
        # No Kurdish text: the bot shows the English one (a language many Kurmanji speakers read).
        assert "Die Person sieht die Fassung auf Englisch (geprüft)" in kurdish.text
        assert runtime.renderer.text("faq_note_bridge", "ku") in kurdish.text
        # Edit the German text: a new version; the English preview now says it is outdated.
        stamp, version = field_of(page.text, "stamp"), field_of(page.text, "version")
        changed = entry_form(csrf, question=XSS + "?", answer=ANSWER + " Neu: auch sonntags.")
        saved = await ed.post(
            f"/console/content/entries/{key}", data={**changed, "stamp": stamp, "version": version}
        )
        assert saved.status_code == 303 and "saved_version" in saved.headers["location"]
        page = await ed.get(saved.headers["location"])
        assert "Neue Fassung 2" in page.text
        preview = await ed.get(f"/console/content/entries/{key}/preview", params={"lang": "en"})
        assert 'data-outdated="yes"' in preview.text
        outdated = await ed.get("/console/content", params={"language": "en", "status": "outdated"})
        assert f'data-entry="{key}"' in outdated.text
        reviewed = await ed.get("/console/content", params={"language": "en", "status": "reviewed"})
        assert f'data-entry="{key}"' not in reviewed.text and "data-entry=" in reviewed.text
        kita = await ed.get("/console/content", params={"topic": "kita", "scope": "kreis"})
        assert f'data-entry="{key}"' not in kita.text and "data-entry=" in kita.text
        assert runtime.renderer.text("faq_note_outdated", "en") in preview.text
        history = await ed.get(f"/console/content/entries/{key}/history")
        assert "<ins> Neu: auch sonntags.</ins>" in history.text or "<ins>Neu:" in history.text
        # A second save on the old state is refused; the editor's text stays in the form.
        mine = entry_form(csrf, question=XSS + "?", answer="Mein Text, der nicht verloren geht.")
        refused = await ed.post(
            f"/console/content/entries/{key}", data={**mine, "stamp": stamp, "version": version}
        )
        assert refused.status_code == 409
        assert "während Sie ihn bearbeitet haben" in refused.text
        assert "Mein Text, der nicht verloren geht." in refused.text
        assert ANSWER + " Neu: auch sonntags." in refused.text  # the current state beside it
        assert runtime.entries.get(key).answer == ANSWER + " Neu: auch sonntags."
        # Deactivate and confirm through the pages.
        page = await ed.get(f"/console/content/entries/{key}")
        off = await ed.post(
            f"/console/content/entries/{key}/active",
            data={"csrf": csrf, "stamp": field_of(page.text, "stamp"), "active": "0"},
        )
        assert off.status_code == 303
        page = await ed.get(off.headers["location"])
        assert "ist abgeschaltet" in page.text
        gone = await ed.get(f"/console/content/entries/{key}/preview", params={"lang": "en"})
        assert "zeigt ihn niemandem" in gone.text
        confirmed = await ed.post(
            f"/console/content/entries/{key}/confirm",
            data={
                "csrf": csrf,
                "stamp": field_of(page.text, "stamp"),
                "review_due": (today_local() + timedelta(days=100)).isoformat(),
            },
        )
        assert confirmed.status_code == 303
    assert [e.actor for e in audit_rows(runtime.engine, "content.confirm")] == ["ed"]


async def test_long_and_right_to_left_answers_render_whole(runtime: Runtime):
    long_answer = ("جواب طويل جدا. " * 1500)[:20_000]
    entry = runtime.entries.create(
        form(en_question="", en_answer="", answer="Deutsch.", question="Lange Antwort?"), by="ed"
    )
    with session_scope(runtime.engine) as s:
        for name, text in (("question", "سؤال طويل؟"), ("answer", long_answer)):
            s.add(
                Translation(
                    owner_type="faq",
                    owner_key=entry.key,
                    field=name,
                    language="ar",
                    text=text,
                    status=TextStatus.REVIEWED,
                    source_version=1,
                    reviewer="ed",
                )
            )
    async with browser(runtime) as ed:
        await sign_in(ed, "ed")
        preview = await ed.get(f"/console/content/entries/{entry.key}/preview", params={"lang": "ar"})
        assert preview.status_code == 200
        assert 'lang="ar" dir="rtl"' in preview.text and long_answer.strip() in preview.text
        big = runtime.entries.get(entry.key)
        view = EntryForm.of(big.entry, big.question, ("Sehr lang. " * 2000)[:20_000])
        runtime.entries.update(entry.key, view, stamp=big.stamp, by="ed")
        page = await ed.get(f"/console/content/entries/{entry.key}")
        assert ("Sehr lang. " * 2000)[:20_000].strip() in page.text


async def test_the_freshness_job_is_installed_and_runs_the_check(runtime: Runtime):
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from scheduler.jobs import FRESHNESS_JOB, install_jobs
    from scheduler.setup import JOB_DEFAULTS

    soon = runtime.entries.create(form(review_due=today_local() + timedelta(days=3)), by="ed")
    scheduler = AsyncIOScheduler(job_defaults=JOB_DEFAULTS, timezone="UTC")
    install_jobs(scheduler, runtime)
    scheduler.start(paused=True)
    try:
        job = scheduler.get_job(FRESHNESS_JOB)
        assert job is not None and job.trigger.interval <= timedelta(days=1)
        await job.func()
    finally:
        scheduler.shutdown(wait=False)
    assert runtime.entries.get(soon.key).entry.needs_review
    assert [d.reasons for d in runtime.entries.due() if d.key == soon.key] == [("soon", "needs_review")]


async def test_a_version_prepared_through_the_pages(runtime: Runtime):
    entry = runtime.entries.create(form(), by="ed")
    url = f"/console/content/entries/{entry.key}"
    new_year = date(today_local().year + 1, 1, 1)
    async with browser(runtime) as ed:
        csrf = await sign_in(ed, "ed")
        past = await ed.post(
            f"{url}/prepared",
            data={
                "csrf": csrf,
                "valid_from": today_local().isoformat(),
                "pending_question": QUESTION,
                "pending_answer": "Neu ab heute?",
            },
        )
        assert past.status_code == 400 and "muss in der Zukunft liegen" in past.text
        assert "Neu ab heute?" in past.text  # what was typed is still there
        made = await ed.post(
            f"{url}/prepared",
            data={
                "csrf": csrf,
                "valid_from": new_year.isoformat(),
                "pending_question": QUESTION,
                "pending_answer": "Ab Januar: 5 Euro.",
            },
        )
        assert made.status_code == 303
        page = await ed.get(url)
        assert f"gilt ab {new_year.strftime('%d.%m.%Y')}" in page.text
        stamp = field_of(
            page.text.split('action="/console/content/entries/' + entry.key + '/prepared/en"')[1],
            "pending_stamp",
        )
        done = await ed.post(
            f"{url}/prepared/en",
            data={
                "csrf": csrf,
                "pending_stamp": stamp,
                "question": EN_QUESTION,
                "answer": "From January: 5 euros.",
            },
        )
        assert done.status_code == 303
        page = await ed.get(url)
        assert "geprüft von ed" in page.text and "From January: 5 euros." in page.text
    # The live entry is unchanged until the day; then the prepared texts are live.
    assert runtime.entries.get(entry.key).answer == ANSWER
    assert runtime.entries.activate_due(new_year) == [entry.key]
    view = runtime.entries.get(entry.key)
    assert (view.answer, view.status["en"]) == ("Ab Januar: 5 Euro.", "reviewed")


def test_an_entry_written_for_a_group_of_questions_is_linked_to_it(runtime: Runtime):
    linked: list[tuple[str, str, str]] = []

    def link(session: object, group: str, key: str, by: str) -> None:
        assert session is not None  # the same transaction as the new entry
        linked.append((group, key, by))

    studio = EntryStudio(runtime.engine, runtime.audit, runtime.responses, link_group=link)
    entry = studio.create(form(), by="ed", group="12")
    assert linked == [("12", entry.key, "ed")]
    [created] = audit_rows(runtime.engine, "content.create")
    assert created.details is not None and created.details["group"] == "12"
    studio.create(form(question="Ohne Gruppe?"), by="ed")
    assert len(linked) == 1
