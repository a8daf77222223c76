"""Repositories on SQLite and the real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select

from storage import conversations, handoff, people
from storage import outbox as outbox_rows
from storage.db import session_scope
from storage.models import (
    HandoffRequest,
    InboundMessage,
    InboundStatus,
    OutboundMessage,
    OutboxStatus,
    Person,
)


def make_person(engine: Engine, external_id: str = "42", given: bool = True) -> Person:
    with session_scope(engine) as s:
        return people.record_consent(
            session=s,
            channel="telegram",
            external_id=external_id,
            given=given,
            version="v1",
            language="de",
        )


def test_consent_creates_a_pseudonymous_person(engine: Engine):
    person = make_person(engine, external_id="chat-for-test")
    assert len(person.id) == 24 and person.id != "chat-for-test"
    int(person.id, 16)  # a random hex pseudonym
    with session_scope(engine) as s:
        found = people.find_person(session=s, channel="telegram", external_id="chat-for-test")
        assert found is not None and found.id == person.id and found.language == "de"
        assert found.consent_at.tzinfo is not None


def test_declining_stores_only_the_decision(engine: Engine):
    person = make_person(engine, given=False)
    assert person.consent == "declined" and person.language is None and person.municipality is None


def test_update_ids_are_deduplicated_and_purged(engine: Engine):
    with session_scope(engine) as s:
        assert conversations.mark_update_seen(session=s, key="tg:1")
        assert not conversations.mark_update_seen(session=s, key="tg:1")
        assert conversations.mark_update_seen(session=s, key="tg:2")
    with session_scope(engine) as s:
        assert not conversations.mark_update_seen(session=s, key="tg:2")
        assert conversations.purge_seen_updates(session=s, older_than=timedelta(0)) >= 2
    with session_scope(engine) as s:
        assert conversations.mark_update_seen(session=s, key="tg:1")


def test_inbound_is_kept_until_processed_in_order(engine: Engine):
    person = make_person(engine)
    with session_scope(engine) as s:
        a = conversations.store_inbound(
            session=s, person_id=person.id, channel="telegram", text="eins", payload=None
        )
        b = conversations.store_inbound(
            session=s, person_id=person.id, channel="telegram", text="zwei", payload=None
        )
        for m in (a, b):
            conversations.set_inbound_status(session=s, message_id=m.id, status=InboundStatus.PENDING)
    with session_scope(engine) as s:
        assert [m.text for m in conversations.pending_inbound(session=s)] == ["eins", "zwei"]
        assert conversations.has_pending(session=s, person_id=person.id)
        conversations.set_inbound_status(session=s, message_id=a.id, status=InboundStatus.DONE)
    with session_scope(engine) as s:
        assert [m.text for m in conversations.pending_inbound(session=s)] == ["zwei"]
        done = s.get(InboundMessage, a.id)
        assert done is not None and done.processed_at is not None and done.attempts == 2


def test_web_outbox_delivers_each_message_once(engine: Engine):
    person = make_person(engine, external_id="web-1")
    with session_scope(engine) as s:
        outbox_rows.add(
            session=s,
            person_id=person.id,
            channel="web",
            text="später",
            buttons=[{"title": "A", "payload": "i:greet"}],
            meta={"x": 1},
        )
    with session_scope(engine) as s:
        [msg] = outbox_rows.take_queued(session=s, person_id=person.id)
        assert msg.text == "später" and msg.buttons == [{"title": "A", "payload": "i:greet"}]
    with session_scope(engine) as s:
        assert outbox_rows.take_queued(session=s, person_id=person.id) == []


def test_handoff_pauses_and_release_resumes(engine: Engine):
    person = make_person(engine)
    with session_scope(engine) as s:
        req, created = handoff.open_handoff(session=s, person_id=person.id, reason="user")
        again, created_again = handoff.open_handoff(session=s, person_id=person.id, reason="user")
        assert created and not created_again and again.id == req.id
    with session_scope(engine) as s:
        p = s.get(Person, person.id)
        assert p is not None and p.paused
        assert [h.id for h in handoff.open_handoffs(session=s)] == [req.id]
        assert req.id is not None
        assert handoff.release_handoff(session=s, handoff_id=req.id, by="cm") is not None
        assert handoff.release_handoff(session=s, handoff_id=req.id, by="cm") is None
    with session_scope(engine) as s:
        p = s.get(Person, person.id)
        assert p is not None and not p.paused


def test_erasure_cascades_to_everything_of_the_person(engine: Engine):
    person = make_person(engine)
    other = make_person(engine, external_id="43")
    with session_scope(engine) as s:
        for pid in (person.id, other.id):
            conversations.store_inbound(
                session=s, person_id=pid, channel="telegram", text="x", payload=None
            )
            outbox_rows.add(
                session=s,
                person_id=pid,
                channel="telegram",
                text="y",
                buttons=[],
                meta={},
                status=OutboxStatus.SENT,
            )
            handoff.open_handoff(session=s, person_id=pid, reason="user")
    with session_scope(engine) as s:
        assert people.erase_person(session=s, person_id=person.id)
    with session_scope(engine) as s:
        for model in (InboundMessage, OutboundMessage, HandoffRequest):
            rows = s.exec(select(model)).all()
            assert {r.person_id for r in rows} == {other.id}, model.__name__
        assert s.get(Person, person.id) is None


def test_retention_purges_old_messages_only(engine: Engine):
    from datetime import timedelta

    from storage.db import utcnow

    person = make_person(engine)
    with session_scope(engine) as s:
        old = conversations.store_inbound(
            session=s, person_id=person.id, channel="web", text="alt", payload=None
        )
        old.received_at = utcnow() - timedelta(days=200)
        outbox_rows.add(
            session=s,
            person_id=person.id,
            channel="web",
            text="neu",
            buttons=[],
            meta={},
            status=OutboxStatus.SENT,
        )
        conversations.store_inbound(
            session=s, person_id=person.id, channel="web", text="neu", payload=None
        )
    with session_scope(engine) as s:
        assert conversations.purge_transcripts(session=s, older_than=timedelta(days=180)) == 1
        assert (
            conversations.purge_transcripts(session=s, older_than=timedelta(days=180)) == 0
        )  # idempotent
    with session_scope(engine) as s:
        assert [m.text for m in s.exec(select(InboundMessage)).all()] == ["neu"]
        assert len(s.exec(select(OutboundMessage)).all()) == 1
