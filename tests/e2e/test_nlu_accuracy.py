"""Intent accuracy and macro F1 per language on held-out examples the model never saw.

The held-out sets are ``nlu/tests/nlu/<lang>.yml``. Targets (issue 3): 0.90 for German and English,
0.85 for the other languages; the run prints the gap. The assertion is a regression floor a little
below what the current data reaches, so a change that makes understanding worse fails the build.
"""

from __future__ import annotations

import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import yaml

from bot.settings import ROOT
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
HELD_OUT = ROOT / "nlu" / "tests" / "nlu"
TARGETS = {"de": 0.90, "en": 0.90}
DEFAULT_TARGET = 0.85
# Measured with the current training data (accuracy): de .915, en .863, tr .855, fa .846, ru .812,
# ar .795, fr .795, uk .769. Floors sit ~0.03 below.
FLOORS = {"de": 0.88, "en": 0.83, "tr": 0.82, "fa": 0.81, "ru": 0.78, "ar": 0.76, "fr": 0.76, "uk": 0.73}
_ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]+\)")


def load(lang: str) -> list[tuple[str, str]]:
    data = yaml.safe_load((HELD_OUT / f"{lang}.yml").read_text(encoding="utf-8"))
    out = []
    for block in data["nlu"]:
        if "intent" not in block:
            continue
        for line in block["examples"].splitlines():
            line = line.strip()
            if line.startswith("- "):
                out.append((_ANNOTATION.sub(r"\1", line[2:].strip()), block["intent"]))
    return out


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    tp, fp, fn = Counter(), Counter(), Counter()
    for gold, pred in pairs:
        if gold == pred:
            tp[gold] += 1
        else:
            fp[pred] += 1
            fn[gold] += 1
    f1s = []
    for label in {g for g, _ in pairs}:
        p = tp[label] / (tp[label] + fp[label]) if tp[label] + fp[label] else 0.0
        r = tp[label] / (tp[label] + fn[label]) if tp[label] + fn[label] else 0.0
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    return sum(f1s) / len(f1s)


LANGS = sorted(p.stem for p in HELD_OUT.glob("*.yml"))


@pytest.mark.parametrize("lang", LANGS)
def test_held_out_intent_accuracy(stack: Stack, lang: str):
    examples = load(lang)
    assert len(examples) >= 50
    client = httpx.Client(base_url=f"http://127.0.0.1:{stack.settings.rasa_port}", timeout=30)

    def predict(text: str) -> str:
        resp = client.post("/model/parse", json={"text": text})
        resp.raise_for_status()
        return str(resp.json()["intent"]["name"])

    with client, ThreadPoolExecutor(4) as pool:
        predicted = list(pool.map(predict, [t for t, _ in examples]))
    pairs = [(gold, pred) for (_, gold), pred in zip(examples, predicted, strict=True)]
    accuracy = sum(g == p for g, p in pairs) / len(pairs)
    f1 = macro_f1(pairs)
    errors = [(t, g, p) for (t, g), p in zip(examples, predicted, strict=True) if g != p]
    print(f"\nNLU {lang}: accuracy {accuracy:.3f}, macro F1 {f1:.3f}, n={len(pairs)}")
    for text, gold, pred in errors[:12]:
        print(f"  {gold:>24} -> {pred:<24} {text}")
    target = TARGETS.get(lang, DEFAULT_TARGET)
    print(
        f"  target {target:.2f}: {'met' if accuracy >= target else f'missed by {target - accuracy:.3f}'}"
    )
    floor = FLOORS[lang]
    assert accuracy >= floor, f"{lang}: accuracy {accuracy:.3f} fell below the floor {floor}"
    assert f1 >= floor, f"{lang}: macro F1 {f1:.3f} fell below the floor {floor}"
