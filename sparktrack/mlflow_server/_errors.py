"""Errors in MLflow's shape: ``{"error_code", "message"}`` with MLflow's codes and statuses.

MLflow's client branches on ``error_code`` (``mlflow.register_model`` goes on when
creating the model answers ``RESOURCE_ALREADY_EXISTS``; ``get_experiment_by_name``
returns None on ``RESOURCE_DOES_NOT_EXIST``), so every failure a handler raises is
answered with the code MLflow's own server gives for it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sparktrack.errors import (
    AlreadyExistsError,
    InvalidInputError,
    NotFoundError,
    RunStateError,
    SparktrackError,
)

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["MlflowApiError", "error_response", "install_error_handlers", "status_of"]

log = logging.getLogger("sparktrack.mlflow_server")

# MLflow's ErrorCode -> HTTP status (mlflow/protos/databricks.proto, its server's mapping).
_STATUS = {
    "INVALID_PARAMETER_VALUE": 400,
    "BAD_REQUEST": 400,
    "INVALID_STATE": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "INTERNAL_ERROR": 500,
    "NOT_IMPLEMENTED": 501,
}


class MlflowApiError(SparktrackError):
    """A request refused with one of MLflow's error codes (for cases no other error names).

    Args:
        error_code: MLflow's code (``INVALID_PARAMETER_VALUE``, ``INVALID_STATE``, ...).
        message: What was wrong and what to do.
    """

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code


def status_of(error_code: str) -> int:
    """The HTTP status MLflow's server answers an error code with."""
    return _STATUS.get(error_code, 500)


def error_response(error_code: str, message: str) -> Response:
    """A JSON error answer with MLflow's code and the status that goes with it."""
    from starlette.responses import JSONResponse  # the server extra loads with the app

    return JSONResponse(
        {"error_code": error_code, "message": message}, status_code=status_of(error_code)
    )


def code_of(exc: SparktrackError) -> str:
    """The MLflow error code for one of sparktrack's errors."""
    if isinstance(exc, MlflowApiError):
        return exc.error_code
    if isinstance(exc, AlreadyExistsError):
        return "RESOURCE_ALREADY_EXISTS"
    if isinstance(exc, NotFoundError):
        return "RESOURCE_DOES_NOT_EXIST"
    if isinstance(exc, InvalidInputError):
        return "INVALID_PARAMETER_VALUE"
    if isinstance(exc, RunStateError):
        return "INVALID_STATE"
    return "INTERNAL_ERROR"


def _sparktrack_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SparktrackError)
    code = code_of(exc)
    if code == "INTERNAL_ERROR":
        log.error("%s %s failed: %s", request.method, request.url.path, exc)
    return error_response(code, str(exc))


def _validation_error(request: Request, exc: Exception) -> Response:
    parts = []
    for error in getattr(exc, "errors", list)():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "body"))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return error_response("INVALID_PARAMETER_VALUE", "; ".join(parts) or str(exc))


def _not_found(request: Request, exc: Exception) -> Response:
    if getattr(exc, "status_code", None) == 404:
        return error_response(
            "ENDPOINT_NOT_FOUND",
            f"no endpoint {request.method} {request.url.path} on this sparktrack server",
        )
    from starlette.responses import JSONResponse

    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", str(exc))
    code = "BAD_REQUEST" if 400 <= status < 500 else "INTERNAL_ERROR"
    return JSONResponse({"error_code": code, "message": str(detail)}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Answer sparktrack's errors, FastAPI's checks and unknown paths in MLflow's shape."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    app.add_exception_handler(SparktrackError, _sparktrack_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _not_found)
