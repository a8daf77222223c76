"""The closed loop on SQLite and PostgreSQL: unanswered questions are grouped, an editor links a group to
an entry (or dismisses it), and everyone who asked is told once, in their language, with buttons — never
twice, never after erasure, opt-out or without consent. The console page over HTTP (roles, CSRF)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from lotse.runtime import Runtime
from lotse.settings import ROOT
from rendering import payloads
from services.content.closed_loop import (
    ClosedLoopError,
    assign_new_questions,
    group_views,
    refresh_groups,
)
from services.content.entries import EntryForm
from services.conversation.pipeline import Inbound
from storage import content, people
from storage.db import session_scope, utcnow
from storage.models import (
    Consent,
    OutboundMessage,
    Person,
    TextStatus,
    Translation,
    UnansweredQuestion,
)
from storage.models_closed_loop import FollowUp, FollowUpOptOut, QuestionGroup, QuestionGroupMember
from storage.privacy import anonymise
from tests.support.console import (
    audit_rows,
    browser,
    console_runtime,
    csrf_of,
    login,
)

SCHEMA = json.loads((ROOT / "docs" / "schemas" / "export.schema.json").read_text())
ENTRY = "kita-entitlement"  # English reviewed, Arabic a draft (seed)
ANGEL = "Wo bekomme ich einen Angelschein?"


@pytest.fixture
async def runtime(seeded: Engine, database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = console_runtime(database_url, tmp_path)
    yield rt
    await rt.close()


def person(engine: Engine, who: str, language: str = "de", channel: str = "web") -> str:
    with session_scope(engine) as s:
        p = people.record_consent(
            session=s, channel=channel, external_id=who, given=True, version="v", language=language
        )
        return p.id


def ask(engine: Engine, person_id: str | None, words: str, language: str = "de") -> None:
    """What the fallback action does when nobody can answer."""
    with session_scope(engine) as s:
        content.record_unanswered(
            session=s,
            text=anonymise(words),
            language=language,
            intent="ask_everyday",
            confidence=0.2,
            person_id=person_id,
            own_words=words,
        )


def groups_of(engine: Engine) -> dict[int, list[str]]:
    with session_scope(engine) as s:
        refresh_groups(session=s)
    with session_scope(engine) as s:
        out: dict[int, list[str]] = {}
        for m, q in s.exec(
            select(QuestionGroupMember, UnansweredQuestion)
            .join(UnansweredQuestion, col(UnansweredQuestion.id) == col(QuestionGroupMember.question_id))
            .order_by(col(UnansweredQuestion.id))
        ).all():
            out.setdefault(m.group_id, []).append(q.text)
        return out


def only_group(engine: Engine) -> int:
    found = groups_of(engine)
    assert len(found) == 1, found
    return next(iter(found))


def link(rt: Runtime, group_id: int, entry: str = ENTRY) -> None:
    with session_scope(rt.engine) as s:
        rt.closed_loop.link_group(s, group_id, entry, "ed")


def follow_ups(engine: Engine, person_id: str) -> list[OutboundMessage]:
    with session_scope(engine) as s:
        rows = list(
            s.exec(
                select(OutboundMessage)
                .where(OutboundMessage.person_id == person_id)
                .order_by(col(OutboundMessage.id))
            ).all()
        )
        s.expunge_all()
        return [r for r in rows if r.meta.get("response") == "closed_loop"]


# --- anonymised, grouped ---------------------------------------------------------------------------


def test_editors_see_no_names_numbers_emails_or_phone_numbers():
    text = anonymise(
        "Ich heiße Anna Schmidt, anna.schmidt@example.org, Tel. +49 171 2345678, "
        "Ausweis C01X00T47, https://example.org/x — wo bekomme ich einen Angelschein?"
    )
    for secret in ("Anna", "Schmidt", "anna.schmidt", "171", "2345678", "C01X00T47", "example.org"):
        assert secret not in text
    assert "[name]" in text and "[email]" in text and "[number]" in text and "[id]" in text
    assert "Angelschein" in text  # the question itself stays
    assert anonymise("My name is John, what about Kita?") == "My name is [name], what about Kita?"
    assert "Олег" not in anonymise("Меня зовут Олег, где курсы?")


async def test_similar_questions_form_one_stable_group(runtime: Runtime):
    engine = runtime.engine
    for words in (
        ANGEL,
        "Wie bekomme ich einen Angelschein in Siegburg?",
        "Gibt es Schwimmkurse für Kinder?",
        "angelschein machen wo",
        "Schwimmkurs für mein Kind",
    ):
        ask(engine, None, words)
    first = groups_of(engine)
    assert sorted(len(v) for v in first.values()) == [2, 3]
    angel = next(g for g, texts in first.items() if ANGEL in texts)
    assert all("ngelschein" in t for t in first[angel])
    # Deterministic and stable: a later question joins the same group; nothing else moves.
    ask(engine, None, "Angelschein beantragen – wo geht das?")
    second = groups_of(engine)
    assert set(second) == set(first)
    assert second[angel] == [*first[angel], "Angelschein beantragen – wo geht das?"]
    with session_scope(engine) as s:
        views = {v.id: v for v in group_views(session=s)}
    assert views[angel].count == 4 and views[angel].languages == [("de", 4)]
    assert views[angel].first_asked <= views[angel].last_asked
    assert views[angel].topic == "everyday"
    # The closest existing entries come from the bot's own search.
    closest = runtime.closed_loop.closest_entries("Hat mein Kind ein Recht auf einen Kita-Platz?")
    assert closest[0][0] == ENTRY


async def test_grouping_at_the_same_moment_in_two_processes_assigns_each_question_once(
    runtime: Runtime,
):
    engine = runtime.engine
    for i in range(6):
        ask(engine, None, f"Frage Nummer {'abcdef'[i]} zum Angelschein")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            assign_new_questions(engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope(engine) as s:
        members = s.exec(select(QuestionGroupMember)).all()
        groups = s.exec(select(QuestionGroup)).all()
    assert len(members) == 6 and len({m.question_id for m in members}) == 6
    assert len(groups) == 1  # the loser's new groups were rolled back with its members


async def test_link_dismiss_reopen_are_audited_and_checked(runtime: Runtime):
    engine = runtime.engine
    ask(engine, None, ANGEL)
    gid = only_group(engine)
    with pytest.raises(ClosedLoopError, match="question_entry_unknown"):
        link(runtime, gid, "no-such-entry")
    with pytest.raises(ClosedLoopError, match="question_reason_missing"), session_scope(engine) as s:
        runtime.closed_loop.dismiss_group(s, gid, "   ", "ed")
    with session_scope(engine) as s:
        runtime.closed_loop.dismiss_group(
            s, gid, "Dafür ist die Untere Fischereibehörde zuständig.", "ed"
        )
    with session_scope(engine) as s:
        g = s.get(QuestionGroup, gid)
        assert g is not None and g.status == "dismissed" and g.reason and g.decided_by == "ed"
    with session_scope(engine) as s:
        runtime.closed_loop.reopen_group(s, gid, "ed")
    link(runtime, gid)
    with session_scope(engine) as s:
        g = s.get(QuestionGroup, gid)
        assert g is not None and g.status == "linked" and g.entry_key == ENTRY and g.reason is None
    assert [e.target for e in audit_rows(engine, "question.dismiss")] == [f"question_group:{gid}"]
    assert [e.details["entry"] for e in audit_rows(engine, "question.link")] == [ENTRY]
    assert len(audit_rows(engine, "question.reopen")) == 1


# --- the follow-up ----------------------------------------------------------------------------------


async def test_everyone_who_asked_is_told_once_with_buttons(runtime: Runtime):
    engine = runtime.engine
    de, en = person(engine, "w-de"), person(engine, "w-en", "en")
    ask(engine, de, "Hat mein Kind Anspruch auf einen Kitaplatz? Ich bin erreichbar unter 0171 2345678")
    ask(engine, en, "Does my kid have a right to a Kita place?", "en")
    ask(engine, de, "Recht auf Kitaplatz für mein Kind?")  # the same person again: one message
    ask(engine, None, "Kitaplatz Recht Kind")  # nobody to tell (no person linked)
    found = groups_of(engine)
    gids = {g for g, texts in found.items() if any("Kita" in t for t in texts)}
    for gid in gids:
        link(runtime, gid)
    assert runtime.closed_loop.send_due() == 2
    assert runtime.closed_loop.send_due() == 0  # never twice

    [msg] = follow_ups(engine, de)
    # Their own words (their data, the number too), the answer as the bot renders the entry, the
    # question to answer. Their second question (answered by the same entry) brings no second message.
    assert "„Hat mein Kind Anspruch auf einen Kitaplatz? Ich bin erreichbar unter 0171 2345678“" in (
        msg.text
    )
    assert "Jedes Kind hat ab dem 1. Geburtstag" in msg.text and "Hat das geholfen?" in msg.text
    assert msg.meta["faq_key"] == ENTRY and msg.meta["translation"] == "source"
    assert msg.status == "queued"  # the web chat fetches it with its updates
    decoded = [payloads.decode(b["payload"]) for b in msg.buttons]
    fid = msg.meta["follow_up"]
    assert decoded == [
        payloads.Helpful(fid, True),
        payloads.Helpful(fid, False),
        payloads.StopFollowUps(fid),
    ]
    assert [b["title"] for b in msg.buttons] == ["Ja", "Nein", "Keine solchen Nachrichten mehr"]
    assert all(len(b["payload"].encode()) <= payloads.CALLBACK_DATA_MAX_BYTES for b in msg.buttons)

    [english] = follow_ups(engine, en)
    assert english.meta["translation"] == "reviewed" and "every child has a right" in english.text
    assert "You asked me: “Does my kid have a right to a Kita place?”" in english.text
    with session_scope(engine) as s:
        rows = s.exec(select(FollowUp).where(FollowUp.person_id == de)).all()
        assert sorted(r.status for r in rows) == ["covered", "sent"]  # both questions, one message

    # The web chat shows it with its updates.
    with session_scope(engine) as s:
        taken = runtime.outbox.take(session=s, person_id=en)
    assert [m.meta["response"] for m in taken] == ["closed_loop"]


async def test_two_processes_at_once_tell_each_person_once(runtime: Runtime):
    engine = runtime.engine
    ids = [person(engine, f"w-race-{i}") for i in range(4)]
    for pid in ids:
        ask(engine, pid, ANGEL)
    link(runtime, only_group(engine))
    results: list[int] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        results.append(runtime.closed_loop.send_due())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 4
    assert [len(follow_ups(engine, pid)) for pid in ids] == [1, 1, 1, 1]


async def test_the_german_master_with_the_note_when_no_reviewed_translation(runtime: Runtime):
    engine = runtime.engine
    ar = person(engine, "w-ar", "ar")
    ask(engine, ar, "هل لابني حق في روضة أطفال؟", "ar")
    link(runtime, only_group(engine))
    runtime.closed_loop.send_due()
    [msg] = follow_ups(engine, ar)
    # The Arabic text is a draft: the person gets the German master and the bot's note, in Arabic.
    assert "Jedes Kind hat ab dem 1. Geburtstag" in msg.text
    note = runtime.renderer.text("faq_note_german", "ar")
    assert note in msg.text and "لقد سألتموني: «هل لابني حق في روضة أطفال؟»" in msg.text
    assert msg.meta["translation"] == "source" and msg.meta["language"] == "ar"
    assert [b["title"] for b in msg.buttons][:2] == ["نعم", "لا"]

    # Reviewed at the current version: the next person gets the Arabic text itself.
    with session_scope(engine) as s:
        s.execute(
            update(Translation)
            .where(
                col(Translation.owner_key) == ENTRY,
                col(Translation.language) == "ar",
                col(Translation.owner_type) == "faq",
            )
            .values(status=TextStatus.REVIEWED)
        )
    second = person(engine, "w-ar-2", "ar")
    ask(engine, second, "هل لابني حق في روضة أطفال؟", "ar")
    groups_of(engine)
    runtime.closed_loop.send_due()
    [reviewed] = follow_ups(engine, second)
    assert reviewed.meta["translation"] == "reviewed" and "Jedes Kind" not in reviewed.text
    assert note not in reviewed.text


async def test_nobody_is_told_after_erasure_opt_out_or_without_consent(runtime: Runtime):
    engine = runtime.engine
    erased, opted, declined, paused = (person(engine, f"w-{n}") for n in range(4))
    for pid in (erased, opted, declined, paused):
        ask(engine, pid, ANGEL)
    gid = only_group(engine)
    receipt = runtime.privacy.erase_everywhere(erased)
    assert receipt.complete
    with session_scope(engine) as s:
        s.add(FollowUpOptOut(person_id=opted))
        s.execute(update(Person).where(col(Person.id) == declined).values(consent=Consent.DECLINED))
        s.execute(update(Person).where(col(Person.id) == paused).values(paused=True))
    link(runtime, gid)
    assert runtime.closed_loop.send_due() == 0
    for pid in (erased, opted, declined, paused):
        assert follow_ups(engine, pid) == []
    # Back from the hand-off: then they are told (later, not never).
    with session_scope(engine) as s:
        s.execute(update(Person).where(col(Person.id) == paused).values(paused=False))
    assert runtime.closed_loop.send_due() == 1
    # A question of a person who did not consent is never linked to them at all.
    with session_scope(engine) as s:
        p = people.record_consent(
            session=s, channel="web", external_id="w-no", given=False, version="v", language=None
        )
        no_consent = p.id
    ask(engine, no_consent, ANGEL)
    with session_scope(engine) as s:
        assert (
            s.exec(select(UnansweredQuestion).where(UnansweredQuestion.person_id == no_consent)).all()
            == []
        )


async def test_the_buttons_record_the_answer_and_the_opt_out(runtime: Runtime):
    engine = runtime.engine
    pid, other = person(engine, "w-btn"), person(engine, "w-other")
    ask(engine, pid, ANGEL)
    ask(engine, other, ANGEL)
    gid = only_group(engine)
    link(runtime, gid)
    runtime.closed_loop.send_due()
    [msg] = follow_ups(engine, pid)
    [others] = follow_ups(engine, other)
    yes, no, stop = (b["payload"] for b in msg.buttons)

    out = await runtime.conversation.handle(Inbound("web", "w-btn", payload=no, update_key="b1"))
    assert [m.meta["response"] for m in out] == ["closed_loop_not_helped"]
    assert [payloads.decode(b.payload) for b in out[0].buttons] == [payloads.Intent("request_human")]
    out = await runtime.conversation.handle(Inbound("web", "w-btn", payload=yes, update_key="b2"))
    assert [m.meta["response"] for m in out] == ["closed_loop_thanks"]
    # Someone else's button is an expired button (and changes nothing).
    forged = others.buttons[1]["payload"]
    out = await runtime.conversation.handle(Inbound("web", "w-btn", payload=forged, update_key="b3"))
    assert [m.meta["response"] for m in out] == ["button_expired"]
    with session_scope(engine) as s:
        answers = {f.person_id: f.answer for f in s.exec(select(FollowUp)).all()}
        views = {v.id: v for v in group_views(session=s)}
        entry = runtime.closed_loop.feedback_for_entry(session=s, entry_key=ENTRY)
    assert answers == {pid: "helped", other: None}  # the last answer counts
    assert (views[gid].feedback.sent, views[gid].feedback.helped) == (2, 1)
    assert (entry.sent, entry.helped, entry.not_helped) == (2, 1, 0)

    out = await runtime.conversation.handle(Inbound("web", "w-btn", payload=stop, update_key="b4"))
    assert [m.meta["response"] for m in out] == ["closed_loop_opted_out"]
    # Opted out: a later answered question is not sent to them.
    ask(engine, pid, "Gibt es Schwimmkurse für Kinder?")
    swim = next(g for g, texts in groups_of(engine).items() if g != gid)
    link(runtime, swim)
    assert runtime.closed_loop.send_due() == 0


async def test_the_person_sees_it_in_the_export_and_it_goes_with_erasure_and_retention(
    runtime: Runtime,
):
    engine = runtime.engine
    pid = person(engine, "w-export")
    ask(engine, pid, "Ich heiße Anna. " + ANGEL)
    link(runtime, only_group(engine))
    runtime.closed_loop.send_due()
    document = json.loads(runtime.privacy.export_json(pid))
    jsonschema.validate(document, SCHEMA)
    [question] = document["unanswered_questions"]
    assert question["text"] == "Ich heiße Anna. " + ANGEL  # their own words: their data
    assert "Anna" not in question["text_for_editors"]
    [sent] = document["follow_ups"]["messages"]
    assert sent["entry"] == ENTRY and sent["status"] == "sent" and sent["helped"] is None
    assert document["follow_ups"]["opted_out_at"] is None

    # Retention: follow-ups older than the period go (and their questions).
    old = utcnow() - timedelta(days=runtime.privacy.retention_days + 1)
    with session_scope(engine) as s:
        s.execute(update(FollowUp).values(created_at=old))
        s.execute(update(UnansweredQuestion).values(created_at=old))
    report = runtime.privacy.purge_expired()
    assert report["follow_ups"] == 1 and report["unanswered_questions"] == 1
    with session_scope(engine) as s:
        assert s.exec(select(FollowUp)).all() == [] and s.exec(select(QuestionGroup)).all() == []

    # Erasure: the receipt names the follow-ups.
    second = person(engine, "w-erase")
    ask(engine, second, ANGEL)
    link(runtime, only_group(engine))
    runtime.closed_loop.send_due()
    receipt = runtime.privacy.erase_everywhere(second)
    assert receipt.rows("follow_ups") == 1 and receipt.rows("unanswered_questions") == 1
    with session_scope(engine) as s:
        assert s.exec(select(FollowUp)).all() == []


# --- the console page -------------------------------------------------------------------------------


async def test_the_questions_page_for_editors_only_with_csrf(runtime: Runtime):
    engine = runtime.engine
    pid = person(engine, "w-page")
    ask(engine, pid, "Ich heiße Anna Schmidt, anna@example.org: " + ANGEL)
    ask(engine, None, "Wie bekomme ich einen Angelschein in Siegburg?")
    gid = only_group(engine)
    async with browser(runtime) as c:
        assert (await login(c, "cm")).status_code == 303
        assert (await c.get("/console/content/questions")).status_code == 403
        home = await c.get("/console/account/password")
        refused = await c.post(
            f"/console/content/questions/{gid}/link",
            data={"csrf": csrf_of(home.text), "entry_key": ENTRY},
        )
        assert refused.status_code == 403
    async with browser(runtime) as c:
        assert (await login(c, "ed")).status_code == 303
        page = await c.get("/console/content/questions")
        assert page.status_code == 200 and "Offene Fragen" in page.text
        assert f'id="group-{gid}"' in page.text and "Angelschein" in page.text
        for secret in ("Anna", "Schmidt", "anna@example.org"):
            assert secret not in page.text  # anonymised, always
        assert "So oft gefragt" in page.text and "Deutsch (2)" in page.text
        new = re.search(r'href="(/console/content/entries/new\?[^"]+)"', page.text)
        assert new and f"group={gid}" in new.group(1) and "topic=everyday" in new.group(1)
        csrf = csrf_of(page.text)
        # Without the CSRF token: refused, nothing changes.
        bad = await c.post(f"/console/content/questions/{gid}/link", data={"entry_key": ENTRY})
        assert bad.status_code == 403
        wrong = await c.post(
            f"/console/content/questions/{gid}/link", data={"csrf": csrf, "entry_key": "nope"}
        )
        assert wrong.status_code == 303 and "error=question_entry_unknown" in wrong.headers["location"]
        done = await c.post(
            f"/console/content/questions/{gid}/link", data={"csrf": csrf, "entry_key": ENTRY}
        )
        assert done.status_code == 303 and "done=linked" in done.headers["location"]
        assert len(follow_ups(engine, pid)) == 1  # told right after linking
        linked = await c.get(done.headers["location"])
        assert "Eine Person hat die Antwort jetzt" in linked.text and "Benachrichtigt" in linked.text
        reopen = await c.post(f"/console/content/questions/{gid}/reopen", data={"csrf": csrf})
        assert reopen.status_code == 303
        empty = await c.post(
            f"/console/content/questions/{gid}/dismiss", data={"csrf": csrf, "reason": " "}
        )
        assert "error=question_reason_missing" in empty.headers["location"]
        gone = await c.post(
            f"/console/content/questions/{gid}/dismiss",
            data={"csrf": csrf, "reason": "<b>Fischereibehörde</b>"},
        )
        assert "done=dismissed" in gone.headers["location"]
        dismissed = await c.get(gone.headers["location"])
        assert "&lt;b&gt;Fischereibehörde&lt;/b&gt;" in dismissed.text  # escaped
    assert (
        len(audit_rows(engine, "question.link")) == 1
        and len(audit_rows(engine, "question.dismiss")) == 1
    )


async def test_the_scheduler_runs_it_every_few_minutes(runtime: Runtime):
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from scheduler.jobs import CLOSED_LOOP_JOB, install_jobs

    scheduler = AsyncIOScheduler(timezone="UTC")
    install_jobs(scheduler, runtime)
    scheduler.start(paused=True)
    try:
        job = scheduler.get_job(CLOSED_LOOP_JOB)
        assert job is not None and job.trigger.interval <= timedelta(minutes=5)
        pid = person(runtime.engine, "w-job")
        ask(runtime.engine, pid, ANGEL)
        link(runtime, only_group(runtime.engine))
        await job.func()  # what the job runs: tell, then push
        assert len(follow_ups(runtime.engine, pid)) == 1
    finally:
        scheduler.shutdown(wait=False)


async def test_an_entry_created_from_a_group_answers_it_and_a_forged_group_changes_nothing(
    runtime: Runtime,
):
    """The studio's "create an entry from this group": the new entry links the group in its own
    transaction and the person who asked is told; a group value naming no group is ignored."""
    engine = runtime.engine
    asker = person(engine, "w-angel")
    ask(engine, asker, ANGEL)
    gid = only_group(engine)
    form = EntryForm(
        question="Wo bekomme ich einen Angelschein?",
        answer="Den Fischereischein gibt die untere Fischereibehörde Ihrer Stadt aus.",
        topic="everyday",
        sources=["https://www.lanuv.nrw.de/"],
        decided_by=["untere Fischereibehörde"],
        last_verified=utcnow().date(),
        review_due=utcnow().date() + timedelta(days=180),
    )
    entry = runtime.entries.create(form, by="ed", group=str(gid))
    with session_scope(engine) as s:
        group = s.get(QuestionGroup, gid)
        assert group is not None and group.entry_key == entry.key
    assert runtime.closed_loop.send_due() == 1
    [msg] = follow_ups(engine, asker)
    assert "Fischereibehörde" in msg.text and "Hat das geholfen?" in msg.text

    other = EntryForm(**{**form.__dict__, "question": "Wo gibt es einen Fischereischein?"})
    standing = runtime.entries.create(other, by="ed", group="99999")  # no such group
    assert standing.key != entry.key and runtime.entries.create(
        EntryForm(**{**form.__dict__, "question": "Angelschein, wo?"}), by="ed", group="1; DROP"
    )
