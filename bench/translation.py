"""Translation benchmark: ratios measured in one run on the tiny real model (no download needed).

1. **Batched CTranslate2 vs argostranslate's default ``translate()``** for the same German texts on
   the same de→en package: ``ArgosTranslator.translate_batch`` sends every sentence of every text to
   CTranslate2 in one call; ``argostranslate.translate.translate`` handles one text per call, splits
   sentences with its own sentencizer and decodes with beam 4. To run argostranslate offline, the
   benchmark package carries a blank spaCy pipeline in ``spacy/`` and argostranslate's chunk type is
   set to ``SPACY`` *after* ``argostranslate.sbd`` is imported (set at import time, argostranslate
   would download spaCy's ``xx_sent_ud_sm``; its default MiniSBD splitter downloads an ONNX model on
   first use). Both paths then decode the same sentences with the same model, and their outputs are
   compared.
2. **Translation memory hit vs miss** through ``TranslationService`` with a SQLite database: one text
   per call, as for a person's message; a miss runs the model and stores the result, a hit (in a new
   service, so it comes from the database) does not.

The tiny model (1+1 layers, d_model 128) decodes in well under a millisecond per sentence, so both
ratios show per-call overhead (sentence splitting, Python, one CTranslate2 call per text) more than
model compute. On a real transformer-base Argos model a sentence costs 130–300 ms on 2 vCPUs
(anchors-reliability-performance §1.5): batching then saves less relative time, and a memory hit
saves far more. ``python -m bench.translation [N]`` (N texts, default 60).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.translations.tiny_model import build_packages, corpus


def _texts(n: int) -> list[str]:
    german = [line for line in corpus()[:192] if line]
    # One to three sentences per text, like a person's message or a short answer.
    return [" ".join(german[(i * 3 + k) % len(german)] for k in range(1 + i % 3)) for i in range(n)]


def _best_of(runs: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def _p50(fn: Callable[[str], object], texts: list[str]) -> float:
    times = []
    for text in texts:
        start = time.perf_counter()
        fn(text)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _argostranslate_offline(packages: Path) -> None:
    """Point argostranslate at ``packages`` and make its sentence splitting work without a download."""
    from argostranslate import settings

    settings.package_data_dir = packages
    settings.package_dirs = [packages]
    import argostranslate.sbd  # noqa: F401  (imported before the switch: see the module docstring)

    settings.chunk_type = settings.ChunkType.SPACY


def batching(root: Path, texts: list[str]) -> None:
    """Print batched CTranslate2 against argostranslate's ``translate()`` (same model, same texts)."""
    from argostranslate import package, translate

    from translations.argos import ArgosTranslator, split_sentences

    files = build_packages(root / "build", (("de", "en"),), spacy_sbd=True)
    packages = root / "packages"
    packages.mkdir()
    _argostranslate_offline(packages)
    package.install_from_path(files[("de", "en")])
    translate.get_installed_languages.cache_clear()

    ours = ArgosTranslator.from_installed([packages])
    ours_beam4 = ArgosTranslator.from_installed([packages], beam_size=4)
    sentences = sum(len(split_sentences(t)) for t in texts)

    def argos_default() -> list[str]:
        return [translate.translate(t, "de", "en") for t in texts]

    expected = argos_default()  # also loads the model and the spaCy pipeline (warm-up)
    same = ours.translate_batch(texts, "de", "en") == expected
    ours_beam4.translate_batch(texts, "de", "en")
    t_argos = _best_of(3, argos_default)
    t_ours4 = _best_of(3, lambda: ours_beam4.translate_batch(texts, "de", "en"))
    t_ours = _best_of(3, lambda: ours.translate_batch(texts, "de", "en"))
    print(
        f"translation: {len(texts)} texts, {sentences} sentences, tiny de→en model, "
        f"{ours.threads} threads; outputs identical: {'yes' if same else 'NO'}"
    )
    print(f"  argostranslate translate(), one call per text, beam 4: {t_argos:8.1f} ms")
    print(
        f"  ArgosTranslator.translate_batch, one call, beam 4:      {t_ours4:8.1f} ms"
        f"   ratio {t_argos / t_ours4:5.1f}x"
    )
    print(
        f"  ArgosTranslator.translate_batch, one call, beam 2:      {t_ours:8.1f} ms"
        f"   ratio {t_argos / t_ours:5.1f}x  (product default)"
    )


def memory(root: Path, texts: list[str]) -> None:
    """Print translation-memory hit against miss, one text per call."""
    from storage.db import make_engine
    from storage.migrate import upgrade
    from translations.argos import ArgosTranslator
    from translations.glossary import read_glossary_file
    from translations.service import TranslationService

    packages = root / "packages"
    url = f"sqlite:///{root / 'memory.db'}"
    upgrade(url)
    engine = make_engine(url)
    glossary = read_glossary_file()
    try:
        argos = ArgosTranslator.from_installed([packages])
        miss_service = TranslationService(argos, db=engine, glossary=glossary, timeout=30)
        argos.translate_batch(texts[:3], "de", "en")  # warm-up (model loaded)
        miss = _p50(lambda t: miss_service.translate(t, "de", "en"), texts)
        assert miss_service.memory is not None
        miss_service.memory.flush()
        calls = sum(argos.calls.values())
        hit_service = TranslationService(argos, db=engine, glossary=glossary, timeout=30)
        hit = _p50(lambda t: hit_service.translate(t, "de", "en"), texts)
        assert sum(argos.calls.values()) == calls, "a memory hit reached the model"
    finally:
        engine.dispose()
    print(
        f"translation memory (SQLite, one text per call): miss p50 {miss:6.2f} ms, "
        f"hit p50 {hit:6.2f} ms   ratio {miss / hit:5.1f}x"
    )


def main(argv: list[str] | None = None) -> int:
    """Run both measurements and print them."""
    args = sys.argv[1:] if argv is None else argv
    n = int(args[0]) if args else 60
    texts = _texts(n)
    with tempfile.TemporaryDirectory(prefix="lotse-bench-mt-") as tmp:
        root = Path(tmp)
        batching(root, texts)
        memory(root, texts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
