"""The audit trail: a hash chain that verifies, finds tampering, refuses changes on PostgreSQL, stays one
chain under concurrent appends, and records what the hand-off desk and the command line do."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import insert, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from cli.main import main
from rendering.renderer import Renderer
from services.audit import SYSTEM, Actor, Audit
from services.handoff import HandoffDesk
from services.outbox import Outbox
from storage import conversations, people
from storage import outbox as outbox_rows
from storage.audit import GENESIS, InvalidAuditEvent
from storage.db import session_scope, utcnow
from storage.handoff import open_handoff
from storage.models_audit import AuditEvent
from translations.engine import NullTranslator

TABLE = AuditEvent.metadata.tables["auditevent"]


def _postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def tamper(engine: Engine, *statements: str) -> None:
    """Change the table behind the service's back (on PostgreSQL as its owner, trigger disabled)."""
    with engine.begin() as conn:
        if _postgres(engine):
            conn.execute(text("ALTER TABLE auditevent DISABLE TRIGGER auditevent_no_change"))
        for sql in statements:
            conn.execute(text(sql))
        if _postgres(engine):
            conn.execute(text("ALTER TABLE auditevent ENABLE TRIGGER auditevent_no_change"))


def three_rows(audit: Audit) -> list[AuditEvent]:
    person = people.new_person_id()
    return [
        audit.record(
            Actor.staff("k.mueller"), "conversation.read", person, "handoff:1", "answer_request"
        ),
        audit.record(
            Actor.staff("k.mueller"), "handoff.reply", person, "handoff:1", None, {"language": "ar"}
        ),
        audit.record(Actor.cli("ops", by="k.mueller"), "handoff.release", person, "handoff:1"),
    ]


def test_the_chain_is_built_and_verifies(engine: Engine):
    audit = Audit(engine)
    rows = three_rows(audit)
    assert [r.prev_hash for r in rows] == [GENESIS, rows[0].hash, rows[1].hash]
    # The rule, written out: sha256(prev_hash + canonical JSON of the eight fields).
    last = rows[2]
    fields = {
        "action": "handoff.release",
        "actor": "cli:ops",
        "actor_kind": "cli",
        "at": last.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "details": {"by": "k.mueller"},
        "person": last.person,
        "reason": None,
        "target": "handoff:1",
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert last.hash == hashlib.sha256((rows[1].hash + canonical).encode()).hexdigest()

    result = audit.verify()
    assert (result.ok, result.rows, result.head, result.broken_id) == (True, 3, last.hash, None)
    # Verifying is itself recorded, and the next check covers that row too.
    [check] = audit.list(action="audit.verify")
    assert (check.actor, check.actor_kind, check.details) == (
        "system",
        "system",
        {"rows": 3, "ok": True},
    )
    assert audit.verify().rows == 4


def test_an_empty_trail_verifies(engine: Engine):
    result = Audit(engine).verify()
    assert (result.ok, result.rows, result.head) == (True, 0, GENESIS)


def test_list_filters(engine: Engine):
    audit = Audit(engine)
    rows = three_rows(audit)
    other = people.new_person_id()
    audit.record(Actor.staff("a.schmidt"), "conversation.read", other, "handoff:2", "quality_check")
    assert [r.id for r in audit.list(person=rows[0].person)] == [r.id for r in reversed(rows)]
    assert [r.person for r in audit.list(actor="a.schmidt")] == [other]
    assert len(audit.list(action="conversation.read")) == 2
    assert len(audit.list(target="handoff:1", limit=2)) == 2
    now = utcnow()
    assert len(audit.list(since=now - timedelta(hours=1), until=now + timedelta(hours=1))) == 4
    assert audit.list(since=now + timedelta(hours=1)) == []


@pytest.mark.parametrize(
    ("actor", "action", "person", "target", "reason", "details"),
    [
        (Actor.staff("k.mueller"), "conversation.read", "123456789", None, None, None),  # a chat id
        (Actor.staff("k.mueller"), "conversation.read", "Amira Haddad", None, None, None),  # a name
        (Actor.staff("k.mueller"), "conversation.peek", None, None, None, None),
        (Actor.staff("k.mueller"), "conversation.read", None, None, "curiosity", None),
        (Actor.staff("k.mueller"), "conversation.read", None, "handoff 12", None, None),
        (Actor.staff("k.mueller"), "handoff.reply", None, None, None, {"text": {"nested": "x"}}),
        (Actor.staff(""), "handoff.reply", None, None, None, None),
        (Actor("someone", SYSTEM.kind), "audit.verify", None, None, None, None),
    ],
)
def test_malformed_rows_are_refused(engine: Engine, actor, action, person, target, reason, details):
    audit = Audit(engine)
    with pytest.raises(InvalidAuditEvent):
        audit.record(actor, action, person, target, reason, details)
    assert audit.list() == []


def test_a_changed_field_is_found(engine: Engine):
    audit = Audit(engine)
    rows = three_rows(audit)
    tamper(engine, f"UPDATE auditevent SET reason = 'quality_check' WHERE id = {rows[0].id}")
    result = audit.verify()
    assert (result.ok, result.broken_id, result.problem, result.rows) == (
        False,
        rows[0].id,
        "changed",
        1,
    )
    assert result.head == GENESIS  # nothing before it is intact


def test_a_deleted_middle_row_is_found(engine: Engine):
    audit = Audit(engine)
    rows = three_rows(audit)
    tamper(engine, f"DELETE FROM auditevent WHERE id = {rows[1].id}")
    result = audit.verify()
    assert (result.ok, result.broken_id, result.problem) == (False, rows[2].id, "missing")
    assert result.head == rows[0].hash


def test_reordered_rows_are_found(engine: Engine):
    audit = Audit(engine)
    _, second, third = three_rows(audit)
    tamper(
        engine,
        f"UPDATE auditevent SET id = 1000 WHERE id = {second.id}",
        f"UPDATE auditevent SET id = {second.id} WHERE id = {third.id}",
        f"UPDATE auditevent SET id = {third.id} WHERE id = 1000",
    )
    result = audit.verify()
    assert (result.ok, result.broken_id, result.problem) == (False, second.id, "reordered")
    assert result.why == f"it follows row {third.id}, not the row before it"


@pytest.mark.parametrize(
    ("links_to_head", "problem"),
    [
        (True, "changed"),  # linked to the latest row, with a hash its author could only make up
        (False, "missing"),  # linked to nothing, slipped into a gap of the ids
    ],
)
def test_a_forged_row_is_found(engine: Engine, links_to_head: bool, problem: str):
    audit = Audit(engine)
    rows = three_rows(audit)
    forged_id = 100 if links_to_head else rows[2].id - 1
    if not links_to_head:
        tamper(engine, f"DELETE FROM auditevent WHERE id = {forged_id}")
    forged = {
        "id": forged_id,
        "at": utcnow(),
        "actor": "k.mueller",
        "actor_kind": "staff",
        "action": "conversation.read",
        "person": rows[0].person,
        "target": "handoff:1",
        "reason": "answer_request",
        "details": None,
        "prev_hash": rows[2].hash if links_to_head else "f" * 64,
        "hash": "e" * 64,
    }
    with engine.begin() as conn:
        conn.execute(insert(TABLE).values(**forged))
    result = audit.verify()
    assert (result.ok, result.broken_id, result.problem) == (False, forged_id, problem)


def test_rows_cut_from_the_end_show_only_in_the_head(engine: Engine):
    """The limit of any hash chain: compare the head with one written down earlier."""
    audit = Audit(engine)
    rows = three_rows(audit)
    tamper(engine, f"DELETE FROM auditevent WHERE id = {rows[2].id}")
    result = audit.verify()
    assert (result.ok, result.rows) == (True, 2)
    assert result.head == rows[1].hash != rows[2].hash


def test_postgresql_refuses_update_delete_and_truncate(engine: Engine):
    if not _postgres(engine):
        pytest.skip("SQLite has no trigger: verify() is what finds a change there")
    audit = Audit(engine)
    rows = three_rows(audit)
    for sql in (
        f"UPDATE auditevent SET reason = 'quality_check' WHERE id = {rows[0].id}",
        f"DELETE FROM auditevent WHERE id = {rows[1].id}",
        "TRUNCATE auditevent",
    ):
        with pytest.raises(DBAPIError, match="auditevent is append-only"), engine.begin() as conn:
            conn.execute(text(sql))
    result = audit.verify()
    assert (result.ok, result.rows) == (True, 3)


def test_sqlite_allows_the_change_and_verify_finds_it(engine: Engine):
    if _postgres(engine):
        pytest.skip("PostgreSQL refuses the change (test above)")
    audit = Audit(engine)
    rows = three_rows(audit)
    with engine.begin() as conn:
        changed = conn.execute(text(f"UPDATE auditevent SET actor = 'x' WHERE id = {rows[1].id}"))
        assert changed.rowcount == 1
    assert audit.verify().broken_id == rows[1].id


def test_concurrent_appends_keep_one_chain(engine: Engine):
    audit = Audit(engine)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        start.wait()
        try:
            for i in range(25):
                audit.record(Actor.staff(name), "conversation.read", target=f"handoff:{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a.schmidt", "k.mueller")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = audit.verify()
    assert (result.ok, result.rows) == (True, 50)


# --- the hand-off desk and the command line --------------------------------------------------------


@pytest.fixture
def handoff(seeded: Engine) -> tuple[int, str]:
    with session_scope(seeded) as s:
        person = people.record_consent(
            session=s, channel="web", external_id="w-audit", given=True, version="v1", language="ar"
        )
        conversations.store_inbound(
            session=s, person_id=person.id, channel="web", text="بدي احكي مع موظف", payload=None
        )
        req, _ = open_handoff(session=s, person_id=person.id, reason="user")
        assert req.id is not None
        return req.id, person.id


def desk(engine: Engine) -> HandoffDesk:
    return HandoffDesk(
        engine, NullTranslator(), Renderer(engine, None, {}), Outbox(engine, {}), Audit(engine)
    )


def test_the_desk_records_read_reply_and_release(seeded: Engine, handoff):
    handoff_id, person_id = handoff
    target = f"handoff:{handoff_id}"
    d = desk(seeded)
    d.conversation(handoff_id, staff="k.mueller")
    d.conversation(handoff_id, staff="a.schmidt", reason="quality_check")
    d.reply(handoff_id, staff="k.mueller", text="Guten Tag!")
    d.release(handoff_id, by="k.mueller")
    rows = list(reversed(d.audit.list(person=person_id)))
    assert [(r.actor, r.actor_kind, r.action, r.person, r.target, r.reason) for r in rows] == [
        ("k.mueller", "staff", "conversation.read", person_id, target, "answer_request"),
        ("a.schmidt", "staff", "conversation.read", person_id, target, "quality_check"),
        ("k.mueller", "staff", "handoff.reply", person_id, target, None),
        ("k.mueller", "staff", "handoff.release", person_id, target, None),
    ]
    # The reply's row says how it went out, never what it said.
    assert rows[2].details == {"language": "de", "translation": "untranslated"}
    assert d.audit.verify().ok


def test_no_record_no_read_and_no_reply(seeded: Engine, handoff):
    """A read for a reason not on the list shows nothing; a reply that cannot be recorded is not sent."""
    handoff_id, person_id = handoff
    d = desk(seeded)
    with pytest.raises(InvalidAuditEvent):
        d.conversation(handoff_id, staff="k.mueller", reason="curiosity")
    with pytest.raises(InvalidAuditEvent):
        d.reply(handoff_id, staff="x", text="Hallo", actor=Actor.staff(""))
    with session_scope(seeded) as s:
        assert outbox_rows.of_person(session=s, person_id=person_id) == []
    assert d.audit.list() == []


def test_the_command_line_records_the_os_user(
    seeded: Engine, database_url: str, handoff, monkeypatch, capsys
):
    handoff_id, person_id = handoff
    monkeypatch.setenv("LOTSE_DATABASE_URL", database_url)
    monkeypatch.setenv("ARGOS_PACKAGES_DIR", "/nonexistent-argos-packages")
    monkeypatch.setattr("getpass.getuser", lambda: "ops")
    assert main(["handoff", "show", str(handoff_id), "--by", "k.mueller"]) == 0
    assert main(["handoff", "reply", str(handoff_id), "Wir rufen Sie an.", "--by", "k.mueller"]) == 0
    assert main(["handoff", "release", str(handoff_id), "--by", "k.mueller"]) == 0
    capsys.readouterr()
    rows = list(reversed(Audit(seeded).list(person=person_id)))
    assert [(r.actor, r.actor_kind, r.action, (r.details or {}).get("by")) for r in rows] == [
        ("cli:ops", "cli", "conversation.read", "k.mueller"),
        ("cli:ops", "cli", "handoff.reply", "k.mueller"),
        ("cli:ops", "cli", "handoff.release", "k.mueller"),
    ]

    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.startswith("3 rows, chain intact (head ")
    assert main(["audit", "list", "--person", person_id, "--action", "conversation.read"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert "cli:ops" in line and "conversation.read" in line and f"handoff:{handoff_id}" in line
    assert "by=k.mueller" in line and "answer_request" in line
    today = utcnow().date()
    assert main(["audit", "list", "--since", f"{today + timedelta(days=1)}"]) == 0
    assert capsys.readouterr().out == "no audit rows\n"
    assert main(["audit", "list", "--since", f"{today}", "--limit", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and "audit.verify" in out[0]

    tamper(seeded, f"UPDATE auditevent SET actor = 'someone' WHERE id = {rows[1].id}")
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"chain broken at row {rows[1].id} (changed): ")
    assert len(Audit(seeded).list(action="audit.verify", actor="cli:ops")) == 2
