"""Shared fixtures: databases (SQLite and the real PostgreSQL) and the end-to-end stack."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from services.content.seeding import seed_everything
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from tests.support.stack import Stack, make_stack

# python-telegram-bot 22: opt in to RetryAfter.retry_after as a timedelta (the app does the same).
os.environ.setdefault("PTB_TIMEDELTA", "true")

PG_ADMIN_URL = os.environ.get(
    "LOTSE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _pg_database(template: str | None = None) -> Iterator[str]:
    """A fresh PostgreSQL database for one test (a copy of ``template`` if given), dropped afterwards."""
    name = "lotse_test_" + secrets.token_hex(4)
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _seed(url: str) -> None:
    engine = make_engine(url)
    with session_scope(engine) as session:
        summary = seed_everything(session)
    assert not summary.errors, summary.errors
    if url.startswith("sqlite"):
        with engine.connect() as conn:  # everything into the main file before it is copied
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """One migrated PostgreSQL database per session; each test gets a copy (faster than migrating)."""
    databases = _pg_database()
    url = next(databases)
    upgrade(url)  # disposes its engine: a template must have no connections when it is copied
    yield url.rsplit("/", 1)[1]
    databases.close()


@pytest.fixture(scope="session")
def pg_seeded_template() -> Iterator[str]:
    """The same with the seed content loaded (copied for tests that use ``seeded``)."""
    databases = _pg_database()
    url = next(databases)
    upgrade(url)
    _seed(url)
    yield url.rsplit("/", 1)[1]
    databases.close()


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A migrated and a seeded SQLite file; tests get copies (migrating and seeding once)."""
    base = tmp_path_factory.mktemp("templates")
    files = {"migrated": base / "migrated.db", "seeded": base / "seeded.db"}
    for kind, path in files.items():
        url = f"sqlite:///{path}"
        upgrade(url)
        if kind == "seeded":
            _seed(url)
    return files


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test runs on SQLite (the embedded default) and on the real PostgreSQL.

    The database is migrated; for a test that asks for ``seeded`` it also holds the seed content.
    """
    kind = "seeded" if "seeded" in request.fixturenames else "migrated"
    if request.param == "sqlite":
        target = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("sqlite_templates")[kind], target)
        yield f"sqlite:///{target}"
    else:
        template = "pg_seeded_template" if kind == "seeded" else "pg_template"
        yield from _pg_database(request.getfixturevalue(template))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database (empty, or seeded when the test asks for ``seeded``)."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    """A migrated database with the seed content loaded."""
    return engine


@pytest.fixture(scope="session")
def sqlite_seeded(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """One seeded SQLite database shared by read-only tests (fast)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('content') / 'content.db'}"
    upgrade(url)
    eng = make_engine(url)
    with session_scope(eng) as session:
        seed_everything(session)
    return eng


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Rasa with the trained model, the action server and the app, talking to a fake Telegram."""
    s = make_stack(tmp_path_factory.mktemp("stack"))
    try:
        s.start()
        yield s
    finally:
        s.stop()
