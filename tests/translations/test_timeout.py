"""A missing, crashing or hanging engine degrades to human content or German within the timeout."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from rendering.renderer import Renderer
from storage.db import session_scope
from storage.models import FaqEntry, TextStatus, Translation
from translations.argos import ArgosTranslator
from translations.engine import TranslationUnavailable, translate_async
from translations.glossary import Glossary, read_glossary_file
from translations.service import TranslationService


class HangingEngine:
    """An engine that never answers in time (a stuck model, a machine out of memory)."""

    def __init__(self, seconds: float = 3.0) -> None:
        self.seconds = seconds
        self.calls = 0
        self.release = threading.Event()

    def supports(self, source: str, target: str) -> bool:
        return True

    def translate_batch(self, texts: list[str], source: str, target: str) -> list[str]:
        self.calls += 1
        self.release.wait(self.seconds)
        return list(texts)

    def translate(self, text: str, source: str, target: str) -> str:
        return self.translate_batch([text], source, target)[0]


class CrashingEngine(HangingEngine):
    def translate_batch(self, texts: list[str], source: str, target: str) -> list[str]:
        self.calls += 1
        raise RuntimeError("CUDA error: out of memory")


@pytest.fixture
def hanging() -> Iterator[HangingEngine]:
    engine = HangingEngine()
    yield engine
    engine.release.set()  # let the daemon thread finish


async def test_a_hanging_engine_times_out_without_blocking_the_loop(hanging: HangingEngine) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    start = time.monotonic()
    with pytest.raises(TranslationUnavailable, match=r"within 0\.3 s"):
        await translate_async(hanging, ["Hallo"], "de", "en", timeout=0.3)
    elapsed = time.monotonic() - start
    task.cancel()
    assert 0.3 <= elapsed < 0.8
    assert ticks >= 10  # the event loop kept running the whole time


async def test_the_service_gives_up_within_its_own_timeout(hanging: HangingEngine) -> None:
    svc = TranslationService(hanging, glossary=Glossary(), timeout=0.3)
    start = time.monotonic()
    with pytest.raises(TranslationUnavailable):
        await translate_async(svc, ["Hallo"], "de", "en", timeout=5)
    assert time.monotonic() - start < 0.8


async def test_a_crashing_engine_is_unavailable() -> None:
    with pytest.raises(TranslationUnavailable, match="out of memory"):
        await translate_async(CrashingEngine(), ["Hallo"], "de", "en", timeout=2)
    svc = TranslationService(CrashingEngine(), glossary=Glossary(), timeout=2)
    with pytest.raises(TranslationUnavailable, match="out of memory"):
        svc.translate("Hallo", "de", "en")


async def test_translate_async_returns_results_with_routes(argos: ArgosTranslator) -> None:
    svc = TranslationService(argos, glossary=Glossary(), timeout=5)
    [result] = await translate_async(svc, ["Hallo Kind."], "de", "uk", timeout=5)
    assert result.text == "Привіт дитина." and result.route == ("de", "en", "uk")
    # A bare engine works too.
    [raw] = await translate_async(argos, ["Hallo Kind."], "de", "en", timeout=5)
    assert raw.text == "Hello child." and raw.route == ("de", "en")


def test_after_a_failure_machine_translation_pauses(hanging: HangingEngine) -> None:
    svc = TranslationService(hanging, glossary=Glossary(), timeout=0.2, cooldown=0.5)
    with pytest.raises(TranslationUnavailable):
        svc.translate("Hallo", "de", "en")
    assert svc.paused
    start = time.monotonic()
    with pytest.raises(TranslationUnavailable, match="paused"):
        svc.translate("Noch ein Text", "de", "en")
    assert time.monotonic() - start < 0.05 and hanging.calls == 1
    time.sleep(0.55)
    hanging.release.set()  # the engine recovered
    assert svc.translate("Wieder da", "de", "en") == "Wieder da"
    assert hanging.calls == 2


def faq_without(engine: Engine, language: str, key: str = "naturalisation-fees") -> FaqEntry:
    with session_scope(engine) as s:
        entry = s.exec(select(FaqEntry).where(FaqEntry.key == key)).one()
        for row in s.exec(
            select(Translation).where(Translation.owner_key == key, Translation.language == language)
        ):
            s.delete(row)
    return entry


def test_renderer_falls_back_to_german_within_the_timeout(
    content_db: Engine, hanging: HangingEngine
) -> None:
    entry = faq_without(content_db, "uk")
    assert entry.id is not None
    svc = TranslationService(hanging, db=content_db, glossary=Glossary(), timeout=0.3)
    start = time.monotonic()
    faq = Renderer(content_db, svc).faq(entry.id, "uk")
    elapsed = time.monotonic() - start
    assert faq is not None
    assert faq.answer.language == "de" and faq.answer.status == TextStatus.SOURCE
    assert faq.question.language == "de"
    assert elapsed < 1.0  # one timeout, then the pause: not one timeout per text
    assert hanging.calls == 1


def test_renderer_uses_reviewed_content_without_asking_the_engine(
    content_db: Engine, hanging: HangingEngine
) -> None:
    entry = faq_without(content_db, "uk")
    assert entry.id is not None
    svc = TranslationService(hanging, db=content_db, glossary=Glossary(), timeout=0.3)
    faq = Renderer(content_db, svc).faq(entry.id, "en")
    assert faq is not None and faq.answer.status == TextStatus.REVIEWED
    assert hanging.calls == 0


def test_renderer_machine_translation_through_the_real_model(
    content_db: Engine, argos: ArgosTranslator
) -> None:
    entry = faq_without(content_db, "uk")
    assert entry.id is not None
    svc = TranslationService(argos, db=content_db, glossary=read_glossary_file(), timeout=10)
    r = Renderer(content_db, svc)
    faq = r.faq(entry.id, "uk")
    assert faq is not None
    assert faq.answer.language == "uk" and faq.answer.status == TextStatus.MACHINE
    assert faq.notes[0] == r.text("faq_note_machine", "uk")
    # Amounts and glossary terms survive; the source explains the terms already, so no second note.
    for value in ("255 €", "51 €", "Einbürgerungstest (Test", "Einbürgerungsbehörde (Amt"):
        assert value in faq.answer.text
    assert "громадянства" not in faq.answer.text
    # Stored as a machine draft for review, and not translated again.
    calls = sum(argos.calls.values())
    assert Renderer(content_db, svc).faq(entry.id, "uk") is not None
    assert sum(argos.calls.values()) == calls
    with session_scope(content_db) as s:
        stored = s.exec(
            select(Translation).where(
                Translation.owner_key == entry.key,
                Translation.language == "uk",
                Translation.field == "answer",
            )
        ).one()
    assert stored.status == TextStatus.MACHINE and stored.text == faq.answer.text
