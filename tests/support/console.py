"""The staff console over HTTP for the unit tests: a runtime with staff accounts, a browser on the
real app (ASGI), signing in, the CSRF token of a page, and the audit rows of an action."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.app import create_app
from lotse.runtime import Runtime
from lotse.settings import ConsoleSettings, WebSettings
from services.audit import Actor
from storage.db import session_scope
from storage.models_audit import AuditEvent
from tests.support.offline import offline_runtime

PASSWORD = "richtig-langes-passwort"
CLI = Actor.cli("test")
# The accounts most console tests sign in with: name -> (full name, roles).
ACCOUNTS: dict[str, tuple[str, list[str]]] = {
    "cm": ("Clara Meier", ["case_manager"]),
    "ed": ("Emil Dorn", ["editor"]),
    "ed2": ("Erika Dahl", ["editor"]),
    "admin": ("Ada Min", ["admin"]),
}


def console_runtime(database_url: str, tmp_path: Path, **settings: object) -> Runtime:
    """An offline runtime (no Rasa, no Telegram) with the console's settings and ``ACCOUNTS``."""
    rt = offline_runtime(
        database_url,
        tmp_path,
        web=WebSettings(secret="test-secret-test-secret"),
        console=ConsoleSettings(idle_minutes=30, poll_seconds=5),
        **settings,
    )
    for username, (name, roles) in ACCOUNTS.items():
        rt.staff.create(username, name, PASSWORD, roles, actor=CLI)
    return rt


def browser(runtime: Runtime) -> httpx.AsyncClient:
    app = create_app(runtime, background=False)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://lotse.test", follow_redirects=False
    )


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


async def login(c: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    form = await c.get("/console/login")
    assert form.status_code == 200
    return await c.post(
        "/console/login",
        data={"username": username, "password": password, "csrf": csrf_of(form.text)},
    )


@asynccontextmanager
async def signed_in(runtime: Runtime, username: str) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A browser signed in as ``username``, and the CSRF token of its session."""
    async with browser(runtime) as c:
        resp = await login(c, username)
        assert resp.status_code == 303, resp.text
        home = await c.get("/console/account/password")
        yield c, csrf_of(home.text)


def audit_rows(engine: Engine, action: str) -> list[AuditEvent]:
    with session_scope(engine) as s:
        rows = list(s.exec(select(AuditEvent).where(AuditEvent.action == action)).all())
        s.expunge_all()
        return rows
