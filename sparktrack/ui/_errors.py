"""Errors as JSON: ``{"error_code", "message"}`` with the status each kind of failure earns.

A malformed filter answers 400 with the position the search grammar reports; a run,
experiment, model or artifact that does not exist 404; a change to a read-only UI
403. Failures of FastAPI's own parameter checks (a page size out of bounds) are
answered 400 in the same shape.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sparktrack.errors import (
    InvalidInputError,
    NotFoundError,
    SearchSyntaxError,
    SparktrackError,
)
from sparktrack.ui._state import WritesDisabledError

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["error_response", "install_error_handlers"]

log = logging.getLogger("sparktrack.ui")


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    """A JSON error answer."""
    from starlette.responses import JSONResponse  # the ui extra loads with the app

    return JSONResponse({"error_code": code, "message": message, **extra}, status_code=status)


def _sparktrack_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, SearchSyntaxError):
        return error_response(400, "INVALID_FILTER", str(exc), position=exc.position)
    if isinstance(exc, WritesDisabledError):
        return error_response(403, "PERMISSION_DENIED", str(exc))
    if isinstance(exc, NotFoundError):
        return error_response(404, "RESOURCE_DOES_NOT_EXIST", str(exc))
    if isinstance(exc, InvalidInputError):
        return error_response(400, "INVALID_PARAMETER_VALUE", str(exc))
    log.error("%s %s failed: %s", request.method, request.url.path, exc)
    return error_response(500, "INTERNAL_ERROR", str(exc))


def _validation_error(request: Request, exc: Exception) -> Response:
    errors: list[dict[str, Any]] = getattr(exc, "errors", list)()
    parts = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "body"))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return error_response(400, "INVALID_PARAMETER_VALUE", "; ".join(parts) or str(exc))


def install_error_handlers(app: FastAPI) -> None:
    """Answer SparktrackErrors and parameter-check failures as JSON errors."""
    from fastapi.exceptions import RequestValidationError  # the ui extra, loaded with the app

    app.add_exception_handler(SparktrackError, _sparktrack_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
