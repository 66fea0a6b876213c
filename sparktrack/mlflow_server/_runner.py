"""Running the server: the socket (loopback by default), the announced URL, uvicorn."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sparktrack._http import (
    bind,
    configure_logging,
    serve_on,
    trust_loopback_only,
    url_of,
)
from sparktrack.mlflow_server._app import create_app
from sparktrack.tracking import TrackingClient

__all__ = ["DEFAULT_PORT", "run"]

log = logging.getLogger("sparktrack.mlflow_server")

DEFAULT_PORT = 5000  # MLflow's server port: clients configured for `mlflow server` keep working
"""The port ``sparktrack server`` listens on by default (``mlflow server``'s)."""


def run(
    store: str | TrackingClient | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    token: str | None = None,
    access_log: bool = False,
    mount: Any = None,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve MLflow's REST API over a store until interrupted (what ``sparktrack server`` runs).

    On loopback (the default) only this machine reaches it, and requests naming
    another host are refused (a web page cannot rebind a name of its own to it).

    Args:
        store: A store URI, an open TrackingClient, or None for the configured store.
        host: The address to listen on; anything but loopback is reachable by others
            (a warning says so: give a ``token`` then).
        port: The port (0: a free port the OS picks).
        token: Require ``Authorization: Bearer <token>`` on every API request (MLflow's
            client sends it from ``MLFLOW_TRACKING_TOKEN``).
        access_log: Log every request (uvicorn's access log).
        mount: An ASGI app answering every other path on the same port (the CLI mounts
            the web UI there), or None.
        announce: Receives the URL to give MLflow's client (``MLFLOW_TRACKING_URI``) once
            the socket listens (default: prints ``sparktrack server at <url>`` on stdout).

    Raises:
        ConfigurationError: The ``server`` extra is missing, or the address cannot be
            listened on.
        StoreError: The store cannot be opened.
    """
    app = create_app(store, token=token)
    if mount is not None:
        # Last: the API's routes (and its catch-all for unknown API paths) match first.
        app.mount("/", mount)
    configure_logging()
    trust_loopback_only(app, host, token, exposes="reads and writes the store", log=log)
    sock = bind(host, port)
    url = url_of(sock)
    if announce is None:
        print(f"sparktrack server at {url}", flush=True)
    else:
        announce(url)
    serve_on(app, sock, access_log=access_log)
