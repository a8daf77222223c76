"""Web chat channel: the chat page, ``/api/chat``, its updates, ``.ics`` downloads, health checks.

Routes are thin: they turn a request into an ``Inbound`` (or a read) and call the runtime's services.
``nlg_router`` is Rasa's NLG endpoint: every response is rendered from storage in the person's language.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import BaseModel, Field, field_validator

from bot.channels.limits import SlidingWindow
from lotse.runtime import Runtime
from rendering.ics import ics_filename
from services.conversation.pipeline import Inbound
from services.privacy import EXPORT_FILENAME
from storage import people
from storage.db import session_scope
from storage.vocabulary import MASTER_LANGUAGE
from translations.languages import normalise_code

logger = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent.parent / "static"
MAX_TEXT = 20_000  # far above what a person types; more is refused before it is stored
SESSION_COOKIE = "lotse_chat"
READY_PROBE_SECONDS = 1.0  # /readyz asks Rasa each time; a frozen Rasa is not ready
SESSION_MAX_AGE = 365 * 24 * 3600


def runtime_of(request: Request) -> Runtime:
    """The app's runtime (set once when the app is built)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]


def _no_lone_surrogates(value: str | None) -> str | None:
    if value is not None and any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise ValueError("contains a broken character (a lone UTF-16 surrogate): send valid text")
    return value


class ChatRequest(BaseModel):
    sender: str = Field(min_length=1, max_length=64)
    text: str | None = Field(default=None, max_length=MAX_TEXT)
    payload: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=16)
    consent: bool | None = None
    message_id: str | None = Field(default=None, max_length=64)

    _valid_text = field_validator("sender", "text", "payload", "language", "message_id")(
        _no_lone_surrogates
    )


class Sessions:
    """The web chat's identity: a signed, http-only cookie bound to one sender id.

    The first request of a browser binds the sender id it proposes, if nobody holds it yet (a stored
    person needs their cookie); every later call must carry the cookie. A sender id alone gives nothing.
    """

    def __init__(self, secret: str, *, secure: bool) -> None:
        self._signer = URLSafeSerializer(secret, salt="kim-lotse-web-chat")
        self.secure = secure

    def sender(self, request: Request) -> str | None:
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            value = self._signer.loads(raw)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None

    def issue(self, response: Response, sender: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            self._signer.dumps(sender),
            max_age=SESSION_MAX_AGE,
            httponly=True,
            samesite="strict",
            secure=self.secure,
            path="/",
        )


def sessions_of(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.sessions
    return sessions


def limits_of(request: Request) -> tuple[SlidingWindow, SlidingWindow]:
    limits: tuple[SlidingWindow, SlidingWindow] = request.app.state.limits
    return limits


SessionsDep = Annotated[Sessions, Depends(sessions_of)]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _too_many(runtime: Runtime, language: str | None) -> JSONResponse:
    lang = normalise_code(language) or MASTER_LANGUAGE
    text = runtime.responses.renderer.text("too_many_messages", lang)
    body = {"messages": [{"text": text, "buttons": [], "meta": {"response": "too_many_messages"}}]}
    return JSONResponse(body, status_code=429, headers={"Retry-After": "60"})


def _known(runtime: Runtime, sender: str) -> bool:
    with session_scope(runtime.engine) as s:
        return people.find_person(session=s, channel="web", external_id=sender) is not None


def _signed_in(request: Request, sessions: Sessions) -> str:
    """The sender of the session cookie, or 401 (every call but the first chat message needs it)."""
    sender = sessions.sender(request)
    if sender is None:
        raise HTTPException(401, "no chat session: open the chat page first")
    return sender


router = APIRouter()


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    """The web chat page."""
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


@router.get("/healthz")
async def healthz(runtime: RuntimeDep) -> dict[str, str]:
    """Liveness (and whether this process runs the scheduler)."""
    return {"status": "ok", "scheduler": runtime.state.scheduler}


@router.get("/readyz")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Ready only while Rasa has its model loaded and answered a warm-up parse.

    The warm-up is remembered (``watch_rasa``), but Rasa is asked again on every probe: a Rasa that
    was killed or froze since the last look makes this false at once, and the warm-up runs again.
    """
    ready = runtime.state.rasa_ready and await runtime.rasa.model_loaded(timeout=READY_PROBE_SECONDS)
    if not ready:
        runtime.state.rasa_ready = False
    body = {"ready": ready, "rasa": "ready" if ready else "loading"}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.post("/api/chat", response_model=None)
async def chat(
    req: ChatRequest, request: Request, runtime: RuntimeDep, sessions: SessionsDep
) -> JSONResponse:
    """One message or button press from the web chat; the answer comes back at once."""
    per_sender, per_client = limits_of(request)
    if not per_client.allow(_client(request)):
        return _too_many(runtime, req.language)
    sender = sessions.sender(request)
    new_session = sender is None
    if sender is None:
        if await asyncio.to_thread(_known, runtime, req.sender):
            raise HTTPException(403, "this chat belongs to another browser")
        sender = req.sender
    elif sender != req.sender:
        raise HTTPException(403, "this chat belongs to another browser")
    if not per_sender.allow(sender):
        return _too_many(runtime, req.language)
    inb = Inbound(
        channel="web",
        external_id=sender,
        text=req.text,
        payload=req.payload,
        update_key=f"web:{sender}:{req.message_id}" if req.message_id else None,
        hint_language=req.language,
        consent=req.consent,
        language=req.language,
    )
    out = await runtime.conversation.handle(inb)
    response = JSONResponse({"messages": [m.to_dict() for m in out]})
    if new_session:
        sessions.issue(response, sender)
    return response


@router.get("/api/chat/updates")
async def updates(request: Request, runtime: RuntimeDep, sessions: SessionsDep) -> dict[str, Any]:
    """Messages produced later (answers to kept messages, case manager replies), for this browser."""
    sender = _signed_in(request, sessions)

    def take() -> list[dict[str, Any]]:
        with session_scope(runtime.engine) as s:
            person = people.find_person(session=s, channel="web", external_id=sender)
            if person is None:
                return []
            return [m.to_dict() for m in runtime.outbox.take(session=s, person_id=person.id)]

    return {"messages": await asyncio.to_thread(take)}


def _own_person(runtime: Runtime, sender: str) -> tuple[str, str] | None:
    with session_scope(runtime.engine) as s:
        person = people.find_person(session=s, channel="web", external_id=sender)
        if person is None:
            return None
        return person.id, person.language or MASTER_LANGUAGE


@router.get("/api/appointments/{reference}.ics")
async def appointment_ics(
    reference: str, request: Request, runtime: RuntimeDep, sessions: SessionsDep
) -> Response:
    """The calendar file of this browser's own appointment (anyone else gets 404)."""
    sender = _signed_in(request, sessions)

    def load() -> bytes | None:
        found = _own_person(runtime, sender)
        if found is None:
            return None
        return runtime.calendar_files.calendar_file(reference, *found)

    body = await asyncio.to_thread(load)
    if body is None:
        raise HTTPException(404, "no such appointment")
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{ics_filename(reference)}"'},
    )


@router.get("/api/chat/export")
async def export(request: Request, runtime: RuntimeDep, sessions: SessionsDep) -> Response:
    """Everything stored about this browser's person, as one JSON document (``/mydata``)."""
    sender = _signed_in(request, sessions)

    def load() -> bytes | None:
        found = _own_person(runtime, sender)
        return runtime.privacy.export_json(found[0]) if found else None

    body = await asyncio.to_thread(load)
    if body is None:
        raise HTTPException(404, "nothing is stored for this chat")
    return Response(
        body,
        media_type="application/json; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{EXPORT_FILENAME}"'},
    )


def install_web_state(app: Any, runtime: Runtime, secret: str) -> None:
    """What the web routes share in one app: the session signer and the abuse limits."""
    web = runtime.settings.web
    app.state.sessions = Sessions(secret, secure=web.secure_cookies)
    app.state.limits = (SlidingWindow(web.sender_per_minute), SlidingWindow(web.client_per_minute))


def internal_token(request: Request, runtime: RuntimeDep) -> None:
    """Only Rasa, with the shared secret (Rasa's endpoint config sends it as ``?token=``)."""
    expected = runtime.settings.rasa.internal_token
    given = request.query_params.get("token", "")
    if expected is None or not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise HTTPException(403, "forbidden")


nlg_router = APIRouter(dependencies=[Depends(internal_token)])


@nlg_router.post("/nlg")
async def nlg(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """Rasa's NLG endpoint (internal listener only): render a response from storage."""
    try:
        body = await request.json()
        name = str(body["response"])
    except (ValueError, KeyError, TypeError) as exc:
        raise HTTPException(400, "not an NLG request") from exc
    tracker = body.get("tracker") or {}
    latest = tracker.get("latest_message") or {}
    intent = (latest.get("intent") or {}).get("name")
    lang = (latest.get("metadata") or {}).get("language")
    if not lang:

        def language() -> str | None:
            with session_scope(runtime.engine) as s:
                return people.language_of(session=s, person_id=str(tracker.get("sender_id")))

        lang = await asyncio.to_thread(language)
    out = await asyncio.to_thread(
        runtime.responses.build, name, lang or MASTER_LANGUAGE, body.get("arguments") or {}, intent
    )
    return {"custom": out.to_dict()}
