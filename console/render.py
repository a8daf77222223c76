"""Templates of the console: one Jinja2 environment (autoescaped), its helpers, and page responses."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from console import strings
from storage.calendar import to_local
from storage.db import utcnow
from translations.languages import LANGUAGES

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")


def local_time(value: datetime | None, fmt: str = "%d.%m.%Y %H:%M") -> str:
    """A stored UTC time as Berlin wall-clock time (what staff read)."""
    return to_local(value).strftime(fmt) if value is not None else "–"


def waited(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in words: "vor 5 Min.", "vor 3 Std.", "vor 2 Tagen"."""
    if value is None:
        return "–"
    seconds = max(0, int(((now or utcnow()) - value).total_seconds()))
    if seconds < 3600:
        return f"vor {max(1, seconds // 60)} Min."
    if seconds < 86400:
        return f"vor {seconds // 3600} Std."
    days = seconds // 86400
    return "vor 1 Tag" if days == 1 else f"vor {days} Tagen"


def text_dir(language: str | None) -> str:
    lang = LANGUAGES.get(language or "")
    return "rtl" if lang is not None and lang.rtl else "ltr"


templates.env.globals.update(
    t=strings.t,
    label=strings.label,
    local_time=local_time,
    waited=waited,
    text_dir=text_dir,
    READ_REASONS=strings.READ_REASONS,
    OUTCOMES=strings.OUTCOMES,
    ROLE_LABELS=strings.ROLES,
    ACTION_LABELS=strings.ACTIONS,
)


def page(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    """Render a template with what every page needs (the signed-in account, the CSRF token)."""
    session = getattr(request.state, "console", None)
    ctx = {
        "account": session.account if session is not None else None,
        "csrf": session.csrf_token if session is not None else "",
        "poll_seconds": request.app.state.runtime.settings.console.poll_seconds,
        "path": request.url.path,
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
