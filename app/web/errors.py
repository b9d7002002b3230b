"""One handler for every error: the JSON error shape for the API, an error page for the pages.

Domain errors (``app.core.errors``) carry their status; request validation errors become 422 in
the same shape; anything else is a real server fault (500) and is logged, never shown raw.
"""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.errors import WirelensError

log = logging.getLogger("wirelens")


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def error_response(request: Request, status: int, message: str, detail: dict | None = None):
    if wants_html(request):
        from app.web.templating import templates  # noqa: PLC0415 - pages only

        return templates.TemplateResponse(
            request, "error.html", {"status": status, "message": message, "detail": detail or {}},
            status_code=status,
        )
    body: dict = {"error": message}
    if detail:
        body["detail"] = detail
    return JSONResponse(body, status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(WirelensError)
    async def domain_error(request: Request, exc: WirelensError):
        return error_response(request, exc.status, exc.message, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        problems = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"where": "request", "problem": "invalid"}
        return error_response(
            request, 422, f"Invalid parameter {first['where']}: {first['problem']}.", {"errors": problems}
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404 and message == "Not Found":
            message = f"There is nothing at {request.url.path}."
        return error_response(request, exc.status_code, message)

    @app.exception_handler(Exception)
    async def server_fault(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.url.path)
        return error_response(request, 500, "Internal error: the server could not complete this request.")
