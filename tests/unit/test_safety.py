"""The emergency safety net recognises clear danger phrases in every chat language, and only those."""

from __future__ import annotations

import pytest

from services.conversation.safety import is_emergency


@pytest.mark.parametrize(
    "text",
    [
        "Ich will mich umbringen",
        "mein mann schlägt mich jeden tag",
        "i want to end my life",
        "my husband beats me",
        "je veux me suicider",
        "kocam beni dövüyor",
        "أفكر في الانتحار",
        "زوجم کتکم میزنه",
        "думаю про самогубство",
        "муж бьет меня",
        "хочу убить себя",
    ],
)
def test_danger_phrases_are_caught(text: str):
    assert is_emergency(text)


@pytest.mark.parametrize(
    "text",
    [
        "Wie melde ich mein Kind in der Kita an?",
        "how much does naturalisation cost",
        "my child hit his head on the table at kita",
        "emergency doctor at night?",
        "Termin bitte",
    ],
)
def test_ordinary_questions_are_not(text: str):
    assert not is_emergency(text)
