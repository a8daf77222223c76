"""Choose the translation engine: Argos when models are installed, otherwise none."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.engine import Engine

from translations.argos import ArgosTranslator
from translations.engine import NullTranslator, Translator
from translations.service import DEFAULT_TIMEOUT, TranslationService

logger = logging.getLogger(__name__)


def build_translator(
    engine: Engine | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    dirs: list[Path] | None = None,
    threads: int | None = None,
    preload: bool = False,
) -> Translator:
    """The product's translator: protected, remembered (with ``engine``) and time-limited Argos MT."""
    argos = ArgosTranslator.from_installed(dirs, threads=threads)
    if not argos.pairs:
        logger.info("no Argos language models installed: machine translation is off")
        return NullTranslator()
    logger.info(
        "machine translation pairs: %s (%d threads)",
        ", ".join(f"{a}->{b}" for a, b in sorted(argos.pairs)),
        argos.threads,
    )
    if preload:
        argos.preload()
    return TranslationService(argos, db=engine, timeout=timeout)
