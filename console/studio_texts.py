"""The studio's translation pages: the review queue per language, translations side by side, bot
messages, the glossary, checklists and the export (``services.content.texts`` does the work).

Every route needs the ``editor`` role; every form carries the CSRF token and the version (and the
stamp of the translation) it was based on, so a save that would overwrite someone else's is refused
with the editor's text kept in the form. Pages work without JavaScript (forms post and redirect).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from console import strings_texts
from console.render import page, templates
from console.security import PREFIX, role
from console.strings import LANGUAGES as LANGUAGE_LABELS
from console.strings import t
from services.audit import Actor
from services.content.texts import (
    EditConflict,
    MasterChanged,
    NoModel,
    NotFound,
    PlaceholderMismatch,
    TextError,
    TextPair,
    Texts,
    languages_for_editing,
    placeholders,
    valid_language,
)
from services.staff import ConsoleSession
from storage.db import session_scope
from storage.models_translation import GlossaryTerm
from storage.vocabulary import MASTER_LANGUAGE

router = APIRouter(prefix=PREFIX + "/content")
Editor = Annotated[ConsoleSession, Depends(role("editor"))]
EDITOR = [Depends(role("editor"))]
FIELD_PREFIX = "text__"
DEFAULT_LANGUAGE = "en"

# The path of each kind's pages under /console/content (FAQ entries live under S1's entry pages).
SECTION = {"faq": "entries", "message": "messages", "checklist": "checklists", "glossary": "glossary"}

templates.env.globals.update(
    tt=strings_texts.t,
    field_label=strings_texts.field_label,
    KIND_LABELS=strings_texts.KINDS,
    STATE_LABELS=strings_texts.STATES,
    LANGUAGE_LABELS=LANGUAGE_LABELS,
)


def texts_of(request: Request) -> Texts:
    texts: Texts = request.app.state.runtime.texts
    return texts


def _language(request: Request) -> str:
    lang = request.query_params.get("lang") or DEFAULT_LANGUAGE
    return lang if valid_language(lang) else DEFAULT_LANGUAGE


def _lang_label(code: str) -> str:
    return LANGUAGE_LABELS.get(code, code)


def _error(request: Request, message: str, status_code: int = 404) -> HTMLResponse:
    return page(request, "error.html", {"message": message}, status_code=status_code)


def _term_of(request: Request, term_id: int) -> str | None:
    with session_scope(texts_of(request).engine) as s:
        row = s.exec(
            select(GlossaryTerm).where(
                GlossaryTerm.id == term_id, GlossaryTerm.language == MASTER_LANGUAGE
            )
        ).first()
        return row.term if row is not None else None


def _term_ids(request: Request) -> dict[str, int]:
    with session_scope(texts_of(request).engine) as s:
        rows = s.exec(select(GlossaryTerm).where(GlossaryTerm.language == MASTER_LANGUAGE)).all()
        return {r.term: int(r.id or 0) for r in rows}


def pair_url(kind: str, key: str, language: str, term_ids: dict[str, int] | None = None) -> str:
    ident = str((term_ids or {}).get(key, key)) if kind == "glossary" else key
    return f"{PREFIX}/content/{SECTION[kind]}/{ident}/translations/{language}"


def master_url(kind: str, key: str, term_ids: dict[str, int] | None = None) -> str:
    ident = str((term_ids or {}).get(key, key)) if kind == "glossary" else key
    return f"{PREFIX}/content/{SECTION[kind]}/{ident}"


templates.env.globals.update(pair_url=pair_url, master_url=master_url)


def _fields_of(form: Any) -> dict[str, str]:
    return {
        name[len(FIELD_PREFIX) :]: str(value)
        for name, value in form.multi_items()
        if name.startswith(FIELD_PREFIX) and isinstance(value, str)
    }


def _int(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return -1


def _machine_notice(request: Request) -> str:
    q = request.query_params
    text = strings_texts.t("machine_done", n=q.get("n", "0"), kept=q.get("kept", "0"))
    if q.get("failed", "0") not in ("", "0"):
        text += " " + strings_texts.t("machine_failed", n=q.get("failed"))
    return text


# --- review queue -------------------------------------------------------------------------------


@router.get("/translations", response_class=HTMLResponse, dependencies=EDITOR)
def review_queue(request: Request) -> HTMLResponse:
    language = _language(request)
    texts = texts_of(request)
    done = request.query_params.get("done")
    notice = None
    if done == "machine":
        notice = _machine_notice(request)
    return page(
        request,
        "studio_texts_queue.html",
        {
            "language": language,
            "languages": languages_for_editing(),
            "queue": texts.queue(language),
            "overview": texts.overview(),
            "machine": texts.machine_available(language),
            "term_ids": _term_ids(request),
            "notice": notice,
            "section": "queue",
        },
    )


@router.post("/translations/machine", response_model=None)
async def machine_all(request: Request, session: Editor) -> Response:
    form = await request.form()
    language = str(form.get("lang") or "")
    if not valid_language(language):
        return _error(request, strings_texts.t("machine_none", language=language), 400)
    try:
        report = await run_in_threadpool(
            texts_of(request).machine_translate,
            language,
            actor=Actor.staff(session.account.username),
        )
    except NoModel as exc:
        return _error(request, str(exc), 409)
    query = urlencode(
        {
            "lang": language,
            "done": "machine",
            "n": report.translated,
            "kept": report.kept_human,
            "failed": len(report.failed),
        }
    )
    return RedirectResponse(f"{PREFIX}/content/translations?{query}", status_code=303)


# --- side by side -------------------------------------------------------------------------------


def _pair_page(
    request: Request,
    pair: TextPair,
    *,
    typed: dict[str, str] | None = None,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    texts = texts_of(request)
    term_ids = _term_ids(request) if pair.kind == "glossary" else {}
    names = (
        sorted(set().union(*(placeholders(f.master) for f in pair.fields)))
        if pair.kind == "message"
        else []
    )
    return page(
        request,
        "studio_texts_pair.html",
        {
            "pair": pair,
            "typed": typed or {},
            "error": error,
            "notice": notice,
            "languages": languages_for_editing(),
            "machine": pair.kind != "glossary" and texts.machine_available(pair.language),
            "action": pair_url(pair.kind, pair.key, pair.language, term_ids),
            "master_link": master_url(pair.kind, pair.key, term_ids)
            if pair.kind != "faq"
            else f"{PREFIX}/content/entries/{pair.key}",
            "term_ids": term_ids,
            "placeholder_names": names,
            "section": "queue",
        },
        status_code=status_code,
    )


def _show_pair(request: Request, kind: str, key: str, language: str) -> HTMLResponse:
    try:
        pair = texts_of(request).pair(kind, key, language)
    except NotFound as exc:
        return _error(request, str(exc))
    done = request.query_params.get("done")
    notice = None
    if done == "draft":
        notice = strings_texts.t("saved_draft")
    elif done == "approve":
        notice = strings_texts.t("saved_reviewed", version=pair.master_version)
    elif done == "machine":
        notice = _machine_notice(request)
    return _pair_page(request, pair, notice=notice)


async def _save_pair(
    request: Request, session: ConsoleSession, kind: str, key: str, language: str
) -> Response:
    form = await request.form()
    typed = _fields_of(form)
    approve = form.get("action") == "approve"
    texts = texts_of(request)
    try:
        await run_in_threadpool(
            texts.save_translation,
            kind,
            key,
            language,
            typed,
            master_version=_int(form.get("master_version")),
            stamp=str(form.get("stamp") or ""),
            approve=approve,
            actor=Actor.staff(session.account.username),
        )
    except NotFound as exc:
        return _error(request, str(exc))
    except (MasterChanged, EditConflict, PlaceholderMismatch, TextError) as exc:
        code = 409 if isinstance(exc, MasterChanged | EditConflict) else 400
        try:
            current = await run_in_threadpool(texts.pair, kind, key, language)
        except NotFound as gone:
            return _error(request, str(gone))
        return _pair_page(request, current, typed=typed, error=str(exc), status_code=code)
    target = pair_url(kind, key, language, _term_ids(request) if kind == "glossary" else None)
    return RedirectResponse(f"{target}?done={'approve' if approve else 'draft'}", status_code=303)


async def _machine_pair(
    request: Request, session: ConsoleSession, kind: str, key: str, language: str
) -> Response:
    texts = texts_of(request)
    try:
        report = await run_in_threadpool(
            texts.machine_translate,
            language,
            actor=Actor.staff(session.account.username),
            kind=kind,
            key=key,
        )
    except NotFound as exc:
        return _error(request, str(exc))
    except NoModel as exc:
        return _error(request, str(exc), 409)
    query = urlencode(
        {
            "done": "machine",
            "n": report.translated,
            "kept": report.kept_human,
            "failed": len(report.failed),
        }
    )
    return RedirectResponse(f"{pair_url(kind, key, language)}?{query}", status_code=303)


@router.get(
    "/glossary/{term_id}/translations/{language}",
    response_class=HTMLResponse,
    dependencies=EDITOR,
)
def glossary_pair(request: Request, term_id: int, language: str) -> HTMLResponse:
    term = _term_of(request, term_id)
    if term is None:
        return _error(request, t("not_found"))
    return _show_pair(request, "glossary", term, language)


@router.post("/glossary/{term_id}/translations/{language}", response_model=None)
async def glossary_pair_save(request: Request, term_id: int, language: str, session: Editor) -> Response:
    term = await run_in_threadpool(_term_of, request, term_id)
    if term is None:
        return _error(request, t("not_found"))
    return await _save_pair(request, session, "glossary", term, language)


# --- lists and German masters -------------------------------------------------------------------


def _list_page(request: Request, kind: str, *, error: str | None = None) -> HTMLResponse:
    language = _language(request)
    notice = None
    if request.query_params.get("done") == "term":
        notice = strings_texts.t("term_added", term=request.query_params.get("term", ""))
    return page(
        request,
        "studio_texts_list.html",
        {
            "kind": kind,
            "language": language,
            "languages": languages_for_editing(),
            "rows": texts_of(request).listing(kind, language),
            "term_ids": _term_ids(request) if kind == "glossary" else {},
            "section": SECTION[kind],
            "error": error,
            "notice": notice,
        },
        status_code=400 if error else 200,
    )


@router.get("/messages", response_class=HTMLResponse, dependencies=EDITOR)
def messages(request: Request) -> HTMLResponse:
    return _list_page(request, "message")


@router.get("/checklists", response_class=HTMLResponse, dependencies=EDITOR)
def checklists(request: Request) -> HTMLResponse:
    return _list_page(request, "checklist")


@router.get("/glossary", response_class=HTMLResponse, dependencies=EDITOR)
def glossary(request: Request) -> HTMLResponse:
    return _list_page(request, "glossary")


@router.post("/glossary", response_model=None)
async def glossary_add(request: Request, session: Editor) -> Response:
    form = await request.form()
    try:
        term = await run_in_threadpool(
            texts_of(request).add_term,
            str(form.get("term") or ""),
            str(form.get("explanation") or ""),
            str(form.get("gloss") or ""),
            actor=Actor.staff(session.account.username),
        )
    except TextError as exc:
        return _list_page(request, "glossary", error=str(exc))
    query = urlencode({"done": "term", "term": term})
    return RedirectResponse(f"{PREFIX}/content/glossary?{query}", status_code=303)


def _master_page(
    request: Request,
    pair: TextPair,
    *,
    typed: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    texts = texts_of(request)
    term_ids = _term_ids(request) if pair.kind == "glossary" else {}
    states = []
    for lang in languages_for_editing():
        try:
            states.append((lang, texts.pair(pair.kind, pair.key, lang).state))
        except NotFound:
            continue
    done = request.query_params.get("done")
    notice = None
    if done == "saved":
        notice = strings_texts.t("master_saved", version=pair.master_version)
    elif done == "unchanged":
        notice = strings_texts.t("master_unchanged")
    return page(
        request,
        "studio_texts_master.html",
        {
            "pair": pair,
            "typed": typed or {},
            "error": error,
            "notice": notice,
            "states": states,
            "action": master_url(pair.kind, pair.key, term_ids),
            "term_ids": term_ids,
            "section": SECTION[pair.kind],
        },
        status_code=status_code,
    )


def _show_master(request: Request, kind: str, key: str) -> HTMLResponse:
    try:
        pair = texts_of(request).master(kind, key)
    except NotFound as exc:
        return _error(request, str(exc))
    return _master_page(request, pair)


async def _save_master(
    request: Request, session: ConsoleSession, kind: str, key: str, url: str
) -> Response:
    form = await request.form()
    typed = _fields_of(form)
    texts = texts_of(request)
    version = _int(form.get("master_version"))
    try:
        pair = await run_in_threadpool(
            texts.save_master,
            kind,
            key,
            typed,
            master_version=version,
            actor=Actor.staff(session.account.username),
        )
    except NotFound as exc:
        return _error(request, str(exc))
    except TextError as exc:
        code = 409 if isinstance(exc, EditConflict) else 400
        current = await run_in_threadpool(texts.master, kind, key)
        return _master_page(request, current, typed=typed, error=str(exc), status_code=code)
    done = "saved" if pair.master_version != version else "unchanged"
    return RedirectResponse(f"{url}?done={done}", status_code=303)


@router.get("/messages/{key}", response_class=HTMLResponse, dependencies=EDITOR)
def message_master(request: Request, key: str) -> HTMLResponse:
    return _show_master(request, "message", key)


@router.post("/messages/{key}", response_model=None)
async def message_master_save(request: Request, key: str, session: Editor) -> Response:
    return await _save_master(request, session, "message", key, master_url("message", key))


@router.get("/checklists/{key}", response_class=HTMLResponse, dependencies=EDITOR)
def checklist_master(request: Request, key: str) -> HTMLResponse:
    return _show_master(request, "checklist", key)


@router.post("/checklists/{key}", response_model=None)
async def checklist_master_save(request: Request, key: str, session: Editor) -> Response:
    return await _save_master(request, session, "checklist", key, master_url("checklist", key))


@router.get("/glossary/{term_id}", response_class=HTMLResponse, dependencies=EDITOR)
def glossary_master(request: Request, term_id: int) -> HTMLResponse:
    term = _term_of(request, term_id)
    if term is None:
        return _error(request, t("not_found"))
    return _show_master(request, "glossary", term)


@router.post("/glossary/{term_id}", response_model=None)
async def glossary_master_save(request: Request, term_id: int, session: Editor) -> Response:
    term = await run_in_threadpool(_term_of, request, term_id)
    if term is None:
        return _error(request, t("not_found"))
    url = f"{PREFIX}/content/glossary/{term_id}"
    return await _save_master(request, session, "glossary", term, url)


# --- export -------------------------------------------------------------------------------------


@router.get("/export", response_class=HTMLResponse, dependencies=EDITOR)
def export_page(request: Request) -> HTMLResponse:
    files = texts_of(request).export_names()
    return page(request, "studio_texts_export.html", {"files": files, "section": "export"})


@router.post("/export", response_model=None)
async def export_download(request: Request, session: Editor) -> Response:
    data = await run_in_threadpool(
        texts_of(request).export_zip, actor=Actor.staff(session.account.username)
    )
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="kim-lotse-inhalte.zip"'},
    )


# The content kinds edited side by side under one address pattern. Registered last, so the
# glossary's own routes (terms are addressed by number: a term may contain spaces) match first.
PAIR_KINDS = {"entries": "faq", "messages": "message", "checklists": "checklist"}


def _kind_or_none(section: str) -> str | None:
    return PAIR_KINDS.get(section)


@router.get("/{section}/{key}/translations/{language}", response_class=HTMLResponse, dependencies=EDITOR)
def pair_show(request: Request, section: str, key: str, language: str) -> HTMLResponse:
    kind = _kind_or_none(section)
    if kind is None:
        return _error(request, t("not_found"))
    return _show_pair(request, kind, key, language)


@router.post("/{section}/{key}/translations/{language}", response_model=None)
async def pair_save(
    request: Request, section: str, key: str, language: str, session: Editor
) -> Response:
    kind = _kind_or_none(section)
    if kind is None:
        return _error(request, t("not_found"))
    return await _save_pair(request, session, kind, key, language)


@router.post("/{section}/{key}/translations/{language}/machine", response_model=None)
async def pair_machine(
    request: Request, section: str, key: str, language: str, session: Editor
) -> Response:
    kind = _kind_or_none(section)
    if kind is None:
        return _error(request, t("not_found"))
    return await _machine_pair(request, session, kind, key, language)
