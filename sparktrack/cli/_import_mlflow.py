"""``sparktrack import-mlflow SOURCE``: bring an MLflow store over, in bulk."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from sparktrack.cli._app import cli_errors, cli_state, store_exists
from sparktrack.cli._output import echo_json
from sparktrack.mlflow_import import DEFAULT_BATCH_RUNS, import_mlflow
from sparktrack.tracking import TrackingClient

__all__ = ["import_mlflow_command"]


@cli_errors
def import_mlflow_command(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            metavar="SOURCE",
            help="The MLflow store: sqlite:///path/to/mlflow.db, an mlruns folder (or "
            "file: URI), or an MLflow tracking server's http(s)://host:port.",
            show_default=False,
        ),
    ],
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="URI",
            help="The sparktrack store to import into (as the global --store).",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Write nothing: print how many experiments, runs, params, metric points, "
            "tags, artifact bytes, models and versions would be imported.",
        ),
    ] = False,
    experiment: Annotated[
        list[str] | None,
        typer.Option(
            "--experiment",
            metavar="NAME",
            help="Import only this experiment (repeat for several). Default: all.",
            show_default=False,
        ),
    ] = None,
    batch_runs: Annotated[
        int,
        typer.Option("--batch-runs", metavar="N", min=1, help="Runs per commit."),
    ] = DEFAULT_BATCH_RUNS,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import an MLflow store (SQLite, an mlruns folder, or a tracking server).

    Experiments and runs keep MLflow's ids; params, metric histories, tags, dataset
    inputs, artifacts, logged models and the model registry come along. Running it
    again adds nothing; an interrupted import finishes where it stopped. What cannot
    be carried (traces, prompts, experiment tags) is reported at the end.
    """
    state = cli_state(ctx)
    if store is not None:
        state.explicit_store = store
    # A dry run writes nothing, not even the empty tables of a new store.
    throwaway = dry_run and not store_exists(state.store_uri)
    client = TrackingClient("memory://") if throwaway else state.client(must_exist=False)
    try:
        report = import_mlflow(
            source,
            client,
            experiments=experiment or (),
            dry_run=dry_run,
            batch_runs=batch_runs,
            progress=not as_json,
        )
    finally:
        if throwaway:
            client.close()
    if throwaway:
        report.store = state.store_uri
    if as_json:
        echo_json(asdict(report))
        return
    for line in report.lines():
        typer.echo(line)
