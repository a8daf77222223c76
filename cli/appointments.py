"""Staff command line for appointments and the calendar (``lotse appointments …``, ``lotse calendar …``).

Persons appear only by the first characters of their pseudonym; no chat ids are printed.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime

from sqlmodel import Session

from lotse.runtime import Runtime
from storage import appointments as booking
from storage import calendar
from storage import reminders as reminder_rows
from storage.db import session_scope, utcnow
from storage.models_booking import Appointment, CaseManager, ReminderStatus

COMMANDS = ("appointments", "calendar")
WEEKDAY_NAMES = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")


def _out(text: str, *, err: bool = False) -> None:
    """A line of command output (stdout, or stderr for errors)."""
    (sys.stderr if err else sys.stdout).write(text + "\n")


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``appointments`` and ``calendar`` sub-commands to ``lotse``."""
    ap = subparsers.add_parser("appointments", help="booked appointments (staff)")
    ap_sub = ap.add_subparsers(dest="action", required=True)
    lst = ap_sub.add_parser("list", help="appointments at an office on a day")
    lst.add_argument("--office", required=True, help="office id (see `lotse calendar offices`)")
    lst.add_argument("--day", type=_day, required=True, help="YYYY-MM-DD")
    lst.add_argument("--all", action="store_true", help="include cancelled appointments")
    ns = ap_sub.add_parser("no-show", help="mark that nobody came to an appointment")
    ns.add_argument("reference")
    cancel = ap_sub.add_parser("cancel", help="cancel one appointment; the person is told")
    cancel.add_argument("reference")
    cancel.add_argument("--reason", default="Absage durch das Fallmanagement")
    cd = ap_sub.add_parser(
        "cancel-day", help="cancel a case manager's or an office's day; everyone affected is told"
    )
    who = cd.add_mutually_exclusive_group(required=True)
    who.add_argument("--case-manager", dest="case_manager")
    who.add_argument("--office")
    cd.add_argument("--day", type=_day, required=True, help="YYYY-MM-DD")
    cd.add_argument("--reason", default="Abwesenheit")
    cd.add_argument(
        "--no-notify", action="store_true", help="do not queue cancellation messages to the people"
    )
    rem = ap_sub.add_parser("reminders", help="reminders that need a look: missed, unknown, failed")
    rem.add_argument("--status", default="missed,unknown,failed", help="comma-separated statuses")
    rem.add_argument("--limit", type=int, default=50)

    cal = subparsers.add_parser("calendar", help="offices, office hours, holidays, absences")
    cal_sub = cal.add_subparsers(dest="action", required=True)
    cal_sub.add_parser("offices", help="offices, who is there on which weekday, and review flags")
    hol = cal_sub.add_parser("holidays", help="NRW public holidays of a year")
    hol.add_argument("--year", type=int, default=utcnow().year)
    sl = cal_sub.add_parser("slots", help="free slots (what a person would be offered)")
    sl.add_argument("--municipality")
    sl.add_argument("--office")
    sl.add_argument("--from", dest="start", type=_day, default=None, help="YYYY-MM-DD (today)")
    sl.add_argument("--days", type=int, default=7)
    sl.add_argument("--language")
    ab = cal_sub.add_parser("absence", help="record an absence or an office closure")
    ab_who = ab.add_mutually_exclusive_group(required=True)
    ab_who.add_argument("--case-manager", dest="case_manager")
    ab_who.add_argument("--office")
    ab.add_argument("--from", dest="start", type=_day, required=True)
    ab.add_argument("--to", dest="end", type=_day, default=None, help="last day (default: --from)")
    ab.add_argument("--reason", default="Abwesenheit")


def _time(dt: datetime) -> str:
    return f"{calendar.to_local(dt):%Y-%m-%d %H:%M}"


def _line(a: Appointment) -> str:
    interpreter = f"interpreter:{a.interpreter_language}" if a.interpreter_language else "-"
    return (
        f"{_time(a.start)}\t{a.reference}\t{a.status}\t{a.topic}\t{a.people_count} p.\t"
        f"{interpreter}\tlang:{a.language or '?'}\t{a.case_manager_id}\t{a.person_id[:8]}"
    )


def _appointments(args: argparse.Namespace, session: Session) -> int:
    now = utcnow()
    if args.action == "list":
        if calendar.get_office(session, args.office) is None:
            _out(f"unknown office {args.office!r}", err=True)
            return 1
        rows = booking.appointments_on(
            session, office_id=args.office, day=args.day, include_cancelled=args.all
        )
        for a in rows:
            _out(_line(a))
        _out(f"{len(rows)} appointments at {args.office} on {args.day}")
        return 0
    if args.action == "no-show":
        try:
            a = booking.mark_no_show(session, reference=args.reference, now=now)
        except booking.BookingError as exc:
            _out(f"cannot mark {args.reference}: {type(exc).__name__}", err=True)
            return 1
        _out(f"{a.reference} marked as no-show")
        return 0
    if args.action == "cancel":
        try:
            a = booking.cancel_by_staff(session, reference=args.reference, now=now, reason=args.reason)
        except booking.BookingError as exc:
            _out(f"cannot cancel {args.reference}: {type(exc).__name__}", err=True)
            return 1
        _out(f"{a.reference} cancelled; the person will be told")
        return 0
    if args.action == "cancel-day":
        if args.case_manager and session.get(CaseManager, args.case_manager) is None:
            _out(f"unknown case manager {args.case_manager!r}", err=True)
            return 1
        if args.office and calendar.get_office(session, args.office) is None:
            _out(f"unknown office {args.office!r}", err=True)
            return 1
        affected = booking.cancel_day(
            session,
            day=args.day,
            reason=args.reason,
            now=now,
            case_manager_id=args.case_manager,
            office_id=args.office,
            notify=not args.no_notify,
        )
        for a in affected:
            _out(_line(a))
        told = "will be told in their language" if not args.no_notify else "are NOT told"
        _out(f"{len(affected)} appointments cancelled on {args.day}; the people {told}")
        return 0
    return _problem_reminders(args, session)


def _problem_reminders(args: argparse.Namespace, session: Session) -> int:
    statuses = [s.strip() for s in args.status.split(",") if s.strip()]
    unknown = set(statuses) - {s.value for s in ReminderStatus}
    if unknown:
        _out(f"unknown status {sorted(unknown)}", err=True)
        return 1
    found = reminder_rows.with_status(session=session, statuses=statuses, limit=args.limit)
    for r, appt in found:
        _out(
            f"{_time(r.due_at)}\t{r.status}\t{r.kind}\t{appt.reference}\t{_time(appt.start)}\t{r.reason}"
        )
    _out(f"{len(found)} reminders with status {', '.join(statuses)}")
    return 0


def _calendar(args: argparse.Namespace, session: Session) -> int:
    if args.action == "offices":
        managers = {m.id: m for m in calendar.case_managers(session)}
        for office in calendar.offices(session):
            flag = "  [needs review]" if office.needs_review else ""
            serves = f" (also for: {', '.join(office.serves)})" if office.serves else ""
            _out(f"{office.id}\t{office.name}, {office.address}{serves}{flag}")
            for h in calendar.office_hours(session, office_id=office.id):
                m = managers.get(h.case_manager_id)
                only = f" only {h.municipality}" if h.municipality else ""
                langs = ",".join(m.languages) if m else "?"
                _out(
                    f"\t{WEEKDAY_NAMES[h.weekday]} {h.start_time:%H:%M}-{h.end_time:%H:%M}"
                    f"\t{h.case_manager_id} [{langs}]{only}"
                )
        for mun in calendar.municipalities(session):
            if not mun.local_cm:
                _out(f"no local CM: {mun.name}: {mun.note or ''}")
        return 0
    if args.action == "holidays":
        for day, name in calendar.nrw_holidays(args.year).items():
            _out(f"{day}\t{WEEKDAY_NAMES[day.weekday()]}\t{name}")
        return 0
    if args.action == "slots":
        now = utcnow()
        slots = calendar.free_slots(
            session,
            start=args.start or calendar.to_local(now).date(),
            days=args.days,
            now=now,
            office_id=args.office,
            municipality=args.municipality,
            language=args.language,
        )
        for s in slots:
            speaks = " *" if s.speaks_language else ""
            _out(f"{_time(s.start)}\t{s.office_id}\t{s.case_manager_id}{speaks}")
        _out(f"{len(slots)} free slots")
        return 0
    try:
        absence = calendar.add_absence(
            session,
            start_date=args.start,
            end_date=args.end or args.start,
            reason=args.reason,
            case_manager_id=args.case_manager,
            office_id=args.office,
        )
    except ValueError as exc:
        _out(str(exc), err=True)
        return 1
    _out(
        f"absence {absence.id} recorded; booked appointments on these days stay booked: "
        "use `lotse appointments cancel-day` to cancel them"
    )
    return 0


def run(args: argparse.Namespace, runtime: Runtime) -> int:
    """Run an ``appointments`` or ``calendar`` command; returns the exit status."""
    with session_scope(runtime.engine) as session:
        if args.command == "appointments":
            return _appointments(args, session)
        return _calendar(args, session)
