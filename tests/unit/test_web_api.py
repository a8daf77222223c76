"""The public web API: the session cookie is the identity, limits answer 429, bad input never 500s;
the internal listener serves Rasa's NLG endpoint only with the shared token. Real app, real database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot.app import create_app, create_internal_app
from lotse.runtime import Runtime
from lotse.settings import WebSettings
from tests.support.offline import offline_runtime


@pytest.fixture
async def runtime(seeded: Engine, database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = offline_runtime(
        database_url,
        tmp_path,
        web=WebSettings(secret="test-secret-test-secret", sender_per_minute=15, client_per_minute=60),
    )
    yield rt
    await rt.close()


def client(runtime: Runtime, *, internal: bool = False) -> httpx.AsyncClient:
    app = create_internal_app(runtime) if internal else create_app(runtime, background=False)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://lotse.test")


async def start(c: httpx.AsyncClient, sender: str, lang: str = "de") -> dict:
    resp = await c.post(
        "/api/chat", json={"sender": sender, "text": "hallo", "consent": True, "language": lang}
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_the_session_cookie_is_the_identity(runtime: Runtime):
    async with client(runtime) as browser, client(runtime) as intruder:
        await start(browser, "web-alice")
        cookie = browser.cookies.get("lotse_chat")
        assert cookie and "web-alice" not in cookie  # signed, not the id in plain text
        ok = await browser.post("/api/chat", json={"sender": "web-alice", "text": "/mydata"})
        assert ok.status_code == 200
        # Someone who knows Alice's sender id gets nothing: no chat, no updates, no files.
        for call in (
            intruder.post("/api/chat", json={"sender": "web-alice", "text": "/mydata"}),
            intruder.get("/api/chat/updates"),
            intruder.get("/api/chat/export"),
            intruder.get("/api/appointments/KL-7F3A9KMN.ics"),
        ):
            assert (await call).status_code in (401, 403)
        # A browser cannot switch to another sender with its own cookie either.
        other = await browser.post("/api/chat", json={"sender": "web-bob", "text": "hallo"})
        assert other.status_code == 403
        export = await browser.get("/api/chat/export")
        assert export.status_code == 200 and export.json()["person"]["language"] == "de"
        assert "attachment" in export.headers["content-disposition"]


async def test_the_nlg_endpoint_is_not_on_the_public_port(runtime: Runtime):
    body = {"response": "utter_greet", "arguments": {}, "tracker": {"sender_id": "x"}}
    async with client(runtime) as public, client(runtime, internal=True) as internal:
        assert (await public.post("/nlg", json=body)).status_code == 404
        assert (await internal.post("/nlg", json=body)).status_code == 403
        assert (await internal.post("/nlg?token=wrong", json=body)).status_code == 403
        ok = await internal.post("/nlg?token=test-internal-token", json=body)
        assert ok.status_code == 200 and ok.json()["custom"]["meta"]["response"] == "utter_greet"


async def test_too_many_messages_get_a_translated_429(runtime: Runtime):
    async with client(runtime) as c:
        await start(c, "web-fast", "ar")
        codes = []
        for n in range(20):
            resp = await c.post(
                "/api/chat", json={"sender": "web-fast", "text": f"سؤال {n}", "language": "ar"}
            )
            codes.append(resp.status_code)
        assert codes.count(429) >= 5 and 500 not in codes
        last = resp.json()["messages"][0]
        assert last["meta"]["response"] == "too_many_messages"
        assert last["text"] == runtime.responses.renderer.text("too_many_messages", "ar")


@pytest.mark.parametrize(
    "body",
    [
        {"sender": "web-\ud800", "text": "hallo"},
        {"sender": "web-s", "text": "hallo \ud800 welt"},
        {"sender": "web-s", "payload": "\udfff"},
        {"sender": "", "text": "x"},
        {"sender": "web-s", "text": "x" * 20_001},
        {"text": "no sender"},
    ],
)
async def test_broken_input_is_a_clear_422_never_a_500(runtime: Runtime, body: dict):
    async with client(runtime) as c:
        # json.dumps escapes a lone surrogate as "\\ud800": valid JSON that decodes to a broken string.
        resp = await c.post(
            "/api/chat", content=json.dumps(body).encode(), headers={"content-type": "application/json"}
        )
    assert resp.status_code == 422
    assert "surrogate" in resp.text or "string" in resp.text or "Field required" in resp.text


async def test_not_json_is_refused_cleanly(runtime: Runtime):
    async with client(runtime) as c:
        resp = await c.post(
            "/api/chat", content=b"\xff\xfe not json", headers={"content-type": "application/json"}
        )
    assert resp.status_code in (400, 422) and resp.json()["detail"]
