"""Reference tests #1–#3: Telegram's webhook on the real app process (and long polling for #2).

The app runs in webhook mode next to the session stack (``channel_support.webhook_app``: same
database, the trained Rasa, the action server, the fake Bot API server); the test posts updates as
Telegram does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from storage.db import make_engine
from storage.models import (
    InboundMessage,
    InboundStatus,
    OutboundMessage,
    Person,
    SeenUpdate,
    TelegramUpdate,
)
from tests.reliability.channel_support import (
    WebhookApp,
    consented,
    count,
    percentile,
    rasa_frozen,
    telegram_update,
    user_turns,
    wait_until,
    webhook_app,
)
from tests.reliability.conftest import Figure, scale
from tests.support.stack import Stack

pytestmark = pytest.mark.reliability

_chats = itertools.count(4_200_001)
_updates = itertools.count(1_900_000_000)  # Telegram's update ids fit 32 bits
QUESTION = "Was kostet der Integrationskurs?"


@pytest.fixture(scope="module")
def db(stack: Stack) -> Iterator[Engine]:
    eng = make_engine(stack.settings.database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def hook(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebhookApp]:
    # The production log level. (At DEBUG python-telegram-bot logs every update it processes, which
    # alone takes the webhook's p99 from ~15 ms to ~150 ms on a loaded 2-core machine.)
    with webhook_app(stack, tmp_path_factory.mktemp("webhook"), log_level="INFO") as app:
        yield app


def rows(db: Engine) -> dict[str, int]:
    """What a webhook request could write."""
    return {
        m.__name__: count(db, m)
        for m in (TelegramUpdate, SeenUpdate, InboundMessage, OutboundMessage, Person)
    }


def inbound(db: Engine, update_id: int) -> list[InboundMessage]:
    with Session(db) as s:
        return list(
            s.exec(select(InboundMessage).where(InboundMessage.update_key == f"tg:{update_id}")).all()
        )


def replies(db: Engine, message_ids: list[int]) -> list[OutboundMessage]:
    with Session(db) as s:
        return list(
            s.exec(
                select(OutboundMessage).where(OutboundMessage.in_reply_to.in_(message_ids))  # type: ignore[union-attr]
            ).all()
        )


# --- #1 ------------------------------------------------------------------------------------------


def test_01_webhook_authentication(stack: Stack, hook: WebhookApp, db: Engine, figure: Figure):
    """Forged and malformed posts: 403 (400 for a body that is no update); nothing runs, nothing is
    written, no header value reaches the log. The same update with the secret is then processed."""
    chat = next(_chats)
    person = consented(db, chat)
    stack.telegram.open_chat(chat)
    update_id = next(_updates)
    body = json.dumps(telegram_update(update_id, chat, QUESTION))
    secret = hook.secret
    wrong: list[str] = [
        secrets.token_urlsafe(32)[: len(secret)],  # same length
        secret[:-1],  # one character short
        secret + "x",  # one character long
        secret[:16],
        secret.swapcase(),
        "Bearer " + secret,
        "x" * 300,
        "",
    ]
    wrong += [secrets.token_urlsafe(n) for n in range(scale(2, 200))]
    before = rows(db)
    statuses: list[int] = []
    with httpx.Client(timeout=10) as c:
        statuses.append(c.post(hook.url, content=body).status_code)  # no header at all
        for value in wrong:
            headers = {"X-Telegram-Bot-Api-Secret-Token": value}
            statuses.append(c.post(hook.url, content=body, headers=headers).status_code)
            statuses.append(c.post(hook.url, content=b"{not json", headers=headers).status_code)
        forged = len(statuses)
        assert set(statuses) == {403}, statuses
        malformed = [
            b"{not json",
            b"",
            b"[]",
            b'"update"',
            b'{"message": {}}',
            b'{"update_id": "seven"}',
            b'{"update_id": null}',
            body.encode()[:-3],
        ]
        for raw in malformed:
            resp = c.post(hook.url, content=raw, headers=hook.headers)
            assert resp.status_code == 400, (raw, resp.status_code)
            statuses.append(resp.status_code)
        huge = c.post(hook.url, content=b"{" + b" " * 1_100_000 + b"}", headers=hook.headers)
        assert huge.status_code == 413
        statuses.append(huge.status_code)
    time.sleep(1.0)  # anything queued would have run by now
    assert rows(db) == before
    assert stack.telegram.sent(chat) == []
    assert user_turns(stack, person) == []
    log = hook.log_text()
    leaked = [v for v in [*wrong, secret] if len(v) >= 8 and v in log]
    assert leaked == []

    # The control: the same update with the secret is taken, and answered by the dialogue.
    with httpx.Client(timeout=10) as c:
        assert c.post(hook.url, content=body, headers=hook.headers).status_code == 200
    stack.telegram.wait_sent(chat, 1, timeout=60)
    assert user_turns(stack, person) == [QUESTION]
    assert secret not in hook.log_text()
    figure(
        1,
        "webhook authentication",
        f"{forged} forged posts 403, {len(statuses) - forged} malformed 400/413; 0 handler runs, "
        "0 rows written, 0 header values in the log; the control update answered",
    )


# --- #2 ------------------------------------------------------------------------------------------


def _one_run_each(
    stack: Stack, db: Engine, person: str, chat: int, update_ids: list[int]
) -> tuple[int, int]:
    """Each update: one stored row, one dialogue turn, its replies sent once. (turns, replies)"""
    wait_until(lambda: all(inbound(db, u) for u in update_ids), 60, "the updates to be stored")
    messages = [m for u in update_ids for m in inbound(db, u)]
    assert len(messages) == len(update_ids), [m.update_key for m in messages]
    # Done, and answered: the replies are stored just after the status is set.
    wait_until(
        lambda: all(
            m.status == InboundStatus.DONE and replies(db, [m.id or 0])
            for u in update_ids
            for m in inbound(db, u)
        ),
        60,
        "the updates to be answered",
    )
    answers = replies(db, [m.id or 0 for m in messages])
    assert answers, "no replies stored"
    wait_until(lambda: len(stack.telegram.sent(chat)) >= len(answers), 60, "the replies to be sent")
    time.sleep(1.0)  # a second copy would be sent by now
    sent = [m["text"] for m in stack.telegram.sent(chat)]
    assert len(sent) == len(answers), sent
    assert sorted(sent) == sorted(a.text for a in answers)
    turns = user_turns(stack, person)
    assert turns == [QUESTION] * len(update_ids), turns
    return len(turns), len(sent)


def test_02_duplicate_delivery(stack: Stack, hook: WebhookApp, db: Engine, figure: Figure):
    """The same update_id 3 times, one after another and at the same time (webhook), and 3 copies
    in one getUpdates batch (long polling): 1 dialogue turn, its replies once, 1 row; 200 each."""
    copies = scale(3, 3)
    rounds = scale(1, 10)
    # Webhook, one after another: the later copies arrive after the first was handled.
    chat = next(_chats)
    person = consented(db, chat)
    stack.telegram.open_chat(chat)
    sequential = [next(_updates) for _ in range(rounds)]
    with httpx.Client(timeout=10) as c:
        for update_id in sequential:
            update = telegram_update(update_id, chat, QUESTION)
            assert hook.post(c, update).status_code == 200
            wait_until(
                lambda u=update_id: (
                    bool(inbound(db, u))
                    and inbound(db, u)[0].status == InboundStatus.DONE
                    and count(db, TelegramUpdate, TelegramUpdate.update_id == u) == 0
                ),
                60,
                "the first copy to be handled",
            )
            for _ in range(copies - 1):
                assert hook.post(c, update).status_code == 200
    seq_turns, seq_sent = _one_run_each(stack, db, person, chat, sequential)

    # Webhook, at the same time.
    chat2 = next(_chats)
    person2 = consented(db, chat2)
    stack.telegram.open_chat(chat2)
    concurrent = [next(_updates) for _ in range(rounds)]

    async def deliver_all() -> list[int]:
        async with httpx.AsyncClient(timeout=10) as c:
            codes = []
            for update_id in concurrent:
                body = json.dumps(telegram_update(update_id, chat2, QUESTION))
                answers = await asyncio.gather(
                    *(c.post(hook.url, content=body, headers=hook.headers) for _ in range(copies))
                )
                codes += [r.status_code for r in answers]
                await asyncio.sleep(0.3)
            return codes

    assert set(asyncio.run(deliver_all())) == {200}
    con_turns, con_sent = _one_run_each(stack, db, person2, chat2, concurrent)
    log = hook.log_text()
    assert "answered from storage" not in log  # the handlers never saw a copy
    again = sum(f"webhook: update {u} delivered again" in log for u in sequential + concurrent)
    assert again == len(sequential + concurrent)

    # Long polling: the copies come in one batch and are handled concurrently.
    chat3 = next(_chats)
    person3 = consented(db, chat3)
    tg = stack.telegram
    polled = [tg.send_text(chat3, QUESTION, copies=copies) for _ in range(1)]
    poll_turns, poll_sent = _one_run_each(stack, db, person3, chat3, polled)
    figure(
        2,
        "duplicate delivery",
        f"{copies} deliveries x {len(sequential) + len(concurrent) + len(polled)} updates "
        "(webhook sequential and concurrent, long polling): per update 1 dialogue turn, 1 row, "
        f"replies once ({seq_turns + con_turns + poll_turns} turns, "
        f"{seq_sent + con_sent + poll_sent} replies); every copy 200",
    )


# --- #3 ------------------------------------------------------------------------------------------


def test_03_slow_processing_does_not_trigger_redelivery(
    stack: Stack, hook: WebhookApp, db: Engine, figure: Figure
):
    """Rasa stops answering (SIGSTOP) while updates keep coming: the webhook still answers 200 at
    once (under 1 s, p99 under 200 ms); each update is answered later, once."""
    block = scale(4.0, 90.0)
    per_second = scale(3.0, 2.0)
    fillers = scale(16, 4)  # 200 and 900 requests in all
    chats = [next(_chats) for _ in range(scale(3, 8))]
    people_of = {chat: consented(db, chat) for chat in chats}
    for chat in chats:
        stack.telegram.open_chat(chat)
    sent_updates: dict[int, list[int]] = {chat: [] for chat in chats}
    latencies: list[float] = []
    with httpx.Client(timeout=30) as c:
        # A warm connection (an update without a message: stored, handled by no handler).
        hook.post(c, {"update_id": next(_updates)}).raise_for_status()
        with rasa_frozen(stack):
            frozen_at = time.monotonic()
            i = 0
            while time.monotonic() - frozen_at < block:
                chat = chats[i % len(chats)]
                update_id = next(_updates)
                began = time.monotonic()
                resp = hook.post(c, telegram_update(update_id, chat, QUESTION))
                latencies.append(time.monotonic() - began)
                assert resp.status_code == 200
                sent_updates[chat].append(update_id)
                i += 1
                # Between questions, other traffic: edits (stored, answered 200, handled by no
                # handler). Enough samples that p99 is not simply the slowest request.
                for _ in range(fillers):
                    edit = telegram_update(next(_updates), chat, "…")
                    edit["edited_message"] = {**edit.pop("message"), "edit_date": int(time.time())}
                    began_edit = time.monotonic()
                    resp = hook.post(c, edit)
                    latencies.append(time.monotonic() - began_edit)
                    assert resp.status_code == 200
                time.sleep(max(0.0, 1 / per_second - (time.monotonic() - began)))
            during = {chat: len(stack.telegram.sent(chat)) for chat in chats}
        thawed_at = time.monotonic()
    total = sum(len(u) for u in sent_updates.values())
    assert max(latencies) < 1.0, max(latencies)
    assert percentile(latencies, 0.99) < 0.2, percentile(latencies, 0.99)

    # Each update is answered later, by the dialogue, exactly once.
    def answered() -> bool:
        return all(
            (found := inbound(db, ids[-1])) and found[0].status == InboundStatus.DONE
            for ids in sent_updates.values()
        )

    wait_until(answered, scale(90, 300), "every update to be answered after Rasa is back", every=0.5)
    done_after = time.monotonic() - thawed_at
    repeated_turns = 0
    for chat, ids in sent_updates.items():
        assert [len(inbound(db, u)) for u in ids] == [1] * len(ids)  # handled once each
        assert all(inbound(db, u)[0].status == InboundStatus.DONE for u in ids)
        turns = user_turns(stack, people_of[chat])
        # Every update reached the dialogue after the freeze (Rasa answered nothing during it). A
        # turn Rasa received before the app gave up on it (15 s) is run again when Rasa wakes up:
        # counted, not hidden.
        assert set(turns) == {QUESTION} and len(turns) >= len(ids), turns
        repeated_turns += len(turns) - len(ids)
    kept_notices = sum(during.values())
    figure(
        3,
        "slow processing, no redelivery",
        f"Rasa frozen {block:.0f} s under {total} questions and {len(latencies) - total} other "
        "updates: webhook 200 in max "
        f"{max(latencies) * 1000:.0f} ms, p99 {percentile(latencies, 0.99) * 1000:.0f} ms; "
        f"each handled once and answered {done_after:.0f} s after Rasa was back "
        f"({kept_notices} 'kept' notices meanwhile, {repeated_turns} repeated Rasa turns)",
    )


def test_webhook_app_log_is_clean(hook: WebhookApp) -> None:
    """No unhandled exception in the webhook app while the tests above ran."""
    log = hook.log_text()
    assert "Traceback" not in log and "error while handling an update" not in log, log[-3000:]
