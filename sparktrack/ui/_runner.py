"""Running the UI: the socket (loopback by default), the announced URL, uvicorn."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sparktrack._http import (
    bind,
    configure_logging,
    serve_on,
    trust_loopback_only,
    url_of,
)
from sparktrack.tracking import TrackingClient
from sparktrack.ui._app import create_app

__all__ = ["DEFAULT_PORT", "run"]

log = logging.getLogger("sparktrack.ui")

DEFAULT_PORT = 5000  # MLflow's UI port
"""The port ``sparktrack ui`` listens on by default (MLflow's UI one)."""


def run(
    store: str | TrackingClient | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    allow_writes: bool = False,
    token: str | None = None,
    access_log: bool = False,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve the UI until interrupted (what ``sparktrack ui`` runs).

    On loopback (the default) only this machine reaches it, and requests naming
    another host are refused (a web page cannot rebind a name of its own to it).

    Args:
        store: A store URI, an open TrackingClient, or None for the configured store.
        host: The address to listen on; anything but loopback is reachable by others
            (a warning says so: give a ``token`` then).
        port: The port (0: a free port the OS picks).
        allow_writes: Allow registry changes and run renames, tags and deletes.
        token: Require ``Authorization: Bearer <token>`` on every API request.
        access_log: Log every request (uvicorn's access log).
        announce: Receives the URL to open once the socket listens (default: prints
            ``sparktrack UI at <url>`` on stdout). With a token, the URL carries it
            after ``#``, which browsers never send to a server.

    Raises:
        ConfigurationError: The ``ui`` extra is missing, or the address cannot be
            listened on.
        StoreError: The store cannot be opened.
    """
    app = create_app(store, allow_writes=allow_writes, token=token)
    configure_logging()
    trust_loopback_only(app, host, token, exposes="reads the store", log=log)
    sock = bind(host, port)
    url = url_of(sock) + "/"
    shown = f"{url}#token={token}" if token else url
    if announce is None:
        print(f"sparktrack UI at {shown}", flush=True)
    else:
        announce(shown)
    serve_on(app, sock, access_log=access_log)
