"""The studio's texts (issue 13): translations side by side, the review queue, bot messages, the
glossary, checklists and the export — the service on SQLite and PostgreSQL, and the console routes
over HTTP (real app, real database)."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from lotse.runtime import Runtime, build
from lotse.settings import RasaSettings, Settings, WebSettings
from rendering.renderer import Renderer
from services.audit import Actor, Audit
from services.content.texts import (
    EditConflict,
    MasterChanged,
    NoModel,
    PlaceholderMismatch,
    TextError,
    Texts,
    export_files,
)
from storage.db import make_engine, session_scope, utcnow
from storage.migrate import upgrade
from storage.models import BotMessage, Checklist, FaqEntry, Origin, TextStatus, Translation
from storage.models_translation import GlossaryTerm
from storage.seed import load_seed
from tests.support.console import (
    CLI,
    PASSWORD,
    audit_rows,
    browser,
    console_runtime,
    csrf_of,
    signed_in,
)
from tests.support.fake_telegram import free_port
from tests.translations.conftest import installed_dir, model_files  # noqa: F401 (fixtures)
from tests.unit.test_console import XSS
from translations.argos import ArgosTranslator
from translations.engine import NullTranslator
from translations.glossary import load_glossary

ENTRY = "banking-basic-account"  # a Kreis-wide entry with a reviewed English translation
ED = Actor.staff("ed")
OTHER = Actor.staff("ed2")


def texts_of(engine: Engine, translator: object | None = None) -> Texts:
    return Texts(engine, translator or NullTranslator(), Audit(engine))  # type: ignore[arg-type]


def change_german_answer(engine: Engine, key: str, answer: str) -> int:
    """What the entry editor does when the German answer changes: a new version, a staff edit."""
    with session_scope(engine) as s:
        entry = s.exec(select(FaqEntry).where(FaqEntry.key == key)).one()
        row = s.exec(
            select(Translation).where(
                Translation.owner_type == "faq",
                Translation.owner_key == key,
                Translation.field == "answer",
                Translation.language == "de",
            )
        ).one()
        entry.version += 1
        entry.origin = Origin.STAFF
        entry.updated_at = utcnow()
        row.text, row.source_version, row.origin = answer, entry.version, Origin.STAFF
        row.updated_at = utcnow()
        s.add(entry)
        s.add(row)
        return entry.version


def row_of(engine: Engine, owner_type: str, key: str, field: str, language: str) -> Translation:
    with session_scope(engine) as s:
        row = s.exec(
            select(Translation).where(
                Translation.owner_type == owner_type,
                Translation.owner_key == key,
                Translation.field == field,
                Translation.language == language,
            )
        ).one()
        s.expunge(row)
        return row


def faq_id(engine: Engine, key: str) -> int:
    with session_scope(engine) as s:
        entry = s.exec(select(FaqEntry).where(FaqEntry.key == key)).one()
        assert entry.id is not None
        return entry.id


def reseed(engine: Engine) -> None:
    with session_scope(engine) as s:
        assert not load_seed(s).errors
        assert not load_glossary(s).errors


# --- translations side by side ------------------------------------------------------------------


def test_draft_then_approval_for_the_version_seen(seeded: Engine):
    texts = texts_of(seeded)
    pair = texts.pair("faq", ENTRY, "ar")
    assert pair.master_version == 1 and [f.name for f in pair.fields] == ["question", "answer"]
    assert pair.fields[0].master == "Habe ich ein Recht auf ein Bankkonto?"
    draft = texts.save_translation(
        "faq",
        ENTRY,
        "ar",
        {"question": "سؤال جديد؟", "answer": "جواب جديد."},
        master_version=1,
        stamp=pair.stamp,
        approve=False,
        actor=ED,
    )
    assert draft.state == "draft" and draft.stamp != pair.stamp
    row = row_of(seeded, "faq", ENTRY, "answer", "ar")
    assert (row.text, row.status, row.origin, row.reviewer) == (
        "جواب جديد.",
        TextStatus.DRAFT,
        Origin.STAFF,
        None,
    )
    reviewed = texts.save_translation(
        "faq",
        ENTRY,
        "ar",
        {"question": "سؤال جديد؟", "answer": "جواب جديد ومراجع."},
        master_version=1,
        stamp=draft.stamp,
        approve=True,
        actor=ED,
    )
    assert reviewed.state == "reviewed"
    row = row_of(seeded, "faq", ENTRY, "answer", "ar")
    assert (row.status, row.reviewer, row.source_version) == (TextStatus.REVIEWED, "ed", 1)
    edits, approvals = audit_rows(seeded, "content.edit"), audit_rows(seeded, "content.approve")
    assert [e.target for e in edits] == [f"faq:{ENTRY}"]
    assert [(e.actor, e.details) for e in approvals] == [
        (
            "ed",
            {
                "kind": "faq",
                "key": ENTRY,
                "language": "ar",
                "version": 1,
                "status": "reviewed",
                "fields": ["question", "answer"],
            },
        )
    ]
    # The person now gets it as reviewed, without a note.
    answer = Renderer(seeded).faq(faq_id(seeded, ENTRY), "ar")
    assert answer is not None and answer.answer.text == "جواب جديد ومراجع."
    assert answer.answer.status == TextStatus.REVIEWED and answer.answer.note_key is None


def test_approval_refused_when_the_german_text_changed_meanwhile(seeded: Engine):
    texts = texts_of(seeded)
    seen = texts.pair("faq", ENTRY, "en")
    assert seen.state == "reviewed"
    version = change_german_answer(seeded, ENTRY, "Ja. Neuer deutscher Text.")
    assert version == 2
    outdated = texts.pair("faq", ENTRY, "en")
    assert outdated.state == "outdated" and outdated.master_version == 2
    # The person sees the reviewed old English text with the outdated note (as the renderer does).
    shown = Renderer(seeded).faq(faq_id(seeded, ENTRY), "en")
    assert shown is not None and shown.answer.outdated and shown.answer.note_key == "faq_note_outdated"
    before = row_of(seeded, "faq", ENTRY, "answer", "en")
    with pytest.raises(MasterChanged, match="jetzt Version 2"):
        texts.save_translation(
            "faq",
            ENTRY,
            "en",
            {"question": "Q?", "answer": "A."},
            master_version=1,
            stamp=seen.stamp,
            approve=True,
            actor=ED,
        )
    after = row_of(seeded, "faq", ENTRY, "answer", "en")
    assert (after.text, after.status, after.source_version) == (
        before.text,
        before.status,
        before.source_version,
    )
    assert audit_rows(seeded, "content.approve") == []
    texts.save_translation(
        "faq",
        ENTRY,
        "en",
        {"question": "Do I have a right to a bank account?", "answer": "Yes. New English text."},
        master_version=2,
        stamp=outdated.stamp,
        approve=True,
        actor=ED,
    )
    shown = Renderer(seeded).faq(faq_id(seeded, ENTRY), "en")
    assert shown is not None and shown.answer.text == "Yes. New English text."
    assert not shown.answer.outdated and shown.answer.note_key is None


def test_a_second_concurrent_approval_is_refused(seeded: Engine):
    texts = texts_of(seeded)
    first_form = texts.pair("faq", ENTRY, "tr")
    second_form = texts.pair("faq", ENTRY, "tr")
    texts.save_translation(
        "faq",
        ENTRY,
        "tr",
        {"question": "Birinci?", "answer": "Birinci cevap."},
        master_version=1,
        stamp=first_form.stamp,
        approve=True,
        actor=ED,
    )
    with pytest.raises(EditConflict, match="Jemand anderes"):
        texts.save_translation(
            "faq",
            ENTRY,
            "tr",
            {"question": "İkinci?", "answer": "İkinci cevap."},
            master_version=1,
            stamp=second_form.stamp,
            approve=True,
            actor=OTHER,
        )
    row = row_of(seeded, "faq", ENTRY, "answer", "tr")
    assert (row.text, row.reviewer) == ("Birinci cevap.", "ed")
    assert [e.actor for e in audit_rows(seeded, "content.approve")] == ["ed"]


def test_approval_needs_every_field(seeded: Engine):
    texts = texts_of(seeded)
    pair = texts.pair("faq", ENTRY, "ku")
    assert pair.state == "missing"
    with pytest.raises(TextError, match="alle Felder"):
        texts.save_translation(
            "faq",
            ENTRY,
            "ku",
            {"question": "Pirs?", "answer": ""},
            master_version=1,
            stamp=pair.stamp,
            approve=True,
            actor=ED,
        )


# --- bot messages ---------------------------------------------------------------------------------


def _message_with_placeholder(engine: Engine) -> tuple[str, str]:
    with session_scope(engine) as s:
        for row in s.exec(
            select(Translation).where(Translation.owner_type == "message", Translation.language == "de")
        ).all():
            if "{kreis}" in row.text and "{retention_days}" in row.text:
                return row.owner_key, row.text
    raise AssertionError("no message with placeholders")


def test_a_message_translation_keeps_its_placeholders(seeded: Engine):
    texts = texts_of(seeded)
    key, _ = _message_with_placeholder(seeded)
    pair = texts.pair("message", key, "en")
    good = pair.fields[0].text
    dropped = good.replace("{kreis}", "Rhein-Sieg-Kreis")
    with pytest.raises(PlaceholderMismatch, match=r"es fehlt \{kreis\}"):
        texts.save_translation(
            "message",
            key,
            "en",
            {"text": dropped},
            master_version=pair.master_version,
            stamp=pair.stamp,
            approve=False,
            actor=ED,
        )
    with pytest.raises(PlaceholderMismatch, match=r"unbekannt ist \{name\}"):
        texts.save_translation(
            "message",
            key,
            "en",
            {"text": good + " {name}"},
            master_version=pair.master_version,
            stamp=pair.stamp,
            approve=False,
            actor=ED,
        )
    assert row_of(seeded, "message", key, "text", "en").text == good
    texts.save_translation(
        "message",
        key,
        "en",
        {"text": "Hello from {kreis}, kept {retention_days} days."},
        master_version=pair.master_version,
        stamp=pair.stamp,
        approve=True,
        actor=ED,
    )
    rendered = Renderer(seeded, variables={"kreis": "Rhein-Sieg-Kreis", "retention_days": 90})
    assert rendered.text(key, "en") == "Hello from Rhein-Sieg-Kreis, kept 90 days."


def test_a_german_message_edit_makes_a_version_and_survives_a_reseed(seeded: Engine):
    texts = texts_of(seeded)
    key = "too_many_messages"
    master = texts.master("message", key)
    assert master.master_version == 1
    saved = texts.save_master(
        "message",
        key,
        {"text": "Bitte langsamer schreiben. Warten Sie eine Minute."},
        master_version=1,
        actor=ED,
    )
    assert saved.master_version == 2
    assert texts.pair("message", key, "en").state == "outdated"
    assert ("message", key) in {(i.kind, i.key) for i in texts.queue("en").items}
    with pytest.raises(EditConflict):  # a second editor's form of version 1
        texts.save_master("message", key, {"text": "Anders."}, master_version=1, actor=OTHER)
    with pytest.raises(PlaceholderMismatch):
        texts.save_master("message", key, {"text": "Hallo {name}"}, master_version=2, actor=ED)
    pair = texts.pair("message", key, "en")
    texts.save_translation(
        "message",
        key,
        "en",
        {"text": "Please write more slowly. Wait a minute."},
        master_version=2,
        stamp=pair.stamp,
        approve=True,
        actor=ED,
    )
    reseed(seeded)
    assert row_of(seeded, "message", key, "text", "de").text == (
        "Bitte langsamer schreiben. Warten Sie eine Minute."
    )
    en = row_of(seeded, "message", key, "text", "en")
    assert (en.text, en.status, en.source_version) == (
        "Please write more slowly. Wait a minute.",
        TextStatus.REVIEWED,
        2,
    )
    with session_scope(seeded) as s:
        msg = s.get(BotMessage, key)
        assert msg is not None and msg.version == 2 and msg.origin == Origin.STAFF


def test_a_translation_edit_survives_a_reseed(seeded: Engine):
    """Edit → reseed → the edit is kept (the German master and the seed file unchanged)."""
    texts = texts_of(seeded)
    pair = texts.pair("faq", ENTRY, "uk")
    texts.save_translation(
        "faq",
        ENTRY,
        "uk",
        {"question": "Питання від редакції?", "answer": "Відповідь від редакції."},
        master_version=1,
        stamp=pair.stamp,
        approve=False,
        actor=ED,
    )
    reseed(seeded)
    row = row_of(seeded, "faq", ENTRY, "answer", "uk")
    assert (row.text, row.origin) == ("Відповідь від редакції.", Origin.STAFF)


# --- glossary and checklists ----------------------------------------------------------------------


def test_glossary_terms_have_versions_and_statuses(seeded: Engine):
    texts = texts_of(seeded)
    term = "Jobcenter"
    master = texts.master("glossary", term)
    assert [f.name for f in master.fields] == ["explanation", "gloss"]
    en = texts.pair("glossary", term, "en")
    assert en.state == "draft"
    texts.save_translation(
        "glossary",
        term,
        "en",
        {"explanation": "job centre – pays basic income", "gloss": "job centre"},
        master_version=master.master_version,
        stamp=en.stamp,
        approve=True,
        actor=ED,
    )
    assert texts.pair("glossary", term, "en").state == "reviewed"
    texts.save_master(
        "glossary",
        term,
        {"explanation": "Amt für Grundsicherung und Arbeit (neu)", "gloss": master.fields[1].master},
        master_version=master.master_version,
        actor=ED,
    )
    assert texts.pair("glossary", term, "en").state == "outdated"
    queue = texts.queue("en")
    assert [i.reason for i in queue.items if i.kind == "glossary" and i.key == term] == ["outdated"]
    reseed(seeded)
    with session_scope(seeded) as s:
        rows = {
            r.language: r for r in s.exec(select(GlossaryTerm).where(GlossaryTerm.term == term)).all()
        }
    assert rows["de"].explanation == "Amt für Grundsicherung und Arbeit (neu)"
    assert rows["en"].gloss == "job centre" and rows["en"].reviewer == "ed"
    added = texts.add_term(
        "Schuleingangsuntersuchung", "Untersuchung vor der Einschulung.", "", actor=ED
    )
    assert texts.pair("glossary", added, "ar").state == "missing"
    with pytest.raises(TextError, match="gibt es schon"):
        texts.add_term("Schuleingangsuntersuchung", "", "", actor=ED)


def test_checklist_items_translate_and_a_german_edit_outdates_them(seeded: Engine):
    texts = texts_of(seeded)
    with session_scope(seeded) as s:
        checklist = s.exec(select(Checklist).order_by(col(Checklist.key))).first()
        assert checklist is not None
        key, items = checklist.key, list(checklist.items)
    pair = texts.pair("checklist", key, "fa")
    assert [f.name for f in pair.fields] == ["title", *(f"item:{i}" for i in items)]
    new = {f.name: f"متن {n}" for n, f in enumerate(pair.fields)}
    texts.save_translation(
        "checklist",
        key,
        "fa",
        new,
        master_version=pair.master_version,
        stamp=pair.stamp,
        approve=True,
        actor=ED,
    )
    master = texts.master("checklist", key)
    changed = {f.name: f.master for f in master.fields} | {"title": "Unterlagen (neu)"}
    texts.save_master("checklist", key, changed, master_version=master.master_version, actor=ED)
    after = texts.pair("checklist", key, "fa")
    assert after.state == "outdated" and after.fields[1].text == "متن 1"
    reseed(seeded)
    assert row_of(seeded, "checklist", key, "title", "de").text == "Unterlagen (neu)"


# --- the review queue ---------------------------------------------------------------------------


def test_queue_lists_outdated_then_machine_then_draft(seeded: Engine):
    texts = texts_of(seeded)
    change_german_answer(seeded, ENTRY, "Neu.")
    with session_scope(seeded) as s:
        for row in s.exec(
            select(Translation).where(
                Translation.owner_key == "banking-documents", Translation.language == "ar"
            )
        ).all():
            row.status, row.origin = TextStatus.MACHINE, Origin.MT
            s.add(row)
    queue = texts.queue("ar")
    reasons = [i.reason for i in queue.items]
    assert reasons == sorted(reasons, key=["outdated", "machine", "draft"].index)
    assert queue.items[0].key == ENTRY and queue.items[0].reason == "outdated"
    assert ("banking-documents", "machine") in {(i.key, i.reason) for i in queue.items}
    assert queue.counts["outdated"] >= 1 and queue.counts["draft"] > 10


# --- machine translation --------------------------------------------------------------------------


def test_machine_drafts_only_where_a_model_is_installed(
    seeded: Engine,
    installed_dir: Path,  # noqa: F811
):
    texts = texts_of(seeded)
    with pytest.raises(NoModel):
        texts.machine_translate("ku", actor=ED, kind="faq", key=ENTRY)
    argos = texts_of(seeded, ArgosTranslator.from_installed([installed_dir]))
    assert argos.machine_available("en") and argos.machine_available("ar")
    assert not argos.machine_available("ku")
    with session_scope(seeded) as s:  # the Ukrainian texts of this entry are missing
        for row in s.exec(
            select(Translation).where(Translation.owner_key == ENTRY, Translation.language == "uk")
        ).all():
            s.delete(row)
    report = argos.machine_translate("uk", actor=ED, kind="faq", key=ENTRY)
    assert report.translated == 2
    pair = argos.pair("faq", ENTRY, "uk")
    assert pair.state == "machine" and all(f.status == TextStatus.MACHINE for f in pair.fields)
    # Outdated human texts are kept: the person keeps the reviewed old one with a note.
    change_german_answer(seeded, ENTRY, "Ja. Das Kind hat heute einen Termin.")
    report = argos.machine_translate("en", actor=ED, kind="faq", key=ENTRY)
    assert (report.translated, report.kept_human) == (0, 2)  # question and answer
    report = argos.machine_translate("uk", actor=ED, kind="faq", key=ENTRY)
    assert report.translated == 2  # the outdated machine texts are replaced
    assert "дитина" in row_of(seeded, "faq", ENTRY, "answer", "uk").text
    assert [e.details["translated"] for e in audit_rows(seeded, "content.machine_translate")] == [
        2,
        0,
        2,
    ]


# --- export ---------------------------------------------------------------------------------------


def _content(engine: Engine) -> dict[str, object]:
    """Everything the export promises to carry, independent of ids and version numbers."""
    with session_scope(engine) as s:
        versions = {("faq", e.key): e.version for e in s.exec(select(FaqEntry)).all() if e.active}
        versions |= {("message", m.key): m.version for m in s.exec(select(BotMessage)).all()}
        versions |= {("checklist", c.key): c.version for c in s.exec(select(Checklist)).all()}
        texts = {
            (r.owner_type, r.owner_key, r.field, r.language): (
                r.text,
                r.status,
                r.status != TextStatus.SOURCE
                and r.source_version < versions[(r.owner_type, r.owner_key)],
            )
            for r in s.exec(select(Translation)).all()
            if (r.owner_type, r.owner_key) in versions
        }
        entries = {
            e.key: (
                e.topic,
                e.scope,
                tuple(e.sources),
                e.legal_basis,
                tuple(e.keywords),
                e.checklist,
                e.last_verified,
                e.review_due,
                e.needs_review,
                e.valid_until,
            )
            for e in s.exec(select(FaqEntry)).all()
            if e.active
        }
        checklists = {c.key: (c.topic, tuple(c.items)) for c in s.exec(select(Checklist)).all()}
        masters = {
            g.term: g.source_version for g in s.exec(select(GlossaryTerm)).all() if g.language == "de"
        }
        glossary = {
            (g.term, g.language): (
                g.explanation,
                g.gloss,
                "source" if g.language == "de" else g.status,
                g.language != "de" and g.source_version < masters.get(g.term, 1),
            )
            for g in s.exec(select(GlossaryTerm)).all()
        }
    return {"texts": texts, "entries": entries, "checklists": checklists, "glossary": glossary}


def test_the_export_loads_back_into_an_empty_database(seeded: Engine, tmp_path: Path):
    texts = texts_of(seeded)
    # Some staff work first: an outdated translation, a reviewed one, a machine one, a new term.
    change_german_answer(seeded, ENTRY, "Ja. Geänderter Text.")
    pair = texts.pair("message", "too_many_messages", "ar")
    texts.save_translation(
        "message",
        "too_many_messages",
        "ar",
        {"text": "نص جديد"},
        master_version=pair.master_version,
        stamp=pair.stamp,
        approve=True,
        actor=ED,
    )
    texts.add_term(
        "Einschulungsuntersuchung",
        "Untersuchung vor der Schule.",
        "Untersuchung vor der Schule",
        actor=ED,
    )
    master = texts.master("glossary", "Jobcenter")
    texts.save_master(
        "glossary",
        "Jobcenter",
        {"explanation": "Neu erklärt.", "gloss": master.fields[1].master},
        master_version=master.master_version,
        actor=ED,
    )
    data = texts.export_zip(actor=ED)
    folder = tmp_path / "export"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
        zf.extractall(folder)
    assert {"messages.yml", "checklists.yml", "glossary.yml", "scopes.yml"} <= names
    assert any(re.fullmatch(r"faq/[a-z_]+\.yml", n) for n in names)
    assert len(audit_rows(seeded, "content.export")) == 1

    url = f"sqlite:///{tmp_path / 'other-kreis.db'}"
    upgrade(url)
    other = make_engine(url)
    try:
        with session_scope(other) as s:
            report = load_seed(s, folder)
            assert not report.errors, report.errors
            assert not load_glossary(s, folder / "glossary.yml").errors
        original, loaded = _content(seeded), _content(other)
        for part in ("entries", "checklists", "glossary", "texts"):
            assert loaded[part] == original[part], part
        assert loaded["texts"][("faq", ENTRY, "answer", "en")][2] is True  # still outdated
        with session_scope(other) as s:
            assert export_files(s).keys() == texts.export_files().keys()
    finally:
        other.dispose()


# --- the console ----------------------------------------------------------------------------------


@pytest.fixture
async def runtime(seeded: Engine, database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = console_runtime(database_url, tmp_path)
    yield rt
    await rt.close()


PAGES = [
    "/console/content/translations?lang=ar",
    f"/console/content/entries/{ENTRY}/translations/en",
    "/console/content/messages",
    "/console/content/messages/too_many_messages",
    "/console/content/messages/too_many_messages/translations/ar",
    "/console/content/glossary",
    "/console/content/checklists",
    "/console/content/export",
]


@pytest.mark.parametrize("who", ["cm", "admin"])
async def test_only_editors_may_use_the_texts_pages(runtime: Runtime, who: str):
    async with signed_in(runtime, who) as (c, csrf):
        for path in PAGES:
            resp = await c.get(path)
            assert resp.status_code == 403, path
            assert "Berechtigung" in resp.text
        posted = await c.post(
            f"/console/content/entries/{ENTRY}/translations/en",
            data={"csrf": csrf, "master_version": "1", "stamp": "", "text__answer": "x"},
        )
        assert posted.status_code == 403
        assert (await c.post("/console/content/export", data={"csrf": csrf})).status_code == 403
    assert audit_rows(runtime.engine, "content.edit") == []
    assert audit_rows(runtime.engine, "content.export") == []


async def test_every_texts_page_renders_for_an_editor(runtime: Runtime):
    async with signed_in(runtime, "ed") as (c, _):
        for path in PAGES:
            resp = await c.get(path)
            assert resp.status_code == 200, (path, resp.text[:500])
        with session_scope(runtime.engine) as s:
            term = s.exec(
                select(GlossaryTerm).where(
                    GlossaryTerm.term == "Jobcenter", GlossaryTerm.language == "de"
                )
            ).one()
        for path in (
            f"/console/content/glossary/{term.id}",
            f"/console/content/glossary/{term.id}/translations/fa",
        ):
            assert (await c.get(path)).status_code == 200, path
        assert (await c.get("/console/content/entries/nope/translations/en")).status_code == 404
        assert (await c.get(f"/console/content/entries/{ENTRY}/translations/xx")).status_code == 404
        # Only entries, messages and checklists are edited under this address pattern.
        assert (await c.get("/console/content/offices/x/translations/en")).status_code == 404
    async with browser(runtime) as anonymous:
        resp = await anonymous.get("/console/content/translations")
        assert resp.status_code == 303 and resp.headers["location"] == "/console/login"


def _form(html: str) -> dict[str, str]:
    fields = dict(re.findall(r'name="(master_version|stamp)" value="([^"]*)"', html))
    fields["csrf"] = csrf_of(html)
    return fields


async def test_side_by_side_save_approve_and_csrf(runtime: Runtime):
    path = f"/console/content/entries/{ENTRY}/translations/ar"
    async with signed_in(runtime, "ed") as (c, _):
        page = await c.get(path)
        assert 'dir="rtl"' in page.text and 'lang="ar"' in page.text
        assert "Als geprüft freigeben" in page.text and "Als Entwurf speichern" in page.text
        form = _form(page.text)
        no_csrf = await c.post(
            path, data={**form, "csrf": "falsch", "text__question": "س", "text__answer": "ج"}
        )
        assert no_csrf.status_code == 403 and "Formular ist abgelaufen" in no_csrf.text
        saved = await c.post(
            path,
            data={**form, "text__question": "سؤال؟", "text__answer": "جواب.", "action": "draft"},
        )
        assert saved.status_code == 303 and saved.headers["location"] == path + "?done=draft"
        shown = await c.get(path + "?done=draft")
        assert "Als Entwurf gespeichert" in shown.text and "جواب." in shown.text
        form = _form(shown.text)
        approved = await c.post(
            path,
            data={**form, "text__question": "سؤال؟", "text__answer": "جواب.", "action": "approve"},
        )
        assert approved.status_code == 303
    row = row_of(runtime.engine, "faq", ENTRY, "answer", "ar")
    assert (row.status, row.reviewer) == (TextStatus.REVIEWED, "ed")
    assert [e.actor for e in audit_rows(runtime.engine, "content.approve")] == ["ed"]


async def test_concurrent_approval_over_http_keeps_the_second_editors_text(runtime: Runtime):
    path = f"/console/content/entries/{ENTRY}/translations/en"
    async with signed_in(runtime, "ed") as (first, _), signed_in(runtime, "ed2") as (second, _):
        form_one = _form((await first.get(path)).text)
        form_two = _form((await second.get(path)).text)
        ok = await first.post(
            path,
            data={**form_one, "text__question": "Q one?", "text__answer": "One.", "action": "approve"},
        )
        assert ok.status_code == 303
        refused = await second.post(
            path,
            data={
                **form_two,
                "text__question": "Q two?",
                "text__answer": "My careful second text.",
                "action": "approve",
            },
        )
        assert refused.status_code == 409
        assert "Jemand anderes hat diese Übersetzung gespeichert" in refused.text
        assert "My careful second text." in refused.text  # nothing lost: still in the form
        change_german_answer(runtime.engine, ENTRY, "Ganz neu.")
        stale = _form(refused.text)
        master_changed = await second.post(
            path,
            data={**stale, "text__question": "Q?", "text__answer": "Again.", "action": "approve"},
        )
        assert master_changed.status_code == 409 and "jetzt Version 2" in master_changed.text
        assert "Again." in master_changed.text and "Ganz neu." in master_changed.text
    row = row_of(runtime.engine, "faq", ENTRY, "answer", "en")
    assert (row.text, row.reviewer) == ("One.", "ed")


async def test_placeholder_check_over_http(runtime: Runtime):
    key, _ = _message_with_placeholder(runtime.engine)
    path = f"/console/content/messages/{key}/translations/en"
    async with signed_in(runtime, "ed") as (c, _):
        page = await c.get(path)
        assert "<code>{kreis}</code>" in page.text
        refused = await c.post(
            path, data={**_form(page.text), "text__text": "Hello without braces.", "action": "draft"}
        )
        assert refused.status_code == 400
        assert "Platzhalter stimmen nicht" in refused.text and "Hello without braces." in refused.text


async def test_html_is_escaped_and_long_and_rtl_texts_render(runtime: Runtime):
    long_text = ("Ein sehr langer Absatz mit Inhalt. " * 600)[:20_000]
    assert len(long_text) == 20_000
    path = f"/console/content/entries/{ENTRY}/translations/fa"
    async with signed_in(runtime, "ed") as (c, _):
        form = _form((await c.get(path)).text)
        saved = await c.post(
            path,
            data={**form, "text__question": XSS, "text__answer": long_text, "action": "draft"},
        )
        assert saved.status_code == 303
        page = await c.get(path)
        assert "<script>alert" not in page.text and "&lt;script&gt;alert" in page.text
        assert long_text.strip() in page.text
        assert 'lang="fa" dir="rtl"' in page.text
        queue = await c.get("/console/content/translations?lang=fa")
        assert "<script>alert" not in queue.text
    row = row_of(runtime.engine, "faq", ENTRY, "answer", "fa")
    assert len(row.text) == len(long_text.strip())
    assert row_of(runtime.engine, "faq", ENTRY, "question", "fa").text == XSS
    # The bot sends the characters as plain text (no markup mode), exactly as written.
    shown = runtime.renderer.faq(faq_id(runtime.engine, ENTRY), "fa")
    assert shown is not None and shown.question.text == XSS and shown.answer.status == "draft"


async def test_queue_page_orders_and_links(runtime: Runtime):
    change_german_answer(runtime.engine, ENTRY, "Neu.")
    async with signed_in(runtime, "ed") as (c, _):
        page = await c.get("/console/content/translations?lang=ar")
        assert page.status_code == 200
        rows = re.findall(r'<tr data-item="([^"]+)" class="reason-(\w+)"', page.text)
        assert rows[0] == (f"faq:{ENTRY}", "outdated")
        reasons = [r for _, r in rows]
        assert reasons == sorted(reasons, key=["outdated", "machine", "draft"].index)
        assert f'href="/console/content/entries/{ENTRY}/translations/ar"' in page.text
        assert "kein Übersetzungsmodell" in page.text  # the offline runtime has no model
        machine = await c.post(
            "/console/content/translations/machine", data={"csrf": csrf_of(page.text), "lang": "ar"}
        )
        assert machine.status_code == 409


async def test_message_master_and_new_term_over_http(runtime: Runtime):
    async with signed_in(runtime, "ed") as (c, _):
        page = await c.get("/console/content/messages/too_many_messages")
        form = _form(page.text)
        saved = await c.post(
            "/console/content/messages/too_many_messages",
            data={**form, "text__text": "Bitte warten Sie kurz."},
        )
        assert saved.status_code == 303 and saved.headers["location"].endswith("?done=saved")
        again = await c.post(
            "/console/content/messages/too_many_messages",
            data={**form, "text__text": "Ein zweiter Stand."},
        )
        assert again.status_code == 409 and "Ein zweiter Stand." in again.text
        listing = await c.get("/console/content/messages?lang=en")
        assert re.search(r'data-item="message:too_many_messages">.*?state-outdated', listing.text, re.S)
        added = await c.post(
            "/console/content/glossary",
            data={"csrf": form["csrf"], "term": "Einschulungsuntersuchung", "explanation": "Nachweis."},
        )
        assert added.status_code == 303
        glossary = await c.get(added.headers["location"])
        assert "Einschulungsuntersuchung" in glossary.text and "ist angelegt" in glossary.text
        export = await c.post("/console/content/export", data={"csrf": form["csrf"]})
        assert export.status_code == 200 and export.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(export.content)) as zf:
            assert "Einschulungsuntersuchung" in zf.read("glossary.yml").decode()
            assert "Bitte warten Sie kurz." in zf.read("messages.yml").decode()
    assert len(audit_rows(runtime.engine, "content.edit")) == 2


async def test_machine_translation_from_the_console(
    seeded: Engine,
    database_url: str,
    tmp_path: Path,
    installed_dir: Path,  # noqa: F811
):
    settings = Settings(
        database_url=database_url,
        rasa=RasaSettings(
            url=f"http://127.0.0.1:{free_port()}",
            tracker_db=tmp_path / "tracker.db",
            timeout_seconds=2,
            internal_token=SecretStr("test-internal-token"),
        ),
        web=WebSettings(secret="test-secret-test-secret"),
    )
    rt = build(settings, translator=ArgosTranslator.from_installed([installed_dir]))
    rt.staff.create("ed", "Emil Dorn", PASSWORD, ["editor"], actor=CLI)
    with session_scope(seeded) as s:
        for row in s.exec(
            select(Translation).where(Translation.owner_key == ENTRY, Translation.language == "uk")
        ).all():
            s.delete(row)
    path = f"/console/content/entries/{ENTRY}/translations/uk"
    try:
        async with signed_in(rt, "ed") as (c, csrf):
            page = await c.get(path)
            assert "Maschinell übersetzen (fehlende und veraltete)" in page.text
            done = await c.post(path + "/machine", data={"csrf": csrf})
            assert done.status_code == 303
            shown = await c.get(done.headers["location"])
            assert "2 Texte maschinell übersetzt" in shown.text
            assert shown.text.count("state-machine") >= 2
            queue = await c.get("/console/content/translations?lang=uk")
            assert "Alles Fehlende und Veraltete maschinell übersetzen" in queue.text
            assert "Alle Sprachen" in queue.text
            assert re.search(rf'data-item="faq:{ENTRY}" class="reason-machine"', queue.text)
    finally:
        await rt.close()
    row = row_of(seeded, "faq", ENTRY, "answer", "uk")
    assert (row.status, row.origin) == (TextStatus.MACHINE, Origin.MT)
