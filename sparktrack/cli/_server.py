"""``sparktrack server``: MLflow's tracking REST API over the store, with the web UI beside it."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from sparktrack.cli._app import LoopbackHostOption, PortOption, cli_errors, cli_state
from sparktrack.mlflow_server import DEFAULT_PORT, run
from sparktrack.ui import create_app as create_ui_app

__all__ = ["server"]

TOKEN_VARIABLE = "SPARKTRACK_SERVER_TOKEN"


@cli_errors
def server(
    ctx: typer.Context,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="URI",
            help="Store to serve (the same as the global --store, which it overrides).",
            show_default=False,
        ),
    ] = None,
    host: LoopbackHostOption = "127.0.0.1",
    port: PortOption = DEFAULT_PORT,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help=f"Require this bearer token on every request (default: ${TOKEN_VARIABLE}). "
            "MLflow's client sends it from MLFLOW_TRACKING_TOKEN.",
            show_default=False,
        ),
    ] = None,
    no_ui: Annotated[
        bool,
        typer.Option("--no-ui", help="Serve only the REST API, not the web UI at '/'."),
    ] = False,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log every request on stderr.")
    ] = False,
) -> None:
    """Serve MLflow's tracking REST API over the store, for MLflow's own client.

    Point MLflow at the printed URL (MLFLOW_TRACKING_URI=http://127.0.0.1:5000) and
    its mlflow.start_run/log_*/MlflowClient calls write runs into this store, which
    sparktrack, the UI and Spark SQL read. Artifacts go through the server
    (mlflow-artifacts:/) into the store's artifact tree. The web UI (read-only) is
    served on the same port unless --no-ui.
    """
    state = cli_state(ctx)
    if store is not None:
        state.explicit_store = store
    # Like `mlflow server`, a new store is created: MLflow's client logs its first runs here.
    client = state.client(must_exist=False)
    secret = token or os.environ.get(TOKEN_VARIABLE) or None
    # The UI and the API share the store's one client, so the UI shows what the API
    # just logged; the UI stays read-only (writes come through MLflow's API).
    ui_app = None if no_ui else create_ui_app(client, token=secret)
    run(client, host=host, port=port, token=secret, access_log=access_log, mount=ui_app)
