"""A fake Telegram Bot API server on loopback, the one boundary the tests fake.

python-telegram-bot is pointed at it with ``base_url``; it serves ``getUpdates`` from a queue the test
fills, and records every call the bot makes (``sendMessage``, ``answerCallbackQuery`` …) so tests can
assert exactly what a person would have seen.

It refuses what Telegram refuses, in Telegram's words (``{"ok": false, "error_code": 400,
"description": "Bad Request: …"}``; the descriptions are those of the Bot API server,
tdlib/telegram-bot-api): an empty or too long text, a reply markup that does not parse, a button
without an action or with callback data over 64 bytes, a file over 50 MB, a chat the bot does not
know, a callback query answered too late. Chats are private unless opened as a group or supergroup;
a chat becomes known when someone writes in it (``send_text``, ``press`` …) or with ``open_chat``.

Tests can also make it fail on demand (``inject``): per method, per chat, ``times`` times, any of
Telegram's errors (``CHAT_NOT_FOUND``, ``BLOCKED``, ``too_many_requests(retry_after)`` …), a ``Timeout``
(the request is carried out, the answer comes after the client gave up) or a dropped connection
(``DROP``: nothing happened). ``global_rate`` enforces a flood limit for the sending benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
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

# The Bot API's limits (api.json of the Bot API spec).
TEXT_MAX = 4096  # sendMessage.text: "1-4096 characters after entities parsing"
CAPTION_MAX = 1024  # sendDocument.caption: "0-1024 characters after entities parsing"
CALLBACK_DATA_MAX_BYTES = 64  # InlineKeyboardButton.callback_data: "1-64 bytes"
UPLOAD_MAX_BYTES = 50 * 1024 * 1024  # sendDocument: "files of any type of up to 50 MB in size"
# answerCallbackQuery: Telegram does not document how long a query can be answered; clients stop
# waiting after about 15 s and later answers are refused as "query is too old".
CALLBACK_ANSWER_WINDOW = 15.0
CHAT_TYPES = ("private", "group", "supergroup")
# InlineKeyboardButton: "Exactly one of the fields other than text, icon_custom_emoji_id, and style
# must be used to specify the type of the button."
BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
# Parameters sent JSON-serialised (everything else is a plain string).
JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "link_preview_options",
        "reply_parameters",
        "commands",
        "scope",
    }
)
INT_PARAMS = frozenset({"message_id", "offset", "limit", "timeout", "cache_time"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- Telegram's answers -------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiError:
    """An error answer: HTTP status = ``error_code``, Telegram's ``description``, its parameters."""

    error_code: int
    description: str
    retry_after: int | None = None

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}  # ResponseParameters.retry_after
        return JSONResponse(body, status_code=self.error_code)


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


TEXT_EMPTY = bad_request("message text is empty")
TEXT_BLANK = bad_request("message must be non-empty")  # only whitespace: nothing left after trimming
TOO_LONG = bad_request("message is too long")
CAPTION_TOO_LONG = bad_request("message caption is too long")
CHAT_ID_EMPTY = bad_request("chat_id is empty")
CHAT_NOT_FOUND = bad_request("chat not found")
MARKUP_NOT_JSON = bad_request("can't parse reply keyboard markup JSON object")
MARKUP_NOT_OBJECT = bad_request("object expected as reply markup")
KEYBOARD_NOT_ROWS = bad_request(
    'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
)
BUTTON_NOT_OBJECT = bad_request(
    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
)
BUTTON_NO_TEXT = bad_request("can't parse inline keyboard button: Can't find field \"text\"")
BUTTON_TEXT_NOT_STRING = bad_request(
    'can\'t parse inline keyboard button: Field "text" must be of type String'
)
BUTTON_TEXT_INVALID = bad_request("BUTTON_TEXT_INVALID")
BUTTON_NO_ACTION = bad_request(
    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
)
BUTTON_DATA_INVALID = bad_request("BUTTON_DATA_INVALID")
NO_DOCUMENT = bad_request("there is no document in the request")
FILE_EMPTY = bad_request("file must be non-empty")
FILE_TOO_LARGE = ApiError(413, "Request Entity Too Large")
QUERY_TOO_OLD = bad_request("query is too old and response timeout expired or query ID is invalid")
MESSAGE_NOT_FOUND = bad_request("message to edit not found")
MESSAGE_ID_MISSING = bad_request("message identifier is not specified")
NOT_MODIFIED = bad_request(
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
BLOCKED = ApiError(403, "Forbidden: bot was blocked by the user")
KICKED = {
    "private": BLOCKED,
    "group": ApiError(403, "Forbidden: bot was kicked from the group chat"),
    "supergroup": ApiError(403, "Forbidden: bot was kicked from the supergroup chat"),
}
CONFLICT = ApiError(
    409,
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
)
UNAUTHORIZED = ApiError(401, "Unauthorized")


def too_many_requests(retry_after: int = 1) -> ApiError:
    """Flood control: 429 with ``parameters.retry_after`` (seconds)."""
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


@dataclass(frozen=True)
class Timeout:
    """Carry the request out, then hold the answer ``seconds`` (longer than the client waits)."""

    seconds: float = 6.0  # python-telegram-bot's HTTPXRequest reads for 5 s by default


@dataclass(frozen=True)
class Drop:
    """Close the connection without an answer; the request is not carried out."""


DROP = Drop()
Fault = ApiError | Timeout | Drop


@dataclass
class Injection:
    """An injected fault: ``method`` ("*" for any) to ``chat_id`` (None: any chat), ``times`` times,
    after letting ``after`` matching requests through."""

    method: str
    fault: Fault
    chat_id: int | None = None
    times: int = 1
    after: int = 0
    hits: int = 0

    @property
    def remaining(self) -> int:
        return self.times - self.hits


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    error: str | None = None  # the description, for a refused call (``FakeTelegram.refused``)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # field -> (filename, content)


# --- the server ------------------------------------------------------------------------------


@dataclass
class FakeTelegram:
    """Start with ``start()``; the bot's base_url is ``base_url``."""

    token: str = "123456:TEST-TOKEN"
    port: int = field(default_factory=free_port)
    # Flood control: at most this many sends per second overall (None: unlimited).
    global_rate: float | None = None
    calls: list[Call] = field(default_factory=list)  # every call carried out, in order
    refused: list[Call] = field(default_factory=list)  # every call answered with an error
    callback_answer_window: float = CALLBACK_ANSWER_WINDOW

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._updates: deque[dict[str, Any]] = deque()
        self._next_update_id = 1000
        self._next_message_id = 1
        self._new_update: asyncio.Event | None = None
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._send_times: deque[float] = deque()
        self._poll = 0  # the newest getUpdates request: an older one still waiting is terminated
        self.rejected_429 = 0
        self.chats: dict[int, dict[str, Any]] = {}
        self.blocked: set[int] = set()
        self.injections: list[Injection] = []
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}  # the bot's, by (chat, id)
        self._queries: dict[str, float] = {}  # callback query id -> when it was pressed
        self._answered: set[str] = set()

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
            self._new_update = asyncio.Event()
            self._stopping = asyncio.Event()
            self._loop = loop
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
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                self._loop.call_soon_threadsafe(self._stopping.set)  # held answers end now
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    # --- chats and faults -------------------------------------------------------------------------

    def open_chat(self, chat_id: int, type: str = "private", title: str | None = None) -> dict[str, Any]:
        """Make a chat known to the bot (a person started it, or the bot was added to a group)."""
        if type not in CHAT_TYPES:
            raise ValueError(f"chat type {type!r} is not one of {CHAT_TYPES}")
        with self._lock:
            chat = self.chats.get(chat_id)
            if chat is None:
                chat = {"id": chat_id, "type": type}
                if type == "private":
                    chat["first_name"] = "Test"
                else:
                    chat["title"] = title or f"Test {type} {chat_id}"
                self.chats[chat_id] = chat
            return dict(chat)

    def block(self, chat_id: int) -> None:
        """The person blocks the bot (a group removes it): every send to the chat is refused (403)."""
        self.open_chat(chat_id)
        with self._lock:
            self.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        with self._lock:
            self.blocked.discard(chat_id)

    def inject(
        self,
        method: str,
        fault: Fault,
        *,
        chat_id: int | None = None,
        times: int = 1,
        after: int = 0,
    ) -> Injection:
        """Answer the next ``times`` requests of ``method`` ("*": any) to ``chat_id`` with ``fault``.

        ``fault`` is an ``ApiError`` (e.g. ``BLOCKED``, ``too_many_requests(1)``), a ``Timeout`` or
        ``DROP``; ``after`` lets that many matching requests through first.
        """
        injection = Injection(method, fault, chat_id, times, after)
        with self._lock:
            self.injections.append(injection)
        return injection

    def clear_injections(self) -> None:
        with self._lock:
            self.injections.clear()

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

    def _chat_and_sender(self, chat_id: int, user_id: int | None) -> tuple[dict[str, Any], int]:
        chat = self.open_chat(chat_id)  # writing in a chat opens it (private unless opened otherwise)
        if user_id is None:
            user_id = chat_id if chat["type"] == "private" else abs(chat_id) % 1_000_000_000 + 1
        return chat, user_id

    def send_text(
        self,
        chat_id: int,
        text: str,
        language: str = "de",
        copies: int = 1,
        user_id: int | None = None,
    ) -> int:
        """A person writes ``text`` (in a group: ``user_id``, default derived from the chat)."""
        chat, user = self._chat_and_sender(chat_id, user_id)
        message: dict[str, Any] = {
            "message_id": self._message_id(),
            "date": int(time.time()),
            "chat": chat,
            "from": self.user(user, language),
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self._push({"message": message}, copies)

    def send_sticker(self, chat_id: int, language: str = "de", user_id: int | None = None) -> int:
        chat, user = self._chat_and_sender(chat_id, user_id)
        message = {
            "message_id": self._message_id(),
            "date": int(time.time()),
            "chat": chat,
            "from": self.user(user, language),
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

    def send_content(
        self,
        chat_id: int,
        content: dict[str, Any],
        language: str = "de",
        kind: str = "message",
        message_id: int | None = None,
    ) -> int:
        """A person sends anything else (``content``: e.g. ``{"voice": {...}}``, ``{"location": …}``,
        a text with ``entities`` or ``forward_origin``); ``kind="edited_message"`` edits
        ``message_id``."""
        chat, user = self._chat_and_sender(chat_id, None)
        message: dict[str, Any] = {
            "message_id": message_id or self._message_id(),
            "date": int(time.time()),
            "chat": chat,
            "from": self.user(user, language),
            **content,
        }
        if kind == "edited_message":
            message["edit_date"] = int(time.time())
        return self._push({kind: message})

    def press(
        self,
        chat_id: int,
        data: str,
        message_id: int,
        language: str = "de",
        copies: int = 1,
        user_id: int | None = None,
    ) -> int:
        """A person presses the button with ``data`` under the bot's message ``message_id``."""
        chat, user = self._chat_and_sender(chat_id, user_id)
        query_id = f"cb{time.monotonic_ns()}"
        with self._lock:
            self._queries[query_id] = time.monotonic()
            shown = self._messages.get((chat_id, message_id), {})
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": BOT_USER,
            "text": shown.get("text", "…"),
        }
        query = {
            "id": query_id,
            "from": self.user(user, language),
            "chat_instance": str(chat_id),
            "data": data,
            "message": message,
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

    def documents(self, chat_id: int | None = None) -> list[Call]:
        """Every file the bot sent (to ``chat_id``), in order; ``Call.files`` holds the content."""
        with self._lock:
            return [
                c
                for c in self.calls
                if c.method == "sendDocument"
                and (chat_id is None or int(c.params["chat_id"]) == chat_id)
            ]

    def refusals(self, method: str | None = None) -> list[str]:
        """The error descriptions of refused calls (of ``method``), in order."""
        with self._lock:
            return [c.error or "" for c in self.refused if method is None or c.method == method]

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
            (b["text"], b.get("callback_data") or b.get("url", ""))
            for row in markup.get("inline_keyboard", [])
            for b in row
        ]

    # --- the API ------------------------------------------------------------------------------

    def _message_id(self) -> int:
        with self._lock:
            self._next_message_id += 1
            return self._next_message_id

    @staticmethod
    def _typed(name: str, value: Any) -> Any:
        """A form field as the Bot API reads it: JSON-serialised objects decoded, ids as integers."""
        if not isinstance(value, str):
            return value
        if name in JSON_PARAMS:
            try:
                return json.loads(value)
            except ValueError:
                return value  # kept as sent: the method refuses it in Telegram's words
        if name in INT_PARAMS or name == "chat_id":
            with contextlib.suppress(ValueError):
                return int(value)
        return value

    async def _params(self, request: Request) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
        raw: dict[str, Any] = {}
        files: dict[str, tuple[str, bytes]] = {}
        if request.method == "GET":
            raw = dict(request.query_params)
        else:
            ctype = request.headers.get("content-type", "")
            if "json" in ctype:
                raw = await request.json()
            elif ctype:
                async with request.form() as form:  # closes uploaded files (sendDocument)
                    for k, v in form.items():
                        if isinstance(v, UploadFile):
                            files[k] = (v.filename or k, await v.read())
                            raw[k] = f"<file {v.filename}>"
                        else:
                            raw[k] = v
        return {k: self._typed(k, v) for k, v in raw.items()}, files

    def _take_fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        chat = params.get("chat_id")
        with self._lock:
            for inj in self.injections:
                if inj.method not in ("*", method) or inj.remaining <= 0:
                    continue
                if inj.chat_id is not None and chat != inj.chat_id:
                    continue
                if inj.after > 0:
                    inj.after -= 1
                    continue
                inj.hits += 1
                return inj.fault
        return None

    def _flooded(self, method: str) -> ApiError | None:
        if method not in ("sendMessage", "sendDocument") or not self.global_rate:
            return None
        now = time.monotonic()
        with self._lock:
            while self._send_times and now - self._send_times[0] > 1.0:
                self._send_times.popleft()
            if len(self._send_times) >= self.global_rate:
                self.rejected_429 += 1
                return too_many_requests(1)
            self._send_times.append(now)
        return None

    async def _drop(self, request: Request) -> Response:
        """Close the client's connection without an answer (uvicorn then sends nothing)."""
        assert self._server is not None
        client = tuple(request.scope.get("client") or ())
        for connection in list(self._server.server_state.connections):
            if getattr(connection, "client", None) == client:
                connection.transport.abort()
        await asyncio.sleep(0.01)  # let uvicorn see the connection is gone before anything is sent
        return Response(status_code=500)

    async def _hold(self, seconds: float) -> None:
        assert self._stopping is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _handle(self, request: Request) -> Response:
        method = request.path_params["method"]
        if request.path_params["token"] != self.token:
            return UNAUTHORIZED.response()
        params, files = await self._params(request)
        fault = self._take_fault(method, params)
        if isinstance(fault, Drop):
            return await self._drop(request)
        error = fault if isinstance(fault, ApiError) else self._flooded(method)
        if error is not None:
            return self._refuse(method, params, error)
        if method == "getUpdates":
            result: Any = await self._get_updates(params)
        else:
            result = self._carry_out(method, params, files)
        if isinstance(fault, Timeout):
            await self._hold(fault.seconds)
        if isinstance(result, ApiError):
            return self._refuse(method, params, result)
        return JSONResponse({"ok": True, "result": result})

    def _refuse(self, method: str, params: dict[str, Any], error: ApiError) -> JSONResponse:
        with self._lock:
            self.refused.append(Call(method, params, time.monotonic(), error.description))
        return error.response()

    def _record(self, method: str, params: dict[str, Any], files: dict[str, Any] | None = None) -> None:
        with self._lock:
            self.calls.append(Call(method, params, time.monotonic(), files=files or {}))

    def _carry_out(
        self, method: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> Any:
        """The method's result, or the ``ApiError`` Telegram would answer."""
        if method == "getMe":
            self._record(method, params)
            return BOT_USER
        if method in ("deleteWebhook", "setMyCommands", "close", "logOut"):
            self._record(method, params)
            return True
        if method == "getWebhookInfo":
            self._record(method, params)
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        handler = {
            "sendMessage": self._send_message,
            "sendDocument": self._send_document,
            "answerCallbackQuery": self._answer_callback_query,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageText": self._edit_message_text,
        }.get(method)
        if handler is None:
            return bad_request(f"fake: method {method} not implemented")
        result = handler(params, files)
        if not isinstance(result, ApiError):
            self._record(method, params, files)
        return result

    # --- the rules, method by method ------------------------------------------------------------

    def _chat(self, params: dict[str, Any]) -> dict[str, Any] | ApiError:
        """sendMessage.chat_id (Integer or String "@username"): a chat the bot may write to."""
        raw = params.get("chat_id")
        if raw is None or raw == "":
            return CHAT_ID_EMPTY
        if not isinstance(raw, int) or isinstance(raw, bool):
            return CHAT_NOT_FOUND  # not an integer: no public "@username" chats here
        with self._lock:
            chat = self.chats.get(raw)
            if chat is None:
                return CHAT_NOT_FOUND  # the person never started the bot
            if raw in self.blocked:
                return KICKED[chat["type"]]
            return dict(chat)

    @staticmethod
    def _visible_length(text: str, parse_mode: Any) -> int:
        """Characters "after entities parsing" (Unicode code points, as TDLib counts them)."""
        if parse_mode == "HTML":
            text = html.unescape(re.sub(r"<[^>]*>", "", text))
        return len(text.strip())  # Telegram trims leading and trailing whitespace

    def _text(self, params: dict[str, Any]) -> str | ApiError:
        """sendMessage.text: "1-4096 characters after entities parsing"."""
        text = params.get("text")
        if text is None or text == "":
            return TEXT_EMPTY
        text = str(text)
        length = self._visible_length(text, params.get("parse_mode"))
        if length == 0:
            return TEXT_BLANK
        if length > TEXT_MAX:
            return TOO_LONG
        return text

    @staticmethod
    def _button(button: Any) -> ApiError | None:
        """InlineKeyboardButton: a text and exactly one action; callback_data "1-64 bytes"."""
        if not isinstance(button, dict):
            return BUTTON_NOT_OBJECT
        if "text" not in button:
            return BUTTON_NO_TEXT
        if not isinstance(button["text"], str):
            return BUTTON_TEXT_NOT_STRING
        if not button["text"].strip():
            return BUTTON_TEXT_INVALID
        actions = [a for a in BUTTON_ACTIONS if button.get(a) not in (None, "")]
        if not actions:
            return BUTTON_NO_ACTION  # also an empty callback_data: "1-64 bytes"
        data = button.get("callback_data")
        if data is not None and len(str(data).encode("utf-8")) > CALLBACK_DATA_MAX_BYTES:
            return BUTTON_DATA_INVALID
        return None

    def _markup(self, params: dict[str, Any], *, inline_only: bool = False) -> Any:
        """reply_markup: a JSON object; an InlineKeyboardMarkup's rows are checked button by button.

        Returns the markup (None when absent) or the ``ApiError``. ``inline_only``:
        editMessageReplyMarkup.reply_markup is an InlineKeyboardMarkup (anything else removes it).
        """
        markup = params.get("reply_markup")
        if markup is None or markup == "":
            return None
        if isinstance(markup, str):
            return MARKUP_NOT_JSON  # _typed could not decode it
        if not isinstance(markup, dict):
            return MARKUP_NOT_OBJECT
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                return KEYBOARD_NOT_ROWS
            for row in rows:
                for button in row:
                    if (error := self._button(button)) is not None:
                        return error
            return markup if any(rows) else None
        if inline_only:
            return None
        # sendMessage also takes ReplyKeyboardMarkup, ReplyKeyboardRemove and ForceReply.
        if any(k in markup for k in ("keyboard", "remove_keyboard", "force_reply")):
            return markup
        return None

    def _new_message(
        self, chat: dict[str, Any], params: dict[str, Any], **content: Any
    ) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "message_id": self._message_id(),
            "date": int(time.time()),
            "chat": chat,
            "from": BOT_USER,
            **content,
        }
        if params.get("reply_markup"):
            msg["reply_markup"] = params["reply_markup"]
        with self._lock:
            self._messages[(chat["id"], msg["message_id"])] = msg
        params["message_id"] = msg["message_id"]
        return msg

    def _send_message(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat = self._chat(params)
        if isinstance(chat, ApiError):
            return chat
        text = self._text(params)
        if isinstance(text, ApiError):
            return text
        markup = self._markup(params)
        if isinstance(markup, ApiError):
            return markup
        return self._new_message(chat, params, text=text)

    def _send_document(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        chat = self._chat(params)
        if isinstance(chat, ApiError):
            return chat
        if "document" not in files:
            if not params.get("document"):
                return NO_DOCUMENT
            return bad_request("wrong file identifier/HTTP URL specified")  # no stored files here
        name, content = files["document"]
        if len(content) > UPLOAD_MAX_BYTES:
            return FILE_TOO_LARGE
        if not content:
            return FILE_EMPTY
        caption = params.get("caption")
        if caption and self._visible_length(str(caption), params.get("parse_mode")) > CAPTION_MAX:
            return CAPTION_TOO_LONG
        markup = self._markup(params)
        if isinstance(markup, ApiError):
            return markup
        document = {"file_id": f"doc{len(self.calls)}", "file_unique_id": "u", "file_name": name}
        document["file_size"] = len(content)
        extra = {"caption": caption} if caption else {}
        return self._new_message(chat, params, document=document, **extra)

    def _answer_callback_query(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        """answerCallbackQuery.callback_query_id: a query pressed lately, answered once."""
        query_id = str(params.get("callback_query_id") or "")
        with self._lock:
            pressed = self._queries.get(query_id)
            if (
                pressed is None
                or query_id in self._answered
                or time.monotonic() - pressed > self.callback_answer_window
            ):
                return QUERY_TOO_OLD
            self._answered.add(query_id)
        return True

    def _bot_message(self, params: dict[str, Any]) -> dict[str, Any] | ApiError:
        """editMessage*: chat_id and message_id of a message the bot sent (no inline messages here)."""
        if params.get("inline_message_id"):
            return MESSAGE_NOT_FOUND
        if not params.get("chat_id") and not params.get("message_id"):
            return MESSAGE_ID_MISSING
        chat = self._chat(params)
        if isinstance(chat, ApiError):
            return chat
        if not isinstance(params.get("message_id"), int):
            return MESSAGE_ID_MISSING
        with self._lock:
            msg = self._messages.get((chat["id"], params["message_id"]))
        return msg if msg is not None else MESSAGE_NOT_FOUND

    def _edit_message_reply_markup(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        msg = self._bot_message(params)
        if isinstance(msg, ApiError):
            return msg
        markup = self._markup(params, inline_only=True)
        if isinstance(markup, ApiError):
            return markup
        with self._lock:
            if markup == msg.get("reply_markup"):
                return NOT_MODIFIED
            if markup is None:
                msg.pop("reply_markup", None)
            else:
                msg["reply_markup"] = markup
            return dict(msg)

    def _edit_message_text(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        msg = self._bot_message(params)
        if isinstance(msg, ApiError):
            return msg
        text = self._text(params)
        if isinstance(text, ApiError):
            return text
        markup = self._markup(params, inline_only=True)
        if isinstance(markup, ApiError):
            return markup
        with self._lock:
            if text == msg.get("text") and markup == msg.get("reply_markup"):
                return NOT_MODIFIED
            msg["text"] = text
            if markup is None:
                msg.pop("reply_markup", None)
            else:
                msg["reply_markup"] = markup
            return dict(msg)

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]] | ApiError:
        """getUpdates from ``offset``, at most ``limit`` (1-100); a newer request ends this one (409)."""
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + min(timeout, 2.0)
        assert self._new_update is not None
        self._poll += 1
        poll = self._poll
        self._new_update.set()  # wakes an older request, which is terminated
        await asyncio.sleep(0)
        while True:
            if poll != self._poll:
                return CONFLICT
            with self._lock:
                while self._updates and self._updates[0]["update_id"] < offset:
                    self._updates.popleft()
                batch = list(self._updates)[:limit]
            if batch or time.monotonic() >= deadline:
                return batch
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), deadline - time.monotonic())
