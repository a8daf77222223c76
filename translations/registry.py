"""The language registry: per language, what the product can really do, said honestly.

For each language of the product (``translations.languages.LANGUAGES``):

* **content** — the share of active FAQ entries and bot messages with a *current* reviewed or draft
  text in that language (a human wrote it; machine drafts do not count), and which ones are missing;
* **nlu** — whether the NLU model has training examples in the language (otherwise inbound messages
  are machine-translated to English first);
* **mt** — machine translation from German: ``direct``, ``pivot`` (through English: two model calls,
  weaker) or ``none``; ``mt_inbound`` likewise into English, which only matters without NLU data.

``language_registry`` returns plain dicts for the console, the README and ``lotse models languages``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlmodel import Session, col, select

from storage.models import BotMessage, FaqEntry, TextStatus, Translation
from storage.vocabulary import MASTER_LANGUAGE
from translations.engine import NullTranslator, route_of
from translations.languages import LANGUAGES, nlu_languages

HUMAN = (TextStatus.REVIEWED, TextStatus.DRAFT)


def _mt_kind(route: tuple[str, ...] | None) -> str:
    if route is None:
        return "none"
    return "direct" if len(route) <= 2 else "pivot"


def language_registry(
    session: Session, translator: Any = None, *, nlu: frozenset[str] | None = None
) -> list[dict[str, Any]]:
    """What the product can do in each language, as a list of dicts (one per language)."""
    translator = translator if translator is not None else NullTranslator()
    nlu = nlu if nlu is not None else nlu_languages()

    faqs = {e.key: e.version for e in session.exec(select(FaqEntry).where(col(FaqEntry.active)))}
    messages = {m.key: m.version for m in session.exec(select(BotMessage))}
    rows = session.exec(
        select(Translation).where(
            col(Translation.owner_type).in_(["faq", "message"]),
            col(Translation.status).in_([*HUMAN, TextStatus.SOURCE]),
        )
    ).all()
    # (language, owner_type, key) -> fields with a current human text, and which statuses
    fields: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    statuses: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for row in rows:
        version = (faqs if row.owner_type == "faq" else messages).get(row.owner_key)
        if version is None or (row.status != TextStatus.SOURCE and row.source_version < version):
            continue  # the master is always current; a translation of an older master is not
        key = (row.language, row.owner_type, row.owner_key)
        fields[key].add(row.field)
        statuses[key].add(row.status)

    def covered(lang: str, owner_type: str, key: str) -> str | None:
        need = {"question", "answer"} if owner_type == "faq" else {"text"}
        if not need <= fields.get((lang, owner_type, key), set()):
            return None
        found = statuses[(lang, owner_type, key)]
        for status in (TextStatus.SOURCE, TextStatus.DRAFT, TextStatus.REVIEWED):
            if status in found:
                return status  # the weakest status of the fields counts
        return None

    registry = []
    for code, lang in LANGUAGES.items():
        counts: dict[str, dict[str, int]] = {}
        missing: dict[str, list[str]] = {}
        for owner_type, keys, label in (("faq", faqs, "faq"), ("message", messages, "messages")):
            reviewed = draft = 0
            missing[label] = []
            for owner_key in sorted(keys):
                status = covered(code, owner_type, owner_key)
                if status in (TextStatus.REVIEWED, TextStatus.SOURCE):
                    reviewed += 1
                elif status == TextStatus.DRAFT:
                    draft += 1
                else:
                    missing[label].append(owner_key)
            counts[label] = {"total": len(keys), "reviewed": reviewed, "draft": draft}
        total = counts["faq"]["total"] + counts["messages"]["total"]
        human = sum(c["reviewed"] + c["draft"] for c in counts.values())
        mt_route = None if code == MASTER_LANGUAGE else route_of(translator, MASTER_LANGUAGE, code)
        has_nlu = code in nlu
        inbound = None if code == "en" else route_of(translator, code, "en")
        registry.append(
            {
                "code": code,
                "name": lang.endonym,
                "english": lang.english,
                "rtl": lang.rtl,
                "master": code == MASTER_LANGUAGE,
                "content": {**counts, "share": round(human / total, 3) if total else 0.0},
                # What a person of this language gets as machine translation or German: the
                # console's to-do list (keys without a current reviewed or draft text).
                "missing": missing,
                "nlu": has_nlu,
                "mt": "source" if code == MASTER_LANGUAGE else _mt_kind(mt_route),
                "mt_route": list(mt_route or ()),
                "mt_inbound": "not needed" if has_nlu or code == "en" else _mt_kind(inbound),
                "bridge": list(lang.bridge),
            }
        )
    return registry


def registry_table(registry: list[dict[str, Any]]) -> str:
    """The registry as a Markdown table (for the README and the command line)."""
    lines = [
        "| language | content (human) | NLU examples | MT from German | MT to English |",
        "|---|---|---|---|---|",
    ]
    for r in registry:
        c = r["content"]
        content = (
            "master"
            if r["master"]
            else f"{c['share']:.0%} (FAQ {c['faq']['reviewed']}+{c['faq']['draft']} of "
            f"{c['faq']['total']}, messages {c['messages']['reviewed']}+{c['messages']['draft']} "
            f"of {c['messages']['total']})"
        )
        mt = r["mt"] + (f" ({'→'.join(r['mt_route'])})" if r["mt"] == "pivot" else "")
        lines.append(
            f"| {r['english']} ({r['code']}) | {content} | {'yes' if r['nlu'] else 'no'} | {mt} "
            f"| {r['mt_inbound']} |"
        )
    return "\n".join(lines)
