"""FastAPI application: web chat page, ``/api/chat``, ``/nlg``, ``/healthz``, ``/readyz``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from bot.conversation import Inbound
from bot.services import Services
from storage import conversations, people
from storage.db import session_scope
from translations.languages import MASTER

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
MAX_TEXT = 20_000  # far above what a person types; more is refused before it is stored


class ChatRequest(BaseModel):
    sender: str = Field(min_length=1, max_length=64)
    text: str | None = Field(default=None, max_length=MAX_TEXT)
    payload: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=16)
    consent: bool | None = None
    message_id: str | None = Field(default=None, max_length=64)


def create_web_app(
    services: Services,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    app = FastAPI(title="KIM Lotse", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.services = services

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        ready = services.state.rasa_ready
        body = {"ready": ready, "rasa": "ready" if ready else "loading"}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.post("/api/chat")
    async def chat(req: ChatRequest) -> dict[str, Any]:
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
        out = await services.conversation.handle(inb)
        return {"messages": [m.to_dict() for m in out]}

    @app.get("/api/chat/updates")
    async def updates(sender: str) -> dict[str, Any]:
        """Messages produced later (answers to kept messages, case manager replies)."""

        def take() -> list[dict[str, Any]]:
            with session_scope(services.engine) as s:
                person = people.find_person(session=s, channel="web", external_id=sender)
                if person is None:
                    return []
                return [
                    {"text": m.text, "buttons": m.buttons, "meta": m.meta}
                    for m in conversations.take_undelivered(session=s, person_id=person.id)
                ]

        return {"messages": await asyncio.to_thread(take)}

    @app.get("/api/appointments/{reference}.ics")
    async def appointment_ics(reference: str, sender: str) -> Response:
        """The calendar file of the sender's own appointment (anyone else gets 404)."""
        from bot.appointments_out import ics_for

        def load() -> bytes | None:
            with session_scope(services.engine) as s:
                person = people.find_person(session=s, channel="web", external_id=sender)
                if person is None:
                    return None
                person_id, lang = person.id, person.language or MASTER
            return ics_for(services, reference, person_id, lang)

        body = await asyncio.to_thread(load)
        if body is None:
            raise HTTPException(404, "no such appointment")
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="Termin-{reference}.ics"'},
        )

    @app.post("/nlg")
    async def nlg(request: Request) -> dict[str, Any]:
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
            lang = await asyncio.to_thread(services.person_language, str(tracker.get("sender_id")))
        out = await asyncio.to_thread(
            services.responses.build, name, lang or MASTER, body.get("arguments") or {}, intent
        )
        return {"custom": out.to_dict()}

    return app


@asynccontextmanager
async def no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield
