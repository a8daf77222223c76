"""Machine-translation engines behind one small interface, and how to call them safely.

The product must work with no model installed: ``NullTranslator`` supports no pair and every caller
falls back to human content. ``translations.argos`` implements the real offline engine and
``translations.service`` wraps it with placeholder protection, the glossary, the translation memory
and a timeout.

An engine may hang or crash (a broken model, a machine out of memory). ``call_with_timeout`` and
``translate_async`` run it in a daemon thread and give up after the timeout, so a hanging engine
neither blocks the event loop nor holds up shutdown, and callers always get ``TranslationUnavailable``
instead of an exception they do not expect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class TranslationUnavailable(Exception):
    """The pair is not installed, the engine failed, or it ran out of time."""


class Translator(Protocol):
    """Offline machine translation."""

    def supports(self, source: str, target: str) -> bool:
        """Whether ``source`` → ``target`` can be translated (directly or through English)."""
        ...

    def translate(self, text: str, source: str, target: str) -> str:
        """Translate or raise ``TranslationUnavailable``."""
        ...

    def with_timeout(self, timeout: float) -> Translator:
        """The same translator with another time limit."""
        ...

    def without_memory(self) -> Translator:
        """The same translator keeping nothing in the translation memory (people's own texts)."""
        ...


class Provenance:
    """Where the text of a ``TranslationResult`` came from."""

    MACHINE = "machine"  # the model translated it just now
    MEMORY = "memory"  # the model translated it before (translation memory)
    HUMAN = "human"  # a reviewed human translation of the same text exists
    UNCHANGED = "unchanged"  # nothing to translate (same language, no words)


@dataclass(frozen=True)
class TranslationResult:
    """A translated text and how it was made: ``route`` lists the languages it went through."""

    text: str
    source: str
    target: str
    route: tuple[str, ...] = ()
    origin: str = Provenance.MACHINE

    @property
    def pivot(self) -> str | None:
        """The language in the middle (English) when there was no direct model, else None."""
        return self.route[1] if len(self.route) > 2 else None

    @property
    def machine(self) -> bool:
        """Whether a machine produced the text (now or from the memory): the UI must say so."""
        return self.origin in (Provenance.MACHINE, Provenance.MEMORY)


class NullTranslator:
    """No machine translation: every pair is unsupported."""

    def supports(self, source: str, target: str) -> bool:
        """No pair is supported."""
        return False

    def translate(self, text: str, source: str, target: str) -> str:
        """Always raises ``TranslationUnavailable``."""
        raise TranslationUnavailable(f"no engine for {source}->{target}")

    def with_timeout(self, timeout: float) -> NullTranslator:
        """Itself: there is nothing to wait for."""
        return self

    def without_memory(self) -> NullTranslator:
        """Itself: it keeps nothing."""
        return self


def route_of(translator: Any, source: str, target: str) -> tuple[str, ...] | None:
    """The languages from ``source`` to ``target`` for any engine: (de, en, ar), (de, en) or None."""
    if source == target:
        return (source,)
    route = getattr(translator, "route", None)
    if callable(route):
        hops = route(source, target)
        if hops is None:
            return None
        return (source, *(h[1] for h in hops))
    return (source, target) if translator.supports(source, target) else None


def results_of(translator: Any, texts: list[str], source: str, target: str) -> list[TranslationResult]:
    """Translate with whatever the engine offers: results, a batch, or one text at a time."""
    if hasattr(translator, "translate_results"):
        results: list[TranslationResult] = translator.translate_results(texts, source, target)
        return results
    route = route_of(translator, source, target) or (source, target)
    if hasattr(translator, "translate_batch"):
        out: list[str] = translator.translate_batch(texts, source, target)
    else:
        out = [translator.translate(t, source, target) for t in texts]
    if len(out) != len(texts):
        raise TranslationUnavailable(f"engine returned {len(out)} texts for {len(texts)}")
    return [TranslationResult(o, source, target, route) for o in out]


def _start(fn: Callable[..., T], args: tuple[Any, ...], done: Callable[[Future[T]], None]) -> None:
    future: Future[T] = Future()

    def work() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # handed to the waiting caller, which decides
            future.set_exception(exc)

    future.add_done_callback(done)
    # A daemon thread: an engine that never returns cannot hold up the process at exit.
    threading.Thread(target=work, name="mt-call", daemon=True).start()


def _unavailable(exc: BaseException, what: str) -> TranslationUnavailable:
    if isinstance(exc, TranslationUnavailable):
        return exc
    logger.warning("machine translation failed (%s): %r", what, exc)
    return TranslationUnavailable(f"{what} failed: {exc!r}")


def call_with_timeout(fn: Callable[..., T], *args: Any, timeout: float, what: str = "engine") -> T:
    """Run ``fn(*args)`` in a daemon thread; ``TranslationUnavailable`` on error or after ``timeout``."""
    box: list[Future[T]] = []
    finished = threading.Event()

    def done(f: Future[T]) -> None:
        box.append(f)
        finished.set()

    _start(fn, args, done)
    if not finished.wait(timeout):
        raise TranslationUnavailable(f"{what} did not answer within {timeout:g} s")
    try:
        return box[0].result(timeout=0)
    except FutureTimeout as exc:  # cannot happen once finished; keeps the types honest
        raise TranslationUnavailable(f"{what} did not answer") from exc
    except BaseException as exc:
        raise _unavailable(exc, what) from exc


async def translate_async(
    translator: Any,
    texts: list[str],
    source: str,
    target: str,
    timeout: float = 3.0,  # noqa: ASYNC109 (a hung engine thread cannot be cancelled; we stop waiting)
) -> list[TranslationResult]:
    """Translate off the event loop; ``TranslationUnavailable`` on failure or after ``timeout`` s."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[list[TranslationResult]] = loop.create_future()

    def settle(f: Future[list[TranslationResult]]) -> None:
        def apply() -> None:
            if waiter.done():
                return
            exc = f.exception()
            if exc is not None:
                waiter.set_exception(_unavailable(exc, f"{source}->{target}"))
            else:
                waiter.set_result(f.result())

        with contextlib.suppress(RuntimeError):  # the loop closed while the engine still worked
            loop.call_soon_threadsafe(apply)

    _start(results_of, (translator, list(texts), source, target), settle)
    try:
        return await asyncio.wait_for(waiter, timeout)
    except TimeoutError as exc:
        raise TranslationUnavailable(f"{source}->{target} did not answer within {timeout:g} s") from exc
