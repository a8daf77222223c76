"""What a person typed, made safe to read and to match: no control or invisible characters."""

from __future__ import annotations

import re

# Controls, zero-width and bidi characters; also the other invisible ones (soft hyphen, combining
# grapheme joiner, Arabic letter mark, Mongolian vowel separator, word joiner and invisible
# operators, the byte order mark), so that a text of them alone is empty.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069"
    r"\u00ad\u034f\u061c\u180e\u2060-\u2064\ufeff]"
)


def clean_text(text: str) -> str:
    """Drop control and bidi-override characters (they can disguise text); keep everything else."""
    return _CONTROL.sub("", text).strip()


def has_letters(text: str) -> bool:
    """Whether the text has a letter in any script (emoji, signs and digits alone say nothing)."""
    return any(ch.isalpha() for ch in text)


# Words for "a person" in the languages the bot cannot understand (Kurdish), and the common ones people
# mix in: a message with one of them asks for a person.
_PERSON_WORDS = frozenset(
    [
        "mirov",
        "merov",
        "kes",
        "kesek",
        "însan",
        "insan",
        "person",
        "human",
        "mensch",
        "menschen",
        "شخص",
        "انسان",
        "إنسان",
        "کس",
    ]
)


def asks_for_a_person(text: str) -> bool:
    """Whether the text names a person (for languages the bot cannot read)."""
    return any(
        word in _PERSON_WORDS for word in text.lower().replace("„", " ").replace("“", " ").split()
    )
