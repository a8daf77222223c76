"""The staff console inside the FastAPI app: ``install_console(app)`` adds ``/console``.

Server-rendered pages (Jinja2) with htmx for the parts that refresh or swap (the inbox rows, delivery
states, the reply preview); one vendored ``htmx.min.js``, one stylesheet, no build step. Every page
works without JavaScript too (forms post and redirect).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from console import (
    admin_routes,
    auth_routes,
    inbox_routes,
    reminder_routes,
    studio_entries,
    studio_questions,
    studio_texts,
)
from console.render import HERE, page
from console.security import (
    PREFIX,
    CsrfFailed,
    Forbidden,
    LoginRequired,
    SecurityHeaders,
    login_redirect,
    role,
)
from console.strings import t
from services.staff import ConsoleSession

# Where each role starts (the first that applies).
HOME = (("case_manager", "/inbox"), ("editor", "/content"), ("admin", "/admin/accounts"))


def install_console(app: FastAPI) -> None:
    """Add the console's routes, static files, error pages and security headers to ``app``."""
    app.add_middleware(SecurityHeaders)
    app.mount(PREFIX + "/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(auth_routes.router)
    app.include_router(inbox_routes.router)
    app.include_router(reminder_routes.router)
    app.include_router(admin_routes.router)
    app.include_router(studio_questions.router)
    app.include_router(studio_texts.router)
    app.include_router(studio_entries.router)

    @app.get(PREFIX, include_in_schema=False)
    async def console_root() -> Response:
        return RedirectResponse(PREFIX + "/", status_code=307)

    @app.get(PREFIX + "/", response_class=HTMLResponse, include_in_schema=False)
    async def home(request: Request, session: Annotated[ConsoleSession, Depends(role())]) -> Response:
        for role_name, path in HOME:
            if session.account.has(role_name):
                return RedirectResponse(PREFIX + path, status_code=303)
        return page(request, "error.html", {"message": t("no_role")}, status_code=403)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return login_redirect(request, exc.expired)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return page(request, "error.html", {"message": t(exc.message)}, status_code=403)

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, _: CsrfFailed) -> Response:
        return page(request, "error.html", {"message": t("csrf_failed")}, status_code=403)

    @app.exception_handler(StarletteHTTPException)
    async def not_found(request: Request, exc: StarletteHTTPException) -> Response:
        path = request.url.path
        if exc.status_code == 404 and (path == PREFIX or path.startswith(PREFIX + "/")):
            return page(request, "error.html", {"message": t("not_found")}, status_code=404)
        return await http_exception_handler(request, exc)


def invalid_console_request(request: Request) -> Response:
    """A malformed console request (a path id that is no number, an oversized field): a page."""
    return page(request, "error.html", {"message": t("not_found")}, status_code=422)
