"""Rasa goes down mid-conversation: messages are kept, answered once Rasa is back. Runs last."""

from __future__ import annotations

import time
import uuid

import pytest

from rendering.renderer import Renderer
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


def test_messages_are_kept_while_rasa_is_down_and_answered_later(stack: Stack, texts: Renderer):
    sender = f"web-{uuid.uuid4()}"
    stack.chat(sender, text="hallo", consent=True, language="de")
    stack.stop_process("rasa")
    try:
        [kept] = stack.chat(sender, text="Wie melde ich mein Kind in der Kita an?")
        assert kept["text"] == texts.text("rasa_unavailable", "de")
        [kept2] = stack.chat(sender, text="Was kostet die Einbürgerung?")
        assert kept2["text"] == texts.text("rasa_unavailable", "de")
    finally:
        stack.restart_process("rasa")
    stack.wait_rasa_loaded()
    deadline, answers = time.monotonic() + 180, []
    while time.monotonic() < deadline and len(answers) < 2:
        answers += stack.updates(sender)
        time.sleep(1)
    # Both answered, in the order they were sent.
    assert [a["meta"].get("topic") for a in answers] == ["kita", "naturalisation"]
