"""The action server's runtime, built lazily (rasa_sdk creates actions without arguments)."""

from __future__ import annotations

from functools import cache

from lotse import runtime as composition
from lotse.runtime import Runtime
from lotse.settings import Settings


@cache
def get_services() -> Runtime:
    """The runtime of the action server process, from the same settings as the app."""
    return composition.build(Settings())
