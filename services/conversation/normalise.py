"""What a person typed, made safe to read and to match: no control or invisible characters."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str) -> str:
    """Drop control and bidi-override characters (they can disguise text); keep everything else."""
    return _CONTROL.sub("", text).strip()
