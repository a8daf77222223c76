"""Installing Argos translation packages: check an ``.argosmodel`` file, install it with argostranslate's
package manager (air-gapped servers copy the files in), or fetch every pair of some languages from the
Argos package index (servers with internet). Packages go to argostranslate's package folder
(``ARGOS_PACKAGES_DIR``); restart the app afterwards: models are loaded once per process.
"""

from __future__ import annotations

import json
import logging
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from translations.argos import ModelPackage, find_packages, version_key

logger = logging.getLogger(__name__)

Say = Callable[[str], None]


class InstallError(Exception):
    """A package file that cannot or must not be installed."""


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


def _extract(path: Path, install_dir: Path) -> None:
    """Unpack a checked package the way argostranslate's ``install_from_path`` does, under its lock.

    argostranslate's own function imports ``argostranslate.translate`` (and through it stanza, which
    the lean install leaves out) only to clear a language cache; the cache is cleared here when that
    module is loaded at all.
    """
    import sys

    from argostranslate import package

    with package.package_lock:
        install_dir.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path) as zf:
            zf.extractall(path=install_dir)
        translate = sys.modules.get("argostranslate.translate")
        if translate is not None:
            translate.get_installed_languages.cache_clear()


def install_file(path: Path) -> ModelPackage:
    """Install an ``.argosmodel`` file into argostranslate's package folder (replaces old versions)."""
    from argostranslate import settings

    top, meta = inspect_package_file(path)
    pair = (str(meta["from_code"]), str(meta["to_code"]))
    install_dir = Path(settings.package_data_dir)
    target = install_dir / top
    backup = install_dir / f".{top}.previous"
    if target.exists():  # a reinstall starts clean, but the old copy stays until the new one works
        shutil.rmtree(backup, ignore_errors=True)
        target.rename(backup)
    try:
        _extract(path, install_dir)
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


def install_from_index(
    codes: list[str], *, index_url: str | None = None, say: Say = print, warn: Say = print
) -> int:
    """Install every pair between ``codes`` (English is added: all Argos models pair with it)."""
    from argostranslate import package, settings

    wanted_codes = set(codes) | {"en"}
    if index_url:
        settings.remote_package_index = _index_json_url(index_url)
    local = Path(settings.local_package_index)
    before = local.stat().st_mtime_ns if local.exists() else None
    package.update_package_index()
    if not local.exists():
        warn(f"could not download the package index {settings.remote_package_index}")
        return 1
    if local.stat().st_mtime_ns == before:
        warn(f"could not update the package index {settings.remote_package_index}; using the copy")
    try:
        available = [p for p in package.get_available_packages() if p.type == "translate"]
    except (OSError, ValueError) as exc:
        warn(f"the package index is unreadable: {exc}")
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
            say(f"{pair[0]}->{pair[1]} {have.version}: up to date")
            continue
        try:
            download = Path(pkg.download())
        except Exception as exc:  # argostranslate raises bare Exception when a download fails
            warn(f"{pair[0]}->{pair[1]}: download failed: {exc}")
            failed += 1
            continue
        try:
            new = install_file(download)
            say(f"{pair[0]}->{pair[1]} {new.version}: installed")
        except InstallError as exc:
            warn(f"{pair[0]}->{pair[1]}: {exc}")
            failed += 1
        finally:
            download.unlink(missing_ok=True)
    for code in missing:
        warn(f"{code}: the index has no model for this language (use reviewed content or a person)")
    if not failed and not missing:
        say("restart the app to use new models")
    return 1 if failed or missing else 0
