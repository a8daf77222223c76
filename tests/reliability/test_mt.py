"""Reference tests #24 and #25: machine translation down or slow, and MT under load with a quality gate.

The app runs in this process (``create_app`` and the internal NLG listener, as ``serve`` runs them)
with the product's ``TranslationService`` over an engine in a separate worker process
(``tests/reliability/mt_worker.py``, the product's ``ArgosTranslator`` over the tiny real Argos
packages of ``tests/translations/tiny_model.py``); Rasa and the action server are real processes.
Stopping the worker (``SIGSTOP``) or killing it (``kill -9``) is the translator hanging or down.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.app import create_app, create_internal_app
from bot.supervisor import process_specs, start, stop
from lotse import runtime as composition
from lotse.runtime import Runtime
from lotse.settings import ROOT
from storage.db import make_engine, session_scope
from storage.models import FaqEntry, TextStatus, Translation
from storage.models_translation import MemoryEntry
from tests.reliability.conftest import Figure, scale
from tests.reliability.mt_worker import WorkerEngine
from tests.reliability.support import (
    get_json,
    kill,
    percentile,
    wait_until,
    web_only,
    without_abuse_limits,
)
from tests.support.fake_telegram import free_port
from tests.support.stack import MODEL, make_stack
from tests.translations.tiny_model import PAIRS, REVERSE_PAIRS, build_packages
from translations.argos import ArgosTranslator, find_packages
from translations.service import TranslationService

MT_LANGUAGES = ("uk", "ar")
_load_figure: list[str] = []
COOLDOWN = 5.0  # the product pauses MT 30 s after a failure; shorter here, to see the recovery


class _Servers:
    """The app's two listeners in a thread of this process, stopped with ``should_exit``."""

    def __init__(self, runtime: Runtime) -> None:
        s = runtime.settings
        self.public = uvicorn.Server(
            uvicorn.Config(create_app(runtime), host="127.0.0.1", port=s.web.port, log_level="warning")
        )
        self.internal = uvicorn.Server(
            uvicorn.Config(
                create_internal_app(runtime),
                host="127.0.0.1",
                port=s.web.internal_port,
                log_level="warning",
                lifespan="off",
            )
        )
        self.thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        await asyncio.gather(self.public.serve(), self.internal.serve())

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.public.should_exit = self.internal.should_exit = True
        self.thread.join(30)


@dataclass
class MTStack:
    web: str
    db: Engine
    service: TranslationService
    worker_engine: WorkerEngine
    worker_argv: list[str]
    logs: Path
    worker: subprocess.Popen[bytes] | None = None
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def start_worker(self) -> None:
        log = (self.logs / "mt-worker.log").open("ab")
        self.worker = subprocess.Popen(
            self.worker_argv,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_until(lambda: get_json(self.worker_engine.url), 60, "translation worker up")

    def served(self) -> int:
        answer = get_json(self.worker_engine.url)
        assert answer is not None
        return int(str(answer[1]["requests"]))

    def chat(self, sender: str, text: str, **body: Any) -> tuple[float, dict[str, Any]]:
        client = self.clients.setdefault(sender, httpx.Client(base_url=self.web, timeout=60))
        started = time.perf_counter()
        resp = client.post("/api/chat", json={"sender": sender, "text": text, **body})
        took = time.perf_counter() - started
        assert resp.status_code == 200, resp.text  # never a 500, whatever MT does
        return took, resp.json()["messages"][-1]

    def forget_translations(self) -> None:
        """No human translation of the naturalisation entries in uk/ar, nothing machine-made kept."""
        with session_scope(self.db) as s:
            keys = list(s.exec(select(FaqEntry.key).where(FaqEntry.topic == "naturalisation")))
            s.exec(  # type: ignore[call-overload]
                delete(Translation).where(
                    col(Translation.owner_key).in_(keys),
                    col(Translation.language).in_(MT_LANGUAGES),
                )
            )
            s.exec(delete(MemoryEntry))  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def mt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MTStack]:
    workdir = tmp_path_factory.mktemp("mt-stack")
    build_packages(workdir / "argos-build", PAIRS + REVERSE_PAIRS)
    packages = workdir / "argos-build" / "staging"  # the installed layout, one folder per package
    base = without_abuse_limits(make_stack(workdir))
    settings = web_only(base.settings)
    # The app runs here, not through process_specs: it needs Rasa's address itself.
    rasa = settings.rasa.model_copy(update={"url": f"http://127.0.0.1:{settings.rasa.port}"})
    settings = settings.model_copy(update={"rasa": rasa})
    logs = workdir / "logs"
    logs.mkdir()
    port = free_port()
    pairs = {p.pair for p in find_packages([packages])}
    engine = WorkerEngine(f"http://127.0.0.1:{port}", pairs)
    db = make_engine(settings.database_url)
    service = TranslationService(engine, db=db, timeout=settings.mt.timeout_seconds, cooldown=COOLDOWN)
    argv = [sys.executable, "-m", "tests.reliability.mt_worker", str(packages), str(port)]
    stack = MTStack(f"http://127.0.0.1:{settings.web.port}", db, service, engine, argv, logs)
    procs = {}
    servers = None
    try:
        stack.start_worker()
        for spec in process_specs(settings, MODEL):
            if spec.name != "app":
                procs[spec.name] = start(spec, logs)
        runtime = composition.build(settings, translator=service)
        servers = _Servers(runtime)
        servers.start()
        wait_until(
            lambda: (a := get_json(f"{stack.web}/readyz")) is not None and a[0] == 200,
            300,
            "app ready (Rasa loaded and warmed up)",
            step=1.0,
        )
        yield stack
    finally:
        for client in stack.clients.values():
            client.close()
        if servers is not None:
            servers.stop()
        stop(procs)
        if stack.worker is not None:
            kill(stack.worker, signal.SIGCONT)
            kill(stack.worker)
            stack.worker.wait(10)
        db.dispose()


QUESTION = "Was kostet die Einbürgerung?"


def _consented(mt: MTStack, lang: str) -> str:
    sender = f"web-{uuid.uuid4()}"
    mt.chat(sender, "hallo", consent=True, language=lang)
    return sender


def _german_with_note(answer: dict[str, Any]) -> bool:
    return answer["meta"].get("topic") == "naturalisation" and answer["meta"].get("translation") in (
        TextStatus.SOURCE,
        "source",
        "german",
    )


def test_24_machine_translation_down_or_hanging(
    mt: MTStack, figure: Figure, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)  # the service's timeouts, and any server error
    mt.forget_translations()
    took_ok, answer = mt.chat(_consented(mt, "uk"), QUESTION)
    assert answer["meta"].get("translation") == "machine", answer["meta"]

    # The worker hangs (SIGSTOP): the answer comes within 3 s, in German with the note.
    mt.forget_translations()
    calls = mt.worker_engine.calls
    assert mt.worker is not None
    kill(mt.worker, signal.SIGSTOP)
    hung = []
    try:
        for lang in ("uk", "ar", "uk"):
            took, answer = mt.chat(_consented(mt, lang), QUESTION)
            assert _german_with_note(answer), answer["meta"]
            hung.append(took)
        outage_calls = mt.worker_engine.calls - calls
    finally:
        kill(mt.worker, signal.SIGCONT)
    waits = [float(w) for w in re.findall(r"within ([0-9.]+) s", caplog.text)]
    assert waits and max(waits) <= 2.0, caplog.text[-2000:]
    assert max(hung) < 3.0, hung
    assert outage_calls == 1  # paused after the first timeout: nothing piles up in the worker

    # Recovery: after the pause machine translation is back at its normal speed, no backlog.
    time.sleep(COOLDOWN)
    mt.forget_translations()
    served = mt.served()
    took_back, answer = mt.chat(_consented(mt, "ar"), QUESTION)
    assert answer["meta"].get("translation") == "machine", answer["meta"]
    assert took_back < 3.0
    assert mt.served() - served == mt.worker_engine.calls - calls - outage_calls

    # The worker is down (kill -9): German with the note at once.
    mt.forget_translations()
    assert mt.worker is not None
    kill(mt.worker)
    mt.worker.wait(10)
    try:
        took_down, answer = mt.chat(_consented(mt, "uk"), QUESTION)
        assert _german_with_note(answer), answer["meta"]
        assert took_down < 3.0
    finally:
        mt.start_worker()
    time.sleep(COOLDOWN)
    mt.forget_translations()
    took_again, answer = mt.chat(_consented(mt, "uk"), QUESTION)
    assert answer["meta"].get("translation") == "machine" and took_again < 3.0
    assert _server_errors(caplog) == []
    figure(
        24,
        "machine translation down or slow",
        f"worker stopped: answered in at most {max(hung):.1f} s in German with the note (MT gave up "
        f"after {max(waits):.1f} s, 1 call, then paused); worker killed: {took_down:.1f} s; recovered: "
        f"machine translation again in {took_back:.1f} s (healthy {took_ok:.1f} s), no backlog",
    )


LOAD_TEXTS = {
    "ar": ["كم تكلفة التجنس؟", "كيف أسجل طفلي في الروضة؟", "أين أجد دورة اندماج؟"],
    "uk": ["Скільки коштує громадянство?", "Як записати дитину в дитячий садок?", "Де курс інтеграції?"],
}


def _server_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Requests the app's listeners failed on (the person's 200 can hide a 500 of the NLG endpoint)."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_25_machine_translation_under_load(
    mt: MTStack, figure: Figure, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    seconds = scale(16, 300)
    # §4: one message per user per second (10/s in all). The quick run, on two cores shared with
    # whatever else runs here, sends one every 2 s (the 5 turns/s of #11).
    interval = scale(2.0, 1.0)
    users = [(_consented(mt, lang), lang) for lang in ("ar", "uk") * 5]
    mt.forget_translations()
    waits: list[float] = []
    kinds: Counter[str] = Counter()
    errors: list[str] = []

    def user(sender: str, lang: str) -> None:
        started = time.monotonic()
        i = 0
        while time.monotonic() - started < seconds:
            try:
                took, answer = mt.chat(sender, LOAD_TEXTS[lang][i % 3])
                waits.append(took)
                kinds[str(answer["meta"].get("translation"))] += 1
            except (AssertionError, httpx.HTTPError) as exc:
                errors.append(repr(exc)[:200])
            i += 1
            time.sleep(max(0.0, started + i * interval - time.monotonic()))

    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        for f in [pool.submit(user, s, lang) for s, lang in users]:
            f.result()
    assert not errors, errors[:5]
    # Everyone asks the same untranslated texts at once: one machine translation is kept, no 500.
    assert _server_errors(caplog) == []
    p95 = percentile(waits, 95)
    # Each user waits for an answer before the next message, as a person would.
    assert len(waits) >= 0.5 * seconds / interval * len(users), len(waits)
    # §4: under 2.5 s on the target hardware; twice that for the quick run on shared cores.
    assert p95 < scale(5.0, 2.5), (p95, dict(kinds), len(waits))
    _load_figure.append(
        f"10 users x 1 Arabic/Ukrainian message every {interval:g} s for {seconds} s: "
        f"{len(waits)} answers, "
        f"p95 {p95 * 1000:.0f} ms (tiny models)"
    )
    figure(
        25,
        "machine translation load and quality gate",
        f"{_load_figure[-1]}; quality gate skipped here (no real Argos models)",
    )


# --- #25 quality gate: real models only -----------------------------------------------------------

BASELINE = Path(__file__).with_name("mt_baseline.json")
GOLDEN_SIZE = 50


def chrf(hypotheses: list[str], references: list[str], order: int = 6, beta: float = 2.0) -> float:
    """Corpus chrF (character n-grams 1..6, beta 2, whitespace ignored), as sacreBLEU computes it."""
    matches = [0] * order
    hyp_total = [0] * order
    ref_total = [0] * order
    for hyp, ref in zip(hypotheses, references, strict=True):
        h, r = re.sub(r"\s+", "", hyp), re.sub(r"\s+", "", ref)
        for n in range(1, order + 1):
            hc = Counter(h[i : i + n] for i in range(len(h) - n + 1))
            rc = Counter(r[i : i + n] for i in range(len(r) - n + 1))
            matches[n - 1] += sum((hc & rc).values())
            hyp_total[n - 1] += sum(hc.values())
            ref_total[n - 1] += sum(rc.values())
    scores = []
    for m, ht, rt in zip(matches, hyp_total, ref_total, strict=True):
        p = m / ht if ht else 0.0
        r = m / rt if rt else 0.0
        scores.append(0.0 if p + r == 0 else (1 + beta**2) * p * r / (beta**2 * p + r))
    return 100 * sum(scores) / order


def test_chrf_scores_identical_text_100_and_unrelated_text_low() -> None:
    assert chrf(["Der Antrag kostet 255 Euro."], ["Der Antrag kostet 255 Euro."]) == 100
    assert chrf(["xyz"], ["Der Antrag kostet 255 Euro."]) < 10


def golden_set(engine: Engine, language: str) -> list[tuple[str, str]]:
    """Domain sentences: German master texts and their reviewed human translations (the seed)."""
    pairs = []
    with session_scope(engine) as s:
        for entry in s.exec(select(FaqEntry).order_by(col(FaqEntry.key))):
            for name in ("question", "answer"):
                row = s.exec(
                    select(Translation).where(
                        Translation.owner_type == "faq",
                        Translation.owner_key == entry.key,
                        Translation.field == name,
                        Translation.language == language,
                        Translation.status == TextStatus.REVIEWED,
                    )
                ).first()
                if row is not None:
                    pairs.append((str(getattr(entry, name)), row.text))
    return pairs[:GOLDEN_SIZE]


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for dist in ("argostranslate", "ctranslate2", "sentencepiece", "stanza"):
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            found[dist] = "-"
    return found


def test_25_quality_gate_on_the_golden_set(sqlite_seeded: Engine, figure: Figure) -> None:
    argos = ArgosTranslator.from_installed()
    missing = [lang for lang in ("ar", "uk") if not argos.supports("de", lang)]
    if missing:
        pytest.skip(
            f"no real Argos models for de->{'/'.join(missing)} installed here (ARGOS_PACKAGES_DIR or "
            "~/.local/share/argos-translate/packages): the chrF gate runs where they are"
        )
    scores = {}
    for lang in ("ar", "uk"):
        golden = golden_set(sqlite_seeded, lang)
        assert len(golden) >= 20, f"only {len(golden)} reviewed {lang} texts in the seed"
        hyps = argos.translate_batch([de for de, _ in golden], "de", lang)
        scores[lang] = round(chrf(hyps, [ref for _, ref in golden]), 2)
    models = {f"{a}_{b}": p.version for (a, b), p in sorted(argos.packages.items())}
    if os.environ.get("LOTSE_MT_BASELINE") == "write":
        BASELINE.write_text(
            json.dumps({"chrf": scores, "versions": _versions(), "models": models}, indent=2) + "\n",
            encoding="utf-8",
        )
    if not BASELINE.exists():
        pytest.fail(
            f"no pinned baseline: run once with LOTSE_MT_BASELINE=write and commit {BASELINE.name}"
        )
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    drops = {lang: baseline["chrf"][lang] - score for lang, score in scores.items()}
    assert all(d <= 2.0 for d in drops.values()), (scores, baseline)
    figure(
        25,
        "machine translation load and quality gate",
        "; ".join(
            [*_load_figure[-1:], f"chrF {scores} against the baseline {baseline['chrf']} {_versions()}"]
        ),
    )
