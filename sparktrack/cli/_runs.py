"""``sparktrack runs list|search|show|source|diff``.

The commands are here; how runs become table rows and JSON records is in
``_run_table``, and the full view of one run in ``_run_view``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sparktrack.cli._app import cli_errors, cli_state
from sparktrack.cli._output import echo_json
from sparktrack.cli._run_diff_view import echo_run_diff
from sparktrack.cli._run_source import echo_file, echo_snapshot
from sparktrack.cli._run_table import (
    DEFAULT_METRIC_COLUMNS,
    SHOWN_COLUMNS,
    echo_runs_table,
    experiment_ids,
    kept_keys,
    parse_columns,
    record,
    row,
    top_metrics,
)
from sparktrack.cli._run_view import echo_run_text, run_json
from sparktrack.errors import NotFoundError
from sparktrack.search import parse_filter, parse_order_by, referenced_columns
from sparktrack.tracking import diff_runs

__all__ = ["runs_app"]

runs_app = typer.Typer(
    name="runs",
    help="List, search and inspect runs.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

ExperimentOption = Annotated[
    list[str] | None,
    typer.Option(
        "--experiment",
        "-e",
        metavar="NAME",
        help="Only runs of this experiment (by name); repeat for several. Default: all.",
        show_default=False,
    ),
]
MaxOption = Annotated[
    int, typer.Option("--max", "-n", metavar="N", min=1, help="Return at most this many runs.")
]
JsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help=(
            "Print JSON instead of a table: times ISO-8601 UTC, durations in seconds, "
            "metrics/params/tags as objects."
        ),
    ),
]


# -- commands --------------------------------------------------------------------------
@runs_app.command("list")
@cli_errors
def list_runs(
    ctx: typer.Context,
    experiment: ExperimentOption = None,
    max_results: MaxOption = 50,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first.

    Columns: run id, name, status, start, duration and a few metrics: the ones most
    of the listed runs have (`runs search --columns` picks them).
    """
    client = cli_state(ctx).client()
    runs = client.search_runs(
        experiment_ids=experiment_ids(client, experiment),
        max_results=max_results,
        order_by=["attributes.start_time DESC"],
        output_format="list",
    )
    if as_json:
        echo_json([record(run) for run in runs])
        return
    echo_runs_table([row(run) for run in runs], top_metrics(runs, (), DEFAULT_METRIC_COLUMNS))


@runs_app.command("search")
@cli_errors
def search_runs(
    ctx: typer.Context,
    filter_string: Annotated[
        str,
        typer.Argument(
            metavar="FILTER",
            help=(
                "MLflow filter, e.g. \"metrics.auc > 0.9 AND params.model = 'gbt'\" or "
                "\"attributes.status = 'FINISHED'\". Pass '' to match every run."
            ),
            show_default=False,
        ),
    ],
    order_by: Annotated[
        list[str] | None,
        typer.Option(
            "--order-by",
            "-o",
            metavar="CLAUSE",
            help="Sort clause such as 'metrics.auc DESC'; repeat for tie-breakers. "
            "Default: newest first.",
            show_default=False,
        ),
    ] = None,
    experiment: ExperimentOption = None,
    max_results: MaxOption = 50,
    columns: Annotated[
        list[str] | None,
        typer.Option(
            "--columns",
            "-c",
            metavar="COLS",
            help=(
                "Comma-separated extra columns, e.g. params.lr,metrics.auc,tags.team,user_id. "
                "Default: the columns the filter and order use, plus a few metrics. "
                "With --json, limits the metrics/params/tags printed."
            ),
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Search runs with an MLflow filter.

    The filter and --order-by use the MLflow grammar: metrics.<key>, params.<key>,
    tags.<key> and attributes (status, run_name, start_time, ...).
    """
    client = cli_state(ctx).client()
    runs = client.search_runs(
        experiment_ids=experiment_ids(client, experiment),
        filter_string=filter_string,
        max_results=max_results,
        order_by=order_by or None,
        output_format="list",
    )
    chosen = parse_columns(columns) if columns else None
    if as_json:
        echo_json([record(run, kept_keys(chosen) if chosen else None) for run in runs])
        return
    if chosen is None:
        # The client already accepted both strings, so parsing them again cannot fail.
        order = parse_order_by(order_by or None)
        referenced = [key.ident.column for key in order]
        referenced += sorted(referenced_columns(parse_filter(filter_string), order))
        # datasets.* are lists of a run's inputs, not one value a cell could show.
        shown = (c for c in referenced if c not in SHOWN_COLUMNS and not c.startswith("datasets."))
        chosen = list(dict.fromkeys(shown))
        room = DEFAULT_METRIC_COLUMNS - sum(c.startswith("metrics.") for c in chosen)
        chosen += top_metrics(runs, chosen, room)
    echo_runs_table([row(run) for run in runs], chosen)


@runs_app.command("show")
@cli_errors
def show_run(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The run's id (32 hex digits).")],
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=(
                "Print JSON instead of text: times ISO-8601 UTC, durations in seconds, "
                "params/metrics/tags/system_tags as objects, artifacts as a list."
            ),
        ),
    ] = False,
) -> None:
    """Show one run: info, params, metrics, tags and artifacts.

    Metrics are the latest value per key; tags set by mlflow./sparktrack. are listed
    separately, after the user's tags. Artifacts are the top level of the run's folder.
    """
    client = cli_state(ctx).client()
    run = client.get_run(run_id)
    artifacts = client.list_artifacts(run_id)
    try:
        experiment_name: str | None = client.get_experiment(run.info.experiment_id).name
    except NotFoundError:
        experiment_name = None
    if as_json:
        echo_json(run_json(run, experiment_name, artifacts))
        return
    echo_run_text(run, experiment_name, artifacts)


@runs_app.command("source")
@cli_errors
def show_source(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The run's id (32 hex digits).")],
    file: Annotated[
        str | None,
        typer.Argument(
            metavar="[FILE]",
            help="Print only this file of the snapshot, as stored (e.g. git.diff, "
            "requirements.txt, spark-conf.json).",
            show_default=False,
        ),
    ] = None,
    extract: Annotated[
        Path | None,
        typer.Option(
            "--extract",
            metavar="DIR",
            help="Write every file of the snapshot into DIR (created if missing) instead.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the snapshot's manifest as JSON.")
    ] = False,
) -> None:
    """Show what a run ran: its source snapshot.

    Prints the snapshot's manifest (source, git commit, files) and the script or
    notebook; FILE prints one file as stored, so `sparktrack runs source RUN_ID git.diff
    | git apply` re-applies the uncommitted changes.
    """
    snapshot = cli_state(ctx).client().get_source_snapshot(run_id)
    if extract is not None:
        folder = snapshot.extract(extract)
        typer.echo(f"Wrote {len(snapshot.files)} files of snapshot {snapshot.digest} to {folder}")
    elif as_json:
        echo_json({"digest": snapshot.digest, **snapshot.manifest})
    elif file is not None:
        echo_file(snapshot, file)
    else:
        echo_snapshot(snapshot)


@runs_app.command("diff")
@cli_errors
def diff(
    ctx: typer.Context,
    run_a: Annotated[str, typer.Argument(metavar="RUN_A", help="The first run's id.")],
    run_b: Annotated[str, typer.Argument(metavar="RUN_B", help="The second run's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the difference as JSON.")] = False,
) -> None:
    """Show what differs between two runs.

    Params, latest metrics, code (source, git commit, and a unified diff of the code
    the source snapshots hold), datasets (by digest), packages, versions and Spark conf.
    A run without a source snapshot is said so, not compared as the same.
    """
    found = diff_runs(run_a, run_b, client=cli_state(ctx).client())
    if as_json:
        echo_json(found.as_dict())
    else:
        echo_run_diff(found)
