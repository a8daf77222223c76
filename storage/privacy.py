"""Helpers that keep personal data out of places it does not belong."""

from __future__ import annotations

import re

# "My name is …" in the chat languages: the one or two words after it are a name.
_NAME_INTRO = (
    r"ich hei(?:ß|ss)e|mein name ist|my name is|i am called|i'm called|je m'appelle|mon nom est|"
    r"me llamo|mi nombre es|nazywam się|mam na imię|mă numesc|numele meu este|меня зовут|"
    r"мене звати|моє ім'я|казвам се|името ми е|benim adım|adım|quhem|emri im është|"
    r"navê min|اسمي|نام من|اسم من"
)
_PATTERNS = [
    (
        re.compile(rf"(?i)(?<!\w)({_NAME_INTRO})\s+[^\s,.;:!?]+(?:\s+[A-ZÄÖÜ][^\s,.;:!?]*)?"),
        r"\1 [name]",
    ),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "[email]"),
    (re.compile(r"https?://\S+|www\.\S+"), "[link]"),
    (re.compile(r"(?<!\w)\+?\d[\d\s/().-]{6,}\d"), "[number]"),
    (re.compile(r"\b[A-Z]{1,2}\d{6,9}\b"), "[id]"),  # passport-like document numbers
    # German passport and ID card numbers: 9 letters and digits mixed (e.g. C01X00T47).
    (re.compile(r"\b(?=[A-Z0-9]{8,12}\b)(?=(?:[A-Z]*\d){3})(?=[0-9]*[A-Z])[A-Z0-9]{8,12}\b"), "[id]"),
    (re.compile(r"\d{3,}"), "[number]"),
]


def anonymise(text: str, limit: int = 500) -> str:
    """Remove names after "my name is …", e-mail addresses, links, phone and document numbers; cut to
    ``limit`` characters."""
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text[:limit]


def log_safe(text: str, limit: int = 60) -> str:
    """User text for a log line: no line breaks (no forged log lines), short, anonymised."""
    return anonymise(text, limit).replace("\r", " ").replace("\n", " ")


def ident(value: object, limit: int = 48) -> str:
    """An id for a log line, escaped: control and invisible characters as ``\\x..``/``\\u....`` escapes,
    cut to ``limit``. A sender or message id that contains a line break cannot forge a log line."""
    text = str(value)
    out = []
    for ch in text[:limit]:
        code = ord(ch)
        if ch.isprintable() and not 0x200B <= code <= 0x206F and ch != "\\":
            out.append(ch)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out) + ("…" if len(text) > limit else "")
