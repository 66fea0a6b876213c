"""``sparktrack run PATH_OR_GIT_URI``: a project's entry point as a tracked run."""

from __future__ import annotations

from typing import Annotated

import typer

from sparktrack.cli._app import cli_errors, cli_state
from sparktrack.cli._output import echo_error
from sparktrack.errors import InvalidInputError
from sparktrack.projects import LOG_ARTIFACT, ProjectInterrupted, run

__all__ = ["run_project"]

# A shell's exit status for a process ended by Ctrl-C (128 + SIGINT).
_INTERRUPTED_EXIT = 130


def _pairs(option: str, items: list[str] | None) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"{option} {item!r} is not KEY=VALUE")
        pairs[key.strip()] = value
    return pairs


@cli_errors
def run_project(
    ctx: typer.Context,
    uri: Annotated[
        str,
        typer.Argument(
            metavar="PATH_OR_GIT_URI",
            help="A project folder, or a git URI (https://..., git+file:///..., "
            "git@host:org/repo), with #subdir for a project inside the repository.",
        ),
    ],
    entry_point: Annotated[
        str,
        typer.Option(
            "-e",
            "--entry-point",
            help="An entry point of the MLproject, or a .py/.sh file of the project.",
        ),
    ] = "main",
    param: Annotated[
        list[str] | None,
        typer.Option("-P", "--param", metavar="NAME=VALUE", help="A parameter (repeatable)."),
    ] = None,
    experiment: Annotated[
        str | None,
        typer.Option(
            "--experiment",
            metavar="NAME",
            help="Experiment of the run (created if new). Default: "
            "$SPARKTRACK_EXPERIMENT_NAME, else Default.",
        ),
    ] = None,
    version: Annotated[
        str | None,
        typer.Option("--version", help="For a git URI: the commit, branch or tag to run."),
    ] = None,
    master: Annotated[
        str | None,
        typer.Option("--master", help="spark-submit's --master, over the MLproject's."),
    ] = None,
    conf: Annotated[
        list[str] | None,
        typer.Option(
            "--conf",
            metavar="KEY=VALUE",
            help="A spark-submit --conf, over the MLproject's (repeatable).",
        ),
    ] = None,
    run_name: Annotated[
        str | None, typer.Option("--run-name", help="The run's name (default: generated).")
    ] = None,
) -> None:
    """Run a project's entry point as a tracked run and stream its output.

    Reads the MLproject (MLflow's format, plus a spark: section), checks the
    parameters, creates the run with them, and launches the entry point through the
    installed pyspark's spark-submit when it is a Spark job (a `spark-submit ...`
    command, or `python SCRIPT.py ...` with Spark settings), else as it is. The job's
    sparktrack logging and autolog go to that run (SPARKTRACK_RUN_ID, SPARKTRACK_STORE).
    The run ends FINISHED when the job exits 0, FAILED otherwise (exit status 1 here,
    the end of its output in the artifact launch.log), KILLED on Ctrl-C (the job's
    processes are stopped; exit status 130).
    """
    client = cli_state(ctx).client(must_exist=False)
    try:
        result = run(
            uri,
            entry_point,
            _pairs("-P", param),
            version=version,
            experiment_name=experiment,
            run_name=run_name,
            master=master,
            spark_conf=_pairs("--conf", conf),
            client=client,
        )
    except ProjectInterrupted as stopped:
        echo_error(
            f"run {stopped.result.run_id} KILLED: interrupted; the end of the job's output "
            f"is in the run's artifact {LOG_ARTIFACT}"
        )
        raise typer.Exit(_INTERRUPTED_EXIT) from None
    if result.status != "FINISHED":
        echo_error(
            f"run {result.run_id} {result.status}: the job exited with status "
            f"{result.returncode}; the end of its output is in the run's artifact {LOG_ARTIFACT}"
        )
        raise typer.Exit(1)
    typer.echo(f"run {result.run_id} FINISHED", err=True)
