"""Whole pipeline (fake Telegram -> app -> Rasa -> actions/NLG -> reply sent) against Rasa alone."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from tests.support.stack import Stack

QUESTIONS = [
    "Wie melde ich mein Kind in der Kita an?",
    "Was kostet die Einbürgerung?",
    "how much does the integration course cost",
    "Brauche ich B1 für die Einbürgerung?",
    "kita kosten",
    "who can take part in the integration course",
    "Hallo",
    "Danke!",
    "Welche Unterlagen brauche ich für die Einbürgerung?",
    "is case management free?",
]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def measure(n: int, one: Callable[[int], None]) -> list[float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        one(i)
        times.append((time.perf_counter() - start) * 1000)
    return times


def run(stack: Stack, n: int = 200) -> tuple[list[float], list[float]]:
    tg, chat = stack.telegram, 990_001
    tg.send_text(chat, "/start", language="de")
    notice = tg.wait_sent(chat, 1)[-1]
    tg.press(chat, "c:y:de", notice["message_id"])
    prompt = tg.wait_sent(chat, 2)[-1]
    tg.press(chat, "lang:de", prompt["message_id"])
    tg.wait_sent(chat, 4)

    def via_telegram(i: int) -> None:
        before = len(tg.sent(chat))
        tg.send_text(chat, QUESTIONS[i % len(QUESTIONS)])
        tg.wait_sent(chat, before + 1, timeout=60)

    rasa = stack.rasa_client(timeout=60)

    def via_rasa(i: int) -> None:
        resp = rasa.post(
            "/webhooks/rest/webhook",
            json={
                "sender": "bench-rasa",
                "message": QUESTIONS[i % len(QUESTIONS)],
                "metadata": {"language": "de"},
            },
        )
        resp.raise_for_status()
        assert resp.json()

    via_rasa(0)  # warm both paths once
    via_telegram(0)
    pipeline = measure(n, via_telegram)
    direct = measure(n, via_rasa)
    return pipeline, direct


def report(pipeline: list[float], direct: list[float]) -> None:
    for name, values in (
        ("pipeline (fake Telegram -> reply sent)", pipeline),
        ("Rasa REST webhook directly", direct),
    ):
        print(
            f"{name}: n={len(values)} p50={percentile(values, 50):.1f} ms "
            f"p95={percentile(values, 95):.1f} ms mean={statistics.mean(values):.1f} ms"
        )
    print(
        f"pipeline/rasa ratio: p50 {percentile(pipeline, 50) / percentile(direct, 50):.2f}x, "
        f"p95 {percentile(pipeline, 95) / percentile(direct, 95):.2f}x"
    )
