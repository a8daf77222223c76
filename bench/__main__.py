"""``make bench``: benchmarks that print ratios measured in one run (no timed assertions anywhere)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench import pipeline
from tests.support.stack import make_stack


def main() -> int:
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
