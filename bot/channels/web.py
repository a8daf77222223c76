"""Web chat channel: the chat page, ``/api/chat``, its updates, ``.ics`` downloads, health checks.

Routes are thin: they turn a request into an ``Inbound`` (or a read) and call the runtime's services.
``nlg_router`` is Rasa's NLG endpoint: every response is rendered from storage in the person's language.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from lotse.runtime import Runtime
from rendering.ics import ics_filename
from services.conversation.pipeline import Inbound
from storage import people
from storage.db import session_scope
from storage.vocabulary import MASTER_LANGUAGE

logger = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent.parent / "static"
MAX_TEXT = 20_000  # far above what a person types; more is refused before it is stored


def runtime_of(request: Request) -> Runtime:
    """The app's runtime (set once when the app is built)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]


class ChatRequest(BaseModel):
    sender: str = Field(min_length=1, max_length=64)
    text: str | None = Field(default=None, max_length=MAX_TEXT)
    payload: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=16)
    consent: bool | None = None
    message_id: str | None = Field(default=None, max_length=64)


router = APIRouter()


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    """The web chat page."""
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Ready only while Rasa has its model loaded and answered a warm-up parse."""
    ready = runtime.state.rasa_ready
    body = {"ready": ready, "rasa": "ready" if ready else "loading"}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.post("/api/chat")
async def chat(req: ChatRequest, runtime: RuntimeDep) -> dict[str, Any]:
    """One message or button press from the web chat; the answer comes back at once."""
    inb = Inbound(
        channel="web",
        external_id=req.sender,
        text=req.text,
        payload=req.payload,
        update_key=f"web:{req.sender}:{req.message_id}" if req.message_id else None,
        hint_language=req.language,
        consent=req.consent,
        language=req.language,
    )
    out = await runtime.conversation.handle(inb)
    return {"messages": [m.to_dict() for m in out]}


@router.get("/api/chat/updates")
async def updates(sender: str, runtime: RuntimeDep) -> dict[str, Any]:
    """Messages produced later (answers to kept messages, case manager replies)."""

    def take() -> list[dict[str, Any]]:
        with session_scope(runtime.engine) as s:
            person = people.find_person(session=s, channel="web", external_id=sender)
            if person is None:
                return []
            return [m.to_dict() for m in runtime.outbox.take(session=s, person_id=person.id)]

    return {"messages": await asyncio.to_thread(take)}


@router.get("/api/appointments/{reference}.ics")
async def appointment_ics(reference: str, sender: str, runtime: RuntimeDep) -> Response:
    """The calendar file of the sender's own appointment (anyone else gets 404)."""

    def load() -> bytes | None:
        with session_scope(runtime.engine) as s:
            person = people.find_person(session=s, channel="web", external_id=sender)
            if person is None:
                return None
            person_id, lang = person.id, person.language or MASTER_LANGUAGE
        return runtime.calendar_files.calendar_file(reference, person_id, lang)

    body = await asyncio.to_thread(load)
    if body is None:
        raise HTTPException(404, "no such appointment")
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{ics_filename(reference)}"'},
    )


nlg_router = APIRouter()


@nlg_router.post("/nlg")
async def nlg(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """Rasa's NLG endpoint: render a response in the person's language from storage."""
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
