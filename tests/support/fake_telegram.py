"""A fake Telegram Bot API server on loopback, the one boundary the tests fake.

python-telegram-bot is pointed at it with ``base_url``; it serves ``getUpdates`` from a queue the test
fills, and records every call the bot makes (``sendMessage``, ``answerCallbackQuery`` …) so tests can
assert exactly what a person would have seen. It can also enforce Telegram's flood limits (429 with
``retry_after``) for the sending benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

BOT_ID = 4242
BOT_USER = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "KIM Lotse",
    "username": "KimLotseTestBot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float


@dataclass
class FakeTelegram:
    """Start with ``start()``; the bot's base_url is ``base_url``."""

    token: str = "123456:TEST-TOKEN"
    port: int = field(default_factory=free_port)
    # Flood control: at most this many sends per second overall (None: unlimited).
    global_rate: float | None = None
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._updates: deque[dict[str, Any]] = deque()
        self._next_update_id = 1000
        self._next_message_id = 1
        self._new_update: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._send_times: deque[float] = deque()
        self.rejected_429 = 0

    # --- lifecycle ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def start(self) -> FakeTelegram:
        app = Starlette(routes=[Route("/bot{token}/{method}", self._handle, methods=["GET", "POST"])])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._new_update = asyncio.Event()
            try:
                loop.run_until_complete(self._server.serve())  # type: ignore[union-attr]
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, daemon=True, name="fake-telegram")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not (self._server.started and self._loop):
            if time.monotonic() > deadline:
                raise RuntimeError("fake Telegram server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    # --- what the test does ------------------------------------------------------------------

    def _push(self, update: dict[str, Any], copies: int = 1) -> int:
        """Queue an update; ``copies`` > 1 delivers the same update id again (at-least-once)."""
        with self._lock:
            update_id = self._next_update_id
            self._next_update_id += 1
            update["update_id"] = update_id
            for _ in range(copies):
                self._updates.append(dict(update))
        if self._loop is not None and self._new_update is not None:
            self._loop.call_soon_threadsafe(self._new_update.set)
        return update_id

    @staticmethod
    def user(chat_id: int, language: str = "de") -> dict[str, Any]:
        return {"id": chat_id, "is_bot": False, "first_name": "Test", "language_code": language}

    def send_text(self, chat_id: int, text: str, language: str = "de", copies: int = 1) -> int:
        """A person writes ``text``; returns the update id."""
        message: dict[str, Any] = {
            "message_id": self._message_id(),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": self.user(chat_id, language),
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self._push({"message": message}, copies)

    def send_sticker(self, chat_id: int, language: str = "de") -> int:
        message = {
            "message_id": self._message_id(),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": self.user(chat_id, language),
            "sticker": {
                "file_id": "x",
                "file_unique_id": "x",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            },
        }
        return self._push({"message": message})

    def press(
        self, chat_id: int, data: str, message_id: int, language: str = "de", copies: int = 1
    ) -> int:
        """A person presses the button with ``data`` under the bot's message ``message_id``."""
        query = {
            "id": f"cb{time.monotonic_ns()}",
            "from": self.user(chat_id, language),
            "chat_instance": str(chat_id),
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
                "text": "…",
            },
        }
        return self._push({"callback_query": query}, copies)

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Every message the bot sent (to ``chat_id``), in order."""
        with self._lock:
            return [
                c.params
                for c in self.calls
                if c.method == "sendMessage" and (chat_id is None or int(c.params["chat_id"]) == chat_id)
            ]

    def wait_sent(self, chat_id: int, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Wait until the bot has sent at least ``count`` messages to ``chat_id``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msgs = self.sent(chat_id)
            if len(msgs) >= count:
                return msgs
            time.sleep(0.05)
        raise AssertionError(
            f"bot sent {len(self.sent(chat_id))} of {count} messages to {chat_id}: "
            f"{[m.get('text', '')[:60] for m in self.sent(chat_id)]}"
        )

    @staticmethod
    def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
        markup = message.get("reply_markup") or {}
        return [
            (b["text"], b["callback_data"]) for row in markup.get("inline_keyboard", []) for b in row
        ]

    # --- the API ------------------------------------------------------------------------------

    def _message_id(self) -> int:
        with self._lock:
            self._next_message_id += 1
            return self._next_message_id

    async def _params(self, request: Request) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        if request.method == "GET":
            raw = dict(request.query_params)
        else:
            ctype = request.headers.get("content-type", "")
            if "json" in ctype:
                raw = await request.json()
            else:
                async with request.form() as form:  # closes uploaded files (sendDocument)
                    raw = {k: v for k, v in form.items() if isinstance(v, str)}
                    raw.update(
                        {k: f"<file {v.filename}>" for k, v in form.items() if not isinstance(v, str)}
                    )
        params = {}
        for k, v in raw.items():
            try:
                params[k] = json.loads(v) if isinstance(v, str) else v
            except ValueError:
                params[k] = v
        return params

    def _ok(self, result: Any) -> JSONResponse:
        return JSONResponse({"ok": True, "result": result})

    async def _handle(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        if request.path_params["token"] != self.token:
            return JSONResponse(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401
            )
        params = await self._params(request)
        if method == "getUpdates":
            return self._ok(await self._get_updates(params))
        if method in ("sendMessage", "sendDocument") and self.global_rate:
            now = time.monotonic()
            with self._lock:
                while self._send_times and now - self._send_times[0] > 1.0:
                    self._send_times.popleft()
                if len(self._send_times) >= self.global_rate:
                    self.rejected_429 += 1
                    return JSONResponse(
                        {
                            "ok": False,
                            "error_code": 429,
                            "description": "Too Many Requests",
                            "parameters": {"retry_after": 1},
                        },
                        status_code=429,
                    )
                self._send_times.append(now)
        with self._lock:
            self.calls.append(Call(method, params, time.monotonic()))
        if method == "getMe":
            return self._ok(BOT_USER)
        if method in ("deleteWebhook", "setMyCommands", "answerCallbackQuery", "close"):
            return self._ok(True)
        if method == "getWebhookInfo":
            return self._ok({"url": "", "has_custom_certificate": False, "pending_update_count": 0})
        if method in ("sendMessage", "sendDocument"):
            msg: dict[str, Any] = {
                "message_id": self._message_id(),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
            if params.get("reply_markup"):
                msg["reply_markup"] = params["reply_markup"]
            params["message_id"] = msg["message_id"]
            return self._ok(msg)
        if method in ("editMessageReplyMarkup", "editMessageText"):
            return self._ok(True)
        return JSONResponse(
            {"ok": False, "error_code": 400, "description": f"fake: method {method} not implemented"},
            status_code=400,
        )

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + min(timeout, 2.0)
        assert self._new_update is not None
        while True:
            with self._lock:
                while self._updates and self._updates[0]["update_id"] < offset:
                    self._updates.popleft()
                batch = list(self._updates)[:100]
            if batch or time.monotonic() >= deadline:
                return batch
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), deadline - time.monotonic())
