"""Reading Rasa NLU example files (training data and held-out sets) in the tests."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import yaml

from lotse.settings import ROOT

TRAIN = ROOT / "nlu" / "data" / "nlu"
HELD_OUT = ROOT / "nlu" / "tests" / "nlu"
_ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]+\)")


def plain(text: str) -> str:
    """The text as a person typed it: ``[Troisdorf](municipality)`` becomes ``Troisdorf``."""
    return _ANNOTATION.sub(r"\1", text)


def normalise(text: str) -> str:
    """For comparing examples: plain, lowercase, no punctuation, single spaces."""
    text = re.sub(r"[^\w\s]", "", plain(text).lower())
    return re.sub(r"\s+", " ", text).strip()


def examples(path: Path) -> dict[str, list[str]]:
    """The examples of a file by intent, in file order, annotations kept."""
    out: dict[str, list[str]] = defaultdict(list)
    for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
        if "intent" not in block:
            continue
        for line in block["examples"].splitlines():
            line = line.strip()
            if line.startswith("- "):
                out[block["intent"]].append(line[2:].strip())
    return out
