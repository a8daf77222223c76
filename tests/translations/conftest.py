"""Fixtures: tiny real Argos packages, installed with ``lotse models install``, and content databases."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from cli.main import main
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.seed import load_seed
from tests.translations.tiny_model import build_packages
from translations.argos import ArgosTranslator
from translations.memory import flush_all

Pair = tuple[str, str]


def lotse(*argv: str) -> int:
    """Run ``lotse …`` exactly as the command line does."""
    return main(list(argv))


def use_package_dir(mp: pytest.MonkeyPatch, base: Path) -> Path:
    """Point argostranslate at an empty package folder (what ``ARGOS_PACKAGES_DIR`` does at import)."""
    from argostranslate import settings

    packages = base / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    (base / "downloads").mkdir(exist_ok=True)
    mp.setenv("ARGOS_PACKAGES_DIR", str(packages))
    mp.setattr(settings, "package_data_dir", packages)
    mp.setattr(settings, "package_dirs", [packages])
    mp.setattr(settings, "downloads_dir", base / "downloads")
    mp.setattr(settings, "local_package_index", base / "index.json")
    return packages


@pytest.fixture
def engine(engine: Engine) -> Iterator[Engine]:
    """The migrated database (SQLite and PostgreSQL); memory writes land before it is dropped."""
    yield engine
    assert flush_all(), "translation memory writes did not finish"


@pytest.fixture(scope="session")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[Pair, Path]:
    """``.argosmodel`` files for de→en, en→ar and en→uk (a real SentencePiece + CTranslate2 model)."""
    return build_packages(tmp_path_factory.mktemp("argos-build"))


@pytest.fixture(scope="session")
def installed_dir(model_files: dict[Pair, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny packages installed once with ``lotse models install PATH`` (shared, read-only)."""
    with pytest.MonkeyPatch.context() as mp:
        packages = use_package_dir(mp, tmp_path_factory.mktemp("argos-installed"))
        for path in model_files.values():
            assert lotse("models", "install", str(path)) == 0
    return packages


@pytest.fixture
def argos_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty argostranslate package folder for one test."""
    return use_package_dir(monkeypatch, tmp_path / "argos")


@pytest.fixture
def argos(installed_dir: Path) -> ArgosTranslator:
    """A fresh engine over the installed tiny packages (the models themselves are shared)."""
    return ArgosTranslator.from_installed([installed_dir])


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with the seed content, built once and copied per test."""
    path = tmp_path_factory.mktemp("content-template") / "content.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    eng = make_engine(url)
    with session_scope(eng) as session:
        report = load_seed(session)
    assert not report.errors, report.errors
    with eng.connect() as conn:  # everything into the main file, so a plain copy is complete
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    eng.dispose()
    return path


@pytest.fixture
def content_db(seeded_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A private copy of the seeded SQLite database (fast; tests may change it)."""
    path = tmp_path / "content.db"
    shutil.copy(seeded_template, path)
    eng = make_engine(f"sqlite:///{path}")
    yield eng
    assert flush_all(), "translation memory writes did not finish"
    eng.dispose()
