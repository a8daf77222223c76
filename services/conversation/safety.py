"""A safety net under the language model: clear danger words always reach the emergency flow.

The classifier misses some phrasings of suicidal thoughts or violence (it learns from examples, and
people in crisis write unpredictably). Missing one is worse than showing emergency numbers once too
often, so a few unambiguous phrases in every chat language route the message to the emergency intent,
which shows the numbers and hands the conversation to a person. Keep the list short and specific:
generic words such as "emergency" or "help" are left to the classifier.
"""

from __future__ import annotations

import re

from storage.search import normalise

_PHRASES = [
    # de
    "umbringen",
    "suizid",
    "selbstmord",
    "nicht mehr leben",
    "schlagt mich",
    "vergewaltig",
    # en
    "suicide",
    "kill myself",
    "end my life",
    "beats me",
    "hits me",
    "raped",
    # fr
    "me suicider",
    "me tuer",
    "me frappe",
    # tr
    "intihar",
    "kendimi oldur",
    "beni dovuyor",
    # ar (normalised: no diacritics)
    "انتحار",
    "اقتل نفسي",
    "يضربني",
    # fa
    "خودکشی",
    "خودمو بکشم",
    "کتکم میزنه",
    # uk / ru
    "самогубств",
    "вбити себе",
    "б'є мене",
    "самоубийств",
    "суицид",
    "убить себя",
    "бьет меня",
]
_PATTERN = re.compile("|".join(re.escape(normalise(p)) for p in _PHRASES))


def is_emergency(text: str) -> bool:
    """True when the text contains one of the unambiguous danger phrases."""
    return bool(_PATTERN.search(normalise(text)))
