"""``lotse``: the command line of KIM Lotse (run, database, content, hand-offs, audit, translation
models)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable

from bot.app import serve
from bot.channels.rasa_client import swap_model
from bot.supervisor import run_all
from cli import appointments as appointments_cli
from cli import audit as audit_cli
from cli import content as content_cli
from cli import models as models_cli
from cli import staff as staff_cli
from lotse import runtime as composition
from lotse.runtime import Runtime
from lotse.settings import Settings
from services.content.seeding import seed_everything
from services.handoff import HandoffNotOpen
from services.nlu_model import RetrainFailed, retrain
from storage.audit import REASONS
from storage.db import make_engine, session_scope
from storage.migrate import downgrade, upgrade


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The HTTP clients log every request (including the bot URL with its token): keep them quiet.
    for noisy in ("httpx", "httpcore", "apscheduler.executors.default", "telegram.ext.Updater"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "upgrade":
        upgrade(settings.database_url)
    else:
        downgrade(settings.database_url, args.revision or "base")
    return 0


def cmd_seed(_: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            summary = seed_everything(session)
    finally:
        engine.dispose()
    for name, report in (("content", summary.content), ("calendar", summary.calendar)):
        print(
            f"{name}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.kept_staff_edits} staff edits kept"
        )
    print(f"glossary: {summary.glossary}")
    for error in summary.errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if summary.errors else 0


def cmd_serve(_: argparse.Namespace, settings: Settings) -> int:
    serve(settings)
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    return run_all(settings, model=args.model)


def cmd_handoff(args: argparse.Namespace, runtime: Runtime) -> int:
    desk = runtime.handoff
    # Recorded as the OS user running the command; the --by name goes into the row's details.
    actor = audit_cli.cli_actor(getattr(args, "by", None))
    if args.action == "list":
        handoffs = desk.open_list()
        if not handoffs:
            print("no open hand-offs")
        for h in handoffs:
            print(f"{h.id}\t{h.status}\t{h.reason}\t{h.created_at:%Y-%m-%d %H:%M}\t{h.person_id[:8]}")
        return 0
    if args.action == "release":
        if desk.release(args.id, by=args.by, actor=actor) is None:
            print(f"hand-off {args.id} is not open", file=sys.stderr)
            return 1
        print(f"hand-off {args.id} released; the bot answers this person again")
        return 0
    try:
        if args.action == "show":
            conv = desk.conversation(args.id, staff=args.by, reason=args.reason, actor=actor)
            print(f"hand-off {args.id} ({conv.handoff.reason}), language: {conv.language}")
            for line in conv.lines:
                print(f"{line.at:%Y-%m-%d %H:%M}  {line.speaker:<6} {line.text}")
                if line.german is not None:
                    print(f"{'':16}  {'':<6} [de, machine] {line.german}")
            return 0
        result = desk.reply(
            args.id,
            staff=args.by,
            text=args.text,
            written_in=args.written_in.strip().lower(),
            actor=actor,
        )
    except (HandoffNotOpen, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"sent ({result.language}, {result.translation}):\n{result.text}")
    if result.back_translation is not None:
        print(f"back-translation, to check the meaning:\n{result.back_translation}")
    elif result.translation == "untranslated":
        print("no translation model for their language: sent in German, with a note in their language")
    return 0


def cmd_privacy(args: argparse.Namespace, runtime: Runtime) -> int:
    privacy = runtime.privacy
    if args.action == "erasures":
        pending = privacy.incomplete_erasures()
        if not pending:
            print("every erasure is complete")
        for e in pending:
            print(f"{e['id']}\t{e['pseudonym'][:8]}\tnot yet erased from: {', '.join(e['failed'])}")
        return 1 if pending else 0
    if args.action == "retry":
        done = privacy.retry_erasures()
        left = len(privacy.incomplete_erasures())
        print(f"{done} erasures completed, {left} still incomplete")
        return 1 if left else 0
    report = privacy.purge_expired()
    print(", ".join(f"{k}: {v}" for k, v in report.items()))
    return 0


def cmd_nlu(_: argparse.Namespace, settings: Settings) -> int:
    rasa = settings.rasa
    try:
        model = retrain(
            model_path=rasa.model_path,
            rasa=rasa.executable,
            nlu_dir=rasa.project_dir,
            swap=lambda path: swap_model(
                rasa.url,
                path,
                token=rasa.internal_token.get_secret_value() if rasa.internal_token else None,
            ),
        )
    except RetrainFailed as exc:
        print(f"retraining failed, the running model is unchanged: {exc}", file=sys.stderr)
        return 1
    print(f"Rasa now serves {model}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``lotse``: parse, build the runtime where needed, run one command."""
    # python-telegram-bot 22: RetryAfter.retry_after as a timedelta now (its future default).
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    parser = argparse.ArgumentParser(prog="lotse", description=__doc__)
    parser.add_argument(
        "--database-url", help="the database to work on (default: LOTSE_DATABASE_URL or var/lotse.db)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start Rasa, the action server and the app (Ctrl-C stops all)")
    run.add_argument("--model", help="Rasa model file (default: var/models/lotse.tar.gz)")
    sub.add_parser("serve", help="start only the app (web chat, NLG, Telegram, scheduler)")
    db = sub.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade", "downgrade"])
    db.add_argument("revision", nargs="?")
    sub.add_parser("seed", help="load the seed content (never overwrites staff edits)")
    ho = sub.add_parser("handoff", help="hand-offs to case managers")
    ho_sub = ho.add_subparsers(dest="action", required=True)
    ho_sub.add_parser("list", help="open hand-offs")
    rel = ho_sub.add_parser("release", help="give a conversation back to the bot")
    rel.add_argument("id", type=int)
    rel.add_argument("--by", default="staff")
    show = ho_sub.add_parser("show", help="the conversation, the person's messages also in German")
    show.add_argument("id", type=int)
    show.add_argument("--by", required=True, help="who reads it (recorded in the audit trail)")
    show.add_argument(
        "--reason", default="answer_request", choices=sorted(REASONS), help="why (recorded)"
    )
    reply = ho_sub.add_parser("reply", help="answer the person, machine translated into their language")
    reply.add_argument("id", type=int)
    reply.add_argument("text")
    reply.add_argument("--by", required=True, help="who answers (recorded in the audit trail)")
    reply.add_argument(
        "--written-in", default="de", help="language of TEXT (default de; their language: sent as is)"
    )
    priv = sub.add_parser("privacy", help="erasures and retention")
    priv_sub = priv.add_subparsers(dest="action", required=True)
    priv_sub.add_parser("erasures", help="erasures that did not reach every store yet")
    priv_sub.add_parser("retry", help="retry the stores that failed in earlier erasures now")
    priv_sub.add_parser("purge", help="apply the retention period to every store now")
    nlu = sub.add_parser("nlu", help="language understanding")
    nlu.add_argument(
        "action",
        choices=["retrain"],
        help="retrain from nlu/ and swap the model into the running Rasa server",
    )
    models_cli.register(sub)
    appointments_cli.register(sub)
    content_cli.register(sub)
    audit_cli.register(sub)
    staff_cli.register(sub)
    args = parser.parse_args(argv)
    settings = Settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    _setup_logging(settings.log_level)
    plain: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
        "db": cmd_db,
        "seed": cmd_seed,
        "serve": cmd_serve,
        "run": cmd_run,
        "nlu": cmd_nlu,
    }
    if args.command in plain:
        return plain[args.command](args, settings)
    # Everything else works on the runtime: one composition root for the app and the command line.
    with_runtime: dict[str, Callable[[argparse.Namespace, Runtime], int]] = {
        "handoff": cmd_handoff,
        "privacy": cmd_privacy,
        "models": models_cli.run,
        "appointments": appointments_cli.run,
        "calendar": appointments_cli.run,
        "content": content_cli.run,
        "audit": audit_cli.run,
        "staff": staff_cli.run,
    }
    runtime = composition.build(settings)
    try:
        return with_runtime[args.command](args, runtime)
    finally:
        runtime.close_sync()


if __name__ == "__main__":
    sys.exit(main())
