"""The audit trail on the command line (``lotse audit …``).

* ``verify`` — walk the hash chain; exit 0 if it is intact, 1 naming the first broken row (the check
  itself is recorded as ``audit.verify``);
* ``list [--person ID] [--action A] [--actor NAME] [--target T] [--since DAY] [--until DAY]
  [--limit N]`` — rows, newest first.

Commands run here are recorded as ``cli:<os user>``; ``cli_actor`` is that actor for the other
command families too.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import UTC, date, datetime, time

from lotse.runtime import Runtime
from services.audit import Actor
from storage.audit import ACTIONS


def _out(text: str, *, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(text + "\n")


def os_user() -> str:
    """The operating-system user running the command (its uid if it has no name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for the uid (e.g. in a container)
        return f"uid{os.getuid()}"


def cli_actor(by: str | None = None) -> Actor:
    """Who a command-line action is recorded as: ``cli:<os user>``, with the ``--by`` name in details."""
    return Actor.cli(os_user(), by=by)


def _day(value: str) -> datetime:
    """A YYYY-MM-DD day, as its start in UTC."""
    return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``audit`` sub-command to ``lotse``."""
    audit = subparsers.add_parser("audit", help="the audit trail: verify the chain, list rows")
    sub = audit.add_subparsers(dest="action", required=True)
    sub.add_parser("verify", help="check the hash chain (exit 1 names the first broken row)")
    ls = sub.add_parser("list", help="audit rows, newest first")
    ls.add_argument("--person", help="a person's pseudonym id")
    ls.add_argument("--action", dest="event", choices=sorted(ACTIONS), metavar="ACTION")
    ls.add_argument("--actor", help="a staff name, cli:<os user> or system")
    ls.add_argument("--target", help="e.g. handoff:12")
    ls.add_argument("--since", type=_day, help="from this day on (YYYY-MM-DD, UTC)")
    ls.add_argument("--until", type=_day, help="before this day (YYYY-MM-DD, UTC)")
    ls.add_argument("--limit", type=int, default=50)


def run(args: argparse.Namespace, runtime: Runtime) -> int:
    """Run an ``audit`` command; returns the exit status."""
    audit = runtime.audit
    if args.action == "verify":
        result = audit.verify(cli_actor())
        if result.ok:
            _out(f"{result.rows} rows, chain intact (head {result.head[:16]})")
            return 0
        _out(
            f"chain broken at row {result.broken_id} ({result.problem}): {result.why}; "
            f"{result.rows - 1} rows before it are intact",
            err=True,
        )
        return 1
    rows = audit.list(
        actor=args.actor,
        action=args.event,
        person=args.person,
        target=args.target,
        since=args.since,
        until=args.until,
        limit=args.limit,
    )
    if not rows:
        _out("no audit rows")
    for r in rows:
        extra = " ".join(f"{k}={v}" for k, v in sorted((r.details or {}).items()))
        _out(
            f"{r.id:>6}  {r.at:%Y-%m-%d %H:%M:%S}  {r.actor:<20} {r.action:<18} "
            f"{r.person or '-':<24}  {r.target or '-':<14} {r.reason or '-':<14} {extra}".rstrip()
        )
    return 0
