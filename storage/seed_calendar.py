"""Idempotent loading of the calendar seed (``storage/seed/offices.yml``).

The same rules as ``storage.seed``: new municipalities, offices and case managers are created; a row
still in its seeded state is updated when its seed entry changed; anything staff edited
(``origin == "staff"``) is never overwritten. A case manager's weekly hours belong to its seed entry:
when the entry changes, its seeded hours are replaced, and hours rows staff added or edited are kept.
"""

from __future__ import annotations

import logging
import re
from datetime import time
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete
from sqlmodel import Session, col, select

from storage.db import utcnow
from storage.models_booking import CaseManager, Municipality, Office, OfficeHours
from storage.seed import SeedReport, reload_skips, seed_hash

logger = logging.getLogger(__name__)

CALENDAR_SEED = Path(__file__).parent / "seed" / "offices.yml"
WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
DEFAULT_FROM = time(9, 0)
DEFAULT_TO = time(15, 0)
SEED = "seed"
# Ids that travel in a button's callback data, which Telegram caps at 64 bytes (rendering.payloads):
# a slot is "b:s:<case manager id>|<UTC yyyymmddHHMM>" (4 + id + 1 + 12 bytes, so at most 47) and a
# town "b:p:<slug>" (at most 60). Only the payload grammar's characters, never the "|" separator.
CASE_MANAGER_ID_MAX = 40
MUNICIPALITY_SLUG_MAX = 60
_PAYLOAD_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def payload_id_problem(value: Any, longest: int) -> str | None:
    """Why ``value`` cannot be an id that goes into a button payload, or None."""
    text = str(value)
    if not _PAYLOAD_ID.match(text):
        return "may only use letters, digits, '_', '.' and '-' (it goes into button payloads)"
    if len(text) > longest:
        return f"is {len(text)} characters long; at most {longest} fit a button's 64 bytes"
    return None


def _time(value: Any, default: time) -> time:
    if value is None:
        return default
    if isinstance(value, int):  # YAML 1.1 reads 09:00 unquoted as sexagesimal minutes
        return time(value // 60, value % 60)
    hours, minutes = str(value).split(":")
    return time(int(hours), int(minutes))


def _load_municipalities(session: Session, items: list[dict[str, Any]], report: SeedReport) -> None:
    for raw in items:
        if problem := payload_id_problem(raw["slug"], MUNICIPALITY_SLUG_MAX):
            report.errors.append(f"offices.yml:{raw['slug']}: municipality slug {problem}")
            continue
        digest = seed_hash(raw)
        row = session.get(Municipality, raw["slug"])
        if reload_skips(row, digest, report):
            continue
        if row is None:
            row = Municipality(slug=raw["slug"], name=raw["name"])
        row.name = raw["name"]
        row.local_cm = bool(raw.get("local_cm", True))
        row.note = raw.get("note")
        row.contact = raw.get("contact")
        row.served_by_office = raw.get("served_by_office")
        row.seed_hash, row.updated_at = digest, utcnow()
        session.add(row)


def _load_offices(session: Session, items: list[dict[str, Any]], report: SeedReport) -> None:
    for raw in items:
        digest = seed_hash(raw)
        row = session.get(Office, raw["id"])
        if reload_skips(row, digest, report):
            continue
        if row is None:
            row = Office(id=raw["id"], name=raw["name"], address=raw["address"], municipality="")
        row.name, row.address = raw["name"], raw["address"]
        row.municipality = raw["municipality"]
        row.serves = [str(m) for m in raw.get("serves", [])]
        row.accessibility = raw.get("accessibility")
        row.needs_review = bool(raw.get("needs_review", False))
        row.active = bool(raw.get("active", True))
        row.seed_hash, row.updated_at = digest, utcnow()
        session.add(row)


def _hours_rows(cm_id: str, raw: dict[str, Any], known_offices: set[str]) -> list[OfficeHours]:
    rows = []
    for h in raw.get("hours", []):
        if h["office"] not in known_offices:
            raise ValueError(f"unknown office {h['office']!r}")
        start, end = _time(h.get("from"), DEFAULT_FROM), _time(h.get("to"), DEFAULT_TO)
        if start >= end:
            raise ValueError(f"hours {start}–{end} are empty")
        for day in h["weekdays"]:
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}")
            rows.append(
                OfficeHours(
                    case_manager_id=cm_id,
                    office_id=h["office"],
                    weekday=WEEKDAYS[day],
                    start_time=start,
                    end_time=end,
                    municipality=h.get("municipality"),
                    valid_from=h.get("valid_from"),
                    valid_until=h.get("valid_until"),
                    needs_review=bool(h.get("needs_review", raw.get("needs_review", False))),
                    origin=SEED,
                )
            )
    return rows


def _load_case_managers(
    session: Session, items: list[dict[str, Any]], known_offices: set[str], report: SeedReport
) -> None:
    for raw in items:
        cm_id = raw["id"]
        if problem := payload_id_problem(cm_id, CASE_MANAGER_ID_MAX):
            report.errors.append(f"offices.yml:{cm_id}: case manager id {problem}")
            continue
        digest = seed_hash(raw)
        try:
            hours = _hours_rows(cm_id, raw, known_offices)
        except (KeyError, ValueError) as exc:
            report.errors.append(f"offices.yml:{cm_id}: {exc}")
            continue
        row = session.get(CaseManager, cm_id)
        if reload_skips(row, digest, report):
            continue
        if row is None:
            row = CaseManager(id=cm_id, name=raw["name"])
        row.name = raw["name"]
        row.languages = [str(lang) for lang in raw.get("languages", [])]
        row.topics = [str(t) for t in raw.get("topics", [])]
        row.needs_review = bool(raw.get("needs_review", False))
        row.active = bool(raw.get("active", True))
        row.seed_hash, row.updated_at = digest, utcnow()
        session.add(row)
        session.flush()
        session.exec(
            delete(OfficeHours).where(
                col(OfficeHours.case_manager_id) == cm_id, col(OfficeHours.origin) == SEED
            )
        )
        session.add_all(hours)


def load_calendar_seed(
    session: Session, path: Path = CALENDAR_SEED, report: SeedReport | None = None
) -> SeedReport:
    """Load municipalities, offices, case managers and weekly hours; safe to run any number of times.

    Counts go into ``report`` (a ``storage.seed.SeedReport``; a new one if None), which is returned.
    """
    report = report if report is not None else SeedReport()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    _load_municipalities(session, data.get("municipalities", []), report)
    _load_offices(session, data.get("offices", []), report)
    session.flush()
    known = set(session.exec(select(Office.id)).all())
    _load_case_managers(session, data.get("case_managers", []), known, report)
    session.flush()
    for err in report.errors:
        logger.error("calendar seed: %s", err)
    return report
