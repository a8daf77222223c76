"""A process that writes as the app does, as fast as it can, until it is killed (for #16).

``python -m tests.reliability.write_worker DATABASE_URL PREFIX [COUNT START_AT]`` repeats one
transaction: a person consents (``storage.people``), two messages are stored with their update keys
(``storage.conversations.store_inbound_once``) and a reply is put in the outbox (``storage.outbox``);
every fifth transaction also erases the person of an earlier one (the foreign keys cascade). After each
commit it prints ``+ EXTERNAL_ID`` (committed) or ``- EXTERNAL_ID`` (erased), and ``? EXTERNAL_ID``
before a transaction that erases, so the test knows what must have survived the kill.

With COUNT (for #15) it waits for the wall-clock time START_AT, runs COUNT transactions, prints nothing
per transaction and at the end one JSON line: each transaction's duration in ms and the errors
(``database is locked`` among them) it met.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from storage import conversations, outbox, people
from storage.db import make_engine, session_scope


def main(url: str, prefix: str, count: int | None = None, start_at: float = 0.0) -> None:
    engine = make_engine(url)
    out = sys.stdout
    n = 0
    kept: list[tuple[str, str]] = []
    durations: list[float] = []
    errors: list[str] = []
    time.sleep(max(0.0, start_at - time.time()))
    while count is None or n < count:
        t0 = time.perf_counter()
        try:
            transaction(engine, prefix, n + 1, kept, out, quiet=count is not None)
        except OperationalError as exc:
            errors.append(str(exc.orig)[:100])
        durations.append((time.perf_counter() - t0) * 1000)
        n += 1
    out.write(json.dumps({"ms": durations, "errors": errors}) + "\n")


def transaction(
    engine: Engine, prefix: str, n: int, kept: list[tuple[str, str]], out: TextIO, *, quiet: bool
) -> None:
    ext = f"{prefix}-{n}"
    erased: str | None = None
    if n % 5 == 0 and kept and not quiet:
        out.write(f"? {kept[0][0]}\n")  # may be erased by this transaction (killed before "-")
        out.flush()
    with session_scope(engine) as s:
        person = people.record_consent(
            session=s, channel="web", external_id=ext, given=True, version="v1", language="de"
        )
        first, _ = conversations.store_inbound_once(
            session=s,
            person_id=person.id,
            channel="web",
            text=f"message one of {ext}",
            payload=None,
            update_key=f"web:{ext}:1",
        )
        conversations.store_inbound_once(
            session=s,
            person_id=person.id,
            channel="web",
            text=f"message two of {ext}",
            payload=None,
            update_key=f"web:{ext}:2",
        )
        outbox.add(
            session=s,
            person_id=person.id,
            channel="web",
            text=f"reply to {ext}",
            buttons=[],
            meta={},
            in_reply_to=first.id,
        )
        if n % 5 == 0 and kept:
            erased_ext, erased_id = kept.pop(0)
            people.erase_person(session=s, person_id=erased_id)
            erased = erased_ext
    kept.append((ext, person.id))
    if not quiet:
        out.write(f"+ {ext}\n" + (f"- {erased}\n" if erased else ""))
        out.flush()


if __name__ == "__main__":
    if len(sys.argv) > 3:
        main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        main(sys.argv[1], sys.argv[2])
