"""Staff command line for content (``lotse content …``): what to write, review and check next.

* ``unanswered`` — questions nobody could answer (anonymised), most frequent first;
* ``review`` — translations that are outdated, machine-made or drafts, with their ids;
* ``show ID`` — one translation beside the current German master text;
* ``approve ID --by NAME --version N`` — a person who reads both languages checked it against version
  N of the German master (refused if the master has changed since);
* ``due`` — entries whose review date has come or that are flagged as possibly outdated.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from lotse.runtime import Runtime
from storage import content, editorial
from storage.db import session_scope, utcnow
from storage.models import Translation
from storage.vocabulary import MASTER_LANGUAGE


def _out(text: str, *, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(text + "\n")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``content`` sub-command to ``lotse``."""
    content = subparsers.add_parser("content", help="editors' work lists (unanswered, review, due)")
    sub = content.add_subparsers(dest="action", required=True)
    un = sub.add_parser("unanswered", help="questions nobody could answer, most frequent first")
    un.add_argument("--days", type=int, default=30, help="look back this many days (default 30)")
    un.add_argument("--language", help="only this language (de, en, ar, …)")
    un.add_argument("--limit", type=int, default=50)
    rv = sub.add_parser("review", help="translations to review: outdated, machine, draft")
    rv.add_argument("--language", help="only this language")
    rv.add_argument("--limit", type=int, default=100)
    show = sub.add_parser("show", help="a translation beside the current German master")
    show.add_argument("id", type=int)
    ap = sub.add_parser("approve", help="mark a translation as reviewed against the current master")
    ap.add_argument("id", type=int)
    ap.add_argument("--by", required=True, help="who reviewed it (name or staff id)")
    ap.add_argument(
        "--version", type=int, required=True, help="the German master version you checked (see show)"
    )
    sub.add_parser("due", help="entries whose review date has come, or flagged as possibly outdated")


def run(args: argparse.Namespace, runtime: Runtime) -> int:
    """Run a ``content`` command; returns the exit status."""
    with session_scope(runtime.engine) as s:
        if args.action == "unanswered":
            since = utcnow() - timedelta(days=args.days)
            groups = editorial.unanswered(session=s, since=since, language=args.language)
            _out(f"{len(groups)} unanswered question(s) in the last {args.days} days")
            for g in groups[: args.limit]:
                hint = f"  (understood as: {', '.join(g.intents)})" if g.intents else ""
                _out(f"{g.count:>4}x  {g.language}  {g.last_asked:%Y-%m-%d}  {g.text}{hint}")
            return 0
        if args.action == "review":
            items = editorial.review_queue(session=s, language=args.language)
            _out(f"{len(items)} translation(s) to review")
            for i in items[: args.limit]:
                _out(
                    f"{i.translation_id:>6}  {i.reason:<8}  {i.language}  "
                    f"{i.owner_type}/{i.owner_key}  {i.field}"
                )
            return 0
        if args.action == "show":
            row = s.get(Translation, args.id)
            if row is None:
                _out(f"no translation {args.id}", err=True)
                return 1
            version = editorial.current_version(s, row.owner_type, row.owner_key)
            master = content.texts_for(
                session=s,
                owner_type=row.owner_type,
                owner_key=row.owner_key,
                field=row.field,
                master_version=version or 0,
            ).by_language.get(MASTER_LANGUAGE)
            _out(f"{row.owner_type}/{row.owner_key}  {row.field}  (master version {version})")
            _out(f"--- {MASTER_LANGUAGE} (master)")
            _out(master.text if master else "(no German master)")
            _out(f"--- {row.language} ({row.status}, translates version {row.source_version})")
            _out(row.text)
            return 0
        if args.action == "approve":
            try:
                row = editorial.approve_translation(
                    session=s,
                    translation_id=args.id,
                    reviewer=args.by,
                    master_version=args.version,
                )
            except (editorial.NotFound, editorial.MasterChanged) as exc:
                _out(str(exc), err=True)
                return 1
            _out(
                f"translation {args.id} ({row.language}, {row.owner_type}/{row.owner_key}) "
                f"is reviewed by {args.by}"
            )
            return 0
        entries = editorial.entries_due(session=s, today=utcnow().date())
        _out(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} to check")
        for e in entries:
            flag = "  [flagged: may be outdated]" if e.needs_review else ""
            due = e.review_due.isoformat() if e.review_due else "-"
            _out(f"{e.key:<40} due {due}  last verified {e.last_verified} by {e.verified_by}{flag}")
        return 0
