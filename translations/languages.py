"""The language registry: what the product can do in each language, said honestly."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

NLU_DATA = Path(__file__).resolve().parent.parent / "nlu" / "data" / "nlu"


@dataclass(frozen=True)
class Language:
    code: str
    endonym: str
    english: str
    rtl: bool = False
    # Languages tried, in order, when no text exists in this language (before the German master).
    bridge: tuple[str, ...] = ()
    # False where neither the NLU model nor machine translation can understand what people write
    # (Kurdish): the bot then says what it can do in that language and offers a person.
    understood: bool = True


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("de", "Deutsch", "German"),
        Language("en", "English", "English"),
        Language("ar", "العربية", "Arabic", rtl=True),
        Language("uk", "Українська", "Ukrainian"),
        Language("ru", "Русский", "Russian"),
        Language("tr", "Türkçe", "Turkish"),
        Language("fa", "فارسی", "Persian", rtl=True),
        Language("fr", "Français", "French", bridge=("en",)),
        Language("es", "Español", "Spanish", bridge=("en",)),
        Language("pl", "Polski", "Polish", bridge=("en",)),
        Language("ro", "Română", "Romanian", bridge=("en",)),
        Language("bg", "Български", "Bulgarian", bridge=("en",)),
        Language("sq", "Shqip", "Albanian", bridge=("en",)),
        Language("ku", "Kurdî (Kurmancî)", "Kurdish (Kurmanji)", bridge=("en",), understood=False),
    )
}
# Offered on the language buttons, in this order.
CHAT_LANGUAGES: tuple[str, ...] = (
    "de", "en", "ar", "uk", "ru", "tr", "fa", "fr", "es", "pl", "ro", "bg", "sq", "ku",
)  # fmt: skip


def normalise_code(code: str | None) -> str | None:
    """Map a client language tag (``ar-SY``, ``pt_BR``, ``prs``) to a supported code, or None."""
    if not code:
        return None
    base = code.replace("_", "-").split("-")[0].lower()
    base = {"prs": "fa", "pes": "fa", "ua": "uk", "kmr": "ku", "als": "sq"}.get(base, base)
    return base if base in LANGUAGES else None


@cache
def nlu_languages(data_dir: Path = NLU_DATA) -> frozenset[str]:
    """Languages the NLU model has training examples for (one folder each)."""
    if not data_dir.is_dir():
        return frozenset()
    return frozenset(p.name for p in data_dir.iterdir() if p.is_dir() and any(p.glob("*.yml")))
