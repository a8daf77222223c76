"""Reminders that did not (certainly) reach the person, for the case managers.

A reminder that fell due while the bot could not send it (``missed``), whose send timed out or whose
sender died mid-send (``unknown``: never resent blindly) or that Telegram refused (``failed``) is
escalated here: the person may not know about their appointment any more. A case manager deals with
it (reminds them another way, or keeps the appointment in view) and marks it done — an audit row.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.render import page
from console.security import PREFIX, role
from console.strings import t
from services.audit import Actor
from services.staff import ConsoleSession
from storage import calendar
from storage import reminders as reminder_rows
from storage.db import session_scope

router = APIRouter(prefix=PREFIX)
CaseManager = Annotated[ConsoleSession, Depends(role("case_manager"))]


def open_count(request: Request) -> int:
    """How many reminders need a look (the inbox shows the number)."""
    with session_scope(request.app.state.runtime.engine) as s:
        return len(reminder_rows.needing_a_look(session=s))


@router.get("/reminders", response_class=HTMLResponse, dependencies=[Depends(role("case_manager"))])
def reminders(request: Request) -> HTMLResponse:
    with session_scope(request.app.state.runtime.engine) as s:
        offices = {o.id: o.name for o in calendar.offices(s)}
        rows = [
            {
                "id": r.id,
                "reference": a.reference,
                "office": offices.get(a.office_id, a.office_id),
                "start": a.start,
                "kind": r.kind,
                "status": r.status,
                "reason": r.reason,
                "language": r.language or a.language,
            }
            for r, a in reminder_rows.needing_a_look(session=s)
        ]
    done = request.query_params.get("done")
    notice = t(done) if done in ("reminder_checked", "reminder_gone") else None
    return page(request, "reminders.html", {"rows": rows, "notice": notice})


@router.post("/reminders/{reminder_id}/checked", response_model=None)
def checked(request: Request, reminder_id: int, session: CaseManager) -> Response:
    runtime = request.app.state.runtime
    with session_scope(runtime.engine) as s:
        found = reminder_rows.mark_checked(session=s, reminder_id=reminder_id)
        if found is not None:
            _, appointment = found
            runtime.audit.record(
                Actor.staff(session.account.username),
                "reminder.check",
                person=appointment.person_id,
                target=f"reminder:{reminder_id}",
                details={"reference": appointment.reference, "was": "needs_a_look"},
                session=s,
            )
    done = "reminder_checked" if found is not None else "reminder_gone"
    return RedirectResponse(f"{PREFIX}/reminders?done={done}", status_code=303)
