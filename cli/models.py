"""``lotse models``: list and install Argos translation models, and pre-translate content.

* ``lotse models list`` — installed packages, their pairs, and the route for every product language;
* ``lotse models install PATH.argosmodel`` — air-gapped servers: copy the files in, install each;
* ``lotse models install --from-index de,en,ar`` — servers with internet: argostranslate's package
  index (``ARGOS_PACKAGE_INDEX``, or ``--index-url``), every pair between the languages;
* ``lotse models translate-content`` — machine-translate every FAQ entry and bot message that has no
  current text in an installed language, stored as ``machine`` drafts for review;
* ``lotse models languages`` — the language registry as a table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lotse.runtime import Runtime
from services.content.pretranslate import CONTENT_TIMEOUT, translate_content
from storage.db import session_scope
from storage.vocabulary import MASTER_LANGUAGE
from translations.argos import ArgosTranslator, find_packages, package_dirs
from translations.engine import NullTranslator, route_of
from translations.install import InstallError, install_file, install_from_index
from translations.languages import LANGUAGES
from translations.registry import language_registry, registry_table


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


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
    actions.add_parser(
        "translate-content", help="machine-translate content missing in installed languages"
    )
    actions.add_parser("languages", help="what the product can do in each language")


def run(args: argparse.Namespace, runtime: Runtime) -> int:
    """Run a ``lotse models`` action; returns the exit code."""
    action = args.models_action
    if action == "list":
        return cmd_list()
    if action == "install":
        if args.from_index:
            codes = [c.strip() for c in args.from_index.split(",") if c.strip()]
            return install_from_index(codes, index_url=args.index_url, say=_out, warn=_err)
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
    if action == "languages":
        with session_scope(runtime.engine) as session:
            _out(registry_table(language_registry(session, runtime.translator)))
        return 0
    return cmd_translate_content(runtime)


def cmd_list() -> int:
    """Print installed packages and what they make possible."""
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
        if code == MASTER_LANGUAGE:
            continue
        outbound = _describe(route_of(argos, MASTER_LANGUAGE, code))
        _out(f"{code}\t{outbound}\t{_describe(route_of(argos, code, 'en'))}")
    return 0


def _describe(route: tuple[str, ...] | None) -> str:
    if route is None:
        return "none"
    if len(route) <= 1:
        return "-"
    return ("direct " if len(route) == 2 else "pivot ") + "→".join(route)


def cmd_translate_content(runtime: Runtime) -> int:
    """Pre-translate content into every installed language."""
    if isinstance(runtime.translator, NullTranslator):
        _err("no translation models installed: nothing to do")
        return 1
    translator = runtime.translator.with_timeout(CONTENT_TIMEOUT)
    report = translate_content(runtime.engine, translator)
    if not sum(report.translated.values()):
        _out("nothing to translate: every installed language has a current text for everything")
    for lang, n in sorted(report.translated.items()):
        _out(f"{lang}: {n} texts machine-translated (status machine, for review)")
    _out(f"{report.kept_human} outdated human texts kept (review them in the console)")
    for failure in report.failed:
        _err(f"failed: {failure}")
    return 1 if report.failed else 0
