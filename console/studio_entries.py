"""The content studio's FAQ entries (role ``editor``): the start page, the entry form, history, preview.

Every route needs the ``editor`` role (a case manager gets the 403 page); every form carries the
session's CSRF token. Pages work without JavaScript: forms post, then redirect to a page that says what
happened. A form refused (mistakes, or someone saved meanwhile) is shown again with the editor's text
in it, so nothing is lost. All writes go through ``services.content.entries.EntryStudio``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.inbox_routes import topic_labels
from console.render import page, templates
from console.security import PREFIX, role
from console.strings import LANGUAGES as LANGUAGE_LABELS
from console.strings_entries import t as te
from services.content.entries import (
    DEFAULT_REVIEW,
    STATUSES,
    TARGET_LANGUAGES,
    Conflict,
    EntryForm,
    EntryNotFound,
    EntryStudio,
    EntryView,
    Invalid,
    today_local,
)
from services.staff import ConsoleSession
from storage.vocabulary import MASTER_LANGUAGE, TOPICS
from translations.languages import LANGUAGES

router = APIRouter(prefix=PREFIX + "/content")
Editor = Annotated[ConsoleSession, Depends(role("editor"))]
Key = Annotated[str, Path(max_length=80, pattern=r"^[a-z0-9_\-]+$")]
BASE = PREFIX + "/content"
# What a redirect may announce (``?done=…``): only these texts, never one from the address.
NOTICES = {
    "created": "created",
    "saved": "saved",
    "deactivated": "deactivated",
    "reactivated": "reactivated",
    "confirmed": "confirmed",
    "discarded": "pending_discarded",
}

templates.env.globals["te"] = te


def studio(request: Request) -> EntryStudio:
    entries: EntryStudio = request.app.state.runtime.entries
    return entries


def _language_label(code: str) -> str:
    return LANGUAGE_LABELS.get(code, code)


def _scope_labels(choices: Mapping[str, Any]) -> dict[str, str]:
    labels = {"kreis": te("scope_kreis")}
    labels |= {c.value: c.label for c in choices["groups"]}
    labels |= {c.value: c.label for c in choices["towns"]}
    return labels


def _common(request: Request) -> dict[str, Any]:
    choices = studio(request).choices()
    return {
        "topics": topic_labels(request),
        "topic_keys": TOPICS,
        "choices": choices,
        "scope_labels": _scope_labels(choices),
        "languages": TARGET_LANGUAGES,
        "language_label": _language_label,
        "statuses": STATUSES,
    }


def _redirect(path: str, done: str | None = None) -> RedirectResponse:
    return RedirectResponse(path + (f"?done={done}" if done else ""), status_code=303)


def _notice(request: Request) -> str | None:
    done = request.query_params.get("done")
    if done == "saved_version":
        version = request.query_params.get("v", "")
        return te("saved_new_version", version=version if version.isdigit() else "")
    return te(NOTICES[done]) if done in NOTICES else None


def _form_data(form: Any) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


# --- the start page ------------------------------------------------------------------------------


def _counts_line(counts: Mapping[str, int]) -> str:
    parts = [te(f"count_{s}", n=counts[s]) for s in STATUSES if counts[s]]
    return ", ".join(parts) or te("count_missing", n=0)


@router.get("", response_class=HTMLResponse, dependencies=[Depends(role("editor"))])
def start(request: Request) -> HTMLResponse:
    s = studio(request)
    s.activate_due()  # a version prepared for today is live before anyone reads the list
    q = request.query_params

    def pick(name: str, allowed: Collection[str]) -> str:
        value = q.get(name) or ""
        return value if value in allowed else ""

    text = {
        "q": (q.get("q") or "").strip()[:200],
        "topic": pick("topic", TOPICS),
        "scope": (q.get("scope") or "")[:64],
        "language": pick("language", TARGET_LANGUAGES),
        "status": pick("status", STATUSES),
        "due": pick("due", ("due", "overdue")),
        "state": pick("state", ("active", "inactive")),
    }
    needs_review = q.get("needs_review") == "1"
    rows = s.rows(
        query=text["q"],
        topic=text["topic"] or None,
        scope=text["scope"] or None,
        language=text["language"] or None,
        status=text["status"] or None,
        needs_review=needs_review,
        due=text["due"] or None,
        state=text["state"] or None,
    )
    filters: dict[str, object] = {**text, "needs_review": needs_review}
    counts = s.counts()
    return page(
        request,
        "studio_entries.html",
        {
            **_common(request),
            "counts": [(lang, _counts_line(counts[lang])) for lang in TARGET_LANGUAGES],
            "due": s.due(),
            "rows": rows,
            "filters": filters,
            "filtered": any(filters.values()),
            "notice": _notice(request),
        },
    )


# --- creating and editing -------------------------------------------------------------------------


def _form_page(
    request: Request,
    *,
    form: EntryForm,
    view: EntryView | None = None,
    errors: Mapping[str, str] | None = None,
    conflict: Conflict | None = None,
    stamp: str = "",
    group: str = "",
    status_code: int = 200,
    extra: Mapping[str, Any] | None = None,
) -> HTMLResponse:
    return page(
        request,
        "studio_entries_form.html" if view is None else "studio_entries_edit.html",
        {
            **_common(request),
            "form": form,
            "view": view,
            "errors": dict(errors or {}),
            "conflict": conflict,
            "stamp": stamp,
            "group": group,
            "notice": _notice(request),
            "default_review": today_local() + DEFAULT_REVIEW,
            "pending_errors": {},
            **(extra or {}),
        },
        status_code=status_code,
    )


@router.get("/entries/new", response_class=HTMLResponse, dependencies=[Depends(role("editor"))])
def new_entry(request: Request) -> HTMLResponse:
    q = request.query_params
    topic = q.get("topic") if q.get("topic") in TOPICS else ""
    form = EntryForm(
        question=(q.get("question") or "").strip()[:500],
        topic=topic or "",
        last_verified=today_local(),
        review_due=today_local() + DEFAULT_REVIEW,
    )
    return _form_page(request, form=form, group=(q.get("group") or "").strip()[:64])


@router.post("/entries", response_model=None)
async def create_entry(request: Request, session: Editor) -> Response:
    data = _form_data(await request.form())
    form, errors = EntryForm.parse(data)
    group = (data.get("group") or "").strip()[:64]
    s = studio(request)
    try:
        if errors:
            raise Invalid(errors)
        entry = await asyncio.to_thread(s.create, form, by=session.account.username, group=group or None)
    except Invalid as exc:
        return _form_page(
            request, form=form, errors={**exc.errors, **errors}, group=group, status_code=400
        )
    if group:
        # The new entry answers a group of unanswered questions: the people who asked are told now,
        # not at the closed-loop job's next run.
        await request.app.state.runtime.closed_loop.run()
    return _redirect(f"{BASE}/entries/{entry.key}", "created")


def _view_or_404(request: Request, key: str) -> EntryView | None:
    try:
        return studio(request).get(key)
    except EntryNotFound:
        return None


def _not_found(request: Request) -> HTMLResponse:
    return page(request, "error.html", {"message": te("entry_not_found")}, status_code=404)


@router.get("/entries/{key}", response_class=HTMLResponse, dependencies=[Depends(role("editor"))])
def edit_entry(request: Request, key: Key) -> HTMLResponse:
    studio(request).activate_due()
    view = _view_or_404(request, key)
    if view is None:
        return _not_found(request)
    form = EntryForm.of(view.entry, view.question, view.answer)
    return _form_page(request, form=form, view=view, stamp=view.stamp)


@router.post("/entries/{key}", response_model=None)
async def save_entry(request: Request, key: Key, session: Editor) -> Response:
    data = _form_data(await request.form())
    form, errors = EntryForm.parse(data)
    s = studio(request)
    stamp = data.get("stamp", "")
    try:
        if errors:
            # Mistakes in the dates: check the rest too, so every mistake is shown at once.
            raise Invalid(errors)
        entry = await asyncio.to_thread(s.update, key, form, stamp=stamp, by=session.account.username)
    except EntryNotFound:
        return _not_found(request)
    except Conflict as exc:
        view = s.get(key)
        return _form_page(request, form=form, view=view, conflict=exc, stamp=view.stamp, status_code=409)
    except Invalid as exc:
        view = s.get(key)
        return _form_page(
            request,
            form=form,
            view=view,
            errors={**exc.errors, **errors},
            stamp=stamp,
            status_code=400,
        )
    before = int(data.get("version") or 0)
    if entry.version != before:
        return RedirectResponse(
            f"{BASE}/entries/{key}?done=saved_version&v={entry.version}", status_code=303
        )
    return _redirect(f"{BASE}/entries/{key}", "saved")


def _entry_page_with(request: Request, key: str, *, status_code: int, **extra: Any) -> HTMLResponse:
    view = _view_or_404(request, key)
    if view is None:
        return _not_found(request)
    form = EntryForm.of(view.entry, view.question, view.answer)
    return _form_page(
        request, form=form, view=view, stamp=view.stamp, status_code=status_code, extra=extra
    )


@router.post("/entries/{key}/active", response_model=None)
async def set_active(request: Request, key: Key, session: Editor) -> Response:
    data = _form_data(await request.form())
    active = data.get("active") == "1"
    try:
        await asyncio.to_thread(
            studio(request).set_active,
            key,
            active,
            stamp=data.get("stamp", ""),
            by=session.account.username,
        )
    except EntryNotFound:
        return _not_found(request)
    except Conflict as exc:
        return _entry_page_with(request, key, status_code=409, conflict=exc)
    return _redirect(f"{BASE}/entries/{key}", "reactivated" if active else "deactivated")


@router.post("/entries/{key}/confirm", response_model=None)
async def confirm(request: Request, key: Key, session: Editor) -> Response:
    data = _form_data(await request.form())
    errors: dict[str, str] = {}
    review_due = _parse_date(data.get("review_due"))
    valid_until = _parse_date(data.get("valid_until"))
    if review_due is None:
        errors["review_due"] = "err_date_missing"
    if data.get("valid_until") and valid_until is None:
        errors["valid_until"] = "err_date"
    try:
        if errors or review_due is None:
            raise Invalid(errors)
        await asyncio.to_thread(
            studio(request).confirm,
            key,
            stamp=data.get("stamp", ""),
            by=session.account.username,
            review_due=review_due,
            valid_until=valid_until,
        )
    except EntryNotFound:
        return _not_found(request)
    except Conflict as exc:
        return _entry_page_with(request, key, status_code=409, conflict=exc)
    except Invalid as exc:
        return _entry_page_with(request, key, status_code=400, confirm_errors=exc.errors)
    return _redirect(f"{BASE}/entries/{key}", "confirmed")


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value.strip()) if value and value.strip() else None
    except ValueError:
        return None


# --- a version prepared ahead -----------------------------------------------------------------------


@router.post("/entries/{key}/prepared", response_model=None)
async def prepare(request: Request, key: Key, session: Editor) -> Response:
    data = _form_data(await request.form())
    if data.get("discard") == "1":
        await asyncio.to_thread(studio(request).discard_prepared, key, by=session.account.username)
        return _redirect(f"{BASE}/entries/{key}", "discarded")
    valid_from = _parse_date(data.get("valid_from"))
    pending_form = {
        "valid_from": data.get("valid_from", ""),
        "question": data.get("pending_question", ""),
        "answer": data.get("pending_answer", ""),
    }
    try:
        await asyncio.to_thread(
            studio(request).prepare,
            key,
            valid_from=valid_from,
            question=data.get("pending_question", ""),
            answer=data.get("pending_answer", ""),
            stamp=data.get("pending_stamp") or None,
            by=session.account.username,
        )
    except EntryNotFound:
        return _not_found(request)
    except Conflict as exc:
        return _entry_page_with(
            request, key, status_code=409, pending_conflict=exc, pending_form=pending_form
        )
    except Invalid as exc:
        return _entry_page_with(
            request, key, status_code=400, pending_errors=exc.errors, pending_form=pending_form
        )
    return _redirect(f"{BASE}/entries/{key}")


@router.post("/entries/{key}/prepared/{language}", response_model=None)
async def prepare_translation(
    request: Request,
    key: Key,
    language: Annotated[str, Path(max_length=8)],
    session: Editor,
) -> Response:
    data = _form_data(await request.form())
    typed = {
        "language": language,
        "question": data.get("question", ""),
        "answer": data.get("answer", ""),
    }
    try:
        await asyncio.to_thread(
            studio(request).prepare_translation,
            key,
            language,
            question=data.get("question", ""),
            answer=data.get("answer", ""),
            stamp=data.get("pending_stamp", ""),
            by=session.account.username,
        )
    except EntryNotFound:
        return _not_found(request)
    except Conflict as exc:
        return _entry_page_with(request, key, status_code=409, pending_conflict=exc, pending_typed=typed)
    except Invalid as exc:
        return _entry_page_with(
            request, key, status_code=400, pending_errors=exc.errors, pending_typed=typed
        )
    return _redirect(f"{BASE}/entries/{key}")


# --- history and preview ----------------------------------------------------------------------------


@router.get(
    "/entries/{key}/history", response_class=HTMLResponse, dependencies=[Depends(role("editor"))]
)
def history(request: Request, key: Key) -> HTMLResponse:
    view = _view_or_404(request, key)
    if view is None:
        return _not_found(request)
    return page(
        request,
        "studio_entries_history.html",
        {"view": view, "steps": studio(request).history(key)},
    )


@router.get(
    "/entries/{key}/preview", response_class=HTMLResponse, dependencies=[Depends(role("editor"))]
)
def preview(request: Request, key: Key) -> HTMLResponse:
    view = _view_or_404(request, key)
    if view is None:
        return _not_found(request)
    lang = request.query_params.get("lang") or "en"
    if lang not in LANGUAGES:
        lang = "en"
    message = studio(request).preview(key, lang)
    meta = message.meta if message is not None else {}
    shown = str(meta.get("language") or lang)
    return page(
        request,
        "studio_entries_preview.html",
        {
            **_common(request),
            "view": view,
            "lang": lang,
            "all_languages": [MASTER_LANGUAGE, *TARGET_LANGUAGES],
            "message": message,
            "shown": shown,
            "shown_rtl": LANGUAGES[shown].rtl if shown in LANGUAGES else False,
            "translation": str(meta.get("translation") or ""),
            "outdated": bool(meta.get("outdated")),
        },
    )
