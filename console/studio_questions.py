"""The unanswered questions in the content studio (role ``editor``): grouped, with the closest entries;
link a group to the entry that answers it, dismiss it with a reason, or reopen it.

Editors only see the anonymised texts. Linking tells the people who asked right away (and the
``content-closed-loop`` job tells those who ask later); every decision is an audit row.
"""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import select

from console.render import page, templates
from console.security import PREFIX, role
from console.strings_questions import tq
from services.content.closed_loop import (
    MAX_REASON,
    ClosedLoop,
    ClosedLoopError,
    GroupView,
    assign_new_questions,
    group_views,
)
from services.staff import ConsoleSession
from storage import content
from storage.db import session_scope
from storage.models import FaqEntry
from storage.models_closed_loop import GroupStatus
from storage.vocabulary import MASTER_LANGUAGE

router = APIRouter(prefix=PREFIX + "/content/questions")
Editor = Annotated[ConsoleSession, Depends(role("editor"))]
VIEWS = (GroupStatus.OPEN, GroupStatus.LINKED, GroupStatus.DISMISSED)
NOTICES = ("linked", "dismissed", "reopened")
templates.env.globals["tq"] = tq


def loop_of(request: Request) -> ClosedLoop:
    loop: ClosedLoop = request.app.state.runtime.closed_loop
    return loop


def _entries(request: Request) -> dict[str, tuple[str, bool]]:
    """Every entry: key -> (German question, active), active ones first, by key."""
    with session_scope(request.app.state.runtime.engine) as s:
        entries = s.exec(select(FaqEntry)).all()
        texts = content.faq_texts(session=s, keys=[e.key for e in entries])
        questions = {
            t.owner_key: t.text for t in texts if t.field == "question" and t.language == MASTER_LANGUAGE
        }
        return {
            e.key: (questions.get(e.key, e.key), e.active)
            for e in sorted(entries, key=lambda e: (not e.active, e.key))
        }


@router.get("", response_class=HTMLResponse, dependencies=[Depends(role("editor"))])
def questions(request: Request) -> HTMLResponse:
    view = request.query_params.get("view", GroupStatus.OPEN)
    view = view if view in VIEWS else GroupStatus.OPEN
    loop = loop_of(request)
    assign_new_questions(loop.engine)  # questions asked since the last look join their groups
    with session_scope(request.app.state.runtime.engine) as s:
        views = group_views(session=s)
    counts = {v: sum(1 for g in views if g.status == v) for v in VIEWS}
    shown = [g for g in views if g.status == view]
    closest = {g.id: loop.closest_entries(g.label) for g in shown} if view == GroupStatus.OPEN else {}
    done = request.query_params.get("done")
    error = request.query_params.get("error")
    notice = _notice(done, request.query_params.get("n", "0")) if done in NOTICES else None
    return page(
        request,
        "studio_questions.html",
        {
            "view": view,
            "views": VIEWS,
            "counts": counts,
            "groups": shown,
            "closest": closest,
            "entries": _entries(request),
            "notice": notice,
            "error": tq(error) if error and error.startswith("question_") else None,
            "new_entry": {g.id: _new_entry_link(g) for g in shown},
            "max_reason": MAX_REASON,
        },
    )


def _notice(done: str, n: str) -> str:
    if done == "linked":
        return tq({"0": "done_linked_none", "1": "done_linked_one"}.get(n, "done_linked"), n=n)
    return tq("done_" + done)


def _new_entry_link(group: GroupView) -> str:
    """S1's new-entry page, pre-filled from the group (its question, topic, and the group to link)."""
    params = {"question": group.label, "group": str(group.id)}
    if group.topic:
        params["topic"] = group.topic
    return f"{PREFIX}/content/entries/new?{urlencode(params)}"


def _back(view: str, group_id: int, **params: str) -> Response:
    query = urlencode({"view": view, **params})
    return RedirectResponse(f"{PREFIX}/content/questions?{query}#group-{group_id}", status_code=303)


@router.post("/{group_id}/link")
async def link(
    request: Request,
    group_id: int,
    session: Editor,
    entry_key: Annotated[str, Form(max_length=80)] = "",
) -> Response:
    loop = loop_of(request)
    by = session.account.username

    def decide() -> None:
        with session_scope(loop.engine) as s:
            loop.link_group(s, group_id, entry_key, by)

    try:
        await asyncio.to_thread(decide)
    except ClosedLoopError as exc:
        return _back(GroupStatus.OPEN, group_id, error=exc.code)
    told = await loop.run()  # the people who asked are told now, not at the job's next run
    return _back(GroupStatus.LINKED, group_id, done="linked", n=str(told))


@router.post("/{group_id}/dismiss")
def dismiss(
    request: Request,
    group_id: int,
    session: Editor,
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
) -> Response:
    loop = loop_of(request)
    try:
        with session_scope(loop.engine) as s:
            loop.dismiss_group(s, group_id, reason, session.account.username)
    except ClosedLoopError as exc:
        return _back(GroupStatus.OPEN, group_id, error=exc.code)
    return _back(GroupStatus.DISMISSED, group_id, done="dismissed")


@router.post("/{group_id}/reopen")
def reopen(request: Request, group_id: int, session: Editor) -> Response:
    loop = loop_of(request)
    try:
        with session_scope(loop.engine) as s:
            loop.reopen_group(s, group_id, session.account.username)
    except ClosedLoopError as exc:
        return _back(GroupStatus.OPEN, group_id, error=exc.code)
    return _back(GroupStatus.OPEN, group_id, done="reopened")
