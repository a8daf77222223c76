"""Choose the translation engine: Argos when models are installed, otherwise none."""

from __future__ import annotations

import logging

from translations.engine import NullTranslator, Translator

logger = logging.getLogger(__name__)


def build_translator() -> Translator:
    try:
        from translations.argos import ArgosTranslator
    except ImportError as exc:  # argostranslate missing: the product works without MT
        logger.info("machine translation disabled: %s", exc)
        return NullTranslator()
    translator = ArgosTranslator.from_installed()
    if not translator.pairs:
        logger.info("no Argos language models installed: machine translation is off")
        return NullTranslator()
    logger.info("machine translation pairs: %s", sorted(translator.pairs))
    return translator
