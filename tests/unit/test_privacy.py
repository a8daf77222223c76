"""Export, erasure and retention reach every store: the app database and Rasa's tracker store, on SQLite
and PostgreSQL (Rasa's SQL tracker store table, read from the same endpoints file Rasa runs with)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import select

from cli.main import main
from lotse.runtime import Runtime
from lotse.settings import ROOT
from services.conversation.pipeline import Inbound
from services.privacy import Privacy, TrackerStore, tracker_store_url
from storage import conversations, people
from storage.db import session_scope, utcnow
from storage.models import (
    ErasureRequest,
    HandoffRequest,
    InboundMessage,
    OutboundMessage,
    Person,
    SeenUpdate,
    UnansweredQuestion,
)
from tests.conftest import _pg_database
from tests.support.offline import offline_runtime

SCHEMA = json.loads((ROOT / "docs" / "schemas" / "export.schema.json").read_text())
# Rasa's SQLTrackerStore table, as rasa 3.6 creates it (rasa/core/tracker_store.py).
EVENTS = """CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL,
    type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255),
    action_name VARCHAR(255), data TEXT)"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def tracker_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rasa.db'}"
    else:
        yield from _pg_database()


def add_events(url: str, sender: str, texts: list[str], *, age: timedelta = timedelta(0)) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                EVENTS.replace("INTEGER PRIMARY KEY", "SERIAL PRIMARY KEY")
                if url.startswith("postgresql")
                else EVENTS
            )
            if not engine.dialect.has_table(conn, "events")
            else text("SELECT 1")
        )
        for t in texts:
            conn.execute(
                text(
                    "INSERT INTO events (sender_id, type_name, timestamp, data) "
                    "VALUES (:s, 'user', :t, :d)"
                ),
                {"s": sender, "t": (utcnow() - age).timestamp(), "d": json.dumps({"text": t})},
            )
    engine.dispose()


@pytest.fixture
async def runtime(seeded: Engine, database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = offline_runtime(database_url, tmp_path)
    yield rt
    await rt.close()


def inbound(sender: str = "w-priv", **kw) -> Inbound:
    return Inbound(channel="web", external_id=sender, **kw)


async def onboard(rt: Runtime, sender: str = "w-priv", lang: str = "de") -> str:
    await rt.conversation.handle(inbound(sender, text="hi", hint_language=lang))
    await rt.conversation.handle(inbound(sender, payload=f"c:y:{lang}"))
    await rt.conversation.handle(
        inbound(sender, payload=f"lang:{lang}", update_key=f"tgcb:{sender}:1:x")
    )
    with session_scope(rt.engine) as s:
        return people.find_person(session=s, channel="web", external_id=sender).id


def test_the_tracker_store_is_read_from_rasas_endpoints_files(tmp_path: Path):
    embedded = tracker_store_url(ROOT / "nlu" / "endpoints.yml", {"RASA_TRACKER_DB": "/srv/t.db"})
    assert embedded == "sqlite:////srv/t.db"
    scaled = tracker_store_url(
        ROOT / "deploy" / "rasa-endpoints.yml",
        {"RASA_TRACKER_HOST": "db", "RASA_TRACKER_USER": "lotse", "RASA_TRACKER_PASSWORD": "pw"},
    )
    assert scaled == "postgresql+psycopg://lotse:pw@db:5432/rasa"


async def test_erasure_reaches_every_store_with_a_receipt(
    runtime: Runtime, seeded: Engine, tracker_url: str
):
    pid = await onboard(runtime)
    await runtime.conversation.handle(inbound(text="meine Nummer ist 0176 1234567"))
    with session_scope(seeded) as s:
        s.add(UnansweredQuestion(text="?", language="de", person_id=pid))
    add_events(tracker_url, pid, ["meine Nummer ist 0176 1234567", "hallo"])
    add_events(tracker_url, "someone-else", ["bleibt"])
    privacy = Privacy(seeded, tracker=TrackerStore(tracker_url), retention_days=180)
    receipt = privacy.erase_everywhere(pid)
    assert receipt.complete
    assert receipt.rows("conversation_engine") == 2 and receipt.rows("messages") >= 2
    with session_scope(seeded) as s:
        for model in (Person, InboundMessage, OutboundMessage, UnansweredQuestion, HandoffRequest):
            assert s.exec(select(model)).all() == [], model.__name__
        [request] = s.exec(select(ErasureRequest)).all()
        assert request.status == "done" and request.pseudonym == pid
        assert {r["store"] for r in request.receipt} >= {"messages", "conversation_engine"}
    assert TrackerStore(tracker_url).count(pid) == 0
    assert TrackerStore(tracker_url).count("someone-else") == 1


async def test_a_failed_store_is_said_honestly_and_retried(
    runtime: Runtime, seeded: Engine, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("ARGOS_PACKAGES_DIR", "/nonexistent-argos-packages")
    pid = await onboard(runtime)
    broken = TrackerStore("postgresql+psycopg://nobody@127.0.0.1:9/none")
    receipt = Privacy(seeded, tracker=broken, retention_days=180).erase_everywhere(pid)
    assert not receipt.complete and receipt.failed() == ["conversation_engine"]
    with session_scope(seeded) as s:
        assert s.exec(select(Person)).all() == []  # the rest is gone at once
    # Shown to staff: the command line and the console's administration.
    [pending] = runtime.privacy.incomplete_erasures()
    assert (pending["pseudonym"], pending["failed"]) == (pid, ["conversation_engine"])
    assert main(["--database-url", runtime.settings.database_url, "privacy", "erasures"]) == 1
    assert "not yet erased from: conversation_engine" in capsys.readouterr().out
    url = f"sqlite:///{tmp_path / 'back.db'}"
    add_events(url, pid, ["still there"])
    assert Privacy(seeded, tracker=TrackerStore(url), retention_days=180).retry_erasures() == 1
    assert TrackerStore(url).count(pid) == 0
    assert runtime.privacy.incomplete_erasures() == []


async def test_delete_in_the_chat_says_what_was_erased(runtime: Runtime):
    await onboard(runtime)
    out = await runtime.conversation.handle(inbound(payload="d:y"))
    assert [m.meta["response"] for m in out] == ["delete_done", "delete_receipt"]


async def test_the_export_is_complete_and_valid(runtime: Runtime, seeded: Engine):
    pid = await onboard(runtime, lang="ar")
    await runtime.conversation.handle(inbound(text="سؤال طويل " * 500))  # longer than any chat message
    [summary] = await runtime.conversation.handle(inbound(text="/mydata"))
    assert summary.meta["response"] == "mydata_summary"
    assert summary.meta["export"] == "/api/chat/export"
    document = json.loads(runtime.privacy.export_json(pid))
    jsonschema.validate(document, SCHEMA)
    assert any(len(m["text"] or "") > 3800 for m in document["messages"])  # nothing cut
    assert any(a["text"] for a in document["answers"])  # the bot's answers in full, not a count
    [attachment] = runtime.privacy.attachments(pid, summary)
    assert json.loads(attachment.content)["person"]["pseudonym"] == pid
    # Every export is an audit row, and the export says who of the staff looked (GDPR Art. 15).
    assert len(runtime.audit.list(action="privacy.export", person=pid)) == 2
    assert document["staff_access"] == [] or all(a["by"] for a in document["staff_access"])


async def test_staff_access_and_erasure_are_recorded(runtime: Runtime, seeded: Engine):
    pid = await onboard(runtime, lang="ar")
    with session_scope(seeded) as s:
        from storage.handoff import open_handoff

        req, _ = open_handoff(session=s, person_id=pid, reason="user")
        handoff_id = req.id
    assert handoff_id is not None
    runtime.handoff.conversation(handoff_id, staff="k.mueller", reason="answer_request")
    document = json.loads(runtime.privacy.export_json(pid))
    jsonschema.validate(document, SCHEMA)
    [access] = [a for a in document["staff_access"] if a["action"] == "conversation.read"]
    assert access["by"] == "staff" and access["reason"] == "answer_request"
    assert "k.mueller" not in json.dumps(document)  # the kind of account, not a colleague's name
    out = await runtime.conversation.handle(inbound(payload="d:y"))
    assert [m.meta["response"] for m in out] == ["delete_done", "delete_receipt"]
    [erased] = runtime.audit.list(action="privacy.erase", person=pid)
    assert erased.reason == "person_request" and erased.details
    assert erased.details["complete"] is True
    assert runtime.audit.verify().ok  # the person is gone, the record that they were served stays


async def test_retention_purges_every_store_by_age_and_is_idempotent(
    runtime: Runtime, seeded: Engine, tracker_url: str
):
    pid = await onboard(runtime)
    old = utcnow() - timedelta(days=200)
    with session_scope(seeded) as s:
        for m in s.exec(select(InboundMessage)).all():
            m.received_at = old
            s.add(m)
        s.add(UnansweredQuestion(text="alt", language="de", created_at=old))
        s.add(UnansweredQuestion(text="neu", language="de"))
        declined = people.record_consent(
            session=s, channel="telegram", external_id="555", given=False, version="v"
        )
        declined.consent_at = old
        s.add(declined)
        s.add(SeenUpdate(key="h:old", seen_at=utcnow() - timedelta(days=3)))
        conversations.mark_update_seen(session=s, key="tgcb:555:1:c:y:de")
    add_events(tracker_url, pid, ["alt"], age=timedelta(days=200))
    add_events(tracker_url, pid, ["neu"])
    privacy = Privacy(seeded, tracker=TrackerStore(tracker_url), retention_days=180)
    report = privacy.purge_expired()
    assert report["messages"] >= 1 and report["declined_people"] == 1
    assert report["unanswered_questions"] == 1 and report["update_keys"] == 1
    assert report["conversation_engine"] == 1
    again = privacy.purge_expired()
    assert all(n == 0 for k, n in again.items() if k != "erasures_completed"), again
    with session_scope(seeded) as s:
        assert [q.text for q in s.exec(select(UnansweredQuestion)).all()] == ["neu"]
        keys = [u.key for u in s.exec(select(SeenUpdate)).all()]
        assert keys and all(k.startswith("h:") and "555" not in k for k in keys)
    assert TrackerStore(tracker_url).count(pid) == 1


def test_retention_reaches_the_staff_side_too(seeded: Engine, tmp_path):
    """Failed logins (name and address) go after two days, ended console sessions after the retention
    period; a live session and a fresh failure stay."""
    from services.audit import Actor, Audit
    from services.staff import Staff
    from storage.models_staff import LoginFailure, StaffSession

    staff = Staff(seeded, Audit(seeded))
    account = staff.create(
        "k.mueller", "K. Müller", "ein-langes-passwort", ["case_manager"], actor=Actor.cli("t")
    )
    old_token, _ = staff.start_session(account, "10.0.0.1")
    live_token, _ = staff.start_session(account, "10.0.0.2")
    with session_scope(seeded) as s:
        s.add(LoginFailure(username="k.mueller", client="10.0.0.9", at=utcnow() - timedelta(days=3)))
        s.add(LoginFailure(username="k.mueller", client="10.0.0.9"))
        for row in s.exec(select(StaffSession)).all():
            if row.client == "10.0.0.1":
                row.ended_at = utcnow() - timedelta(days=200)
                s.add(row)
    url = f"sqlite:///{tmp_path / 'rasa.db'}"
    report = Privacy(seeded, tracker=TrackerStore(url), retention_days=180).purge_expired()
    assert report["login_failures"] == 1 and report["ended_staff_sessions"] == 1
    with session_scope(seeded) as s:
        assert [f.at > utcnow() - timedelta(days=1) for f in s.exec(select(LoginFailure)).all()] == [
            True
        ]
        assert [r.client for r in s.exec(select(StaffSession)).all()] == ["10.0.0.2"]
    assert staff.session(live_token) is not None and staff.session(old_token) is None
