"""Load every kind of seed content; each loader is idempotent and keeps staff edits."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from storage.seed import SeedReport, load_seed
from storage.seed_calendar import load_calendar_seed
from storage.snippets import load_snippets
from translations.glossary import load_glossary


@dataclass
class SeedSummary:
    content: SeedReport
    calendar: SeedReport
    glossary: object
    errors: list[str] = field(default_factory=list)
    snippets: dict[str, int] = field(default_factory=dict)


def seed_everything(session: Session) -> SeedSummary:
    """FAQ, bot messages and checklists; offices and case managers; the glossary; reply snippets."""
    content = load_seed(session)
    calendar = load_calendar_seed(session)
    glossary = load_glossary(session)
    errors = [*content.errors, *calendar.errors, *getattr(glossary, "errors", [])]
    return SeedSummary(content, calendar, glossary, errors, load_snippets(session))
