"""``sparktrack experiments ...``."""

from __future__ import annotations

from typing import Annotated

import typer

from sparktrack.cli._app import cli_errors, cli_state
from sparktrack.cli._output import echo_json, echo_table, iso_time, short_time

__all__ = ["experiments_app"]

experiments_app = typer.Typer(
    name="experiments",
    help="List the experiments of the store.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@experiments_app.command("list")
@cli_errors
def list_experiments(
    ctx: typer.Context,
    show_all: Annotated[
        bool,
        typer.Option("--all", help="Include deleted experiments (lifecycle stage 'deleted')."),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print a JSON list (times as ISO-8601 UTC) instead of a table.",
        ),
    ] = False,
) -> None:
    """List experiments.

    Columns: id, name, lifecycle stage, creation time and artifact location; oldest
    first. Without --all only active experiments are shown.
    """
    client = cli_state(ctx).client()
    experiments = client.search_experiments("ALL" if show_all else "ACTIVE_ONLY")
    experiments.sort(key=lambda e: (e.creation_time, e.name))
    if as_json:
        echo_json(
            [
                {
                    "experiment_id": e.experiment_id,
                    "name": e.name,
                    "lifecycle_stage": e.lifecycle_stage,
                    "creation_time": iso_time(e.creation_time),
                    "artifact_location": e.artifact_location,
                }
                for e in experiments
            ]
        )
        return
    echo_table(
        ["ID", "NAME", "STAGE", "CREATED", "ARTIFACT LOCATION"],
        [
            [
                e.experiment_id,
                e.name,
                e.lifecycle_stage,
                short_time(e.creation_time),
                e.artifact_location,
            ]
            for e in experiments
        ],
        empty="No experiments." + ("" if show_all else " (--all also lists deleted ones)"),
    )
