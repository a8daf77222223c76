"""Administration: accounts and roles, the audit trail (read and verify only), overdue hand-offs.

Every route needs the ``admin`` role. Account changes go through ``services.staff`` (each one an audit
row); nothing here can change or delete an audit row.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.render import page
from console.security import PREFIX, role, staff_of
from console.strings import t
from services.audit import Actor, Audit
from services.handoff import HandoffDesk
from services.staff import ROLES, Account, ConsoleSession, StaffError
from storage.audit import ACTIONS
from storage.db import utcnow

router = APIRouter(prefix=PREFIX + "/admin")
Admin = Annotated[ConsoleSession, Depends(role("admin"))]


def _audit(request: Request) -> Audit:
    audit: Audit = request.app.state.runtime.audit
    return audit


def _accounts_page(
    request: Request, *, error: str | None = None, notice: str | None = None, status_code: int = 200
) -> HTMLResponse:
    return page(
        request,
        "accounts.html",
        {
            "accounts": staff_of(request).accounts(),
            "roles": ROLES,
            "error": error,
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/accounts", response_class=HTMLResponse, dependencies=[Depends(role("admin"))])
def accounts(request: Request) -> HTMLResponse:
    return _accounts_page(request)


@router.post("/accounts", response_class=HTMLResponse)
def create_account(
    request: Request,
    session: Admin,
    username: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=120)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    roles: Annotated[list[str] | None, Form()] = None,
) -> HTMLResponse:
    try:
        created = staff_of(request).create(
            username,
            display_name,
            password,
            list(roles or []),
            actor=Actor.staff(session.account.username),
        )
    except StaffError as exc:
        return _accounts_page(request, error=str(exc), status_code=400)
    return _accounts_page(request, notice=t("account_created", name=created.username))


def _changed(
    request: Request, session: ConsoleSession, change: Callable[[Actor], Account], *, ends_own: bool
) -> Response:
    """Apply one account change; a change that ended the admin's own session leads to the login."""
    try:
        changed = change(Actor.staff(session.account.username))
    except StaffError as exc:
        return _accounts_page(request, error=str(exc), status_code=400)
    if ends_own and changed.id == session.account.id:
        return RedirectResponse(f"{PREFIX}/login?bye=1", status_code=303)
    return _accounts_page(request, notice=t("account_changed", name=changed.username))


@router.post("/accounts/{account_id}/active", response_model=None)
def set_active(
    request: Request,
    account_id: int,
    session: Admin,
    active: Annotated[str, Form(max_length=1)] = "0",
) -> Response:
    staff = staff_of(request)
    return _changed(
        request,
        session,
        lambda actor: staff.set_active(account_id, active == "1", actor=actor),
        ends_own=active != "1",
    )


@router.post("/accounts/{account_id}/roles", response_model=None)
def set_roles(
    request: Request,
    account_id: int,
    session: Admin,
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    staff = staff_of(request)
    return _changed(
        request,
        session,
        lambda actor: staff.set_roles(account_id, list(roles or []), actor=actor),
        ends_own=False,
    )


@router.post("/accounts/{account_id}/password", response_model=None)
def set_password(
    request: Request,
    account_id: int,
    session: Admin,
    password: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    staff = staff_of(request)
    return _changed(
        request,
        session,
        lambda actor: staff.set_password(account_id, password, actor=actor),
        ends_own=True,
    )


def _day(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError:
        return None


def _audit_page(request: Request, *, verification: object = None) -> HTMLResponse:
    q = request.query_params
    filters = {
        "actor": (q.get("actor") or "").strip()[:64] or None,
        "action": q.get("action") if q.get("action") in ACTIONS else None,
        "person": (q.get("person") or "").strip()[:32] or None,
        "target": (q.get("target") or "").strip()[:64] or None,
    }
    since, until = _day(q.get("since")), _day(q.get("until"))
    audit = _audit(request)
    rows = audit.list(
        **filters,
        since=since,
        until=until + timedelta(days=1) if until else None,
        limit=200,
    )
    verified = audit.list(action="audit.verify", limit=1)
    return page(
        request,
        "audit.html",
        {
            "rows": rows,
            "filters": filters,
            "since": q.get("since", ""),
            "until": q.get("until", ""),
            "actions": sorted(ACTIONS),
            "verification": verification,
            "last_verify": verified[0] if verified else None,
        },
    )


@router.get("/audit", response_class=HTMLResponse, dependencies=[Depends(role("admin"))])
def audit_trail(request: Request) -> HTMLResponse:
    return _audit_page(request)


@router.post("/audit/verify", response_class=HTMLResponse)
def verify(request: Request, session: Admin) -> HTMLResponse:
    result = _audit(request).verify(Actor.staff(session.account.username))
    return _audit_page(request, verification=result)


@router.get("/escalations", response_class=HTMLResponse, dependencies=[Depends(role("admin"))])
def escalations(request: Request) -> HTMLResponse:
    desk: HandoffDesk = request.app.state.runtime.handoff
    days = request.app.state.runtime.settings.handoff.response_days
    return page(
        request,
        "escalations.html",
        {"items": desk.escalations(), "days": days, "now": utcnow()},
    )


@router.get("/erasures", response_class=HTMLResponse, dependencies=[Depends(role("admin"))])
def erasures(request: Request) -> HTMLResponse:
    """Erasures a store has not confirmed yet (the retention job retries them)."""
    privacy = request.app.state.runtime.privacy
    return page(request, "erasures.html", {"pending": privacy.incomplete_erasures()})
