"""``lotse models``: list and install Argos translation models, and pre-translate content.

* ``lotse models list`` — installed packages, their pairs, and the route for every product language;
* ``lotse models install PATH.argosmodel`` — air-gapped servers: copy the files in, install each;
* ``lotse models install --from-index de,en,ar`` — servers with internet: argostranslate's package
  index (``ARGOS_PACKAGE_INDEX``, or ``--index-url``), every pair between the languages;
* ``lotse models translate-content`` — machine-translate every FAQ entry and bot message that has no
  current text in an installed language, stored as ``machine`` drafts for review;
* ``lotse models languages`` — the language registry as a table.

Packages go to argostranslate's package folder (``ARGOS_PACKAGES_DIR``). Restart the app after
installing: models are loaded once per process.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from storage import content
from storage.db import session_scope
from storage.models import BotMessage, FaqEntry, TextStatus, Translation
from translations.argos import ModelPackage, find_packages, version_key
from translations.engine import NullTranslator, TranslationUnavailable, results_of, route_of
from translations.languages import LANGUAGES, MASTER

logger = logging.getLogger(__name__)

CONTENT_CHUNK = 16  # texts per engine call when pre-translating content
CONTENT_TIMEOUT = 600.0  # seconds per chunk: pre-translation runs offline, not in a conversation


class InstallError(Exception):
    """A package file that cannot or must not be installed."""


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


# --- command line -------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add ``models`` and its actions to the ``lotse`` argument parser's subparsers."""
    models = subparsers.add_parser("models", help="offline translation models (Argos packages)")
    actions = models.add_subparsers(dest="models_action", required=True)
    actions.add_parser("list", help="installed models, their pairs and the route per language")
    install = actions.add_parser("install", help="install a .argosmodel file or from the index")
    install.add_argument("path", nargs="?", type=Path, help="a .argosmodel file")
    install.add_argument(
        "--from-index",
        metavar="LANGS",
        help="comma-separated language codes, e.g. de,en,ar: every pair between them",
    )
    install.add_argument("--index-url", help="package index (default: ARGOS_PACKAGE_INDEX)")
    for name, text in (
        ("translate-content", "machine-translate content missing in installed languages"),
        ("languages", "what the product can do in each language"),
    ):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("--database-url", help="default: LOTSE_DATABASE_URL or var/lotse.db")


def run(args: argparse.Namespace, *, database_url: str | None = None) -> int:
    """Run a ``lotse models`` action; returns the exit code."""
    action = args.models_action
    if action == "list":
        return cmd_list()
    if action == "install":
        if args.from_index:
            codes = [c.strip() for c in args.from_index.split(",") if c.strip()]
            return install_from_index(codes, index_url=args.index_url)
        if args.path is None:
            _err("give a .argosmodel file or --from-index de,en,…")
            return 2
        try:
            pkg = install_file(args.path)
        except InstallError as exc:
            _err(f"not installed: {exc}")
            return 1
        _out(f"installed {pkg.from_code}->{pkg.to_code} {pkg.version} in {pkg.path}")
        _out("restart the app to use it")
        return 0
    url = (
        database_url
        or getattr(args, "database_url", None)
        or os.environ.get("LOTSE_DATABASE_URL")
        or _default_database_url()
    )
    from storage.db import make_engine

    engine = make_engine(url)
    try:
        if action == "languages":
            return cmd_languages(engine)
        return cmd_translate_content(engine)
    finally:
        engine.dispose()


def _default_database_url() -> str:
    from storage.db import DEFAULT_DATABASE_URL

    return DEFAULT_DATABASE_URL


def cmd_list() -> int:
    """Print installed packages and what they make possible."""
    from translations.argos import ArgosTranslator, package_dirs

    packages = sorted(find_packages(), key=lambda p: p.pair)
    _out("package folders: " + ", ".join(str(d) for d in package_dirs()))
    if not packages:
        _out("no translation models installed: the bot uses human translations and German only")
        return 0
    for pkg in packages:
        _out(f"{pkg.from_code}->{pkg.to_code}\t{pkg.version or '?'}\t{pkg.path}")
    argos = ArgosTranslator(packages)
    _out("")
    _out("language\tfrom German\tto English")
    for code in LANGUAGES:
        if code == MASTER:
            continue
        outbound = _describe(route_of(argos, MASTER, code))
        _out(f"{code}\t{outbound}\t{_describe(route_of(argos, code, 'en'))}")
    return 0


def _describe(route: tuple[str, ...] | None) -> str:
    if route is None:
        return "none"
    if len(route) <= 1:
        return "-"
    return ("direct " if len(route) == 2 else "pivot ") + "→".join(route)


def cmd_languages(engine: Engine) -> int:
    """Print the language registry."""
    from translations.factory import build_translator
    from translations.registry import language_registry, registry_table

    translator = build_translator(engine)
    with session_scope(engine) as session:
        _out(registry_table(language_registry(session, translator)))
    return 0


def cmd_translate_content(engine: Engine) -> int:
    """Pre-translate content into every installed language."""
    from translations.factory import build_translator

    translator = build_translator(engine, timeout=CONTENT_TIMEOUT)
    if isinstance(translator, NullTranslator):
        _err("no translation models installed: nothing to do")
        return 1
    report = translate_content(engine, translator)
    if not sum(report.translated.values()):
        _out("nothing to translate: every installed language has a current text for everything")
    for lang, n in sorted(report.translated.items()):
        _out(f"{lang}: {n} texts machine-translated (status machine, for review)")
    _out(f"{report.kept_human} outdated human texts kept (review them in the console)")
    for failure in report.failed:
        _err(f"failed: {failure}")
    return 1 if report.failed else 0


# --- installing ---------------------------------------------------------------------------------


def inspect_package_file(path: Path) -> tuple[str, dict[str, Any]]:
    """Check an ``.argosmodel`` file before installing it; returns its folder name and metadata."""
    if not path.is_file():
        raise InstallError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise InstallError(f"{path.name} is not an Argos package (must be a zip archive)")
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if n]
        for name in names:
            parts = PurePosixPath(name).parts
            if name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
                raise InstallError(f"{path.name} contains an unsafe path: {name}")
        tops = {PurePosixPath(n).parts[0] for n in names}
        if len(tops) != 1:
            raise InstallError(f"{path.name} must contain exactly one folder, not {sorted(tops)}")
        top = tops.pop()
        try:
            meta = json.loads(zf.read(f"{top}/metadata.json"))
        except KeyError as exc:
            raise InstallError(f"{path.name} has no metadata.json") from exc
        except ValueError as exc:
            raise InstallError(f"{path.name}: metadata.json is not JSON") from exc
        if not isinstance(meta, dict):
            raise InstallError(f"{path.name}: metadata.json is not an object")
        if meta.get("type", "translate") != "translate":
            raise InstallError(f"{path.name} is a {meta.get('type')!r} package, not a translation model")
        if not meta.get("from_code") or not meta.get("to_code"):
            raise InstallError(f"{path.name}: metadata.json names no from_code/to_code")
        if f"{top}/model/model.bin" not in names:
            raise InstallError(f"{path.name} has no CTranslate2 model (model/model.bin)")
        if f"{top}/sentencepiece.model" not in names:
            raise InstallError(f"{path.name} has no sentencepiece.model (BPE models are not supported)")
    return top, meta


def install_file(path: Path) -> ModelPackage:
    """Install an ``.argosmodel`` file with argostranslate's package manager (replaces old versions)."""
    from argostranslate import package, settings

    top, meta = inspect_package_file(path)
    pair = (str(meta["from_code"]), str(meta["to_code"]))
    install_dir = Path(settings.package_data_dir)
    target = install_dir / top
    backup = install_dir / f".{top}.previous"
    if target.exists():  # a reinstall starts clean, but the old copy stays until the new one works
        shutil.rmtree(backup, ignore_errors=True)
        target.rename(backup)
    try:
        package.install_from_path(path)
        installed = next((p for p in find_packages([install_dir]) if p.path.name == top), None)
        if installed is None:
            raise InstallError(f"{path.name} was extracted but is not a usable package")
    except Exception as exc:  # argostranslate raises bare Exception for bad archives
        shutil.rmtree(target, ignore_errors=True)
        if backup.exists():
            backup.rename(target)
        if isinstance(exc, InstallError):
            raise
        raise InstallError(f"argostranslate could not install {path.name}: {exc}") from exc
    shutil.rmtree(backup, ignore_errors=True)
    for old in find_packages([install_dir], newest_only=False):
        if old.pair == pair and old.path.name != top:
            logger.info("removing %s %s (replaced by %s)", old.pair, old.version, top)
            shutil.rmtree(old.path)
    return installed


def _index_json_url(url: str) -> str:
    return url if url.endswith(".json") else url.rstrip("/") + "/index.json"


def install_from_index(codes: list[str], *, index_url: str | None = None) -> int:
    """Install every pair between ``codes`` (English is added: all Argos models pair with it)."""
    from argostranslate import package, settings

    wanted_codes = set(codes) | {"en"}
    if index_url:
        settings.remote_package_index = _index_json_url(index_url)
    local = Path(settings.local_package_index)
    before = local.stat().st_mtime_ns if local.exists() else None
    package.update_package_index()
    if not local.exists():
        _err(f"could not download the package index {settings.remote_package_index}")
        return 1
    if local.stat().st_mtime_ns == before:
        _err(f"could not update the package index {settings.remote_package_index}; using the copy")
    try:
        available = [p for p in package.get_available_packages() if p.type == "translate"]
    except (OSError, ValueError) as exc:
        _err(f"the package index is unreadable: {exc}")
        return 1
    wanted = [p for p in available if p.from_code in wanted_codes and p.to_code in wanted_codes]
    missing = sorted(
        c for c in wanted_codes - {"en"} if not any(c in (p.from_code, p.to_code) for p in wanted)
    )
    installed = {p.pair: p for p in find_packages()}
    failed = 0
    for pkg in sorted(wanted, key=lambda p: (p.from_code, p.to_code)):
        pair = (pkg.from_code, pkg.to_code)
        have = installed.get(pair)
        if have is not None and version_key(have.version) >= version_key(pkg.package_version):
            _out(f"{pair[0]}->{pair[1]} {have.version}: up to date")
            continue
        try:
            download = Path(pkg.download())
        except Exception as exc:  # argostranslate raises bare Exception when a download fails
            _err(f"{pair[0]}->{pair[1]}: download failed: {exc}")
            failed += 1
            continue
        try:
            new = install_file(download)
            _out(f"{pair[0]}->{pair[1]} {new.version}: installed")
        except InstallError as exc:
            _err(f"{pair[0]}->{pair[1]}: {exc}")
            failed += 1
        finally:
            download.unlink(missing_ok=True)
    for code in missing:
        _err(f"{code}: the index has no model for this language (use reviewed content or a person)")
    if not failed and not missing:
        _out("restart the app to use new models")
    return 1 if failed or missing else 0


# --- pre-translating content --------------------------------------------------------------------


@dataclass
class ContentReport:
    """What ``translate_content`` did."""

    translated: Counter[str] = field(default_factory=Counter)
    kept_human: int = 0
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Text:
    owner_type: str
    owner_key: str
    field: str
    version: int
    german: str


def _content_texts(engine: Engine) -> tuple[list[_Text], dict[tuple[str, str, str, str], Translation]]:
    with session_scope(engine) as session:
        versions = {
            ("faq", e.key): e.version
            for e in session.exec(select(FaqEntry).where(col(FaqEntry.active))).all()
        }
        versions.update({("message", m.key): m.version for m in session.exec(select(BotMessage)).all()})
        rows = session.exec(
            select(Translation).where(col(Translation.owner_type).in_(["faq", "message"]))
        ).all()
    texts = [
        _Text(r.owner_type, r.owner_key, r.field, versions[(r.owner_type, r.owner_key)], r.text)
        for r in rows
        if r.language == MASTER
        and (r.owner_type, r.owner_key) in versions
        and (r.owner_type == "message" or r.field in ("question", "answer"))
    ]
    existing = {(r.owner_type, r.owner_key, r.field, r.language): r for r in rows}
    return sorted(texts, key=lambda t: (t.owner_type, t.owner_key, t.field)), existing


def translate_content(
    engine: Engine, translator: Any, languages: list[str] | None = None
) -> ContentReport:
    """Machine-translate FAQ entries and bot messages with no current text, as ``machine`` drafts.

    Human texts (reviewed or draft) are never replaced, not even outdated ones; a machine draft of an
    older master version is replaced by a new one.
    """
    report = ContentReport()
    texts, existing = _content_texts(engine)
    targets = [
        lang
        for lang in (languages or list(LANGUAGES))
        if lang != MASTER and route_of(translator, MASTER, lang) is not None
    ]
    for lang in targets:
        todo: list[_Text] = []
        for t in texts:
            row = existing.get((t.owner_type, t.owner_key, t.field, lang))
            if row is None or row.status == TextStatus.MACHINE:
                if row is None or row.source_version < t.version:
                    todo.append(t)
            elif row.source_version < t.version:
                report.kept_human += 1
        for i in range(0, len(todo), CONTENT_CHUNK):
            chunk = todo[i : i + CONTENT_CHUNK]
            try:
                results = results_of(translator, [t.german for t in chunk], MASTER, lang)
            except TranslationUnavailable as exc:
                report.failed.append(f"{lang}: {len(chunk)} texts: {exc}")
                continue
            with session_scope(engine) as session:
                for t, result in zip(chunk, results, strict=True):
                    content.store_machine_translation(
                        session=session,
                        owner_type=t.owner_type,
                        owner_key=t.owner_key,
                        field=t.field,
                        language=lang,
                        text=result.text,
                        source_version=t.version,
                    )
            report.translated[lang] += len(chunk)
        logger.info("content %s->%s: %d texts translated", MASTER, lang, report.translated[lang])
    return report
