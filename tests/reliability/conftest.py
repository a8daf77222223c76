"""The reliability suite: the reference tests of ``anchors-reliability-performance.md`` §4.

Each test asserts its pass criterion against the real components and records one figure with
``figure(number, title, result)``. ``make test`` runs the quick version of every test (seconds);
``make reliability`` sets ``LOTSE_RELIABILITY=full`` (soaks, long conversations, many crash runs) and
writes the figures to ``var/reliability.md`` (see ``tests/reliability/report.py``).

Size a test with ``scale(quick, full)``; a test that only makes sense at full size is marked
``@pytest.mark.full_only`` and is skipped in the quick run with that reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.reliability.support import without_abuse_limits
from tests.support.stack import Stack, make_stack
from tests.support.telegram_fixtures import fake  # noqa: F401 (the fake Bot API, one per module)

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / "var" / "reliability"
FULL = os.environ.get("LOTSE_RELIABILITY", "quick") == "full"

T = TypeVar("T")

pytestmark = pytest.mark.reliability


def scale(quick: T, full: T) -> T:
    """The quick size in ``make test``, the full one in ``make reliability``."""
    return full if FULL else quick


def pytest_configure(config: pytest.Config) -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if FULL:
        return
    skip = pytest.mark.skip(reason="a soak: runs in make reliability (LOTSE_RELIABILITY=full)")
    for item in items:
        if item.get_closest_marker("full_only"):
            item.add_marker(skip)


Figure = Callable[[int, str, str], None]
_recorded: list[tuple[int, str, str]] = []


@pytest.fixture
def figure() -> Figure:
    """Record this test's figure: ``figure(16, "kill -9 under write load", "50/50 runs consistent")``."""

    def record(number: int, title: str, result: str) -> None:
        _recorded.append((number, title, result))
        mode = "full" if FULL else "quick"
        (FIGURES / f"{number:02d}-{mode}.json").write_text(
            json.dumps({"number": number, "title": title, "result": result, "mode": mode}),
            encoding="utf-8",
        )

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _recorded:
        return
    terminalreporter.section("reliability figures")
    for number, title, result in sorted(_recorded):
        terminalreporter.write_line(f"#{number} {title}: {result}")


@pytest.fixture(scope="session")
def private_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of the suite's own: load tests lift the abuse limits, and #8/#9 kill and restart its
    Rasa (each leaves it running again), so the shared ``stack`` is never touched."""
    s = without_abuse_limits(
        make_stack(tmp_path_factory.mktemp("reliability-stack"), outbox_interval_seconds=1.0)
    )
    try:
        s.start()
        yield s
    finally:
        s.stop()
