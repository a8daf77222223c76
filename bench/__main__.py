"""``make bench``: benchmarks that print ratios measured in one run (no timed assertions anywhere)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench import pipeline, reminders, translation
from tests.support.stack import make_stack


def main() -> int:
    print("== translation (tiny real model, offline) ==", flush=True)
    translation.main([])
    print("== reminders (2,000 due, fake Telegram enforcing 30 messages/s) ==", flush=True)
    reminders.report(reminders.run(2000))
    print("== whole pipeline vs Rasa (200 messages) ==", flush=True)
    with tempfile.TemporaryDirectory(prefix="lotse-bench-") as tmp:
        stack = make_stack(Path(tmp))
        print("starting Rasa, the action server and the app (about a minute) …", flush=True)
        stack.start()
        try:
            n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
            pipeline.report(*pipeline.run(stack, n))
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
