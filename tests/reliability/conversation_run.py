"""A conversation run for the privacy and log tests (#17, #21): the app's runtime with Rasa down (the
pipeline, the outbox, the dispatcher and the Telegram sender against the fake Bot API), the product's
logging into a file, and Rasa's SQL tracker store (the table Rasa 3.6 creates) holding the events.

Rasa itself is not started: its tracker table is written as Rasa writes it (``tests.unit.test_privacy``
``add_events``), in the file the endpoints configuration names, which is what erasure and retention
reach. The people write on Telegram (``channel="telegram"``, the chat id as the external id, as
``bot.channels.telegram`` builds an ``Inbound``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from cli.main import _setup_logging
from lotse.runtime import Runtime, build
from lotse.settings import RasaSettings, Settings, TelegramSettings
from services.booking.reminders import dispatch_due
from services.conversation.pipeline import Inbound
from storage import people
from storage.db import session_scope
from storage.handoff import open_handoff
from tests.reliability.helpers import due_reminders
from tests.support.fake_telegram import FakeTelegram, free_port
from tests.unit.test_privacy import add_events

WEBHOOK_SECRET = "webhook-secret-for-the-scan-0123456789"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # as cli.main logs


@dataclass
class Client:
    chat: int
    name: str
    phone: str
    pid: str = ""
    texts: list[str] = field(default_factory=list)


def runtime_for(database_url: str, tmp_path: Path, fake: FakeTelegram) -> Runtime:
    settings = Settings(
        database_url=database_url,
        rasa=RasaSettings(
            url=f"http://127.0.0.1:{free_port()}",  # Rasa is down: the pipeline keeps the messages
            tracker_db=tmp_path / "tracker.db",
            timeout_seconds=1,
            internal_token=SecretStr("test-internal-token"),
        ),
        telegram=TelegramSettings(
            bot_token=SecretStr(fake.token),
            base_url=fake.base_url,
            base_file_url=fake.base_file_url,
            webhook_secret=SecretStr(WEBHOOK_SECRET),
            # Not a pacing test: no 1/s per chat wait between a person's messages.
            per_chat_per_second=100.0,
            chat_burst=100,
        ),
    )
    return build(settings)


@contextmanager
def product_logging(path: Path) -> Iterator[Path]:
    """The product's logging setup (INFO, the HTTP clients quiet) written to ``path``."""
    _setup_logging("INFO")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()


async def converse(runtime: Runtime, fake: FakeTelegram, client: Client, update: list[int]) -> None:
    """Start, consent, choose German, write three texts naming oneself, ask for a person, get a
    reminder: what a person leaves in every store."""
    fake.open_chat(client.chat)

    def inb(**kw: object) -> Inbound:
        update[0] += 1
        return Inbound(
            channel="telegram", external_id=str(client.chat), update_key=f"tg:{update[0]}", **kw
        )  # type: ignore[arg-type]

    await runtime.conversation.handle(inb(command="start", text="/start", hint_language="de"))
    await runtime.conversation.handle(inb(payload="c:y:de"))
    await runtime.conversation.handle(inb(payload="lang:de"))
    client.texts = [
        f"Ich heiße {client.name} und brauche einen Kita-Platz",
        f"Meine Nummer ist {client.phone}",
        f"Bitte ruf {client.name} zurück",
    ]
    for t in client.texts:
        await runtime.conversation.handle(inb(text=t))
    with session_scope(runtime.engine) as s:
        person = people.find_person(session=s, channel="telegram", external_id=str(client.chat))
        assert person is not None
        client.pid = person.id
        open_handoff(session=s, person_id=person.id, reason="user")
    add_events(str(runtime.privacy.tracker.url), client.pid, client.texts)
    now = datetime.now(UTC)
    due_reminders(
        runtime.engine, [client.pid], due=now - timedelta(minutes=1), start=now + timedelta(days=1)
    )


async def deliver_everything(runtime: Runtime) -> None:
    """What the jobs would do next: the outbox to Telegram, the due reminders."""
    await runtime.outbox.deliver()
    await dispatch_due(
        runtime.engine,
        runtime.notices.reminder_sender(runtime.senders),
        **runtime.reminder_config.as_kwargs(),
    )
