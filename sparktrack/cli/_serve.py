"""``sparktrack serve``: score a model over HTTP with MLflow's scoring protocol."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from sparktrack.cli._app import PortOption, cli_errors, cli_state
from sparktrack.serving import DEFAULT_SERVE_LOG_SAMPLE, require_serving_extra
from sparktrack.serving import serve as serve_model

__all__ = ["serve"]


class EngineChoice(StrEnum):
    auto = "auto"
    local = "local"
    spark = "spark"


@cli_errors
def serve(
    ctx: typer.Context,
    model_uri: Annotated[
        str,
        typer.Argument(
            metavar="MODEL_URI",
            help=(
                "runs:/<run_id>/<path>, models:/<name>/<version|stage|latest>, "
                "models:/<name>@<alias>, a model folder, or a Hadoop URI "
                "(hdfs://, s3a://, ...)."
            ),
            show_default=False,
        ),
    ],
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Interface to listen on. The default accepts local connections only; "
            "0.0.0.0 accepts any.",
        ),
    ] = "127.0.0.1",
    port: PortOption = 5000,
    refresh_seconds: Annotated[
        float,
        typer.Option(
            "--refresh-seconds",
            min=0,
            help="How often to check which model MODEL_URI designates, and swap to it "
            "without a restart when it changes. 0 never checks.",
        ),
    ] = 10.0,
    max_body_mb: Annotated[
        float,
        typer.Option(
            "--max-body-mb",
            min=0.001,
            help="Largest request body accepted, in MB; larger ones get a 400.",
        ),
    ] = 64.0,
    engine: Annotated[
        EngineChoice,
        typer.Option(
            "--engine",
            help="auto: score with numpy when every stage of the model allows it, else "
            "with Spark; local: numpy only; spark: always a Spark job.",
            case_sensitive=False,
        ),
    ] = EngineChoice.auto,
    ignore_extra_columns: Annotated[
        bool,
        typer.Option(
            "--ignore-extra-columns",
            help="Drop input columns the model does not read (as MLflow does) instead of "
            "answering 400.",
        ),
    ] = False,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log every request on stderr.")
    ] = False,
    log_to: Annotated[
        str | None,
        typer.Option(
            "--log-to",
            metavar="PATH",
            help="Append the scored rows, their predictions and the model version to "
            "this Delta table (folder or URI), in the background, for sparktrack "
            "monitor. A failed write is a warning, counted in /health.",
        ),
    ] = None,
    log_sample: Annotated[
        float,
        typer.Option(
            "--log-sample",
            min=0.0,
            max=1.0,
            help="Share of scored rows --log-to logs, picked by a hash of their values.",
        ),
    ] = DEFAULT_SERVE_LOG_SAMPLE,
) -> None:
    """Serve a model over HTTP: POST /invocations, GET /ping, /health, /version.

    Loads the model (starting a local Spark), prints the URL it listens on, and serves
    until interrupted. Requests and answers follow MLflow's scoring protocol:
    dataframe_split, dataframe_records, instances or inputs as JSON, or CSV; answers
    are {"predictions": [...]}.
    """
    require_serving_extra()  # before the store or Spark: fail fast without the extra
    state = cli_state(ctx)
    client = state.client() if model_uri.startswith(("runs:", "models:")) else None
    serve_model(
        model_uri,
        host=host,
        port=port,
        refresh_seconds=refresh_seconds,
        max_body_mb=max_body_mb,
        engine=engine.value,
        drop_extra_columns=ignore_extra_columns,
        access_log=access_log,
        client=client,
        log_to=log_to,
        log_sample=log_sample,
    )
