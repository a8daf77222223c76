"""Placeholders and glossary terms: never sent to the model, back byte for byte, explained once."""

from __future__ import annotations

import re

import pytest

from translations.argos import ArgosTranslator
from translations.engine import Provenance
from translations.glossary import Glossary, read_glossary_file
from translations.protect import Masked, find_spans, sentinel
from translations.service import TranslationService

GLOSSARY = read_glossary_file()

# Every kind of span, with a dictionary word of the toy model inside where possible: had the model
# seen them, "Kind"/"Termin"/"heute" would have come back as "child"/"appointment"/"today".
PROTECTED = [
    ("https://www.example.de/Kind/Termin?heute=1", "url"),
    ("www.bamf.de", "url"),
    ("kind.termin@rhein-sieg-kreis.de", "email"),
    ("02241 13-0", "phone"),
    ("+49 (0) 2241 13 2000", "phone"),
    ("0800 111 0 111", "phone"),
    ("12.03.2026", "date"),
    ("3. Oktober 2026", "date"),
    ("2026-03-12", "date"),
    ("10:30 Uhr", "time"),
    ("KL-7F3A", "code"),
    ("DE89 3704 0044 0532 0130 00", "iban"),
    ("255 €", "amount"),
    ("2,29 €", "amount"),
    ("1.000 Euro", "amount"),
    ("{kreis}", "placeholder"),
    ("/mydata", "command"),
    ("§ 10 Abs. 1 StAG", "law"),
    ("§ 24 SGB VIII", "law"),
    ("🌐", "symbol"),
    ("Kita-Gutschein", "term"),
    ("Aufenthaltstitels", "term"),
    ("Jobcenter", "term"),
]


@pytest.mark.parametrize(("value", "kind"), PROTECTED)
def test_each_kind_is_found_whole(value: str, kind: str) -> None:
    text = f"Heute: {value} – bitte Termin merken."
    spans = find_spans(text, GLOSSARY)
    assert [(s.text, s.kind) for s in spans] == [(value, kind)]


def test_urls_lose_trailing_punctuation_and_plain_numbers_stay_text() -> None:
    text = "Siehe (https://www.arbeitsagentur.de). Das Kind ist 3 Jahre alt, B1-Kurs."
    assert [s.text for s in find_spans(text, GLOSSARY)] == ["https://www.arbeitsagentur.de"]


def test_glossary_terms_are_matched_with_inflection_and_case() -> None:
    found = GLOSSARY.find("Des Aufenthaltstitels wegen: zum JOBCENTER, ohne Wohnberechtigungsschein.")
    assert [t for _, _, t in found] == ["Aufenthaltstitel", "Jobcenter", "Wohnberechtigungsschein"]
    assert not GLOSSARY.find("Die Jobcenterleitung")  # a compound is not the term


def test_neighbouring_spans_do_not_swallow_each_other() -> None:
    assert [(s.text, s.kind) for s in find_spans(sample_text(), GLOSSARY)] == PROTECTED
    # Numbers in a row are one span; a date right after a number is still a date.
    spans = find_spans("DE89 3704 0044 0532 0130 00 255 € 0800 111 0 111 12.03.2026 10:30 Uhr")
    assert [s.kind for s in spans] == ["iban", "amount", "phone", "date", "time"]


class RecordingArgos(ArgosTranslator):
    """The real engine, remembering every text it was given."""

    seen: list[str]

    def translate_batch(self, texts: list[str], source: str, target: str) -> list[str]:
        self.seen = [*getattr(self, "seen", []), *texts]
        return super().translate_batch(texts, source, target)


class SentinelDroppingArgos(RecordingArgos):
    """A model that mangles the sentinel tokens (as real models sometimes do)."""

    def translate_batch(self, texts: list[str], source: str, target: str) -> list[str]:
        return [re.sub(r"ZQX[A-P]+", "XX", t) for t in super().translate_batch(texts, source, target)]


def recording(argos: ArgosTranslator, cls: type[RecordingArgos] = RecordingArgos) -> RecordingArgos:
    return cls(list(argos.packages.values()))


def sample_text() -> str:
    values = "; ".join(v for v, _ in PROTECTED)
    return f"Hallo! Das Kind hat heute einen Termin: {values}. Danke."


@pytest.mark.parametrize("target", ["en", "ar", "uk"])
def test_spans_survive_round_trips_byte_for_byte(argos: ArgosTranslator, target: str) -> None:
    engine = recording(argos)
    svc = TranslationService(engine, glossary=GLOSSARY, timeout=10)
    [result] = svc.translate_results([sample_text()], "de", target)
    # The model did translate the text around the spans …
    assert "Kind hat" not in result.text and "Danke" not in result.text
    # … and every span is there verbatim, in order.
    positions = [result.text.index(v) for v, _ in PROTECTED]
    assert positions == sorted(positions)
    # Nothing protected was ever sent to the model.
    sent = " ".join(engine.seen)
    for value, _ in PROTECTED:
        assert value not in sent
    assert "ZQXA" in sent  # the sentinel path: one sentence, in context


def test_back_to_german_and_back_again(argos: ArgosTranslator) -> None:
    """de→en then en→uk (the pivot done by hand) keeps every span."""
    svc = TranslationService(argos, glossary=GLOSSARY, timeout=10)
    en = svc.translate(sample_text(), "de", "en")
    uk = svc.translate(en, "en", "uk")
    for value, _ in PROTECTED:
        assert value in uk


def test_lost_sentinels_fall_back_to_segments(argos: ArgosTranslator) -> None:
    engine = recording(argos, SentinelDroppingArgos)
    svc = TranslationService(engine, glossary=Glossary(), timeout=10)
    text = "Das Kind ruft heute 02241 13-0 an, der Termin ist am 12.03.2026."
    assert svc.translate(text, "de", "en") == (
        "Das child ruft today 02241 13-0 an, der appointment ist am 12.03.2026."
    )
    # First the whole sentence with sentinels, then only the text between the spans.
    assert engine.seen == [
        "Das Kind ruft heute ZQXA an, der Termin ist am ZQXB.",
        "Das Kind ruft heute",
        "an, der Termin ist am",
    ]


def test_a_text_that_contains_the_sentinel_prefix_uses_segments(argos: ArgosTranslator) -> None:
    engine = recording(argos)
    svc = TranslationService(engine, glossary=Glossary(), timeout=10)
    assert svc.translate("ZQXA heißt Kind, Tel. 02241 13-0", "de", "en") == (
        "ZQXA heißt child, Tel. 02241 13-0"
    )
    assert engine.seen == ["ZQXA heißt Kind, Tel."]


def test_glossary_terms_stay_german_with_one_explanation(argos: ArgosTranslator) -> None:
    svc = TranslationService(argos, glossary=GLOSSARY, timeout=10)
    text = "Das Jobcenter zahlt heute. Fragen Sie beim Jobcenter nach dem Bürgergeld (Geld zum Leben)."
    ar = svc.translate(text, "de", "ar")
    assert ar.count(f"Jobcenter ({GLOSSARY.explanation('Jobcenter', 'ar')})") == 1
    assert ar.count("Jobcenter") == 2  # explained the first time only
    assert "Bürgergeld (Geld" in ar  # the source explains it already: no second bracket
    en = svc.translate(text, "de", "en")
    assert f"Jobcenter ({GLOSSARY.explanation('Jobcenter', 'en')}) zahlt today" in en


def test_explanations_only_when_translating_from_german(argos: ArgosTranslator) -> None:
    svc = TranslationService(argos, glossary=GLOSSARY, timeout=10)
    # A person's own message (here English) is not annotated for the model or the case manager …
    assert svc.translate("The Jobcenter called today.", "en", "ar") == "The Jobcenter called اليوم."
    # … unless asked for.
    [r] = svc.translate_results(["The Jobcenter called."], "en", "uk", explain=True)
    assert r.text.startswith("The Jobcenter (центр зайнятості")


def test_text_without_words_never_reaches_the_model(argos: ArgosTranslator) -> None:
    engine = recording(argos)
    svc = TranslationService(engine, glossary=GLOSSARY, timeout=10)
    [r] = svc.translate_results(["  255 € – 02241 13-0  "], "de", "en")
    assert r.text == "  255 € – 02241 13-0  " and r.origin == Provenance.UNCHANGED
    assert getattr(engine, "seen", []) == []


def test_masking_details() -> None:
    m = Masked("Ruf {name} an: 02241 13-0.", Glossary())
    assert m.masked == "Ruf ZQXA an: ZQXB."
    assert m.restore("Call ZQXA at ZQXB.") == "Call {name} at 02241 13-0."
    assert m.restore("Call ZQXA at ZQXA.") is None  # doubled
    assert m.restore("Call ZQXA.") is None  # lost
    assert m.restore("Call ZQXA at ZQXB, ZQX C.") is None  # a broken fragment left over
    assert [sentinel(i) for i in (0, 1, 15, 16, 17)] == ["ZQXA", "ZQXB", "ZQXP", "ZQXBA", "ZQXBB"]
