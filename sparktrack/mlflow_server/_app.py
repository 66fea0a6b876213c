"""The FastAPI app: every endpoint of the route table under MLflow's two prefixes.

Each ``Endpoint`` is served at ``/api/2.0/mlflow<path>`` (what MLflow's Python client
calls) and ``/ajax-api/2.0/mlflow<path>`` (what MLflow's web UI calls). A GET reads its
fields from the query string, the other methods from a JSON object body of at most
``MAX_JSON_BODY_BYTES``. The artifact proxy (``_artifact_routes``) streams files under
``/api/2.0/mlflow-artifacts`` and its ``/ajax-api/`` twin, without that limit. Any other
path under those prefixes is answered with MLflow's ``ENDPOINT_NOT_FOUND``. With a
token, every request under them needs ``Authorization: Bearer <token>`` (MLflow's
client sends it from ``MLFLOW_TRACKING_TOKEN``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from sparktrack._http import bearer_token_ok, read_limited_body, require_web_extra
from sparktrack._version import __version__
from sparktrack.errors import InvalidInputError
from sparktrack.mlflow_server._artifact_routes import ARTIFACT_PREFIXES, add_artifact_routes
from sparktrack.mlflow_server._context import ServerContext
from sparktrack.mlflow_server._errors import (
    MlflowApiError,
    error_response,
    install_error_handlers,
)
from sparktrack.mlflow_server._experiment_endpoints import ensure_default_experiment
from sparktrack.mlflow_server._logged_model_endpoints import ENDPOINTS as LOGGED_MODELS
from sparktrack.mlflow_server._registry_endpoints import ENDPOINTS as REGISTRY
from sparktrack.mlflow_server._routes import Endpoint, Fields
from sparktrack.mlflow_server._tracking_endpoints import ENDPOINTS as TRACKING
from sparktrack.registry import RegistryClient
from sparktrack.tracking import TrackingClient

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["API_PREFIXES", "MAX_JSON_BODY_BYTES", "create_app", "endpoints"]

API_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
# What the token guards: the API and the artifacts (whose prefixes these begin). Other
# paths belong to an app mounted beside the API (the web UI), which checks the token
# on its own API but must serve its pages to a browser that cannot send the header.
_GUARDED = API_PREFIXES
MAX_JSON_BODY_BYTES = 16 << 20
"""A log-batch of MLflow's largest (1,000 metrics, 100 params, 100 tags) is far below it."""


def endpoints() -> list[Endpoint]:
    """Every endpoint the server answers, in the order they are matched."""
    return [*TRACKING, *LOGGED_MODELS, *REGISTRY]


def _guard(
    token: str | None,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        guarded = request.url.path.startswith(_GUARDED)
        if token is not None and guarded and not bearer_token_ok(request, token):
            response = error_response(
                "UNAUTHENTICATED",
                "this server needs its token: set MLFLOW_TRACKING_TOKEN (MLflow's client) "
                "or send 'Authorization: Bearer <token>'",
            )
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return await call_next(request)

    return guard


def _check_json_content_type(request: Request, where: str) -> None:
    """Refuse a write that does not say it is JSON, as MLflow's server does.

    It is what keeps a web page from writing here: a browser sends a cross-site POST
    with a form or text type without asking first, but asks (a CORS preflight, which
    this server never grants) before sending ``application/json``.
    """
    declared = request.headers.get("content-type")
    if declared is None:
        raise InvalidInputError(f"{where}: Bad Request. Content-Type header is missing.")
    if declared.split(";", 1)[0].strip().lower() != "application/json":
        raise InvalidInputError(
            f"{where}: Bad Request. Content-Type must be one of ['application/json']."
        )


async def _fields(request: Request, where: str) -> Fields:
    values: dict[str, Any] = {}
    for key in request.query_params:
        found = request.query_params.getlist(key)
        values[key] = found if len(found) > 1 else found[0]
    if request.method != "GET":
        # POST and PUT, as MLflow's server checks: a browser sends no cross-site PATCH or
        # DELETE without a preflight, and MLflow's client sends DELETEs without a body
        # (logged-models/<id>/tags/<key>) with no Content-Type.
        if request.method in ("POST", "PUT"):
            _check_json_content_type(request, where)
        body = await read_limited_body(request, MAX_JSON_BODY_BYTES)
        if body is None:
            raise InvalidInputError(
                f"{where}: a request body is at most {MAX_JSON_BODY_BYTES} bytes"
            )
        if body.strip():
            try:
                parsed = json.loads(body)
            except ValueError as exc:
                raise InvalidInputError(f"{where}: the body is not JSON ({exc})") from None
            if isinstance(parsed, str):
                # Older MLflow clients send their JSON encoded twice, as MLflow's server
                # accepts: a JSON string holding the object.
                try:
                    parsed = json.loads(parsed)
                except ValueError as exc:
                    raise InvalidInputError(f"{where}: the body is not JSON ({exc})") from None
            if not isinstance(parsed, dict):
                raise InvalidInputError(f"{where}: the body must be a JSON object")
            values.update(parsed)
    values.update(request.path_params)
    return Fields(values, where, query=request.method == "GET")


def _route(context: ServerContext, endpoint: Endpoint) -> Callable[[Request], Awaitable[Any]]:
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse

    where = endpoint.path.lstrip("/")

    async def answer(request: Request) -> Any:
        fields = await _fields(request, where)
        # Handlers read and commit Delta tables: a worker thread, not the event loop.
        body = await run_in_threadpool(endpoint.handler, context, fields)
        return JSONResponse(dict(body))

    answer.__name__ = f"{endpoint.method.lower()}_{where.replace('/', '_').replace('-', '_')}"
    return answer


def add_endpoints(app: FastAPI, context: ServerContext, table: Iterable[Endpoint]) -> None:
    """Serve each endpoint under both of MLflow's prefixes."""
    for endpoint in table:
        handler = _route(context, endpoint)
        for prefix in API_PREFIXES:
            # Starlette's plain routes: the handler reads the request itself (``Fields``),
            # FastAPI's parameter injection has nothing to add.
            app.add_route(prefix + endpoint.path, handler, methods=[endpoint.method])


async def _unknown_endpoint(request: Request) -> Any:
    raise MlflowApiError(
        "ENDPOINT_NOT_FOUND",
        f"no endpoint {request.method} {request.url.path} on this sparktrack server",
    )


def add_unknown_endpoint_answer(app: FastAPI) -> None:
    """Answer any other path under the prefixes with MLflow's ENDPOINT_NOT_FOUND.

    Added after every endpoint: with the UI mounted at "/", an unknown API path would
    otherwise reach the UI and be answered with a page instead of MLflow's error.
    """
    for prefix in (*API_PREFIXES, *ARTIFACT_PREFIXES):
        app.add_route(
            prefix + "/{rest:path}",
            _unknown_endpoint,
            methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            include_in_schema=False,
        )


def create_app(
    store: str | TrackingClient | None = None,
    *,
    token: str | None = None,
) -> FastAPI:
    """Build the server's app: MLflow's tracking, logged-model and registry REST API.

    Args:
        store: A store URI, an open TrackingClient, or None for the configured store.
        token: Require ``Authorization: Bearer <token>`` on every request.

    Returns:
        The FastAPI application, to run with uvicorn.

    Raises:
        ConfigurationError: The ``server`` extra (FastAPI, uvicorn) is not installed.
        StoreError: The store cannot be opened.
    """
    require_web_extra("the MLflow-protocol server", "server")
    from fastapi import FastAPI

    client = store if isinstance(store, TrackingClient) else TrackingClient(store)
    context = ServerContext(client, RegistryClient(client))
    app = FastAPI(
        title="sparktrack server (MLflow REST protocol)",
        version=__version__,
        docs_url=None,
        redoc_url=None,
    )
    # As `mlflow server` does: MLflow's client logs to experiment "0" when none is set.
    ensure_default_experiment(context)
    app.state.context = context
    install_error_handlers(app)
    app.middleware("http")(_guard(token or None))
    add_endpoints(app, context, endpoints())
    add_artifact_routes(app, context)
    add_unknown_endpoint_answer(app)
    return app
