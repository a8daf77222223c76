"""The hand-off inbox of the case managers: list, open with a reason, read, reply, assign, close.

Every route needs the ``case_manager`` role. A conversation is shown only after it was opened with a
reason in this console session (that opening is the audit row); the routes are plain functions, so
the database and the translation models run in the thread pool, never on the bot's event loop.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.reminder_routes import open_count
from console.render import page
from console.security import PREFIX, Forbidden, role, staff_of
from console.strings import t
from services.audit import Actor
from services.handoff import (
    OUTCOMES,
    READ_REASONS,
    HandoffDesk,
    HandoffNotOpen,
    InboxItem,
    PreviewChanged,
)
from services.staff import ConsoleSession
from storage import snippets as snippet_rows
from storage.db import session_scope, utcnow
from storage.models_staff import ReplySnippet
from storage.snippets import MAX_NOTE, MAX_SNIPPET
from storage.vocabulary import MASTER_LANGUAGE, TOPICS

router = APIRouter(prefix=PREFIX)
CaseManager = Annotated[ConsoleSession, Depends(role("case_manager"))]
MAX_REPLY = 4000


def desk_of(request: Request) -> HandoffDesk:
    desk: HandoffDesk = request.app.state.runtime.handoff
    return desk


def topic_labels(request: Request) -> dict[str, str]:
    """The topics' German titles, as the bot's buttons show them (content, editable by staff)."""
    renderer = request.app.state.runtime.renderer
    return {topic: renderer.text(f"topic_{topic}", MASTER_LANGUAGE) for topic in TOPICS}


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _not_open(request: Request) -> HTMLResponse:
    return page(request, "error.html", {"message": t("handoff_not_open")}, status_code=404)


def _granted(session: ConsoleSession, handoff_id: int) -> None:
    if handoff_id not in session.granted:
        raise Forbidden("forbidden")


@router.get("/inbox", response_class=HTMLResponse, dependencies=[Depends(role("case_manager"))])
def inbox(request: Request) -> HTMLResponse:
    view = _view(request)
    items = _filtered(request, view)
    days = request.app.state.runtime.settings.handoff.response_days
    done = request.query_params.get("done")
    notice = t(done) if done in ("released", "closed") else None
    return page(
        request,
        "inbox.html",
        {
            "items": items,
            "days": days,
            "now": utcnow(),
            "notice": notice,
            "topics": topic_labels(request),
            "view": view,
            "views": VIEWS,
            "reminders_open": open_count(request),
        },
    )


@router.get("/inbox/rows", response_class=HTMLResponse, dependencies=[Depends(role("case_manager"))])
def inbox_rows(request: Request) -> HTMLResponse:
    view = _view(request)
    return page(
        request,
        "_inbox_rows.html",
        {
            "items": _filtered(request, view),
            "now": utcnow(),
            "topics": topic_labels(request),
            "view": view,
        },
    )


VIEWS = ("all", "mine", "unassigned", "urgent")


def _view(request: Request) -> str:
    view = request.query_params.get("view", "all")
    return view if view in VIEWS else "all"


def _filtered(request: Request, view: str) -> list[InboxItem]:
    """The inbox, or the part of it a case manager asked for."""
    items = desk_of(request).inbox()
    me = request.state.console.account.id
    if view == "mine":
        return [i for i in items if i.assigned_to == me]
    if view == "unassigned":
        return [i for i in items if i.assigned_to is None]
    if view == "urgent":
        return [i for i in items if i.urgent or i.overdue]
    return items


@router.get("/handoffs/{handoff_id}", response_class=HTMLResponse)
def conversation(request: Request, handoff_id: int, session: CaseManager) -> HTMLResponse:
    desk = desk_of(request)
    if not desk.is_open(handoff_id):
        return _not_open(request)
    if handoff_id not in session.granted:
        return page(request, "open.html", {"handoff_id": handoff_id, "reasons": READ_REASONS})
    try:
        conv = desk.conversation(handoff_id, staff=session.account.username, record=False)
    except HandoffNotOpen:
        return _not_open(request)
    done = request.query_params.get("done")
    assigned = conv.handoff.assigned_to
    assignee = staff_of(request).get(assigned) if assigned is not None else None
    return page(
        request,
        "conversation.html",
        {
            "conv": conv,
            "assignee": assignee.display_name if assignee is not None else None,
            "topics": topic_labels(request),
            "handoff_id": handoff_id,
            "replies": desk.replies(handoff_id),
            "outcomes": OUTCOMES,
            "now": utcnow(),
            "notice": t(done)
            if done in ("assigned", "unassigned", "reply_queued", "note_added")
            else None,
            "master": MASTER_LANGUAGE,
            "notes": desk.notes(handoff_id),
            "snippets": desk.snippets(),
            "draft": _with_snippet(desk, "", request.query_params.get("snippet")),
        },
    )


@router.post("/handoffs/{handoff_id}/open", response_model=None)
def open_conversation(
    request: Request,
    handoff_id: int,
    session: CaseManager,
    reason: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    if reason not in READ_REASONS:
        return page(
            request,
            "open.html",
            {"handoff_id": handoff_id, "reasons": READ_REASONS, "error": t("required")},
            status_code=400,
        )
    desk = desk_of(request)
    try:
        # The audit row is written here, before anything of the conversation is shown.
        desk.conversation(
            handoff_id,
            staff=session.account.username,
            reason=reason,
            actor=Actor.staff(session.account.username),
            limit=1,
        )
    except HandoffNotOpen:
        return _not_open(request)
    staff_of(request).grant(session.token_digest, handoff_id)
    return RedirectResponse(f"{PREFIX}/handoffs/{handoff_id}", status_code=303)


@router.post("/handoffs/{handoff_id}/preview", response_class=HTMLResponse)
def preview(
    request: Request,
    handoff_id: int,
    session: CaseManager,
    text: Annotated[str, Form(max_length=MAX_REPLY)] = "",
    written_in: Annotated[str, Form(max_length=8)] = MASTER_LANGUAGE,
) -> HTMLResponse:
    _granted(session, handoff_id)
    desk = desk_of(request)
    if not text.strip():
        return page(request, "_preview.html", {"error": t("reply_empty")}, status_code=400)
    try:
        result = desk.preview(handoff_id, text=text, written_in=written_in)
    except HandoffNotOpen:
        return _not_open(request)
    return page(
        request,
        "_preview.html",
        {"preview": result, "text": text, "written_in": written_in, "handoff_id": handoff_id},
    )


@router.post("/handoffs/{handoff_id}/reply", response_model=None)
def reply(
    request: Request,
    handoff_id: int,
    session: CaseManager,
    text: Annotated[str, Form(max_length=MAX_REPLY)] = "",
    written_in: Annotated[str, Form(max_length=8)] = MASTER_LANGUAGE,
    digest: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    _granted(session, handoff_id)
    desk = desk_of(request)
    name = session.account.username
    if not text.strip():
        return page(request, "_preview.html", {"error": t("reply_empty")}, status_code=400)
    try:
        desk.reply(
            handoff_id,
            staff=name,
            text=text,
            written_in=written_in,
            actor=Actor.staff(name),
            digest=digest,
        )
    except HandoffNotOpen:
        return _not_open(request)
    except PreviewChanged:
        fresh = desk.preview(handoff_id, text=text, written_in=written_in)
        return page(
            request,
            "_preview.html",
            {
                "preview": fresh,
                "text": text,
                "written_in": written_in,
                "handoff_id": handoff_id,
                "error": t("preview_changed"),
            },
            status_code=409,
        )
    if _htmx(request):
        return page(
            request,
            "_sent.html",
            {"replies": desk.replies(handoff_id), "handoff_id": handoff_id},
        )
    return RedirectResponse(f"{PREFIX}/handoffs/{handoff_id}?done=reply_queued", status_code=303)


@router.get("/handoffs/{handoff_id}/replies", response_class=HTMLResponse)
def replies(request: Request, handoff_id: int, session: CaseManager) -> HTMLResponse:
    _granted(session, handoff_id)
    return page(
        request,
        "_replies.html",
        {"replies": desk_of(request).replies(handoff_id), "handoff_id": handoff_id},
    )


@router.post("/handoffs/{handoff_id}/assign", response_model=None)
def assign(
    request: Request,
    handoff_id: int,
    session: CaseManager,
    to: Annotated[str, Form(max_length=8)] = "me",
) -> Response:
    name = session.account.username
    account_id = session.account.id if to == "me" else None
    try:
        desk_of(request).assign(handoff_id, account_id, actor=Actor.staff(name))
    except HandoffNotOpen:
        return _not_open(request)
    done = "assigned" if account_id is not None else "unassigned"
    return RedirectResponse(f"{PREFIX}/handoffs/{handoff_id}?done={done}", status_code=303)


@router.post("/handoffs/{handoff_id}/release", response_model=None)
def release(request: Request, handoff_id: int, session: CaseManager) -> Response:
    name = session.account.username
    if desk_of(request).release(handoff_id, by=name, actor=Actor.staff(name)) is None:
        return _not_open(request)
    return RedirectResponse(f"{PREFIX}/inbox?done=released", status_code=303)


@router.post("/handoffs/{handoff_id}/close", response_model=None)
def close(
    request: Request,
    handoff_id: int,
    session: CaseManager,
    outcome: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    if outcome not in OUTCOMES:
        return page(request, "error.html", {"message": t("required")}, status_code=400)
    name = session.account.username
    if desk_of(request).close(handoff_id, outcome, by=name, actor=Actor.staff(name)) is None:
        return _not_open(request)
    return RedirectResponse(f"{PREFIX}/inbox?done=closed", status_code=303)


def _with_snippet(desk: HandoffDesk, text: str, key: str | None) -> str:
    """The reply text with a ready-made reply added at its end."""
    found = desk.snippet(key) if key else None
    if found is None:
        return text
    return f"{text.rstrip()}\n\n{found.text}".strip() if text.strip() else found.text


@router.get("/handoffs/{handoff_id}/snippet", response_class=HTMLResponse)
def insert_snippet(request: Request, handoff_id: int, session: CaseManager) -> HTMLResponse:
    """htmx: the reply box with a ready-made reply added (the page itself does it without JS)."""
    _granted(session, handoff_id)
    q = request.query_params
    text = _with_snippet(desk_of(request), (q.get("text") or "")[:MAX_REPLY], q.get("snippet"))
    return page(request, "_reply_text.html", {"draft": text[:MAX_REPLY]})


@router.post("/handoffs/{handoff_id}/notes", response_model=None)
def add_note(
    request: Request,
    handoff_id: int,
    session: CaseManager,
    text: Annotated[str, Form(max_length=MAX_NOTE)] = "",
) -> Response:
    _granted(session, handoff_id)
    desk = desk_of(request)
    try:
        if text.strip():
            desk.add_note(handoff_id, text, actor=Actor.staff(session.account.username))
    except HandoffNotOpen:
        return _not_open(request)
    if _htmx(request):
        return page(
            request, "_note_added.html", {"notes": desk.notes(handoff_id), "handoff_id": handoff_id}
        )
    return RedirectResponse(f"{PREFIX}/handoffs/{handoff_id}?done=note_added", status_code=303)


@router.get("/snippets", response_class=HTMLResponse, dependencies=[Depends(role("case_manager"))])
def snippets(request: Request) -> HTMLResponse:
    return page(request, "snippets.html", {"snippets": snippet_list(request)})


@router.post("/snippets", response_class=HTMLResponse)
def save_snippet(
    request: Request,
    session: CaseManager,
    key: Annotated[str, Form(max_length=64)] = "",
    title: Annotated[str, Form(max_length=120)] = "",
    text: Annotated[str, Form(max_length=MAX_SNIPPET)] = "",
    active: Annotated[str, Form(max_length=1)] = "1",
) -> HTMLResponse:
    key = key.strip().lower() or _slug(title)
    if not key or not title.strip() or not text.strip():
        return page(
            request,
            "snippets.html",
            {"snippets": snippet_list(request), "error": t("snippet_incomplete")},
            status_code=400,
        )
    engine = request.app.state.runtime.engine
    audit = request.app.state.runtime.audit
    name = session.account.username
    with session_scope(engine) as s:
        row = snippet_rows.save_snippet(
            session=s, key=key, title=title.strip(), text=text.strip(), active=active == "1", by=name
        )
        audit.record(
            Actor.staff(name),
            "snippet.edit",
            target=f"snippet:{row.id}",
            details={"active": row.active},
            session=s,
        )
    return page(
        request,
        "snippets.html",
        {"snippets": snippet_list(request), "notice": t("saved")},
    )


def snippet_list(request: Request) -> list[ReplySnippet]:
    engine = request.app.state.runtime.engine
    with session_scope(engine) as s:
        found = list(snippet_rows.snippets(session=s, active_only=False))
        s.expunge_all()
        return found


def _slug(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower().translate(UMLAUTS)).strip("-")
    return slug[:64]


UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
