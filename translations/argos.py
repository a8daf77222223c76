"""Offline machine translation with Argos Translate packages, run through CTranslate2 directly.

Argos packages (``.argosmodel`` files) are installed with argostranslate's own package manager
(``lotse models install``). For translating we read the same package folders and call CTranslate2 and
SentencePiece ourselves:

* each model is loaded once per process and shared by every ``ArgosTranslator`` (``_MODELS``);
* all sentences of all texts of one call go through CTranslate2 in one batch per hop;
* CTranslate2 gets every core of the machine as ``intra_threads`` (one request at a time is the
  normal load of a Kreis; ``inter_threads × intra_threads`` never exceeds the cores);
* nothing is ever fetched from the network: argostranslate 1.11's ``translate()`` downloads a MiniSBD
  sentence-splitter model on first use, so the product never calls it; sentences are split by the
  rule-based ``split_sentences`` below, which knows German abbreviations ("z. B.", "Abs.", "Nr.").

All Argos models pair with English, so other pairs pivot through English, and the route says so.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from translations.engine import TranslationUnavailable

logger = logging.getLogger(__name__)

PIVOT = "en"
MAX_SENTENCE_PIECES = 200  # longer "sentences" (no punctuation) are cut into chunks of this size
MAX_BATCH = 32

Pair = tuple[str, str]


@dataclass(frozen=True)
class ModelPackage:
    """One installed Argos translation package (a folder with ``model/`` and SentencePiece)."""

    from_code: str
    to_code: str
    path: Path
    version: str = ""
    target_prefix: str = ""

    @property
    def pair(self) -> Pair:
        """The language pair, e.g. ``("de", "en")``."""
        return (self.from_code, self.to_code)


def package_dirs() -> list[Path]:
    """Where argostranslate installs packages (honours ``ARGOS_PACKAGES_DIR``)."""
    from argostranslate import settings

    return [Path(p) for p in settings.package_dirs]


def read_metadata(pkg_dir: Path) -> dict[str, Any] | None:
    """The ``metadata.json`` of a package folder, or None when it is missing or unreadable."""
    try:
        data = json.loads((pkg_dir / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def find_packages(dirs: list[Path] | None = None, *, newest_only: bool = True) -> list[ModelPackage]:
    """Installed translation packages this engine can run (SentencePiece + CTranslate2)."""
    found: dict[Pair, ModelPackage] = {}
    every: list[ModelPackage] = []
    for base in dirs if dirs is not None else package_dirs():
        if not base.is_dir():
            continue
        for meta in sorted(base.glob("[!.]*/metadata.json")):
            data = read_metadata(meta.parent)
            if data is None:
                logger.warning("unreadable package metadata %s", meta)
                continue
            if data.get("type", "translate") != "translate":
                continue
            pkg_dir = meta.parent
            if not (pkg_dir / "model").is_dir() or not (pkg_dir / "sentencepiece.model").is_file():
                logger.warning("package %s is not a SentencePiece/CTranslate2 package", pkg_dir.name)
                continue
            if not data.get("from_code") or not data.get("to_code"):
                logger.warning("package %s names no language pair", pkg_dir.name)
                continue
            pkg = ModelPackage(
                str(data["from_code"]),
                str(data["to_code"]),
                pkg_dir,
                str(data.get("package_version", "")),
                str(data.get("target_prefix", "") or ""),
            )
            every.append(pkg)
            old = found.get(pkg.pair)
            if old is not None and version_key(old.version) >= version_key(pkg.version):
                continue  # two versions of one pair installed: the newer one wins
            found[pkg.pair] = pkg
    return list(found.values()) if newest_only else every


def version_key(version: str) -> tuple[int, ...]:
    """A package version as numbers, for comparing ("1.9" < "1.10")."""
    return tuple(int(p) for p in re.findall(r"\d+", version))


def available_cores() -> int:
    """CPU cores this process may use (honours CPU affinity, e.g. in containers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# --- sentences ------------------------------------------------------------------------------------

# A period after these words (lower case, without the period) does not end a sentence.
_ABBREVIATIONS_TEXT = """
    abs bzw ca dr evtl ggf gem inkl max min mind nr str tel usw vgl sog zb zzgl abschn art bspw
    d.h u.a z.b e.v hr fr prof st jan feb mär apr jun jul aug sep sept okt nov dez ff s
    e.g i.e mr mrs ms no approx incl etc vs dept jr sr
"""
ABBREVIATIONS = frozenset(_ABBREVIATIONS_TEXT.split())
_BOUNDARY = re.compile(r"(?P<end>[.!?…؟۔。]+[\"'»“”)\]]*)(?P<ws>\s+)|(?P<nl>[ \t]*\n\s*)")


def split_with_separators(text: str) -> list[tuple[str, str]]:
    """Split into sentences, each with the whitespace after it (newlines are kept as they were)."""
    parts: list[tuple[str, str]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.group("end") is not None:
            ws = m.group("ws")
            if "\n" not in ws and not _ends_sentence(text, m.start(), m.group("end"), m.end()):
                continue
            cut, sep = m.start("ws"), ws
        else:
            cut, sep = m.start(), m.group("nl")
        sentence = text[start:cut].strip()
        if sentence:
            parts.append((sentence, sep))
        elif parts and "\n" in sep:
            parts[-1] = (parts[-1][0], parts[-1][1] + sep)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        parts.append((tail, ""))
    return parts


def _ends_sentence(text: str, punct_at: int, punct: str, next_at: int) -> bool:
    following = text[next_at : next_at + 1]
    if following and following.islower():
        return False  # "z. B. eine", "ca. drei"
    if punct != ".":
        return True
    word = re.search(r"(\S+)$", text[:punct_at])
    if word is None:
        return True
    token = word.group(1).lstrip("([\"'„«").lower()
    if token in ABBREVIATIONS or re.fullmatch(r"[^\W\d_]", token):
        return False  # "Abs. 2", "Dr. Müller", "B. Sie"
    return not re.fullmatch(r"\d{1,2}", token)  # "am 3. Oktober" (ordinal); "2025." ends


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (rule-based, offline)."""
    return [s for s, _ in split_with_separators(text)]


def join_sentences(parts: list[tuple[str, str]]) -> str:
    """Join translated sentences with the separators of the original (newlines kept, else a space)."""
    out = []
    for sentence, sep in parts:
        out.append(sentence)
        if sep:
            out.append("\n" * sep.count("\n") if "\n" in sep else " ")
    return "".join(out).strip()


# --- models ---------------------------------------------------------------------------------------


class _Loaded:
    """One CTranslate2 model and its SentencePiece processor, shared by the whole process."""

    def __init__(self, pkg: ModelPackage, threads: int, compute_type: str) -> None:
        import ctranslate2
        import sentencepiece

        self.package = pkg
        self.sp = sentencepiece.SentencePieceProcessor(model_file=str(pkg.path / "sentencepiece.model"))
        # CTranslate2 is thread-safe and releases the GIL; one worker uses all cores for one batch.
        self.model = ctranslate2.Translator(
            str(pkg.path / "model"),
            device="cpu",
            compute_type=compute_type,
            inter_threads=1,
            intra_threads=threads,
        )

    def translate(self, sentences: list[str], beam_size: int) -> list[str]:
        """Translate sentences in one CTranslate2 call (over-long ones in chunks)."""
        pieces = [self.sp.encode(s, out_type=str) for s in sentences]
        chunks: list[list[str]] = []
        owner: list[int] = []
        for i, tokens in enumerate(pieces):
            for part in _chunk(tokens):
                chunks.append(part)
                owner.append(i)
        if not chunks:
            return ["" for _ in sentences]
        prefix = self.package.target_prefix
        longest = max(len(c) for c in chunks)
        results = self.model.translate_batch(
            chunks,
            target_prefix=[[prefix] for _ in chunks] if prefix else None,
            beam_size=beam_size,
            # Output is rarely longer than twice the input; the cap stops runaway repetition.
            max_decoding_length=2 * longest + 10 + (1 if prefix else 0),
            max_batch_size=MAX_BATCH,
        )
        out: list[list[str]] = [[] for _ in sentences]
        for i, r in zip(owner, results, strict=True):
            hyp = list(r.hypotheses[0])
            if prefix and hyp and hyp[0] == prefix:
                hyp = hyp[1:]
            out[i].append(self.sp.decode(hyp).strip())
        return [" ".join(p for p in parts if p) for parts in out]


def _chunk(tokens: list[str]) -> list[list[str]]:
    """Cut an over-long token list at word starts into pieces CTranslate2 will not truncate."""
    if len(tokens) <= MAX_SENTENCE_PIECES:
        return [tokens] if tokens else []
    chunks: list[list[str]] = []
    current: list[str] = []
    for tok in tokens:
        if len(current) >= MAX_SENTENCE_PIECES or (
            len(current) >= MAX_SENTENCE_PIECES * 3 // 4 and tok.startswith("▁")
        ):
            chunks.append(current)
            current = []
        current.append(tok)
    if current:
        chunks.append(current)
    return chunks


_MODELS: dict[tuple[str, int, str], _Loaded] = {}
_MODELS_LOCK = threading.Lock()
LOADS: Counter[Pair] = Counter()  # how often each pair was loaded in this process (tests, logs)


def _shared_model(pkg: ModelPackage, threads: int, compute_type: str) -> _Loaded:
    key = (str(pkg.path.resolve()), threads, compute_type)
    with _MODELS_LOCK:
        loaded = _MODELS.get(key)
        if loaded is None:
            logger.info(
                "loading translation model %s->%s %s (%d threads)",
                pkg.from_code,
                pkg.to_code,
                pkg.version,
                threads,
            )
            loaded = _MODELS[key] = _Loaded(pkg, threads, compute_type)
            LOADS[pkg.pair] += 1
        return loaded


def unload_models() -> None:
    """Forget every loaded model (after installing new packages, and in tests)."""
    with _MODELS_LOCK:
        _MODELS.clear()


class ArgosTranslator:
    """Translate with installed Argos packages; pivots through English when needed."""

    name = "argos"

    def __init__(
        self,
        packages: list[ModelPackage],
        *,
        threads: int | None = None,
        beam_size: int = 2,
        compute_type: str = "auto",
    ) -> None:
        self.packages = {p.pair: p for p in packages}
        self.threads = threads or available_cores()
        self.beam_size = beam_size
        self.compute_type = compute_type
        # Model calls and sentences per pair, for tests, the benchmark and the logs.
        self.calls: Counter[Pair] = Counter()
        self.sentences: Counter[Pair] = Counter()

    @classmethod
    def from_installed(cls, dirs: list[Path] | None = None, **kw: Any) -> ArgosTranslator:
        """An engine over every package installed in ``dirs`` (default: argostranslate's folders)."""
        return cls(find_packages(dirs), **kw)

    @property
    def pairs(self) -> set[Pair]:
        """The installed direct pairs."""
        return set(self.packages)

    def route(self, source: str, target: str) -> list[Pair] | None:
        """The hops from ``source`` to ``target``: direct, or through English, or None."""
        if source == target:
            return []
        if (source, target) in self.packages:
            return [(source, target)]
        if (source, PIVOT) in self.packages and (PIVOT, target) in self.packages:
            return [(source, PIVOT), (PIVOT, target)]
        return None

    def supports(self, source: str, target: str) -> bool:
        """Whether a direct or pivot route exists."""
        return self.route(source, target) is not None

    def preload(self) -> None:
        """Load every installed model now, so the first person does not wait for it."""
        for pkg in self.packages.values():
            _shared_model(pkg, self.threads, self.compute_type)

    def translate_batch(self, texts: list[str], source: str, target: str) -> list[str]:
        """Translate several texts, all sentences of all texts in one batch per hop."""
        hops = self.route(source, target)
        if hops is None:
            raise TranslationUnavailable(f"no model for {source}->{target}")
        current = list(texts)
        for pair in hops:
            splits = [split_with_separators(t) for t in current]
            flat = [s for parts in splits for s, _ in parts]
            if not flat:
                return ["" for _ in texts]
            try:
                model = _shared_model(self.packages[pair], self.threads, self.compute_type)
                out = model.translate(flat, self.beam_size)
            except (RuntimeError, ValueError, OSError) as exc:
                raise TranslationUnavailable(f"{pair[0]}->{pair[1]} failed: {exc}") from exc
            self.calls[pair] += 1
            self.sentences[pair] += len(flat)
            it = iter(out)
            current = [join_sentences([(next(it), sep) for _, sep in parts]) for parts in splits]
        return current

    def translate(self, text: str, source: str, target: str) -> str:
        """Translate one text."""
        return self.translate_batch([text], source, target)[0]
