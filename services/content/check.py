"""The content check: what a careful editor checks before an answer goes out, done by a machine.

Run on the seed files by ``make test`` (``tests/unit/test_content_check.py``), and usable on any
content in the same shape. Each problem names the entry (or message), the language and what is wrong:

* an entry has a source, and a legal basis or a URL, a ``last_verified`` date and a review date;
* an answer about a decision names who decides: ``decided_by`` is present (a list), not empty for the
  topics that are about decisions, and every name appears verbatim in the German and English answer;
* English texts use English number formats (``2.29 €``, ``1,000``), never German ones (``2,29 €``);
* every translation has the numbers of its German master (dates, amounts, phone numbers, paragraphs);
* a glossary term followed by an explanation in brackets uses the term's ``gloss`` in that language;
* an entry past its ``valid_until`` date fails until an editor re-confirms it (a new date, or none).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from storage.vocabulary import MASTER_LANGUAGE

# Words that show an answer is about a decision by an authority (German master text).
_DECISION_WORDS = re.compile(
    r"\b(?:Entscheidung\w*|entscheidet|bewillig\w*|genehmig\w*|Bescheid\w*|erstatte\w*|"
    r"befrei\w*|Anspruch|Ansprüche|zugelassen|Zulassung|verpflichte\w*|ablehn\w*|abgelehnt)\b",
    re.IGNORECASE,
)
# Languages that write decimals with a point and group thousands with a comma.
POINT_DECIMAL = frozenset({"en"})
_DATE = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b")
# Digits with separators: "2,29", "1.000", "5.0", "30.3"; a space groups thousands only before three
# digits ("1 000"), so "2026 63 €" are two numbers.
_NUMBER = re.compile(r"\d+(?:[.,]\d+|[\u00a0\u202f ]\d{3}(?!\d))*")
_EASTERN = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_GERMAN_IN_ENGLISH = re.compile(r"\d,\d{2}\s?€|\b\d{1,3}(?:\.\d{3})+\b(?!\.\d)")


@dataclass(frozen=True)
class Problem:
    where: str  # "faq:<key>", "message:<key>", "checklist:<key>"
    language: str | None
    what: str

    def __str__(self) -> str:
        lang = f" [{self.language}]" if self.language else ""
        return f"{self.where}{lang}: {self.what}"


def numbers(text: str, language: str) -> Counter[str]:
    """The numbers in a text, written one way whatever the language's format (dates first)."""
    text = text.translate(_EASTERN)
    found: Counter[str] = Counter()

    def date_token(m: re.Match[str]) -> str:
        found[f"date:{int(m.group(3)):04d}-{int(m.group(2)):02d}-{int(m.group(1)):02d}"] += 1
        return " "

    text = _DATE.sub(date_token, text)
    for token in _NUMBER.findall(text):
        found[_canonical(token, language)] += 1
    return found


def _canonical(token: str, language: str) -> str:
    """A number as one string: thousands groups dropped, the decimal separator a point.

    Only a separator followed by exactly three digits can group thousands; anything else ("Amt 30.3",
    "§ 4.2") stays as written, so it must be written the same way in every language.
    """
    token = re.sub(r"[\u00a0\u202f ]", "", token)
    decimal, group = (".", ",") if language in POINT_DECIMAL else (",", ".")
    whole, sep, fraction = token.partition(decimal)
    pieces = whole.split(group)
    if len(pieces) > 1 and not all(len(p) == 3 for p in pieces[1:]):
        return token.replace(",", ".")  # not a grouped number: compare as written
    digits = "".join(pieces)
    value = str(int(digits)) if digits.isdigit() else digits
    return f"{value}.{fraction}" if sep else value


def _glosses(seed_dir: Path) -> dict[str, dict[str, str]]:
    data = yaml.safe_load((seed_dir / "glossary.yml").read_text(encoding="utf-8")) or {}
    out: dict[str, dict[str, str]] = {}
    for raw in data.get("terms") or []:
        term = str(raw.get("term") or "")
        out[term] = {str(k): str(v) for k, v in (raw.get("gloss") or {}).items() if v}
    for extra in sorted((seed_dir / "translations").glob("gloss.*.yml")):
        lang = extra.name.split(".")[1]
        for term, values in (yaml.safe_load(extra.read_text(encoding="utf-8")) or {}).items():
            if isinstance(values, dict) and values.get("gloss"):
                out.setdefault(str(term), {}).setdefault(lang, str(values["gloss"]))
    return out


def _gloss_problems(
    where: str, lang: str, text: str, glosses: dict[str, dict[str, str]]
) -> list[Problem]:
    problems = []
    for term, by_lang in glosses.items():
        gloss = by_lang.get(lang)
        if not gloss:
            continue
        for m in re.finditer(rf"(?<![\w-]){re.escape(term)} \(([^()]*(?:\([^()]*\))?[^()]*)\)", text):
            if m.group(1) != gloss:
                problems.append(Problem(where, lang, f"{term} ({m.group(1)}) — the gloss is ({gloss})"))
    return problems


def _faq_texts(raw: dict[str, Any], overlays: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    texts: dict[str, dict[str, str]] = {
        str(lang): {f: str(t.get(f) or "") for f in ("question", "answer")}
        for lang, t in (raw.get("texts") or {}).items()
    }
    for lang, t in overlays.items():
        texts.setdefault(lang, {f: str(t.get(f) or "") for f in ("question", "answer")})
    return texts


def check_entry(
    raw: dict[str, Any],
    *,
    today: date,
    glosses: dict[str, dict[str, str]],
    overlays: dict[str, dict[str, Any]] | None = None,
) -> list[Problem]:
    """The problems of one FAQ entry (its seed form)."""
    key = str(raw.get("key"))
    where = f"faq:{key}"
    problems: list[Problem] = []
    sources = [str(s) for s in raw.get("sources") or []]
    if not sources:
        problems.append(Problem(where, None, "no source"))
    if not raw.get("legal_basis") and not any(s.startswith(("http://", "https://")) for s in sources):
        problems.append(Problem(where, None, "neither a legal basis nor a URL among the sources"))
    if not raw.get("last_verified"):
        problems.append(Problem(where, None, "no last_verified date"))
    if not raw.get("review_due"):
        problems.append(Problem(where, None, "no review date"))
    valid_until = raw.get("valid_until")
    if isinstance(valid_until, date) and valid_until < today:
        problems.append(Problem(where, None, f"valid until {valid_until}: re-confirm or correct it"))
    texts = _faq_texts(raw, overlays or {})
    master = texts.get(MASTER_LANGUAGE, {})
    if "decided_by" not in raw or not isinstance(raw.get("decided_by"), list):
        problems.append(Problem(where, None, "decided_by missing (a list; [] if no decision)"))
    else:
        authorities = [str(a) for a in raw["decided_by"]]
        decision = _DECISION_WORDS.search(master.get("answer", ""))
        if not authorities and decision:
            problems.append(
                Problem(
                    where,
                    None,
                    f"about a decision ({decision.group(0)!r}) but decided_by names no authority",
                )
            )
        for lang in (MASTER_LANGUAGE, "en"):
            answer = texts.get(lang, {}).get("answer", "")
            for authority in authorities:
                if answer and authority not in answer:
                    problems.append(Problem(where, lang, f"the answer does not name {authority}"))
    for lang, fields in texts.items():
        for field_name, text in fields.items():
            if not text:
                continue
            if lang == "en" and (bad := _GERMAN_IN_ENGLISH.search(text)):
                problems.append(
                    Problem(where, lang, f"German number format in English: {bad.group(0)!r}")
                )
            if lang != MASTER_LANGUAGE and master.get(field_name):
                want = numbers(master[field_name], MASTER_LANGUAGE)
                have = numbers(text, lang)
                if want != have:
                    missing = sorted((want - have).elements())
                    extra = sorted((have - want).elements())
                    problems.append(
                        Problem(
                            where,
                            lang,
                            f"{field_name}: numbers differ from German: "
                            f"missing {missing}, extra {extra}",
                        )
                    )
            problems += _gloss_problems(f"{where}.{field_name}", lang, text, glosses)
    return problems


def check_seed(seed_dir: Path, *, today: date) -> list[Problem]:
    """Every problem of the seed content in ``seed_dir`` (FAQ entries, messages, checklists)."""
    glosses = _glosses(seed_dir)
    overlays: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted((seed_dir / "translations").glob("faq.*.yml")):
        lang = path.name.split(".")[1]
        for key, texts in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            overlays.setdefault(str(key), {})[lang] = texts
    problems: list[Problem] = []
    for path in sorted((seed_dir / "faq").glob("*.yml")):
        for raw in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("entries") or []:
            problems += check_entry(
                raw, today=today, glosses=glosses, overlays=overlays.get(str(raw.get("key")), {})
            )
    messages = (yaml.safe_load((seed_dir / "messages.yml").read_text(encoding="utf-8")) or {})[
        "messages"
    ]
    by_lang: dict[str, dict[str, str]] = {
        lang: {k: str(v["texts"][lang]) for k, v in messages.items() if lang in v.get("texts", {})}
        for lang in ("de", "en")
    }
    for extra in sorted(seed_dir.glob("messages.*.yml")):
        lang = extra.name.split(".")[1]
        by_lang[lang] = {
            str(k): str(v["text"] if isinstance(v, dict) else v)
            for k, v in (yaml.safe_load(extra.read_text(encoding="utf-8")) or {}).items()
        }
    for lang, texts in by_lang.items():
        for key, text in texts.items():
            problems += _gloss_problems(f"message:{key}", lang, text, glosses)
            if lang == "en" and (bad := _GERMAN_IN_ENGLISH.search(text)):
                problems.append(
                    Problem(f"message:{key}", lang, f"German number format: {bad.group(0)!r}")
                )
    checklists = yaml.safe_load((seed_dir / "checklists.yml").read_text(encoding="utf-8")) or {}
    for cl in checklists.get("checklists") or []:
        for item in cl.get("items") or []:
            for lang, text in (item.get("text") or {}).items():
                problems += _gloss_problems(
                    f"checklist:{cl['key']}.{item['key']}", lang, str(text), glosses
                )
    return problems
