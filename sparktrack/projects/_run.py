"""``sparktrack run``: a project's entry point as a tracked run, from parameters to verdict.

Everything that can be wrong with the request (the project, the entry point, the
parameters, the Spark settings, the store) is found before the run is created, so a
rejected request leaves nothing in the store. Then the run is created with its params
and tags and committed (the job's process must find it), the job runs with the run's id
(``SPARKTRACK_RUN_ID``) and the store (``SPARKTRACK_STORE``) in its environment, and
the run ends with the job's result: exit status 0 FINISHED, any other FAILED, Ctrl-C
KILLED; FAILED and KILLED runs get the end of the job's output as ``launch.log``.

The job runs in the launcher's Python environment, as MLflow's ``--env-manager local``
does: the interpreter's folder comes first on ``PATH``, so the ``python`` of a command,
and the ``python3`` that spark-submit and local executors start, are this interpreter.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from sparktrack.errors import ConfigurationError
from sparktrack.projects._fetch import FetchedProject, fetch_project
from sparktrack.projects._launch import launch
from sparktrack.projects._params import resolve_parameters
from sparktrack.projects._spark import SparkSettings
from sparktrack.projects._spec import EntryPoint, Project, load_project
from sparktrack.projects._submit import LaunchPlan, plan_launch
from sparktrack.tracking import (
    DEFAULT_EXPERIMENT_NAME,
    RUN_ID_ENV_VAR,
    RunStatus,
    TrackingClient,
    active_experiment_id,
    active_run,
    get_client,
    read_git_tags,
)

__all__ = [
    "LOG_ARTIFACT",
    "ProjectInterrupted",
    "ProjectRun",
    "Tags",
    "launch_and_end",
    "run",
    "store_for_job",
]

LOG_ARTIFACT = "launch.log"
"""The artifact holding the end of a FAILED or KILLED job's output."""

# Tags of the launcher's own folder that do not describe the project: removed when the
# project has no value of its own for them.
_LAUNCHER_GIT_TAGS = (
    "mlflow.source.git.commit",
    "mlflow.source.git.branch",
    "mlflow.source.git.repoURL",
    "sparktrack.git.dirty",
)


class Tags:
    """The tags of a project's run."""

    URI = "sparktrack.project.uri"
    ENTRY_POINT = "sparktrack.project.entryPoint"
    COMMIT = "sparktrack.project.commit"
    NAME = "sparktrack.project.name"
    VERSION = "sparktrack.project.version"
    ENV = "sparktrack.project.env"
    ENV_SPEC = "sparktrack.project.envSpec"
    LAUNCHER = "sparktrack.project.launcher"
    # What ``--master``/``--conf`` changed (JSON for the conf), so a re-run repeats it.
    MASTER = "sparktrack.project.master"
    SPARK_CONF = "sparktrack.project.sparkConf"
    # The run a re-run repeats, and which of its code it ran ("snapshot" or "commit").
    RERUN_OF = "sparktrack.rerunOf"
    RERUN_CODE = "sparktrack.rerun.code"


@dataclass(frozen=True)
class ProjectRun:
    """The run of a project's entry point, once it ended.

    Attributes:
        run_id: The run.
        status: "FINISHED", "FAILED" or "KILLED".
        returncode: The job's exit status (None when it was killed after Ctrl-C).
        argv: The command that ran.
    """

    run_id: str
    status: str
    returncode: int | None
    argv: list[str]


class ProjectInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) stopped the job; its run is stored KILLED.

    Args:
        result: The run, ended KILLED.

    Attributes:
        result: The run, ended KILLED.
    """

    def __init__(self, result: ProjectRun) -> None:
        super().__init__(f"run {result.run_id} KILLED")
        self.result = result


def run(
    uri: str,
    entry_point: str = "main",
    parameters: Mapping[str, object] | None = None,
    *,
    version: str | None = None,
    experiment_name: str | None = None,
    run_name: str | None = None,
    master: str | None = None,
    spark_conf: Mapping[str, str] | None = None,
    client: TrackingClient | None = None,
    echo: bool = True,
    tags: Mapping[str, str] | None = None,
) -> ProjectRun:
    """Run a project's entry point as a tracked run and wait for it (``sparktrack run``).

    Args:
        uri: The project: a local folder, or a git URI (``https://...``,
            ``git+file:///...``, ``git@host:org/repo``), with ``#subdir`` for a project
            inside the repository.
        entry_point: An entry point of its MLproject, or a ``.py``/``.sh`` file in it.
        parameters: Values of the entry point's parameters; the others take their defaults.
        version: For a git URI, the commit, branch or tag to run.
        experiment_name: The experiment (created if new; default: the active one).
        run_name: The run's name (default: generated).
        master: ``--master`` for spark-submit, over the MLproject's.
        spark_conf: ``--conf`` entries for spark-submit, over the MLproject's.
        client: The store to track in (default: the fluent API's; then a run active
            in this thread becomes the project run's parent, as in MLflow).
        echo: Stream the job's output to ``sys.stdout`` as it comes (False: not shown;
            FAILED and KILLED runs keep its end as the artifact ``launch.log`` either way).
        tags: More tags for the run, over the ones it gets from the project.

    Returns:
        The ended run: FINISHED (exit status 0) or FAILED.

    Raises:
        ProjectInterrupted: Ctrl-C or SIGTERM stopped the job; the run is KILLED and
            the job's processes are gone.
        InvalidInputError: A parameter is unknown, missing or of the wrong type; the
            MLproject is not valid; Spark settings apply to a command that does not
            run through spark-submit. Nothing was logged.
        NotFoundError: The project, entry point, repository or version does not exist.
        ConfigurationError: The store is in memory (a job cannot reach it), git or
            pyspark is missing, or the command could not be started.
    """
    tracking = client if client is not None else get_client()
    store = store_for_job(tracking)
    fetched = fetch_project(uri, version)
    try:
        project = load_project(fetched.directory)
        entry = project.entry_point(entry_point)
        values = resolve_parameters(
            entry, parameters or {}, base=Path.cwd(), project_dir=fetched.directory
        )
        overrides = SparkSettings(master=master, conf=dict(spark_conf or {}))
        plan = plan_launch(entry.name, entry.render(values), _settings(project, entry), overrides)
        experiment_id = _experiment(tracking, experiment_name, fluent=client is None)
        parent = active_run() if client is None else None
        git = read_git_tags(str(fetched.directory))
        run_id = tracking.create_run(
            experiment_id,
            run_name=run_name,
            tags={**_tags(fetched, project, entry, plan, version, git, overrides), **(tags or {})},
            parent_run_id=parent.info.run_id if parent is not None else None,
            # The launcher's own source is not what ran: the job records its own when
            # it joins the run.
            snapshot=False,
        ).info.run_id
        # sys.stdout as it is now: notebooks and test runners replace it after import.
        output = sys.stdout if echo else None
        return launch_and_end(tracking, run_id, plan, fetched, values, store, output, git)
    finally:
        fetched.remove()


def launch_and_end(
    tracking: TrackingClient,
    run_id: str,
    plan: LaunchPlan,
    fetched: FetchedProject,
    values: Mapping[str, str],
    store: str,
    output: TextIO | None,
    git: Mapping[str, str],
) -> ProjectRun:
    """From the created run to its end; whatever happens, the run does not stay RUNNING."""
    try:
        _untag_launcher_git(tracking, run_id, git)
        tracking.log_params(run_id, values)
        tracking.flush()  # the job's process reads the run from the store
        if output is not None:
            print(f"sparktrack: run {run_id}: {shlex.join(plan.argv)}", file=sys.stderr, flush=True)
        try:
            outcome = launch(
                plan.argv, cwd=fetched.directory, env=_job_env(run_id, store), echo=output
            )
        except OSError as exc:
            raise ConfigurationError(f"could not start {plan.argv[0]!r}: {exc}") from exc
    except BaseException as exc:  # the job never ran: the run must not stay RUNNING
        interrupted = isinstance(exc, KeyboardInterrupt)
        tracking.log_text(run_id, f"{type(exc).__name__}: {exc}\n", LOG_ARTIFACT)
        tracking.set_terminated(run_id, RunStatus.KILLED if interrupted else RunStatus.FAILED)
        tracking.flush()
        raise
    if outcome.interrupted:
        status = RunStatus.KILLED
    else:
        status = RunStatus.FINISHED if outcome.returncode == 0 else RunStatus.FAILED
    if status != RunStatus.FINISHED:
        tracking.log_text(run_id, outcome.log_tail, LOG_ARTIFACT)
    tracking.set_terminated(run_id, status)
    tracking.flush()
    result = ProjectRun(run_id, status, outcome.returncode, plan.argv)
    if outcome.interrupted:
        raise ProjectInterrupted(result)
    return result


def store_for_job(tracking: TrackingClient) -> str:
    uri = tracking.store.uri  # normalised: local folders absolute, as the job needs them
    if uri.startswith("memory://"):
        raise ConfigurationError(
            "a project's job logs from a process of its own, which cannot reach this "
            "process's in-memory store (memory://); use a store folder or URI (--store, "
            "SPARKTRACK_STORE or sparktrack.set_store)"
        )
    return uri


def _settings(project: Project, entry: EntryPoint) -> SparkSettings | None:
    if entry.spark_disabled:
        return None
    if project.spark is None or entry.spark is None:
        return entry.spark or project.spark
    return project.spark.overridden_by(entry.spark)


def _experiment(tracking: TrackingClient, name: str | None, *, fluent: bool) -> str:
    if name is None and fluent:
        return active_experiment_id(tracking)
    name = name or os.environ.get("SPARKTRACK_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT_NAME
    return tracking.get_or_create_experiment(name).experiment_id


def _tags(
    fetched: FetchedProject,
    project: Project,
    entry: EntryPoint,
    plan: LaunchPlan,
    version: str | None,
    git: Mapping[str, str],
    overrides: SparkSettings,
) -> dict[str, str]:
    tags = {
        Tags.URI: fetched.uri,
        Tags.ENTRY_POINT: entry.name,
        Tags.LAUNCHER: "spark-submit" if plan.spark_submit else "command",
        # MLflow's names, which MLflow-aware tools read.
        "mlflow.source.name": fetched.uri,
        "mlflow.source.type": "PROJECT",
        "mlflow.project.entryPoint": entry.name,
    }
    tags.update(git)
    if "mlflow.source.git.commit" in git:
        tags[Tags.COMMIT] = git["mlflow.source.git.commit"]
    optional = {
        Tags.NAME: project.name,
        Tags.VERSION: version,
        Tags.ENV: project.env_type,
        Tags.ENV_SPEC: project.env_spec,
        Tags.MASTER: overrides.master,
        Tags.SPARK_CONF: json.dumps(overrides.conf, sort_keys=True) if overrides.conf else None,
    }
    tags.update({name: value for name, value in optional.items() if value})
    return tags


def _untag_launcher_git(
    tracking: TrackingClient, run_id: str, project_git: Mapping[str, str]
) -> None:
    """Drop the git tags the run context took from the launcher's folder, not the project's."""
    recorded = tracking.get_run(run_id).data.tags
    for name in _LAUNCHER_GIT_TAGS:
        if name in recorded and name not in project_git:
            tracking.delete_tag(run_id, name)


def _job_env(run_id: str, store: str) -> dict[str, str]:
    env = dict(os.environ)
    env[RUN_ID_ENV_VAR] = run_id
    env["SPARKTRACK_STORE"] = store
    interpreter = os.path.dirname(sys.executable)
    env["PATH"] = os.pathsep.join(filter(None, [interpreter, env.get("PATH")]))
    env.setdefault("PYTHONUNBUFFERED", "1")  # the job's prints stream as they happen
    return env
