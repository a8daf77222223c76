"""What must not be translated is never sent to the model, and comes back byte for byte.

URLs, e-mail addresses, phone numbers, dates and times, amounts, reference codes, IBANs, legal
references ("§ 10 Abs. 1 StAG"), bot commands ("/mydata"), ``{placeholders}``, emoji and the glossary's
German administrative terms are *spans*. Translation works in two steps:

1. **Sentinels.** Each span is replaced by a sentinel token (``ZQXA``, ``ZQXB`` …: Latin capitals,
   which NMT models copy like an acronym), so the model sees whole sentences and translates them in
   context. The output is accepted only if every sentinel comes back exactly once; then the spans are
   put back verbatim.
2. **Segments** (the fallback, and the only path when the text itself contains ``ZQX``). The text
   between spans is translated piece by piece and the spans are re-inserted between the pieces, so
   they survive whatever the model does, at some cost in fluency.

Glossary terms stay in German; the first occurrence of each term gets its explanation in the target
language in brackets, from the glossary, unless the source already explains it in brackets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from translations.glossary import Glossary

SENTINEL_PREFIX = "ZQX"
_INDEX_LETTERS = "ABCDEFGHIJKLMNOP"
_SENTINEL = re.compile(r"(?<![A-Za-z])ZQX([A-P]+)(?![A-Za-z])")

_MONTHS = "Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember"
_LAW_NAME = r"[A-Z][A-Za-z]*[A-Z][A-Za-z]*"  # StAG, AufenthG, SGB, ZKG, TIntG

# (kind, pattern); on equal start and length the earlier kind wins.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("placeholder", re.compile(r"\{[A-Za-z_][A-Za-z0-9_]{0,40}\}")),
    ("email", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")),
    ("url", re.compile(r"\b(?:https?://|www\.)[^\s<>\"'{}|\\^`]+")),
    (
        "url",
        re.compile(
            r"\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:de|com|org|net|eu|info|nrw)\b"
            r"(?:/[^\s<>\"'{}|\\^`]*)?"
        ),
    ),
    ("command", re.compile(r"(?<![\w/])/[a-z][a-z_]{1,30}\b")),
    ("iban", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b")),
    (
        "law",
        re.compile(
            r"(?:§§?|\bArt\.)\s?\d+[a-z]?(?:\s?(?:Abs\.|Absatz|Satz|S\.|Nr\.)\s?\d+[a-z]?)*"
            rf"(?:\s{_LAW_NAME}(?:\s(?:[IVX]+|NRW)\b)?)?"
        ),
    ),
    ("law", re.compile(r"\bSGB\s[IVX]+\b")),
    (
        "date",
        re.compile(
            r"(?<![\d.])\d{1,2}\.\s?\d{1,2}\.(?:\s?(?:\d{4}|\d{2})(?!\d))?"
            r"|\b\d{4}-\d{2}-\d{2}\b"
            r"|\b\d{1,2}/\d{1,2}/\d{2,4}\b"
            rf"|(?<![\d.])\d{{1,2}}\.\s?(?:{_MONTHS})(?:\s\d{{4}})?\b"
        ),
    ),
    ("time", re.compile(r"\b\d{1,2}[:.]\d{2}\s?Uhr\b|\b\d{1,2}:\d{2}\b|\b\d{1,2}\s?Uhr\b")),
    (
        "amount",
        re.compile(
            r"(?:€|\bEUR)\s?\d{1,3}(?:[.\u00a0\u202f ]\d{3})*(?:,\d{1,2}|,-)?"
            r"|\b\d{1,3}(?:[.\u00a0\u202f ]\d{3})*(?:,\d{1,2}|,-)?\s?(?:€|EUR\b|Euro\b|Cent\b)"
        ),
    ),
    ("phone", re.compile(r"(?<![\w+])(?:\+|00)?\d[\d\u00a0 /()\-]{4,}\d(?!\w)(?![.,:]\d)")),
    ("code", re.compile(r"\b[A-Z0-9]{1,12}(?:-[A-Z0-9]{1,12})+\b|\b[A-Z0-9]{5,20}\b")),
    ("symbol", re.compile(r"[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F\u200D]+")),
]
_TRAILING = ".,;:!?)]'\"»"


@dataclass(frozen=True)
class Span:
    """A protected piece of the original text."""

    start: int
    end: int
    text: str
    kind: str
    term: str | None = None  # the glossary term, for kind "term"


def _valid(kind: str, text: str) -> bool:
    if kind == "phone":
        # Six digits or more: a phone number, or several numbers in a row (kept as one span:
        # nothing in a run of digits needs translating). Shorter numbers stay text for context.
        return sum(c.isdigit() for c in text) >= 6
    if kind == "code":
        return any(c.isdigit() for c in text) and any(c.isalpha() for c in text)
    return True


def _trim_url(text: str) -> str:
    while text and text[-1] in _TRAILING:
        if text[-1] == ")" and text.count("(") >= text.count(")"):
            break  # a balanced bracket belongs to the URL
        text = text[:-1]
    return text


def _span(kind: str, m: re.Match[str], glossary: Glossary | None) -> Span | None:
    value = m.group(0)
    if kind == "url":
        value = _trim_url(value)
    value = value.rstrip()
    if not value or not _valid(kind, value):
        return None
    term = glossary.canonical(m.group(1)) if kind == "term" and glossary is not None else None
    return Span(m.start(), m.start() + len(value), value, kind, term)


def find_spans(text: str, glossary: Glossary | None = None) -> list[Span]:
    """The protected spans of ``text``, in order and never overlapping.

    Left to right, the earliest match wins (then the longest, then the earlier kind); a pattern whose
    next match overlaps an accepted span searches again after it, so "00 255 €" after an IBAN still
    finds "255 €".
    """
    patterns = list(_PATTERNS)
    if glossary is not None and glossary.pattern is not None:
        patterns.append(("term", glossary.pattern))

    def next_from(i: int, pos: int) -> Span | None:
        kind, pattern = patterns[i]
        while pos <= len(text):
            m = pattern.search(text, pos)
            if m is None:
                return None
            span = _span(kind, m, glossary)
            if span is not None:
                return span
            pos = m.start() + 1
        return None

    pending = [next_from(i, 0) for i in range(len(patterns))]
    spans: list[Span] = []
    while True:
        best: tuple[tuple[int, int, int], Span] | None = None
        for i, candidate in enumerate(pending):
            if candidate is None:
                continue
            key = (candidate.start, candidate.start - candidate.end, i)
            if best is None or key < best[0]:
                best = (key, candidate)
        if best is None:
            return spans
        chosen = best[1]
        spans.append(chosen)
        for i, candidate in enumerate(pending):
            if candidate is not None and candidate.start < chosen.end:
                pending[i] = next_from(i, chosen.end)


def sentinel(index: int) -> str:
    """The sentinel token for span ``index``: ZQXA, ZQXB, …, ZQXBA."""
    letters = ""
    while True:
        index, rest = divmod(index, len(_INDEX_LETTERS))
        letters = _INDEX_LETTERS[rest] + letters
        if index == 0:
            return SENTINEL_PREFIX + letters


def _index_of(letters: str) -> int:
    value = 0
    for ch in letters:
        value = value * len(_INDEX_LETTERS) + _INDEX_LETTERS.index(ch)
    return value


def _has_words(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


Explain = Callable[[Span], str | None]


class Masked:
    """A text split into protected spans and the translatable text between them."""

    def __init__(self, text: str, glossary: Glossary | None = None) -> None:
        self.text = text
        self.spans = find_spans(text, glossary)
        self.parts: list[str | Span] = []
        pos = 0
        for span in self.spans:
            if span.start > pos:
                self.parts.append(text[pos : span.start])
            self.parts.append(span)
            pos = span.end
        if pos < len(text):
            self.parts.append(text[pos:])
        self.masked = "".join(
            sentinel(self.spans.index(p)) if isinstance(p, Span) else p for p in self.parts
        )

    @property
    def needs_model(self) -> bool:
        """Whether any words outside the spans need translating."""
        return any(isinstance(p, str) and _has_words(p) for p in self.parts)

    @property
    def sentinels_usable(self) -> bool:
        """Whether the sentinel path can be tried (the text must not contain a sentinel itself)."""
        return SENTINEL_PREFIX not in self.text

    def segments(self) -> list[str]:
        """The translatable pieces between the spans (stripped), for the segment path."""
        return [p.strip() for p in self.parts if isinstance(p, str) and _has_words(p)]

    def _span_text(self, span: Span, explain: Explain | None, explained: set[str]) -> str:
        if explain is None or span.term is None or span.term in explained:
            return span.text
        explained.add(span.term)
        if self.text[span.end :].lstrip().startswith("("):
            return span.text  # the source explains it already
        note = explain(span)
        return f"{span.text} ({note})" if note else span.text

    def restore(self, translated: str, explain: Explain | None = None) -> str | None:
        """Put the spans back into the model's output, or None if any sentinel got lost or doubled."""
        found = [_index_of(m.group(1)) for m in _SENTINEL.finditer(translated)]
        if sorted(found) != list(range(len(self.spans))):
            return None
        explained: set[str] = set()
        restored = _SENTINEL.sub(
            lambda m: self._span_text(self.spans[_index_of(m.group(1))], explain, explained),
            translated,
        )
        if SENTINEL_PREFIX in _strip_spans(restored, self.spans):
            return None  # a broken sentinel fragment (e.g. "ZQX A") is left in the text
        return _keep_outer_space(self.text, restored)

    def assemble(self, translated: Mapping[str, str], explain: Explain | None = None) -> str:
        """The segment path: translated pieces with the spans in between, verbatim."""
        explained: set[str] = set()
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, Span):
                out.append(self._span_text(part, explain, explained))
            elif _has_words(part):
                core = part.strip()
                lead = part[: len(part) - len(part.lstrip())]
                trail = part[len(part.rstrip()) :]
                out.append(lead + translated.get(core, core).strip() + trail)
            else:
                out.append(part)
        return "".join(out)


def _strip_spans(text: str, spans: list[Span]) -> str:
    for span in spans:
        text = text.replace(span.text, "")
    return text


def _keep_outer_space(original: str, translated: str) -> str:
    lead = original[: len(original) - len(original.lstrip())]
    trail = original[len(original.rstrip()) :]
    return lead + translated.strip() + trail


def translate_protected(
    texts: list[str],
    translate_units: Callable[[list[str]], list[str]],
    glossary: Glossary | None = None,
    *,
    explain_language: str | None = None,
) -> list[tuple[str, list[str]]]:
    """Translate ``texts`` with their spans protected; returns each result and the units it used.

    ``translate_units`` translates plain strings (the engine, behind the memory); it is called at most
    twice: once for all texts, once more for the texts whose sentinels did not survive.
    """
    explain: Explain | None = None
    if glossary is not None and explain_language is not None:
        lang = explain_language

        def explain(span: Span) -> str | None:
            return glossary.explanation(span.term or span.text, lang)

    masks = [Masked(t, glossary) for t in texts]
    done: dict[str, str] = {}

    def run(units: list[str]) -> None:
        todo = list(dict.fromkeys(u for u in units if u not in done))
        if todo:
            out = translate_units(todo)
            done.update(zip(todo, out, strict=True))

    first: list[str] = []
    for m in masks:
        if not m.needs_model:
            continue
        first.extend([m.masked.strip()] if m.sentinels_usable else m.segments())
    run(first)

    results: dict[int, tuple[str, list[str]]] = {}
    retry: list[int] = []
    for i, m in enumerate(masks):
        if not m.needs_model:
            results[i] = (m.assemble({}, explain), [])
        elif m.sentinels_usable:
            unit = m.masked.strip()
            restored = m.restore(done[unit], explain)
            if restored is None:
                retry.append(i)
            else:
                results[i] = (restored, [unit])
        else:
            retry.append(i)
    run([u for i in retry for u in masks[i].segments()])
    for i in retry:
        results[i] = (masks[i].assemble(done, explain), masks[i].segments())
    return [results[i] for i in range(len(texts))]
