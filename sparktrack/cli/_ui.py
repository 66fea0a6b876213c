"""``sparktrack ui``: the web UI over the store (experiments, runs, charts, registry)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from sparktrack.cli._app import LoopbackHostOption, PortOption, cli_errors, cli_state
from sparktrack.ui import DEFAULT_PORT, run

__all__ = ["ui"]

TOKEN_VARIABLE = "SPARKTRACK_UI_TOKEN"


@cli_errors
def ui(
    ctx: typer.Context,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="URI",
            help="Store to show (the same as the global --store, which it overrides).",
            show_default=False,
        ),
    ] = None,
    host: LoopbackHostOption = "127.0.0.1",
    port: PortOption = DEFAULT_PORT,
    allow_writes: Annotated[
        bool,
        typer.Option(
            "--allow-writes",
            help="Allow registry stage and alias changes and run renames, tags and "
            "deletes from the UI. Without it the UI is read-only.",
        ),
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help=f"Require this bearer token on every API request (default: ${TOKEN_VARIABLE}). "
            "The printed URL carries it after '#'.",
            show_default=False,
        ),
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log every request on stderr.")
    ] = False,
) -> None:
    """Serve the web UI: experiments, runs, charts, artifacts, compare, sweeps, registry.

    Prints the URL to open and serves until interrupted. Read-only unless
    --allow-writes; every page is backed by a JSON API (schema at /openapi.json).
    """
    state = cli_state(ctx)
    if store is not None:
        state.explicit_store = store
    # Read-only: not even the KILLED verdict on a dead run is written (see create_app).
    client = state.client(record_verdicts=allow_writes)
    run(
        client,
        host=host,
        port=port,
        allow_writes=allow_writes,
        token=token or os.environ.get(TOKEN_VARIABLE) or None,
        access_log=access_log,
    )
