"""``sparktrack rerun``: a run repeated as a new run, with its code, params and Spark settings.

A project's run is repeated through its entry point, with the params it was given
(``-P`` changes some) and the ``--master``/``--conf`` it was launched with; a script's
run by running the script again with the interpreter. Either way the code comes from
the run's source snapshot (default) or its git commit (``_rebuild``), the new run is
tagged ``sparktrack.rerunOf`` and ``sparktrack.rerun.code``, and ``sparktrack runs
diff`` shows what differs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.projects._fetch import FetchedProject, is_git_uri
from sparktrack.projects._rebuild import CodeMode, CodeOrigin, RebuiltCode, rebuild_code
from sparktrack.projects._run import ProjectRun, Tags, launch_and_end, run, store_for_job
from sparktrack.projects._spec import load_project
from sparktrack.projects._submit import LaunchPlan
from sparktrack.tracking import Run, SourceSnapshot, TrackingClient, get_client

__all__ = ["rerun"]

_SOURCE_NAME = "mlflow.source.name"
_PARENT = "mlflow.parentRunId"


def rerun(
    run_id: str,
    parameters: Mapping[str, object] | None = None,
    *,
    code: CodeMode = "snapshot",
    experiment_name: str | None = None,
    run_name: str | None = None,
    master: str | None = None,
    spark_conf: Mapping[str, str] | None = None,
    client: TrackingClient | None = None,
    echo: bool = True,
) -> ProjectRun:
    """Run a run again as a new run and wait for it (``sparktrack rerun``).

    Args:
        run_id: The run to repeat: a project's run, or a script's run with a source
            snapshot.
        parameters: For a project's run, params to change (the others keep the run's
            values).
        code: "snapshot": the code as the run's source snapshot recorded it (its
            commit, uncommitted changes and script); "commit": its git commit as
            committed.
        experiment_name: The new run's experiment (default: the run's).
        run_name: The new run's name (default: the run's name with "-rerun").
        master: ``--master`` instead of the one the run was launched with.
        spark_conf: ``--conf`` entries over the ones the run was launched with.
        client: The store (default: the fluent API's).
        echo: Stream the job's output to ``sys.stdout``.

    Returns:
        The new run, ended: FINISHED or FAILED.

    Raises:
        InvalidInputError: The run is a child run, a script's run given parameters, or
            its code cannot be rebuilt as asked (see ``code``).
        NotFoundError: The run, its repository or its commit does not exist.
        ProjectInterrupted: Ctrl-C stopped the job.
        ConfigurationError: git or pyspark is missing, or the store is in memory.
    """
    tracking = client if client is not None else get_client()
    original = tracking.get_run(run_id)
    tags = original.data.tags
    if _PARENT in tags and Tags.URI not in tags:
        raise InvalidInputError(
            f"run {run_id} is a child run (a tuning or sweep trial): re-run its parent "
            f"{tags[_PARENT]}, which ran the code"
        )
    snapshot = _snapshot(tracking, run_id)
    experiment = experiment_name or tracking.get_experiment(original.info.experiment_id).name
    name = run_name or f"{original.info.run_name or run_id[:8]}-rerun"
    marks = {Tags.RERUN_OF: run_id, Tags.RERUN_CODE: code}
    if Tags.URI in tags:
        origin = _project_origin(tags)
        rebuilt = rebuild_code(origin, snapshot, code, run_id)
        try:
            _say_notes(rebuilt, echo)
            recorded_conf = json.loads(tags.get(Tags.SPARK_CONF) or "{}")
            entry = load_project(rebuilt.directory).entry_point(tags[Tags.ENTRY_POINT])
            # The entry point's parameters only: the job logs params of its own (autolog's).
            given = {k: v for k, v in original.data.params.items() if k in entry.parameters}
            return run(
                str(rebuilt.directory),
                entry.name,
                {**given, **(parameters or {})},
                experiment_name=experiment,
                run_name=name,
                master=master or tags.get(Tags.MASTER),
                spark_conf={**recorded_conf, **(spark_conf or {})},
                client=tracking,
                echo=echo,
                # What ran is the original project at its commit, not the rebuilt copy.
                tags={**marks, Tags.URI: tags[Tags.URI], _SOURCE_NAME: tags[Tags.URI]},
            )
        finally:
            rebuilt.remove()
    if parameters:
        raise InvalidInputError(
            f"run {run_id} ran a script, which declares no parameters: -P applies to "
            "the runs of projects (sparktrack run); change the script instead"
        )
    if master or spark_conf:
        raise InvalidInputError(
            f"run {run_id} ran a script, which builds its own Spark session: --master and "
            "--conf apply to the runs of projects"
        )
    return _rerun_script(tracking, original, snapshot, code, experiment, name, marks, echo)


def _snapshot(tracking: TrackingClient, run_id: str) -> SourceSnapshot | None:
    try:
        return tracking.get_source_snapshot(run_id)
    except NotFoundError:
        return None


def _project_origin(tags: Mapping[str, str]) -> CodeOrigin:
    location, _, subdir = tags[Tags.URI].partition("#")
    commit = tags.get(Tags.COMMIT)
    if is_git_uri(location):
        return CodeOrigin(location, commit, subdir, None)
    folder = str(Path(location) / subdir) if subdir else location
    root = _git_root(folder) if commit else None
    if root is None:
        return CodeOrigin(None, None, "", folder)
    subdir = os.path.relpath(folder, root)
    return CodeOrigin(root, commit, "" if subdir == "." else subdir, folder)


def _script_origin(run: Run, snapshot: SourceSnapshot | None) -> CodeOrigin:
    git = (snapshot.manifest.get("git") or {}) if snapshot is not None else {}
    source = run.data.tags.get(_SOURCE_NAME, "")
    folder = os.path.dirname(source) if os.path.isabs(source) else None
    root, commit = (
        git.get("root"),
        git.get("commit") or run.data.tags.get("mlflow.source.git.commit"),
    )
    if root and commit and folder:
        subdir = os.path.relpath(folder, root)
        return CodeOrigin(root, commit, "" if subdir == "." else subdir, folder)
    return CodeOrigin(None, None, "", folder)


def _git_root(folder: str) -> str | None:
    done = subprocess.run(
        ["git", "-C", folder, "rev-parse", "--show-toplevel"],
        capture_output=True,
        encoding="utf-8",
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def _say_notes(rebuilt: RebuiltCode, echo: bool) -> None:
    if echo:
        for note in rebuilt.notes:
            print(f"sparktrack: note: {note}", file=sys.stderr, flush=True)


def _rerun_script(
    tracking: TrackingClient,
    original: Run,
    snapshot: SourceSnapshot | None,
    code: CodeMode,
    experiment: str,
    name: str,
    marks: Mapping[str, str],
    echo: bool,
) -> ProjectRun:
    source = original.data.tags.get(_SOURCE_NAME, "")
    if not source.endswith(".py"):
        raise InvalidInputError(
            f"run {original.info.run_id} did not run a Python script ({source or 'unknown'}): "
            "only projects' and scripts' runs can be re-run"
        )
    store = store_for_job(tracking)
    origin = _script_origin(original, snapshot)
    rebuilt = rebuild_code(origin, snapshot, code, original.info.run_id)
    # The commit that ran, as the original recorded it (the clone's folder is temporary).
    git = {"mlflow.source.git.commit": origin.commit} if origin.commit else {}
    try:
        _say_notes(rebuilt, echo)
        script = rebuilt.script or rebuilt.directory / os.path.basename(source)
        if not script.is_file():
            raise NotFoundError(f"{source} is not in the code of run {original.info.run_id}")
        run_id = tracking.create_run(
            tracking.get_or_create_experiment(experiment).experiment_id,
            run_name=name,
            tags={**marks, **git, _SOURCE_NAME: source, "mlflow.source.type": "LOCAL"},
            snapshot=False,  # the job records the code it runs when it joins
        ).info.run_id
        plan = LaunchPlan([sys.executable, str(script)], spark_submit=False)
        folder = FetchedProject(script.parent, source)
        output = sys.stdout if echo else None
        return launch_and_end(tracking, run_id, plan, folder, {}, store, output, git)
    finally:
        rebuilt.remove()
