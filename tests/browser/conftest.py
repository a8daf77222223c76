"""Browser tests: Playwright driving Debian's Chromium (``executable_path``; nothing is downloaded),
against the real stack on PostgreSQL with tiny real Argos models (ar/uk ↔ en ↔ de), and axe-core
(vendored from the npm package) for WCAG 2.1 AA.

``console_stack`` is one stack for the whole session: Rasa with the trained model, the action server and
the app (console included), the fake Telegram server, a fresh PostgreSQL database and three staff
accounts made with ``lotse staff add`` (the way the first administrator is made).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from lotse.settings import ROOT, ConsoleSettings
from tests.conftest import _pg_database
from tests.support.stack import Stack, make_stack
from tests.translations.tiny_model import PAIRS, REVERSE_PAIRS, build_packages

AXE = ROOT / "tests" / "support" / "vendor" / "axe.min.js"
PASSWORD = "browser-test-passwort"
ACCOUNTS = {"cm": ["case_manager"], "ed": ["editor"], "admin": ["admin"]}
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--metrics-recording-only",
]


def chromium_path() -> str:
    found = os.environ.get("LOTSE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        pytest.fail("Chromium is missing: 'make setup' installs Debian's chromium package")
    return found


# Package scope: Playwright's sync API runs its own event loop while it is open, which the asyncio
# tests after this package must not find running.
@pytest.fixture(scope="package")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) with German as its language."""
    ctx = chromium.new_context(locale="de-DE", timezone_id="Europe/Berlin")
    ctx.set_default_timeout(20_000)
    yield ctx
    ctx.close()


def lotse_cli(stack: Stack, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LOTSE_DATABASE_URL": stack.settings.database_url,
        **stack.extra_env,
    }
    return subprocess.run(
        [sys.executable, "-m", "cli", *argv],
        input=stdin,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="package")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("console-stack")
    models = build_packages(workdir / "argos-build", PAIRS + REVERSE_PAIRS)
    packages = workdir / "argos" / "packages"
    packages.mkdir(parents=True)
    extra_env = {"ARGOS_PACKAGES_DIR": str(packages)}
    for database_url in _pg_database():
        stack = make_stack(
            workdir,
            database_url=database_url,
            extra_env=extra_env,
            outbox_interval_seconds=0.5,
            console=ConsoleSettings(poll_seconds=1),
        )
        for path in models.values():
            done = lotse_cli(stack, "models", "install", str(path))
            assert done.returncode == 0, done.stderr
        for name, roles in ACCOUNTS.items():
            args = ["staff", "add", name, "--password-stdin", "--name", f"Test {name}"]
            for r in roles:
                args += ["--role", r]
            made = lotse_cli(stack, *args, stdin=PASSWORD + "\n")
            assert made.returncode == 0, made.stderr
        try:
            stack.start()
            yield stack
        finally:
            stack.stop()


def sign_in(page: Page, stack: Stack, username: str) -> None:
    page.goto(f"{stack.web}/console/login")
    page.get_by_label("Benutzername").fill(username)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_load_state()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now.

    The script is evaluated through the DevTools protocol, which the page's CSP does not apply to, so
    the page is checked with its real policy in force.
    """
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result: dict[str, Any] = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
    ]
