"""The Argos engine on a real (tiny) model: routes, pivoting, batching, one shared model per pair."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from translations import argos as argos_module
from translations.argos import (
    ArgosTranslator,
    available_cores,
    join_sentences,
    split_sentences,
    split_with_separators,
)
from translations.engine import Provenance, TranslationUnavailable
from translations.factory import build_translator
from translations.glossary import Glossary
from translations.service import TranslationService

SENTENCE = "Das Kind hat heute einen Termin."


def service(argos: ArgosTranslator) -> TranslationService:
    return TranslationService(argos, glossary=Glossary(), timeout=10)


def test_direct_route(argos: ArgosTranslator) -> None:
    [result] = service(argos).translate_results([SENTENCE], "de", "en")
    assert result.text == "Das child hat today einen appointment."
    assert result.route == ("de", "en") and result.pivot is None
    assert result.origin == Provenance.MACHINE and result.machine


def test_pivot_through_english_is_reported(argos: ArgosTranslator) -> None:
    svc = service(argos)
    [ar] = svc.translate_results([SENTENCE], "de", "ar")
    assert ar.text == "Das طفل hat اليوم einen موعد."
    assert ar.route == ("de", "en", "ar") and ar.pivot == "en"
    assert svc.route("de", "uk") == [("de", "en"), ("en", "uk")]
    assert svc.supports("de", "uk") and not svc.supports("de", "tr") and not svc.supports("ar", "en")
    with pytest.raises(TranslationUnavailable):
        svc.translate(SENTENCE, "de", "tr")


def test_all_sentences_of_all_texts_go_in_one_call_per_hop(argos: ArgosTranslator) -> None:
    texts = [
        f"Hallo, Kind Nummer {n}. Die Wohnung ist heute frei. Der Termin ist morgen."
        for n in ("eins", "zwei", "drei", "vier", "fünf")
    ]
    out = service(argos).translate_batch(texts, "de", "ar")
    assert argos.calls == {("de", "en"): 1, ("en", "ar"): 1}
    assert argos.sentences == {("de", "en"): 15, ("en", "ar"): 15}
    # Each text keeps its own sentences, in order.
    for n, text in zip(("eins", "zwei", "drei", "vier", "fünf"), out, strict=True):
        assert text == (f"مرحبا, طفل Nummer {n}. Die flat ist اليوم frei. Der موعد ist tomorrow.")


def test_models_are_loaded_once_per_process_and_shared(installed_dir: Path) -> None:
    argos_module.unload_models()
    before = dict(argos_module.LOADS)
    engines = [ArgosTranslator.from_installed([installed_dir]) for _ in range(4)]
    errors: list[BaseException] = []

    def work(engine: ArgosTranslator) -> None:
        try:
            assert engine.translate("Hallo Kind.", "de", "en") == "Hello child."
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(e,)) for e in engines for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert argos_module.LOADS[("de", "en")] - before.get(("de", "en"), 0) == 1


def test_threads_fit_the_machine(installed_dir: Path) -> None:
    engine = ArgosTranslator.from_installed([installed_dir])
    assert engine.threads == available_cores() >= 1
    assert engine.beam_size == 2
    engine.preload()  # every installed model, before the first person waits for it
    assert {("de", "en"), ("en", "ar"), ("en", "uk")} <= set(argos_module.LOADS)


def test_factory_builds_the_protected_service(installed_dir: Path, tmp_path: Path) -> None:
    translator = build_translator(dirs=[installed_dir], timeout=5)
    assert isinstance(translator, TranslationService)
    assert translator.pairs == {("de", "en"), ("en", "ar"), ("en", "uk")}
    assert translator.translate("Hallo {name}!", "de", "en") == "Hello {name}!"
    empty = tmp_path / "none"
    empty.mkdir()
    assert not build_translator(dirs=[empty]).supports("de", "en")


def test_sentence_splitting_is_offline_and_knows_german_abbreviations() -> None:
    text = (
        "Bringen Sie z. B. den Pass mit. Nach § 10 Abs. 1 gilt das. Am 3. Oktober ist frei. "
        "Das war 2025. Danach kam Dr. Müller!\nNeue Zeile? Ja."
    )
    assert split_sentences(text) == [
        "Bringen Sie z. B. den Pass mit.",
        "Nach § 10 Abs. 1 gilt das.",
        "Am 3. Oktober ist frei.",
        "Das war 2025.",
        "Danach kam Dr. Müller!",
        "Neue Zeile?",
        "Ja.",
    ]
    assert join_sentences(split_with_separators("Eins.\n\nZwei. Drei")) == "Eins.\n\nZwei. Drei"


def test_line_breaks_survive_translation(argos: ArgosTranslator) -> None:
    text = "Hallo!\nDas Kind hat heute einen Termin.\n\nDanke."
    assert (
        argos.translate(text, "de", "en") == "Hello!\nDas child hat today einen appointment.\n\nThanks."
    )


def test_long_sentences_are_not_cut_off(argos: ArgosTranslator) -> None:
    text = " ".join(["Kind"] * 450)  # no punctuation: longer than CTranslate2's input would allow
    assert argos.translate(text, "de", "en").split() == ["child"] * 450
