"""Who is asking, and may they: the console's session cookie, roles, CSRF and security headers.

* The session is a random token in an http-only, SameSite=Strict cookie limited to ``/console``
  (``Secure`` behind HTTPS); the database keeps only its digest (``services.staff``). It ends at logout
  or after ``LOTSE_CONSOLE_IDLE_MINUTES`` without a request; the inbox's own refreshes do not count as
  activity (a screen left open does not keep a session alive).
* Every route declares its role with ``Depends(role(...))``; a missing role is a 403 page, never a
  hidden link only. Unsafe methods (POST) also need the session's CSRF token (form field ``csrf`` or
  header ``X-CSRF-Token``, which htmx sends) and, when the browser sends one, a matching ``Origin``.
* The login form has its own CSRF token (a random cookie matched by the form, before any session).
* Every console response carries a strict Content-Security-Policy (scripts only from this origin, no
  inline scripts or styles), ``no-store`` caching, and forbids framing.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.middleware.base import BaseHTTPMiddleware

from services.staff import ConsoleSession, Staff

COOKIE = "lotse_staff"
LOGIN_COOKIE = "lotse_login"
PREFIX = "/console"
POLL_HEADER = "X-Lotse-Poll"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class LoginRequired(Exception):
    def __init__(self, expired: bool = False) -> None:
        self.expired = expired


class Forbidden(Exception):
    def __init__(self, message: str = "forbidden") -> None:
        self.message = message


class CsrfFailed(Exception):
    pass


def staff_of(request: Request) -> Staff:
    staff: Staff = request.app.state.runtime.staff
    return staff


def client_of(request: Request) -> str:
    return request.client.host if request.client is not None else ""


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None  # "null" (sandboxed or privacy-stripped) is never ours
    return origin == f"{request.url.scheme}://{request.url.netloc}"


async def _csrf_given(request: Request) -> str | None:
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # cached by Starlette: the route's Form(...) fields still work
        value = form.get("csrf")
        return value if isinstance(value, str) else None
    return None


def role(*roles: str) -> Callable[[Request], Awaitable[ConsoleSession]]:
    """A dependency: the signed-in session, which must hold one of ``roles`` (any role if none)."""

    async def dependency(request: Request) -> ConsoleSession:
        staff = staff_of(request)
        token = request.cookies.get(COOKIE)
        polling = request.headers.get(POLL_HEADER) == "1"
        session = await asyncio.to_thread(staff.session, token, touch=not polling)
        if session is None:
            raise LoginRequired(expired=bool(token))
        request.state.console = session
        unsafe = request.method not in SAFE_METHODS
        if unsafe and not (_same_origin(request) and Staff.csrf_ok(session, await _csrf_given(request))):
            raise CsrfFailed()
        if roles and not any(session.account.has(r) for r in roles):
            raise Forbidden()
        return session

    return dependency


def set_session_cookie(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(
        COOKIE, token, path=PREFIX, httponly=True, samesite="strict", secure=secure, max_age=None
    )


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict", secure=secure)


def login_csrf_ok(request: Request, given: str | None) -> bool:
    expected = request.cookies.get(LOGIN_COOKIE)
    return bool(expected and given) and hmac.compare_digest(str(expected), str(given))


def safe_next(value: str | None) -> str:
    """Only a path inside the console (never another site) is a place to go after signing in."""
    if value and value.startswith(PREFIX + "/") and not value.startswith("//") and "\\" not in value:
        return value
    return PREFIX + "/"


class SecurityHeaders(BaseHTTPMiddleware):
    """Strict headers on every console response."""

    async def dispatch(self, request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        if request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/"):
            response.headers["Content-Security-Policy"] = CSP
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["X-Frame-Options"] = "DENY"
            response.headers["Referrer-Policy"] = "same-origin"
            if not request.url.path.startswith(PREFIX + "/static/"):
                response.headers["Cache-Control"] = "no-store"
        return response


def login_redirect(request: Request, expired: bool) -> Response:
    target = f"{PREFIX}/login" + ("?expired=1" if expired else "")
    if request.headers.get("hx-request") == "true":
        # htmx: a full-page navigation to the login page instead of swapping it into a fragment.
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
