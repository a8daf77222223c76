"""Intent accuracy and macro F1 per language on held-out examples the model never saw.

The held-out sets are ``nlu/tests/nlu/<lang>.yml`` and ``nlu/tests/nlu/independent/<lang>.yml``
(tests/unit/test_nlu_data.py checks that no held-out example is in the training data). Targets
(issue 3): 0.90 for German and English, 0.85 for the other languages, for accuracy and for macro F1.
A message the model is unsure about counts as wrong (``nlu_fallback``), even though the bot then
offers content matches as buttons.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.nlu_data import HELD_OUT, examples, plain
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
TARGETS = {"de": 0.90, "en": 0.90}
DEFAULT_TARGET = 0.85


def load(lang: str, held_out: Path = HELD_OUT) -> list[tuple[str, str]]:
    """(text as typed, intent) for every example of a held-out file."""
    by_intent = examples(held_out / f"{lang}.yml")
    return [(plain(text), intent) for intent, texts in by_intent.items() for text in texts]


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
# Two held-out sets: the main one, and a smaller one written later by someone who had not seen the
# training data (nlu/tests/nlu/independent/), as a check against tuning to the first set.
SETS = {"main": HELD_OUT, "independent": HELD_OUT / "independent"}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("held_out", sorted(SETS))
def test_held_out_intent_accuracy(stack: Stack, held_out: str, lang: str):
    examples = load(lang, SETS[held_out])
    assert len(examples) >= 45
    client = stack.rasa_client()

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
    print(f"\nNLU {lang} ({held_out}): accuracy {accuracy:.3f}, macro F1 {f1:.3f}, n={len(pairs)}")
    for text, gold, pred in errors[:12]:
        print(f"  {gold:>24} -> {pred:<24} {text}")
    target = TARGETS.get(lang, DEFAULT_TARGET)
    assert accuracy >= target, f"{lang}: accuracy {accuracy:.3f} is below the target {target}"
    assert f1 >= target, f"{lang}: macro F1 {f1:.3f} is below the target {target}"


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("kita anmeldung in Troisdorf", "municipality", "troisdorf"),
        ("wohnung in st. augustin gesucht", "municipality", "sankt-augustin"),
        ("Integrationskurs in Much", "municipality", "much"),
        ("bitte termin kl-h4mt absagen", "reference", "kl-h4mt"),
        ("cancel KL-X2P9 please", "reference", "KL-X2P9"),
        ("meine tochter ist 4 jahre alt", "child_age", "4 jahre"),
        ("پسرم ۵ ساله است", "child_age", "۵ ساله"),
        ("oğlum 7 yaşında okul", "child_age", "7 yaşında"),
        ("Oğlum 4 Yaşında", "child_age", "4 Yaşında"),
    ],
)
def test_entities_from_lookup_and_regex(stack: Stack, text: str, entity: str, value: str):
    resp = httpx.post(
        f"{stack.rasa_url}/model/parse", json={"text": text}, params=stack.rasa_params, timeout=30
    )
    # Values compare case-insensitively: Rasa's synonym mapper may return a known spelling's case.
    found = [(e["entity"], str(e["value"]).lower()) for e in resp.json()["entities"]]
    assert found == [(entity, value.lower())]


def test_english_much_is_not_the_town_much(stack: Stack):
    resp = httpx.post(
        f"{stack.rasa_url}/model/parse",
        json={"text": "how much does the kita cost"},
        params=stack.rasa_params,
        timeout=30,
    )
    assert resp.json()["entities"] == []
    assert resp.json()["intent"]["name"] == "ask_kita"
