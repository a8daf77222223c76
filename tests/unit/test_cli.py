"""Every `lotse` command family is wired and runs against a real (seeded) database."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from cli.main import main


@pytest.mark.parametrize(
    "argv",
    [
        ["seed"],
        ["handoff", "list"],
        ["models", "list"],
        ["models", "languages"],
        ["calendar", "offices"],
        ["calendar", "holidays"],
        ["appointments", "reminders"],
    ],
)
def test_commands_run(argv: list[str], seeded: Engine, database_url: str, monkeypatch, capsys):
    monkeypatch.setenv("LOTSE_DATABASE_URL", database_url)
    assert main(argv) == 0
    assert capsys.readouterr().out.strip()


def test_unknown_handoff_is_an_error(seeded: Engine, database_url: str, monkeypatch):
    monkeypatch.setenv("LOTSE_DATABASE_URL", database_url)
    assert main(["handoff", "release", "999999"]) == 1
