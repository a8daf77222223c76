"""``lotse``: the command line of KIM Lotse (run, database, content, hand-offs, translation models)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from sqlalchemy.engine import Engine

from bot.settings import Settings


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The HTTP clients log every request (including the bot URL with its token): keep them quiet.
    for noisy in ("httpx", "httpcore", "apscheduler.executors.default", "telegram.ext.Updater"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from storage.migrate import downgrade, upgrade

    if args.action == "upgrade":
        upgrade(settings.database_url)
    else:
        downgrade(settings.database_url, args.revision or "base")
    return 0


def cmd_seed(_: argparse.Namespace, settings: Settings) -> int:
    from bot.seeding import seed_everything
    from storage.db import make_engine, session_scope

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
    from bot.app import serve

    serve(settings)
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.supervisor import run_all

    return run_all(settings, model=args.model)


def cmd_handoff(args: argparse.Namespace, settings: Settings) -> int:
    from storage.db import make_engine

    engine = make_engine(settings.database_url)
    try:
        if args.action in ("show", "reply"):
            return _handoff_desk(args, engine, settings)
        return _handoff(args, engine)
    finally:
        engine.dispose()


def _handoff_desk(args: argparse.Namespace, engine: Engine, settings: Settings) -> int:
    from bot import handoff_desk
    from translations.factory import build_translator
    from translations.render import Renderer

    translator = build_translator(engine)
    try:
        if args.action == "show":
            conv = handoff_desk.conversation(engine, translator, args.id, staff=args.by)
            print(f"hand-off {args.id} ({conv.handoff.reason}), language: {conv.language}")
            for line in conv.lines:
                print(f"{line.at:%Y-%m-%d %H:%M}  {line.speaker:<6} {line.text}")
                if line.german is not None:
                    print(f"{'':16}  {'':<6} [de, machine] {line.german}")
            return 0
        renderer = Renderer(engine, translator, settings.message_variables())
        result = handoff_desk.reply(
            engine,
            translator,
            renderer,
            args.id,
            staff=args.by,
            text=args.text,
            written_in=args.written_in.strip().lower(),
        )
    except (handoff_desk.HandoffNotOpen, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"sent ({result.language}, {result.translation}):\n{result.text}")
    if result.back_translation is not None:
        print(f"back-translation, to check the meaning:\n{result.back_translation}")
    elif result.translation == "untranslated":
        print("no translation model for their language: sent in German, with a note in their language")
    return 0


def _handoff(args: argparse.Namespace, engine: Engine) -> int:
    from storage.db import session_scope
    from storage.handoff import open_handoffs, release_handoff

    with session_scope(engine) as session:
        if args.action == "list":
            handoffs = open_handoffs(session=session)
            if not handoffs:
                print("no open hand-offs")
            for h in handoffs:
                print(
                    f"{h.id}\t{h.status}\t{h.reason}\t{h.created_at:%Y-%m-%d %H:%M}\t{h.person_id[:8]}"
                )
            return 0
        released = release_handoff(session=session, handoff_id=args.id, by=args.by)
        if released is None:
            print(f"hand-off {args.id} is not open", file=sys.stderr)
            return 1
    print(f"hand-off {args.id} released; the bot answers this person again")
    return 0


def cmd_nlu(_: argparse.Namespace, settings: Settings) -> int:
    from bot.retrain import RetrainFailed, retrain

    try:
        model = retrain(settings)
    except RetrainFailed as exc:
        print(f"retraining failed, the running model is unchanged: {exc}", file=sys.stderr)
        return 1
    print(f"Rasa now serves {model}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lotse", description=__doc__)
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
    show.add_argument("--by", required=True, help="who reads it (logged)")
    reply = ho_sub.add_parser("reply", help="answer the person, machine translated into their language")
    reply.add_argument("id", type=int)
    reply.add_argument("text")
    reply.add_argument("--by", required=True, help="who answers (logged)")
    reply.add_argument(
        "--written-in", default="de", help="language of TEXT (default de; their language: sent as is)"
    )
    nlu = sub.add_parser("nlu", help="language understanding")
    nlu.add_argument(
        "action",
        choices=["retrain"],
        help="retrain from nlu/ and swap the model into the running Rasa server",
    )
    from bot import content_cli
    from scheduler import appointments_cli
    from translations import models_cli

    models_cli.register(sub)
    appointments_cli.register(sub)
    content_cli.register(sub)
    args = parser.parse_args(argv)
    settings = Settings()
    _setup_logging(settings.log_level)
    handlers: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
        "db": cmd_db,
        "seed": cmd_seed,
        "serve": cmd_serve,
        "run": cmd_run,
        "handoff": cmd_handoff,
        "nlu": cmd_nlu,
        "models": lambda a, s: models_cli.run(a, database_url=s.database_url),
        "appointments": lambda a, s: appointments_cli.run(a, s),
        "calendar": lambda a, s: appointments_cli.run(a, s),
        "content": lambda a, s: content_cli.run(a, s),
    }
    return handlers[args.command](args, settings)


if __name__ == "__main__":
    sys.exit(main())
