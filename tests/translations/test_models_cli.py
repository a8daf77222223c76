"""``lotse models``: install from a file (air-gapped), from an index on loopback, list what is there."""

from __future__ import annotations

import json
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from tests.translations.conftest import Pair, lotse
from tests.translations.tiny_model import build_packages
from translations.argos import find_packages


class _QuietHandler(SimpleHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: object) -> None:
        type(self).requests.append(self.path)


@pytest.fixture
def index_server(model_files: dict[Pair, Path], tmp_path: Path) -> Iterator[str]:
    """An argospm-style package index with the tiny packages, served on 127.0.0.1."""
    root = tmp_path / "index"
    root.mkdir()
    for path in model_files.values():
        (root / path.name).write_bytes(path.read_bytes())
    _QuietHandler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    index = []
    for (src, tgt), path in model_files.items():
        meta = json.loads(zipfile.ZipFile(path).read(f"{path.stem}/metadata.json"))
        index.append({**meta, "code": f"translate-{src}_{tgt}", "links": [base + path.name]})
    (root / "index.json").write_text(json.dumps(index), encoding="utf-8")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()


def pairs_in(folder: Path) -> set[Pair]:
    return {p.pair for p in find_packages([folder])}


def test_install_a_file_and_list(
    argos_dir: Path, model_files: dict[Pair, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    for path in model_files.values():
        assert lotse("models", "install", str(path)) == 0
    assert pairs_in(argos_dir) == {("de", "en"), ("en", "ar"), ("en", "uk")}
    assert "installed de->en 1.0" in capsys.readouterr().out

    assert lotse("models", "list") == 0
    out = capsys.readouterr().out
    assert "de->en\t1.0" in out
    assert "ar\tpivot de→en→ar\tnone" in out  # outbound through English; no ar->en model
    assert "en\tdirect de→en\t-" in out
    assert "tr\tnone\tnone" in out


@pytest.mark.parametrize(
    ("members", "error"),
    [
        ({"x/README.md": "hi"}, "no metadata.json"),
        ({"../evil/metadata.json": "{}"}, "unsafe path"),
        ({"a/metadata.json": "{}", "b/metadata.json": "{}"}, "exactly one folder"),
        (
            {"p/metadata.json": json.dumps({"from_code": "de", "to_code": "en"})},
            "no CTranslate2 model",
        ),
    ],
)
def test_bad_package_files_are_refused(
    argos_dir: Path,
    tmp_path: Path,
    members: dict[str, str],
    error: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "bad.argosmodel"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    assert lotse("models", "install", str(path)) == 1
    assert error in capsys.readouterr().err
    assert not any(argos_dir.iterdir())


def test_not_a_zip_is_refused(
    argos_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "model.argosmodel"
    path.write_text("not a zip", encoding="utf-8")
    assert lotse("models", "install", str(path)) == 1
    assert "must be a zip archive" in capsys.readouterr().err


def test_a_newer_version_replaces_the_old_one(
    argos_dir: Path, model_files: dict[Pair, Path], tmp_path: Path
) -> None:
    assert lotse("models", "install", str(model_files[("de", "en")])) == 0
    newer = build_packages(tmp_path / "v11", (("de", "en"),), version="1.1")[("de", "en")]
    assert lotse("models", "install", str(newer)) == 0
    installed = find_packages([argos_dir])
    assert [(p.pair, p.version) for p in installed] == [(("de", "en"), "1.1")]
    assert sorted(d.name for d in argos_dir.iterdir()) == ["translate-de_en-1_1"]
    # Installing the same file again replaces it cleanly.
    assert lotse("models", "install", str(newer)) == 0
    assert sorted(d.name for d in argos_dir.iterdir()) == ["translate-de_en-1_1"]


def test_install_from_index_on_loopback(
    argos_dir: Path, index_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lotse("models", "install", "--from-index", "de,ar", "--index-url", index_server) == 0
    # English is added (every Argos model pairs with it); Ukrainian was not asked for.
    assert pairs_in(argos_dir) == {("de", "en"), ("en", "ar")}
    assert "/index.json" in _QuietHandler.requests
    assert "/translate-en_ar-1_0.argosmodel" in _QuietHandler.requests

    # A second run finds everything up to date and downloads nothing.
    _QuietHandler.requests.clear()
    assert lotse("models", "install", "--from-index", "de,ar", "--index-url", index_server) == 0
    assert "up to date" in capsys.readouterr().out
    assert _QuietHandler.requests == ["/index.json"]


def test_index_from_argos_settings_and_missing_languages(
    argos_dir: Path,
    index_server: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from argostranslate import settings

    # What ARGOS_PACKAGE_INDEX sets when argostranslate is imported.
    monkeypatch.setattr(settings, "remote_package_index", index_server + "index.json")
    assert lotse("models", "install", "--from-index", "uk,ps") == 1
    assert pairs_in(argos_dir) == {("en", "uk")}
    assert "ps: the index has no model" in capsys.readouterr().err


def test_unreachable_index_fails_cleanly(argos_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Port 9 on loopback: connection refused, nothing leaves the machine.
    assert lotse("models", "install", "--from-index", "de", "--index-url", "http://127.0.0.1:9/") == 1
    assert "could not download the package index" in capsys.readouterr().err
    assert not any(argos_dir.iterdir())
