"""The FastAPI app: the JSON API under ``/api``, the pages, and what guards them.

Every ``/api`` request and ``/openapi.json`` need the bearer token when the app has
one (401 otherwise); the pages themselves hold no data and load without it. Changes
need ``allow_writes`` (403 otherwise), a JSON body with a Content-Length of at most
``MAX_BODY_BYTES``, and, from a browser, the app's own origin. Every answer carries
``X-Content-Type-Options: nosniff`` and a CSP that allows only the app's own scripts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from sparktrack._http import bearer_token_ok, require_web_extra
from sparktrack._version import __version__
from sparktrack.registry import RegistryClient
from sparktrack.tracking import TrackingClient
from sparktrack.ui._assets import ASSETS_PREFIX, IMMUTABLE, STATIC, asset_tag, index_page
from sparktrack.ui._errors import error_response, install_error_handlers
from sparktrack.ui._state import UiState, WritesDisabledError

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["MAX_BODY_BYTES", "create_app", "warm_up"]

log = logging.getLogger("sparktrack.ui")

MAX_BODY_BYTES = 1 << 20  # a change is a name, a tag or a stage: small
CSP = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' blob: data:; "
    # uPlot positions its cursor and legend through style attributes (styles only:
    # scripts stay limited to the app's own files).
    "style-src 'self' 'unsafe-inline'; font-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def warm_up(client: TrackingClient) -> threading.Thread:
    """Start reading and folding what every search needs, in a background thread.

    The first search of a new process folds every run and the latest point of every
    metric (seconds at 100,000 runs); started with the server, that work is done, or
    under way, when the first page is asked for, which then waits only for the rest
    (a search arriving meanwhile waits for the folds under way, it does not start
    them again).

    Args:
        client: The client the app serves.

    Returns:
        The thread, started (a daemon: it never holds the process up).
    """

    def fold() -> None:
        try:
            client.search_runs(None, "", "ALL", 1, columns=[])
        except Exception as exc:  # any failure: the first request meets and reports it
            log.warning("reading the store ahead of the first request failed: %s", exc)

    thread = threading.Thread(target=fold, name="sparktrack-ui-warm-up", daemon=True)
    thread.start()
    return thread


def _guard(
    state: UiState,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        guarded = path.startswith("/api/") or path == "/openapi.json"
        if guarded and state.token is not None and not bearer_token_ok(request, state.token):
            response = error_response(
                401,
                "UNAUTHENTICATED",
                "this UI needs its token: send 'Authorization: Bearer <token>' (the "
                "token `sparktrack ui` was given with --token or SPARKTRACK_UI_TOKEN)",
            )
            response.headers["WWW-Authenticate"] = "Bearer"
        elif guarded and request.method not in _SAFE_METHODS:
            response = _check_change(request, state) or await call_next(request)
        else:
            response = await call_next(request)
        if path.startswith(f"{ASSETS_PREFIX}/") and response.status_code == 200:
            response.headers["Cache-Control"] = IMMUTABLE  # the address names the content
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    return guard


def _check_change(request: Request, state: UiState) -> Response | None:
    """The refusal of a change request, or None when it may go ahead."""
    try:
        state.check_writes()
    except WritesDisabledError as exc:
        return error_response(403, "PERMISSION_DENIED", str(exc))
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.headers.get('host')}":
        return error_response(403, "PERMISSION_DENIED", f"changes from {origin!r} are refused")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        return error_response(
            413, "REQUEST_TOO_LARGE", f"a change body is at most {MAX_BODY_BYTES} bytes"
        )
    if declared is None and request.method in ("POST", "PUT", "PATCH"):
        return error_response(411, "LENGTH_REQUIRED", "send the body with a Content-Length")
    return None


def create_app(
    store: str | TrackingClient | None = None,
    *,
    allow_writes: bool = False,
    token: str | None = None,
) -> FastAPI:
    """Build the UI's app: the pages and the JSON API over a store.

    Args:
        store: A store URI, an open TrackingClient, or None for the configured store.
            A client given is used as it is; one the app opens without
            ``allow_writes`` writes nothing to the store (a run found dead shows as
            KILLED without that verdict being stored).
        allow_writes: Allow registry stage and alias changes and run renames, tags and
            deletes from the UI (otherwise they are answered 403).
        token: Require ``Authorization: Bearer <token>`` on every API request.

    Returns:
        The FastAPI application, to run with uvicorn (``run`` does). It has begun
        reading the store in the background (``warm_up``), so that the first page does
        not wait for all of it.

    Raises:
        ConfigurationError: The ``ui`` extra (FastAPI, uvicorn) is not installed.
        StoreError: The store cannot be opened.
    """
    require_web_extra("the UI", "ui")
    # FastAPI (the ui extra) loads only when an app is built: the route modules import
    # it at their top, so they are imported here, not when sparktrack.ui is.
    from fastapi import FastAPI
    from starlette.responses import HTMLResponse
    from starlette.staticfiles import StaticFiles

    from sparktrack.ui._routes_artifacts import router as artifacts_router
    from sparktrack.ui._routes_drift import router as drift_router
    from sparktrack.ui._routes_registry import router as registry_router
    from sparktrack.ui._routes_run import router as run_router
    from sparktrack.ui._routes_runs import router as runs_router
    from sparktrack.ui._routes_snapshot import router as snapshot_router
    from sparktrack.ui._routes_sweeps import router as sweeps_router
    from sparktrack.ui._routes_writes import router as writes_router
    from sparktrack.ui._schemas import Info

    # A read-only UI must not write, not even the KILLED verdict on a run whose
    # heartbeat stopped (its store may be a read-only mount): it shows the verdict only.
    client = (
        store
        if isinstance(store, TrackingClient)
        else TrackingClient(store, record_verdicts=allow_writes)
    )
    state = UiState(client, RegistryClient(client), allow_writes, token or None)
    # No /docs or /redoc: their pages load scripts from a CDN. The schema is the API's.
    app = FastAPI(
        title="sparktrack UI",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.ui = state
    app.state.warm_up = warm_up(client)
    install_error_handlers(app)
    app.middleware("http")(_guard(state))
    for router in (
        runs_router,
        artifacts_router,  # before run_router: its paths are longer than /runs/{run_id}
        snapshot_router,
        run_router,
        sweeps_router,
        drift_router,
        registry_router,
        writes_router,
    ):
        app.include_router(router)

    @app.get("/api/info", tags=["info"], response_model=Info)
    def info() -> Info:
        """The server's version, whether it allows changes, and its store."""
        return Info(version=__version__, allow_writes=allow_writes, store=client.store.uri)

    page = index_page({"version": __version__, "allow_writes": allow_writes})

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    app.mount(
        f"{ASSETS_PREFIX}/{asset_tag()}",
        StaticFiles(directory=STATIC),
        name="assets",
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
