"""The product's machine translation: protection, glossary, memory and a timeout around the engine.

``TranslationService`` is a ``Translator`` (``supports``/``translate``) that the renderer, the inbound
path of the conversation and the hand-off use. For each call:

1. a text that is exactly a stored content text with a reviewed translation gets that translation;
2. URLs, phone numbers, dates, amounts, codes, placeholders and glossary terms are protected
   (``translations.protect``); glossary terms get their explanation in the target language;
3. each masked text is looked up in the translation memory; only the misses go to the engine, all in
   one batch, in a daemon thread, within the timeout;
4. after an engine failure or timeout, machine translation pauses for ``cooldown`` seconds, so a page
   with twenty texts does not wait twenty timeouts: callers fall back to human content at once.

Results say where a text came from and which route it took (``TranslationResult.route``: a pivot
through English shows as ``("de", "en", "ar")``).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from storage.db import session_scope
from storage.vocabulary import MASTER_LANGUAGE
from translations.engine import (
    Provenance,
    TranslationResult,
    TranslationUnavailable,
    call_with_timeout,
    route_of,
)
from translations.glossary import Glossary, GlossaryStore
from translations.memory import TranslationMemory, human_translations
from translations.protect import translate_protected

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 2.0  # a person waits at most this long for the model (§4 #24)
DEFAULT_COOLDOWN = 30.0


def _outer_space(original: str, text: str) -> str:
    lead = original[: len(original) - len(original.lstrip())]
    trail = original[len(original.rstrip()) :]
    return lead + text.strip() + trail


class TranslationService:
    """Safe, remembered machine translation over an engine such as ``ArgosTranslator``."""

    def __init__(
        self,
        engine: Any,
        *,
        db: Engine | None = None,
        glossary: GlossaryStore | Glossary | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        cooldown: float = DEFAULT_COOLDOWN,
    ) -> None:
        self.engine = engine
        self.db = db
        self.memory = TranslationMemory(db) if db is not None else None
        if isinstance(glossary, Glossary):
            glossary = GlossaryStore.fixed(glossary)
        self.glossary = glossary if glossary is not None else GlossaryStore(db)
        self.timeout = timeout
        self.cooldown = cooldown
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def with_timeout(self, timeout: float) -> TranslationService:
        """The same service (engine, memory, glossary) with another time limit (offline batch work)."""
        copy = TranslationService(self.engine, db=None, glossary=self.glossary, timeout=timeout)
        copy.db, copy.memory, copy.cooldown = self.db, self.memory, self.cooldown
        return copy

    def without_memory(self) -> TranslationService:
        """The same service that keeps nothing: for what people write (their texts are never stored in
        the shared translation memory, so erasing a person leaves nothing of theirs there)."""
        copy = TranslationService(self.engine, db=None, glossary=self.glossary, timeout=self.timeout)
        copy.db, copy.memory, copy.cooldown = self.db, None, self.cooldown
        return copy

    # --- what is possible ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The engine's name (``argos``)."""
        return str(getattr(self.engine, "name", type(self.engine).__name__))

    @property
    def pairs(self) -> set[tuple[str, str]]:
        """The engine's direct pairs."""
        return set(getattr(self.engine, "pairs", set()))

    def route(self, source: str, target: str) -> list[tuple[str, str]] | None:
        """The hops from ``source`` to ``target`` (direct, through English), or None."""
        path = route_of(self.engine, source, target)
        if path is None:
            return None
        return list(itertools.pairwise(path))

    def supports(self, source: str, target: str) -> bool:
        """Whether the engine has a direct or pivot route."""
        return route_of(self.engine, source, target) is not None

    @property
    def paused(self) -> bool:
        """Whether machine translation is paused after a failure."""
        return time.monotonic() < self._paused_until

    # --- translating -----------------------------------------------------------------------------

    def translate(self, text: str, source: str, target: str) -> str:
        """Translate one text or raise ``TranslationUnavailable`` (within the timeout)."""
        return self.translate_results([text], source, target)[0].text

    def translate_batch(self, texts: list[str], source: str, target: str) -> list[str]:
        """Translate several texts in one engine call."""
        return [r.text for r in self.translate_results(texts, source, target)]

    def translate_results(
        self,
        texts: Sequence[str],
        source: str,
        target: str,
        *,
        explain: bool | None = None,
    ) -> list[TranslationResult]:
        """Translate with provenance and route; glossary explanations by default only from German."""
        deadline = time.monotonic() + self.timeout
        texts = list(texts)
        if source == target:
            return [TranslationResult(t, source, target, (source,), Provenance.UNCHANGED) for t in texts]
        path = route_of(self.engine, source, target)
        if path is None:
            raise TranslationUnavailable(f"no model for {source}->{target}")
        route = ">".join(path)

        results: list[TranslationResult | None] = [None] * len(texts)
        for i, human in self._human(texts, source, target).items():
            results[i] = TranslationResult(human, source, target, (), Provenance.HUMAN)
        pending = [i for i, r in enumerate(results) if r is None]

        fresh: set[str] = set()
        routes: dict[str, str] = {}

        def translate_units(units: list[str]) -> list[str]:
            known = self.memory.get_many(units, source, target) if self.memory else {}
            missing = [u for u in units if u not in known]
            if missing:
                out = self._engine_call(missing, source, target, deadline)
                fresh.update(missing)
                if self.memory is not None:
                    self.memory.put_many(list(zip(missing, out, strict=True)), source, target, route)
                known.update({u: (o, route) for u, o in zip(missing, out, strict=True)})
            routes.update({u: known[u][1] for u in units})
            return [known[u][0] for u in units]

        if explain is None:
            explain = source == MASTER_LANGUAGE
        translated = translate_protected(
            [texts[i] for i in pending],
            translate_units,
            self.glossary.current(),
            explain_language=target if explain else None,
        )
        for i, (text, units) in zip(pending, translated, strict=True):
            if not units:
                results[i] = TranslationResult(text, source, target, (), Provenance.UNCHANGED)
            elif any(u in fresh for u in units):
                results[i] = TranslationResult(text, source, target, path, Provenance.MACHINE)
            else:
                stored = tuple(routes[units[0]].split(">"))
                results[i] = TranslationResult(text, source, target, stored, Provenance.MEMORY)
        return [r for r in results if r is not None]

    def _human(self, texts: list[str], source: str, target: str) -> dict[int, str]:
        if self.db is None:
            return {}
        try:
            with session_scope(self.db) as session:
                found = human_translations(session, texts, source, target)
        except SQLAlchemyError as exc:
            logger.warning("human translations not readable: %s", exc)
            return {}
        return {i: _outer_space(t, found[t.strip()]) for i, t in enumerate(texts) if t.strip() in found}

    def _engine_call(self, units: list[str], source: str, target: str, deadline: float) -> list[str]:
        now = time.monotonic()
        if now < self._paused_until:
            raise TranslationUnavailable("machine translation is paused after a failure")
        remaining = deadline - now
        if remaining <= 0:
            raise TranslationUnavailable("no time left for machine translation")
        engine = self.engine
        if hasattr(engine, "translate_batch"):
            fn = engine.translate_batch
        else:

            def fn(items: list[str], s: str, t: str) -> list[str]:
                return [engine.translate(u, s, t) for u in items]

        try:
            out: list[str] = call_with_timeout(
                fn, units, source, target, timeout=remaining, what=f"{source}->{target}"
            )
            if len(out) != len(units):
                raise TranslationUnavailable(f"engine returned {len(out)} texts for {len(units)}")
        except TranslationUnavailable as exc:
            with self._lock:
                self._paused_until = time.monotonic() + self.cooldown
            logger.warning(
                "machine translation %s->%s unavailable, paused for %g s: %s",
                source,
                target,
                self.cooldown,
                exc,
            )
            raise
        return out
