"""``sparktrack run PATH_OR_GIT_URI`` and ``sparktrack rerun RUN_ID``: launched, tracked runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

import typer

from sparktrack.cli._app import cli_errors, cli_state
from sparktrack.cli._output import echo_error
from sparktrack.errors import InvalidInputError
from sparktrack.projects import LOG_ARTIFACT, ProjectInterrupted, ProjectRun, rerun, run

__all__ = ["rerun_run", "run_project"]

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
    _report(
        lambda: run(
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
    )


def _report(launch: Callable[[], ProjectRun]) -> None:
    """Launch, then say how the run ended (and exit 1 or 130 when it did not finish)."""
    try:
        result = launch()
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


@cli_errors
def rerun_run(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The run to repeat.")],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "-P",
            "--param",
            metavar="NAME=VALUE",
            help="For a project's run: a parameter to change (repeatable).",
        ),
    ] = None,
    code: Annotated[
        Literal["snapshot", "commit"],
        typer.Option(
            "--code",
            help="snapshot: the code as the run's source snapshot recorded it (commit, "
            "uncommitted changes, script); commit: its git commit as committed.",
        ),
    ] = "snapshot",
    experiment: Annotated[
        str | None,
        typer.Option(
            "--experiment", metavar="NAME", help="The new run's experiment (default: the run's)."
        ),
    ] = None,
    master: Annotated[
        str | None,
        typer.Option("--master", help="For a project's run: spark-submit's --master."),
    ] = None,
    conf: Annotated[
        list[str] | None,
        typer.Option(
            "--conf",
            metavar="KEY=VALUE",
            help="For a project's run: a spark-submit --conf over the run's (repeatable).",
        ),
    ] = None,
    run_name: Annotated[
        str | None,
        typer.Option("--run-name", help="The new run's name (default: the run's, -rerun)."),
    ] = None,
) -> None:
    """Run a run again, as a new run tagged sparktrack.rerunOf.

    A project's run is repeated through its entry point with the params and Spark
    settings it was launched with (-P, --master and --conf change them); a script's
    run by running the script again. The code is rebuilt from the run's source
    snapshot (default) or its git commit. `sparktrack runs diff RUN_ID NEW_RUN_ID` then
    shows what differs.
    """
    client = cli_state(ctx).client()
    _report(
        lambda: rerun(
            run_id,
            _pairs("-P", param),
            code=code,
            experiment_name=experiment,
            run_name=run_name,
            master=master,
            spark_conf=_pairs("--conf", conf),
            client=client,
        )
    )
