"""End-to-end fixtures: expected texts come from the same stored content the bot renders."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from rendering.renderer import Renderer
from storage.db import make_engine
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def stack_db(stack: Stack) -> Iterator[Engine]:
    eng = make_engine(stack.settings.database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def texts(stack: Stack, stack_db: Engine) -> Renderer:
    """Render bot messages exactly as the app does (no machine translation in the tests' stack)."""
    return Renderer(stack_db, None, stack.settings.message_variables())
