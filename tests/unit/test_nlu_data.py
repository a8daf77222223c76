"""The NLU training data: every intent in every language, and the held-out sets stay held out."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from lotse.settings import ROOT
from tests.support.nlu_data import HELD_OUT, TRAIN, examples, normalise

LANGS = ["de", "en", "fr", "tr", "ar", "fa", "uk", "ru", "es", "pl"]
# Intents that only buttons send; they have no typed examples on purpose.
BUTTON_ONLY = {"choose_faq", "choose_booking", "stop_booking", "join_waitlist"}
# Intents whose examples belong to no language (keyboard mashes, laughter): nlu/data/nlu/<intent>.yml.
LANGUAGE_NEUTRAL = {"nonsense"}


def training(lang: str) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = defaultdict(list)
    for path in sorted((TRAIN / lang).glob("*.yml")):
        for intent, texts in examples(path).items():
            merged[intent].extend(texts)
    return merged


def domain_intents() -> set[str]:
    intents: set[str] = set()
    for path in (ROOT / "nlu" / "domain").glob("*.yml"):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("intents", []) or []:
            intents.add(item if isinstance(item, str) else next(iter(item)))
    return intents


@pytest.mark.parametrize("lang", LANGS)
def test_every_typed_intent_has_varied_examples_in_every_language(lang: str):
    data = training(lang)
    for intent in sorted(domain_intents() - BUTTON_ONLY - LANGUAGE_NEUTRAL):
        texts = data.get(intent, [])
        assert len(texts) >= 30, f"{lang}/{intent}: only {len(texts)} examples"
        assert len({normalise(t) for t in texts}) == len(texts), f"{lang}/{intent}: duplicates"


def test_language_neutral_intents_have_their_own_examples():
    for intent in LANGUAGE_NEUTRAL:
        texts = examples(TRAIN / f"{intent}.yml")[intent]
        assert len(texts) >= 30 and len({normalise(t) for t in texts}) == len(texts)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("held_out", "size"), [(HELD_OUT, 100), (HELD_OUT / "independent", 45)])
def test_held_out_examples_are_never_trained_on(lang: str, held_out: Path, size: int):
    texts = {normalise(t) for group in examples(held_out / f"{lang}.yml").values() for t in group}
    trained = {normalise(t) for group in training(lang).values() for t in group}
    assert len(texts) >= size
    assert not texts & trained, sorted(texts & trained)


@pytest.mark.parametrize("lang", LANGS)
def test_one_example_means_one_intent(lang: str):
    owner: dict[str, str] = {}
    for intent, texts in training(lang).items():
        for text in texts:
            key = normalise(text)
            first = owner.setdefault(key, intent)
            assert first == intent, f"{lang}: {text!r} is labelled {first} and {intent}"
