"""The staff console over HTTP (real app, real database; the browser tests drive Chromium):
signing in, throttling, roles, CSRF, session expiry, the inbox and a hand-off from opening to closing,
accounts and the audit view."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from cli.main import main
from lotse.runtime import Runtime
from services.audit import Actor
from storage import conversations, people
from storage.db import session_scope, utcnow
from storage.handoff import open_handoff
from storage.models import HandoffRequest, OutboundMessage, Person
from storage.models_audit import AuditEvent
from storage.models_staff import StaffSession
from tests.support.console import (
    PASSWORD,
    audit_rows,
    browser,
    console_runtime,
    csrf_of,
    login,
    signed_in,
)

XSS = '<script>alert("x")</script><img src=x onerror="alert(1)">'


@pytest.fixture
async def runtime(seeded: Engine, database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = console_runtime(database_url, tmp_path)
    yield rt
    await rt.close()


def handoff(
    engine: Engine, text: str = "Ich brauche Hilfe", language: str = "ar", who: str = "w-console"
) -> tuple[int, str]:
    with session_scope(engine) as s:
        person = people.record_consent(
            session=s, channel="web", external_id=who, given=True, version="v", language=language
        )
        conversations.store_inbound(
            session=s, person_id=person.id, channel="web", text=text, payload=None
        )
        req, _ = open_handoff(session=s, person_id=person.id, reason="user")
        assert req.id is not None
        return req.id, person.id


def queued(engine: Engine, person_id: str) -> list[str]:
    with session_scope(engine) as s:
        return [
            str(m.meta.get("response"))
            for m in s.exec(select(OutboundMessage).where(OutboundMessage.person_id == person_id))
        ]


# --- signing in ---------------------------------------------------------------------------------


async def test_login_logout_and_headers(runtime: Runtime):
    async with browser(runtime) as c:
        page = await c.get("/console/login")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
        assert (await c.get("/console/inbox")).headers["location"] == "/console/login"
        resp = await login(c, "cm")
        assert resp.status_code == 303 and resp.headers["location"] == "/console/"
        cookie = resp.headers["set-cookie"]
        assert "lotse_staff=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Path=/console" in cookie
        assert (await c.get("/console/")).headers["location"] == "/console/inbox"
        inbox = await c.get("/console/inbox")
        assert inbox.status_code == 200 and "Offene Übergaben" in inbox.text
        out = await c.post("/console/logout", data={"csrf": csrf_of(inbox.text)})
        assert out.status_code == 303
        # The old token is dead even if a copy of the cookie survived.
        c.cookies.set("lotse_staff", cookie.split(";")[0].split("=", 1)[1], path="/console")
        assert (await c.get("/console/inbox")).status_code == 303
    assert [e.actor for e in audit_rows(runtime.engine, "staff.login")] == ["cm"]


async def test_wrong_passwords_are_throttled(runtime: Runtime):
    async with browser(runtime) as c:
        for _ in range(5):
            assert (await login(c, "cm", "falsch-falsch-falsch")).status_code == 401
        throttled = await login(c, "cm")  # even the right password, for the rest of the window
        assert throttled.status_code == 429 and "Zu viele" in throttled.text
        assert "lotse_staff" not in throttled.headers.get("set-cookie", "")
        unknown = await login(c, "niemand", "x")
        assert unknown.status_code == 401 and "Benutzername oder Passwort ist falsch" in unknown.text
    failures = audit_rows(runtime.engine, "staff.login_failed")
    assert len(failures) == 6 and failures[-1].details == {"throttled": True, "active": True}


async def test_login_needs_its_csrf_token_and_stays_inside_the_console(runtime: Runtime):
    async with browser(runtime) as c:
        await c.get("/console/login")
        forged = await c.post("/console/login", data={"username": "cm", "password": PASSWORD})
        assert forged.status_code == 403
        form = await c.get("/console/login")
        evil = await c.post(
            "/console/login",
            data={
                "username": "cm",
                "password": PASSWORD,
                "csrf": csrf_of(form.text),
                "next": "//evil.example/console/",
            },
        )
        assert evil.status_code == 303 and evil.headers["location"] == "/console/"


async def test_sessions_expire_after_inactivity_and_refreshes_do_not_count(runtime: Runtime):
    async with signed_in(runtime, "cm") as (c, _):
        polled = await c.get("/console/inbox/rows", headers={"X-Lotse-Poll": "1", "HX-Request": "true"})
        assert polled.status_code == 200
        with session_scope(runtime.engine) as s:
            s.exec(update(StaffSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
        page = await c.get("/console/inbox")
        assert page.status_code == 303 and page.headers["location"] == "/console/login?expired=1"
        again = await c.get("/console/inbox/rows", headers={"HX-Request": "true"})
        assert again.status_code == 401 and again.headers["hx-redirect"] == "/console/login?expired=1"
        assert "abgelaufen" in (await c.get("/console/login?expired=1")).text
    # A refresh alone never kept a session alive: the poll did not move last_seen_at.
    async with signed_in(runtime, "cm") as (c2, _):
        idle_since = utcnow() - timedelta(minutes=29)
        with session_scope(runtime.engine) as s:
            s.exec(update(StaffSession).values(last_seen_at=idle_since))
        headers = {"X-Lotse-Poll": "1", "HX-Request": "true"}
        assert (await c2.get("/console/inbox/rows", headers=headers)).status_code == 200
        with session_scope(runtime.engine) as s:
            [row] = s.exec(select(StaffSession).where(col(StaffSession.ended_at).is_(None))).all()
            assert row.last_seen_at == idle_since  # untouched by the refresh
        assert (await c2.get("/console/inbox")).status_code == 200  # a real request counts
        with session_scope(runtime.engine) as s:
            [row] = s.exec(select(StaffSession).where(col(StaffSession.ended_at).is_(None))).all()
            assert row.last_seen_at > idle_since


# --- roles and CSRF -------------------------------------------------------------------------------


async def test_every_role_is_refused_what_it_may_not_do(runtime: Runtime):
    handoff_id, _ = handoff(runtime.engine)
    async with (
        signed_in(runtime, "ed") as (editor, ed_csrf),
        signed_in(runtime, "cm") as (cm, cm_csrf),
        signed_in(runtime, "admin") as (admin, ad_csrf),
    ):
        # An editor cannot read conversations or answer them, nor manage accounts.
        for path in ("/console/inbox", f"/console/handoffs/{handoff_id}", "/console/admin/audit"):
            assert (await editor.get(path)).status_code == 403, path
        for path, data in (
            (f"/console/handoffs/{handoff_id}/open", {"reason": "answer_request"}),
            (f"/console/handoffs/{handoff_id}/reply", {"text": "Hallo"}),
            (f"/console/handoffs/{handoff_id}/release", {}),
            ("/console/admin/accounts", {"username": "x", "password": PASSWORD, "roles": "admin"}),
        ):
            assert (await editor.post(path, data={**data, "csrf": ed_csrf})).status_code == 403, path
        # A case manager cannot administer; an administrator alone cannot read conversations.
        assert (await cm.get("/console/admin/accounts")).status_code == 403
        assert (await cm.get("/console/admin/escalations")).status_code == 403
        made = await cm.post(
            "/console/admin/accounts",
            data={"username": "x", "password": PASSWORD, "roles": "admin", "csrf": cm_csrf},
        )
        assert made.status_code == 403
        assert (await admin.get(f"/console/handoffs/{handoff_id}")).status_code == 403
        opened = await admin.post(
            f"/console/handoffs/{handoff_id}/open", data={"reason": "incident", "csrf": ad_csrf}
        )
        assert opened.status_code == 403
    assert audit_rows(runtime.engine, "conversation.read") == []  # nobody got in
    assert runtime.staff.by_username("x") is None


async def test_posts_need_the_sessions_csrf_token_and_origin(runtime: Runtime):
    handoff_id, _ = handoff(runtime.engine)
    async with signed_in(runtime, "cm") as (cm, csrf):
        url = f"/console/handoffs/{handoff_id}/open"
        assert (await cm.post(url, data={"reason": "answer_request"})).status_code == 403
        bad = await cm.post(url, data={"reason": "answer_request", "csrf": "forged"})
        assert bad.status_code == 403 and "Formular ist abgelaufen" in bad.text
        cross = await cm.post(
            url,
            data={"reason": "answer_request", "csrf": csrf},
            headers={"Origin": "http://evil.example"},
        )
        assert cross.status_code == 403
        assert audit_rows(runtime.engine, "conversation.read") == []
        ok = await cm.post(url, data={"reason": "answer_request"}, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 303


# --- a hand-off from the inbox to closing -------------------------------------------------------------


async def test_a_handoff_from_inbox_to_close(runtime: Runtime):
    engine = runtime.engine
    handoff_id, person_id = handoff(engine, text=XSS)
    async with signed_in(runtime, "cm") as (cm, csrf):
        inbox = await cm.get("/console/inbox")
        assert f'data-handoff="{handoff_id}"' in inbox.text and "Arabisch" in inbox.text
        assert "Wollte einen Menschen" in inbox.text
        # Not readable before it is opened with a reason.
        gate = await cm.get(f"/console/handoffs/{handoff_id}")
        assert "Grund" in gate.text and "alert(" not in gate.text
        denied = await cm.post(
            f"/console/handoffs/{handoff_id}/preview", data={"text": "Hallo", "csrf": csrf}
        )
        assert denied.status_code == 403
        opened = await cm.post(
            f"/console/handoffs/{handoff_id}/open", data={"reason": "answer_request", "csrf": csrf}
        )
        assert opened.status_code == 303
        [read] = audit_rows(engine, "conversation.read")
        assert (read.actor, read.person, read.target, read.reason) == (
            "cm",
            person_id,
            f"handoff:{handoff_id}",
            "answer_request",
        )
        page = await cm.get(f"/console/handoffs/{handoff_id}")
        assert page.status_code == 200
        # The person's message is shown as text, never as markup.
        assert "<script>alert" not in page.text and "onerror=" not in page.text.replace(
            "onerror=&#34;", ""
        )
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
        assert "Keine Übersetzung verfügbar" in page.text  # no model installed here
        assert len(audit_rows(engine, "conversation.read")) == 1  # re-reading is not a new opening

        preview = await cm.post(
            f"/console/handoffs/{handoff_id}/preview",
            data={"text": "Wir rufen Sie morgen an.", "written_in": "de", "csrf": csrf},
            headers={"HX-Request": "true"},
        )
        assert preview.status_code == 200 and "keine maschinelle Übersetzung" in preview.text
        digest = re.search(r'name="digest" value="([^"]+)"', preview.text)
        assert digest
        stale = await cm.post(
            f"/console/handoffs/{handoff_id}/reply",
            data={"text": "Etwas anderes", "written_in": "de", "digest": digest.group(1), "csrf": csrf},
            headers={"HX-Request": "true"},
        )
        assert stale.status_code == 409 and queued(engine, person_id) == []
        sent = await cm.post(
            f"/console/handoffs/{handoff_id}/reply",
            data={
                "text": "Wir rufen Sie morgen an.",
                "written_in": "de",
                "digest": digest.group(1),
                "csrf": csrf,
            },
            headers={"HX-Request": "true"},
        )
        assert sent.status_code == 200 and "In Warteschlange" in sent.text
        assert 'hx-swap-oob="true"' in sent.text
        assert queued(engine, person_id) == ["staff_reply"]
        [reply_row] = audit_rows(engine, "handoff.reply")
        assert reply_row.details == {"language": "de", "translation": "untranslated"}

        assigned = await cm.post(
            f"/console/handoffs/{handoff_id}/assign", data={"to": "me", "csrf": csrf}
        )
        assert assigned.status_code == 303
        page = await cm.get(f"/console/handoffs/{handoff_id}?done=assigned")
        assert "Zuständig: Clara Meier" in page.text
        inbox = await cm.get("/console/inbox")
        assert "Clara Meier" in inbox.text and "Beantwortet" in inbox.text

        closed = await cm.post(
            f"/console/handoffs/{handoff_id}/close", data={"outcome": "answered", "csrf": csrf}
        )
        assert closed.headers["location"] == "/console/inbox?done=closed"
        assert (await cm.get(f"/console/handoffs/{handoff_id}")).status_code == 404
    with session_scope(engine) as s:
        req = s.get(HandoffRequest, handoff_id)
        person = s.get(Person, person_id)
        assert req is not None and person is not None
        assert (req.status, req.outcome, req.closed_by) == ("closed", "answered", "cm")
        assert req.first_reply_at is not None and not person.paused
    # The person was told, in their language, what happens next (no "someone has read it" after
    # the answer itself: assigning an answered hand-off tells them nothing new).
    assert queued(engine, person_id) == ["staff_reply", "handoff_closed"]
    assert [e.details for e in audit_rows(engine, "handoff.close")] == [{"outcome": "answered"}]


async def test_release_gives_the_conversation_back_to_the_bot(runtime: Runtime):
    handoff_id, person_id = handoff(runtime.engine)
    async with signed_in(runtime, "cm") as (cm, csrf):
        for _ in range(2):  # taken (twice: a double click): the person is told once
            await cm.post(f"/console/handoffs/{handoff_id}/assign", data={"to": "me", "csrf": csrf})
        resp = await cm.post(f"/console/handoffs/{handoff_id}/release", data={"csrf": csrf})
        assert resp.headers["location"] == "/console/inbox?done=released"
        again = await cm.post(f"/console/handoffs/{handoff_id}/release", data={"csrf": csrf})
        assert again.status_code == 404  # a double click does nothing twice
    assert queued(runtime.engine, person_id) == ["handoff_assigned", "handoff_released"]
    assert len(audit_rows(runtime.engine, "handoff.release")) == 1


async def test_malformed_console_requests_get_a_page(runtime: Runtime):
    async with signed_in(runtime, "cm") as (cm, csrf):
        assert (await cm.get("/console/handoffs/not-a-number")).status_code == 422
        assert (await cm.get("/console/handoffs/999999")).status_code == 404
        assert (await cm.get("/console/nowhere")).status_code == 404
        huge = await cm.post("/console/handoffs/1/preview", data={"text": "x" * 5000, "csrf": csrf})
        assert huge.status_code in (403, 422)  # never a 500


# --- escalation -----------------------------------------------------------------------------------


async def test_an_unanswered_handoff_is_escalated_once(runtime: Runtime):
    engine = runtime.engine
    handoff_id, person_id = handoff(engine)
    desk = runtime.handoff
    assert desk.escalate_due().escalated == []  # within the promised time
    later = utcnow() + timedelta(days=6)  # past two working days, whatever today is
    assert [i.overdue for i in desk.inbox(now=later)] == [True]
    assert desk.escalate_due(now=later).escalated == [handoff_id]
    assert desk.escalate_due(now=later).escalated == []  # once
    assert queued(engine, person_id) == ["handoff_delayed", "emergency_numbers"]
    [row] = audit_rows(engine, "handoff.escalate")
    assert row.actor == "system" and row.target == f"handoff:{handoff_id}"
    async with signed_in(runtime, "admin") as (admin, _):
        page = await admin.get("/console/admin/escalations")
        assert f'data-handoff="{handoff_id}"' in page.text


def test_working_days_skip_weekends_and_holidays():
    from datetime import UTC, datetime

    from storage.calendar import add_working_days

    friday = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    assert add_working_days(friday, 2) == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # Tuesday
    before_christmas = datetime(2026, 12, 24, 9, 0, tzinfo=UTC)  # Thursday
    # 25 and 26 December are holidays, then a weekend: Monday 28th and Tuesday 29th.
    assert add_working_days(before_christmas, 2) == datetime(2026, 12, 29, 9, 0, tzinfo=UTC)


# --- administration -------------------------------------------------------------------------------


async def test_accounts_are_managed_by_admins_and_every_change_is_recorded(runtime: Runtime):
    async with signed_in(runtime, "admin") as (admin, csrf):
        made = await admin.post(
            "/console/admin/accounts",
            data={
                "username": "neu",
                "display_name": "Nora Neu",
                "password": PASSWORD,
                "roles": ["case_manager", "editor"],
                "csrf": csrf,
            },
        )
        assert made.status_code == 200 and "wurde angelegt" in made.text
        short = await admin.post(
            "/console/admin/accounts",
            data={"username": "kurz", "password": "kurz", "roles": "editor", "csrf": csrf},
        )
        assert short.status_code == 400 and "mindestens 12 Zeichen" in short.text
        neu = runtime.staff.by_username("neu")
        assert neu is not None and neu.roles == ("case_manager", "editor")
        own = runtime.staff.by_username("admin")
        assert own is not None
        last = await admin.post(
            f"/console/admin/accounts/{own.id}/active", data={"active": "0", "csrf": csrf}
        )
        assert last.status_code == 400 and "letzte aktive Administrationskonto" in last.text
        async with signed_in(runtime, "neu") as (nora, _):
            reset = await admin.post(
                f"/console/admin/accounts/{neu.id}/password",
                data={"password": "ein-ganz-neues-passwort", "csrf": csrf},
            )
            assert reset.status_code == 200
            assert (await nora.get("/console/inbox")).status_code == 303  # signed out by the reset
        roles = await admin.post(
            f"/console/admin/accounts/{neu.id}/roles", data={"roles": "editor", "csrf": csrf}
        )
        assert roles.status_code == 200
        off = await admin.post(
            f"/console/admin/accounts/{neu.id}/active", data={"active": "0", "csrf": csrf}
        )
        assert off.status_code == 200 and "gesperrt" in off.text
        async with browser(runtime) as fresh:
            assert (await login(fresh, "neu", "ein-ganz-neues-passwort")).status_code == 401
    actions = [e.action for e in runtime.audit.list(actor="admin", limit=20)]
    assert actions[:4] == ["staff.disable", "staff.roles", "staff.password_reset", "staff.create"]


async def test_the_audit_view_shows_and_verifies_but_changes_nothing(runtime: Runtime):
    handoff_id, _ = handoff(runtime.engine)
    runtime.handoff.conversation(handoff_id, staff="cm", reason="quality_check")
    async with signed_in(runtime, "admin") as (admin, csrf):
        page = await admin.get("/console/admin/audit?action=conversation.read")
        assert page.status_code == 200 and "Gespräch geöffnet" in page.text
        assert "Qualität prüfen" in page.text and f"handoff:{handoff_id}" in page.text
        assert "Die Kette wurde noch nicht geprüft" in page.text
        checked = await admin.post("/console/admin/audit/verify", data={"csrf": csrf})
        assert "Die Kette ist unversehrt" in checked.text
        assert "Letzte Prüfung" in (await admin.get("/console/admin/audit")).text
        for method in ("PUT", "DELETE", "PATCH"):
            resp = await admin.request(method, "/console/admin/audit", headers={"X-CSRF-Token": csrf})
            assert resp.status_code == 405
    assert runtime.audit.verify().ok


def test_the_first_admin_comes_from_the_command_line(
    seeded: Engine, database_url: str, monkeypatch, capsys
):
    monkeypatch.setenv("LOTSE_DATABASE_URL", database_url)
    monkeypatch.setenv("ARGOS_PACKAGES_DIR", "/nonexistent-argos-packages")
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["staff", "add", "chefin", "--role", "admin", "--password-stdin"]) == 0
    assert "Konto chefin angelegt (admin)" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("kurz\n"))
    assert main(["staff", "add", "zweite", "--role", "admin", "--password-stdin"]) == 1
    assert main(["staff", "list"]) == 0
    out = capsys.readouterr().out
    assert "chefin" in out and "zweite" not in out and PASSWORD not in out
    with session_scope(seeded) as s:
        [row] = s.exec(select(AuditEvent).where(AuditEvent.action == "staff.create")).all()
        assert row.actor.startswith("cli:")


async def test_incomplete_erasures_are_shown_to_admins(runtime: Runtime):
    from storage.models import ErasureRequest

    with session_scope(runtime.engine) as s:
        s.add(
            ErasureRequest(
                pseudonym="a" * 24,
                status="failed",
                receipt=[
                    {"store": "messages", "rows": 3, "status": "ok"},
                    {"store": "conversation_engine", "rows": 0, "status": "failed"},
                ],
            )
        )
    async with signed_in(runtime, "admin") as (admin, _):
        page = await admin.get("/console/admin/erasures")
        assert page.status_code == 200 and "Gesprächsverlauf von Rasa" in page.text
        assert "aaaaaaaa" in page.text and "a" * 24 not in page.text
    async with signed_in(runtime, "cm") as (cm, _):
        assert (await cm.get("/console/admin/erasures")).status_code == 403


async def test_the_inbox_shows_what_a_case_manager_asks_for(runtime: Runtime):
    mine, _ = handoff(runtime.engine, who="w-mine")
    other, _ = handoff(runtime.engine, who="w-other", language="uk")
    cm = runtime.staff.by_username("cm")
    assert cm is not None
    runtime.handoff.assign(mine, cm.id, actor=Actor.staff("cm"))
    async with signed_in(runtime, "cm") as (c, _):

        def ids(html: str) -> set[int]:
            return {int(i) for i in re.findall(r'data-handoff="(\d+)"', html)}

        assert ids((await c.get("/console/inbox")).text) == {mine, other}
        assert ids((await c.get("/console/inbox?view=mine")).text) == {mine}
        assert ids((await c.get("/console/inbox?view=unassigned")).text) == {other}
        assert ids((await c.get("/console/inbox/rows?view=unassigned")).text) == {other}
        assert ids((await c.get("/console/inbox?view=urgent")).text) == set()
        assert ids((await c.get("/console/inbox?view=<script>")).text) == {mine, other}


async def test_notes_and_ready_made_replies(runtime: Runtime):
    engine = runtime.engine
    handoff_id, person_id = handoff(engine)
    async with signed_in(runtime, "cm") as (cm, csrf):
        await cm.post(
            f"/console/handoffs/{handoff_id}/open", data={"reason": "answer_request", "csrf": csrf}
        )
        page = await cm.get(f"/console/handoffs/{handoff_id}")
        assert "Termin anbieten" in page.text  # the seeded ready-made replies are offered
        # With htmx: the reply box comes back with the snippet added to what was typed.
        box = await cm.get(
            f"/console/handoffs/{handoff_id}/snippet",
            params={"snippet": "unterlagen", "text": "Guten Tag,"},
            headers={"HX-Request": "true"},
        )
        assert box.text.startswith('<textarea id="reply-text"')
        assert "Guten Tag,\n\nBitte bringen Sie zum Termin mit" in box.text
        # Without JavaScript: the page itself, with the box filled.
        plain = await cm.get(f"/console/handoffs/{handoff_id}?snippet=unterlagen")
        assert "Bitte bringen Sie zum Termin mit" in plain.text
        note = await cm.post(
            f"/console/handoffs/{handoff_id}/notes",
            data={"text": "Rückruf am Montag vereinbart <b>wichtig</b>", "csrf": csrf},
            headers={"HX-Request": "true"},
        )
        assert "Rückruf am Montag" in note.text and "&lt;b&gt;wichtig&lt;/b&gt;" in note.text
        assert 'id="note-text" hx-swap-oob="true"' in note.text
        [row] = audit_rows(engine, "handoff.note")
        assert row.details == {"chars": len("Rückruf am Montag vereinbart <b>wichtig</b>")}
        # Case managers keep their own ready-made replies; a seed reload keeps their edit.
        edited = await cm.post(
            "/console/snippets",
            data={"key": "abschluss", "title": "Abschluss", "text": "Alles Gute!", "csrf": csrf},
        )
        assert edited.status_code == 200 and "Alles Gute!" in edited.text
        made = await cm.post(
            "/console/snippets",
            data={"title": "Kita-Platz Hinweis", "text": "Die Stadt vergibt die Plätze.", "csrf": csrf},
        )
        assert made.status_code == 200 and "kita-platz-hinweis" in made.text
    from storage.snippets import load_snippets

    with session_scope(engine) as s:
        assert load_snippets(s)["kept"] == 1
    assert [s.text for s in runtime.handoff.snippets() if s.key == "abschluss"] == ["Alles Gute!"]
    async with signed_in(runtime, "ed") as (editor, ed_csrf):
        assert (await editor.get("/console/snippets")).status_code == 403
        refused = await editor.post(
            f"/console/handoffs/{handoff_id}/notes", data={"text": "x", "csrf": ed_csrf}
        )
        assert refused.status_code == 403
    # The note is the person's data: in their export, and gone with them.
    import json

    document = json.loads(runtime.privacy.export_json(person_id))
    assert [n["text"] for n in document["staff_notes"]] == [
        "Rückruf am Montag vereinbart <b>wichtig</b>"
    ]
    receipt = runtime.privacy.erase_everywhere(person_id)
    assert receipt.rows("staff_notes") == 1


async def test_reminders_that_did_not_arrive_are_escalated_to_case_managers(runtime: Runtime):
    """A missed, unknown or failed reminder of a booked appointment is listed for case managers (the
    inbox says how many); marking it done is an audit row and takes it off the list."""
    from storage import calendar
    from storage.models_booking import Appointment, Reminder

    _, person_id = handoff(runtime.engine, who="w-reminder")
    start = utcnow() + timedelta(days=1)
    with session_scope(runtime.engine) as s:
        manager = calendar.case_managers(s)[0]
        office = calendar.offices(s)[0]
        appt = Appointment(
            reference="KL-7F3AX9QM",
            person_id=person_id,
            case_manager_id=manager.id,
            office_id=office.id,
            start=start,
            end=start + timedelta(hours=1),
            topic="kita",
            language="ar",
        )
        s.add(appt)
        s.flush()
        assert appt.id is not None
        for status, reason in (("missed", "fell due while the bot was down"), ("sent", None)):
            s.add(Reminder(appointment_id=appt.id, due_at=utcnow(), status=status, reason=reason))
    async with signed_in(runtime, "cm") as (cm, csrf):
        inbox = await cm.get("/console/inbox")
        assert "1 Terminerinnerung(en) nicht sicher angekommen" in inbox.text
        listed = await cm.get("/console/reminders")
        assert listed.status_code == 200
        assert "KL-7F3AX9QM" in listed.text and "nicht gesendet (zu spät)" in listed.text
        assert "fell due while the bot was down" in listed.text
        [reminder_id] = re.findall(r'data-reminder="(\d+)"', listed.text)
        url = f"/console/reminders/{reminder_id}/checked"
        assert (await cm.post(url)).status_code == 403  # no CSRF token
        done = await cm.post(url, data={"csrf": csrf})
        assert done.status_code == 303 and "reminder_checked" in done.headers["location"]
        again = await cm.post(url, data={"csrf": csrf})  # a double click
        assert "reminder_gone" in again.headers["location"]
        assert "Alle Erinnerungen sind angekommen." in (await cm.get("/console/reminders")).text
    [row] = audit_rows(runtime.engine, "reminder.check")
    assert row.person == person_id and row.target == f"reminder:{reminder_id}"
    async with signed_in(runtime, "ed") as (editor, _):
        assert (await editor.get("/console/reminders")).status_code == 403
