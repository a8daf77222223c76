"""Signing in and out, and changing one's own password."""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.render import page
from console.security import (
    LOGIN_COOKIE,
    PREFIX,
    clear_session_cookie,
    client_of,
    login_csrf_ok,
    role,
    safe_next,
    set_session_cookie,
    staff_of,
)
from console.strings import t
from services.audit import Actor
from services.staff import ConsoleSession, StaffError

router = APIRouter(prefix=PREFIX)
Signed = Annotated[ConsoleSession, Depends(role())]


def _secure(request: Request) -> bool:
    return bool(request.app.state.runtime.settings.web.secure_cookies)


def _login_page(
    request: Request, *, message: str | None = None, status_code: int = 200, next_path: str = ""
) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = page(
        request,
        "login.html",
        {"login_csrf": token, "message": message, "next": safe_next(next_path)},
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=3600,
    )
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> HTMLResponse:
    params = request.query_params
    message = None
    if params.get("expired") == "1":
        message = t("session_expired")
    elif params.get("bye") == "1":
        message = t("logged_out")
    return _login_page(request, message=message, next_path=params.get("next", ""))


@router.post("/login", response_model=None)
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    if not login_csrf_ok(request, csrf):
        return _login_page(request, message=t("csrf_failed"), status_code=403)
    staff = staff_of(request)
    client = client_of(request)
    result = await asyncio.to_thread(staff.authenticate, username, password, client)
    if result.account is None:
        message = t("login_throttled") if result.throttled else t("login_failed")
        return _login_page(
            request, message=message, status_code=429 if result.throttled else 401, next_path=next
        )
    token, _ = await asyncio.to_thread(staff.start_session, result.account, client)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, token, secure=_secure(request))
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(request: Request, session: Signed) -> Response:
    await asyncio.to_thread(staff_of(request).end_session, session.token_digest)
    response = RedirectResponse(f"{PREFIX}/login?bye=1", status_code=303)
    clear_session_cookie(response, secure=_secure(request))
    return response


@router.get("/account/password", response_class=HTMLResponse, dependencies=[Depends(role())])
async def password_form(request: Request) -> HTMLResponse:
    return page(request, "password.html", {})


@router.post("/account/password", response_model=None)
async def change_password(
    request: Request,
    session: Signed,
    current: Annotated[str, Form(max_length=1000)] = "",
    new: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    staff = staff_of(request)
    account = session.account
    check = await asyncio.to_thread(staff.authenticate, account.username, current, client_of(request))
    if check.account is None or check.account.id != account.id:
        error = t("login_throttled") if check.throttled else t("wrong_current_password")
        return page(request, "password.html", {"error": error}, status_code=400)
    try:
        await asyncio.to_thread(staff.set_password, account.id, new, actor=Actor.staff(account.username))
    except StaffError as exc:
        return page(request, "password.html", {"error": str(exc)}, status_code=400)
    response = RedirectResponse(f"{PREFIX}/login?bye=1", status_code=303)
    clear_session_cookie(response, secure=_secure(request))
    return response
