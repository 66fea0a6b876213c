"""``sparktrack monitor``: compare new data with a model's baseline, for schedulers.

Exit codes: 0 done (and below ``--fail-on``), 1 the status reached ``--fail-on`` or the
command failed, 2 the command line is wrong.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from sparktrack.cli._app import cli_errors, cli_state
from sparktrack.models import read_scoring_log
from sparktrack.monitoring import monitor as monitor_model
from sparktrack.session import spark_session

__all__ = ["monitor"]


class FailOn(StrEnum):
    alert = "alert"
    warn = "warn"
    never = "never"


@cli_errors
def monitor(
    ctx: typer.Context,
    model_uri: Annotated[
        str,
        typer.Argument(
            metavar="MODEL_URI",
            help="models:/<name>/<version|stage>, models:/<name>@<alias>, "
            "runs:/<run_id>/<path> or a model folder.",
            show_default=False,
        ),
    ],
    table: Annotated[
        str | None, typer.Option("--table", metavar="NAME", help="The new data: a table.")
    ] = None,
    path: Annotated[
        str | None,
        typer.Option(
            "--path",
            metavar="PATH",
            help="The new data: a Delta or Parquet folder, e.g. a scoring log "
            "(serve --log-to, spark_udf(log_to=...)), whose rows of MODEL_URI's version "
            "are used.",
        ),
    ] = None,
    data_format: Annotated[
        str,
        typer.Option("--format", help="The format of --path: delta, parquet, ..."),
    ] = "delta",
    label_col: Annotated[
        str | None, typer.Option("--label-col", metavar="C", help="Column of true outcomes.")
    ] = None,
    timestamp_col: Annotated[
        str | None,
        typer.Option("--timestamp-col", metavar="C", help="Monitor per window of this time."),
    ] = None,
    window: Annotated[
        str | None,
        typer.Option(
            "--window",
            help="Window length: 1d, 6h, 30m, 1w. On a scoring log, windows of "
            "sparktrack_scored_at unless --timestamp-col says otherwise.",
        ),
    ] = None,
    fail_on: Annotated[
        FailOn,
        typer.Option("--fail-on", help="Exit 1 when the status reaches this level."),
    ] = FailOn.never,
) -> None:
    """Score new data with a model and compare it with the model's baseline.

    Prints one line per column that is not OK and the overall status; logs the pass as
    runs of the monitoring experiment (drift_report.json and .html).
    """
    if (table is None) == (path is None):
        raise typer.BadParameter("give exactly one of --table and --path")
    client = cli_state(ctx).client(must_exist=False)
    spark = spark_session()
    if table is not None:
        df = spark.read.table(table)
    elif data_format == "delta":
        # Through delta-rs's file list: the session needs no Delta confs for it.
        df = read_scoring_log(spark, str(path))
    else:
        df = spark.read.format(data_format).load(path)
    result = monitor_model(
        model_uri,
        df,
        label_col=label_col,
        timestamp_col=timestamp_col,
        window=window,
        client=client,
    )
    for row in result.columns.itertuples():
        if row.status != "OK":
            typer.echo(f"{row.status}\t{row.window}\t{row.column}\t{row.reasons}")
    for row in result.decay.itertuples():
        if row.status != "OK":
            typer.echo(f"{row.status}\t{row.window}\tdecay.{row.metric}\t{row.decay:.4g}")
    typer.echo(f"status {result.status}  run {result.run_id}")
    failing = {"alert": ("ALERT",), "warn": ("WARN", "ALERT"), "never": ()}[fail_on.value]
    if result.status in failing:
        raise typer.Exit(1)
