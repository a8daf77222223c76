"""Write ``var/reliability.md``: one line per reference test with the figure its last run recorded.

``python -m tests.reliability.report [quick|full]`` (``make reliability`` runs it with ``full``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / "var" / "reliability"


def main(mode: str = "full") -> int:
    rows = []
    for path in sorted(FIGURES.glob(f"*-{mode}.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        rows.append((data["number"], data["title"], data["result"]))
    lines = [f"| # | test | result ({mode}) |", "|---|---|---|"]
    lines += [f"| {n} | {title} | {result} |" for n, title, result in sorted(rows)]
    out = ROOT / "var" / "reliability.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for n, title, result in sorted(rows):
        print(f"#{n} {title}: {result}")
    print(f"{len(rows)} figures -> {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
