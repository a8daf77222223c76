"""Offline machine translation with Argos Translate packages, run through CTranslate2 directly.

Argos packages (``.argosmodel`` files) are installed with argostranslate's own package manager. For
translating we read the same package folders and call CTranslate2 and SentencePiece ourselves: each model
is loaded once and shared, several sentences go through in one batch, and nothing is ever fetched from
the network (argostranslate 1.11's default sentence splitter downloads a model on first use; ours is a
plain rule-based splitter). All Argos models pair with English, so other pairs pivot through English.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

PIVOT = "en"
_SENTENCE_END = re.compile(r"(?<=[.!?؟։。])\s+|\n+")


@dataclass(frozen=True)
class ModelPackage:
    from_code: str
    to_code: str
    path: Path
    version: str = ""

    @property
    def pair(self) -> tuple[str, str]:
        return (self.from_code, self.to_code)


def package_dirs() -> list[Path]:
    """Where argostranslate installs packages (honours ``ARGOS_PACKAGES_DIR``)."""
    from argostranslate import settings

    return [Path(p) for p in settings.package_dirs]


def find_packages(dirs: list[Path] | None = None) -> list[ModelPackage]:
    found = []
    for base in dirs if dirs is not None else package_dirs():
        if not base.is_dir():
            continue
        for meta in sorted(base.glob("*/metadata.json")):
            try:
                data = json.loads(meta.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                logger.warning("unreadable package metadata %s", meta)
                continue
            if data.get("type", "translate") != "translate":
                continue
            pkg_dir = meta.parent
            if not (pkg_dir / "model").is_dir() or not (pkg_dir / "sentencepiece.model").is_file():
                logger.warning("package %s is not a SentencePiece/CTranslate2 package", pkg_dir.name)
                continue
            found.append(
                ModelPackage(
                    data["from_code"], data["to_code"], pkg_dir, str(data.get("package_version", ""))
                )
            )
    return found


def split_sentences(text: str) -> list[str]:
    return [s for s in (p.strip() for p in _SENTENCE_END.split(text)) if s]


class _Loaded:
    def __init__(self, pkg: ModelPackage, threads: int) -> None:
        import ctranslate2
        import sentencepiece

        self.sp = sentencepiece.SentencePieceProcessor(model_file=str(pkg.path / "sentencepiece.model"))
        self.model = ctranslate2.Translator(
            str(pkg.path / "model"), device="cpu", inter_threads=1, intra_threads=threads
        )
        self.lock = threading.Lock()

    def translate(self, sentences: list[str], beam_size: int) -> list[str]:
        tokens = [self.sp.encode(s, out_type=str) for s in sentences]
        with self.lock:
            results = self.model.translate_batch(
                tokens, beam_size=beam_size, max_decoding_length=256, max_batch_size=32
            )
        return [self.sp.decode(r.hypotheses[0]) for r in results]


class ArgosTranslator:
    """Translate with installed Argos packages; pivots through English when needed."""

    def __init__(
        self, packages: list[ModelPackage], *, threads: int | None = None, beam_size: int = 2
    ) -> None:
        self.packages = {p.pair: p for p in packages}
        self.threads = threads or max(1, (os.cpu_count() or 2))
        self.beam_size = beam_size
        self._loaded: dict[tuple[str, str], _Loaded] = {}
        self._load_lock = threading.Lock()

    @classmethod
    def from_installed(cls, dirs: list[Path] | None = None, **kw: Any) -> ArgosTranslator:
        return cls(find_packages(dirs), **kw)

    @property
    def pairs(self) -> set[tuple[str, str]]:
        return set(self.packages)

    def route(self, source: str, target: str) -> list[tuple[str, str]] | None:
        """The hops from ``source`` to ``target``: direct, or through English, or None."""
        if source == target:
            return []
        if (source, target) in self.packages:
            return [(source, target)]
        if (source, PIVOT) in self.packages and (PIVOT, target) in self.packages:
            return [(source, PIVOT), (PIVOT, target)]
        return None

    def supports(self, source: str, target: str) -> bool:
        return self.route(source, target) is not None

    def _model(self, pair: tuple[str, str]) -> _Loaded:
        with self._load_lock:
            if pair not in self._loaded:
                logger.info("loading translation model %s->%s", *pair)
                self._loaded[pair] = _Loaded(self.packages[pair], self.threads)
            return self._loaded[pair]

    def translate_batch(self, texts: list[str], source: str, target: str) -> list[str]:
        """Translate several texts, all sentences of all texts in one batch per hop."""
        from translations.engine import TranslationUnavailable

        hops = self.route(source, target)
        if hops is None:
            raise TranslationUnavailable(f"no model for {source}->{target}")
        current = list(texts)
        for pair in hops:
            splits = [split_sentences(t) for t in current]
            flat = [s for parts in splits for s in parts]
            try:
                out = self._model(pair).translate(flat, self.beam_size) if flat else []
            except (RuntimeError, ValueError, OSError) as exc:
                raise TranslationUnavailable(f"{pair[0]}->{pair[1]} failed: {exc}") from exc
            it = iter(out)
            current = [" ".join(next(it) for _ in parts) for parts in splits]
        return current

    def translate(self, text: str, source: str, target: str) -> str:
        return self.translate_batch([text], source, target)[0]
