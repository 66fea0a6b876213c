"""The fluent API: module-level functions over one process-wide TrackingClient.

Each thread has its own stack of active runs (a sweep's worker threads each run
their own trial). ``start_run`` returns an ``ActiveRun`` usable as a context
manager: leaving the block normally ends the run FINISHED, through an exception
FAILED, through Ctrl-C KILLED.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from sparktrack.errors import InvalidInputError, NotFoundError, RunStateError
from sparktrack.tracking._client import DEFAULT_EXPERIMENT_NAME, TrackingClient
from sparktrack.tracking._entities import DatasetInput, Experiment, Metric, Run, RunStatus
from sparktrack.tracking._hooks import run_before_flush
from sparktrack.tracking._spark_frame import to_spark_dataframe
from sparktrack.tracking._validation import check_end, now_ms

__all__ = [
    "ActiveRun",
    "active_run",
    "end_run",
    "flush",
    "get_client",
    "get_metric_history",
    "get_run",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "search_runs",
    "set_experiment",
    "set_store",
    "set_tag",
    "set_tags",
    "start_run",
]

_log = logging.getLogger("sparktrack")
_client_lock = threading.Lock()
_client: TrackingClient | None = None
_experiment: Experiment | None = None
_local = threading.local()
_last_run_id: str | None = None
# In a forked child: the run that was active in the forking thread of the parent.
_inherited_parent_run_id: str | None = None


def _stack() -> list[ActiveRun]:
    stack: list[ActiveRun] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = []
        _local.stack = stack
    return stack


def get_client() -> TrackingClient:
    """The process-wide client for the configured store (opened on first use)."""
    global _client
    with _client_lock:
        if _client is None:
            _client = TrackingClient()
            _install_hooks()
        return _client


def set_store(uri: str | None) -> TrackingClient:
    """Use the store at ``uri`` from now on (None: back to the configured default).

    The previous store is flushed and closed; active runs must be ended first.
    """
    global _client, _experiment
    if _stack():
        raise RunStateError(
            f"run {_stack()[-1].info.run_id} is active; end it before switching stores"
        )
    with _client_lock:
        if _client is not None:
            _client.close()
        _client = TrackingClient(uri)
        _install_hooks()
        _experiment = None
        return _client


def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None
) -> Experiment:
    """Make an experiment active (created if the name is new) and return it."""
    global _experiment
    client = get_client()
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidInputError(
            "set_experiment takes exactly one of experiment_name, experiment_id"
        )
    if experiment_name is not None:
        found = client.get_experiment_by_name(experiment_name)
        experiment = found or client.get_or_create_experiment(experiment_name)
    else:
        experiment = client.get_experiment(str(experiment_id))
    if experiment.lifecycle_stage != "active":
        # As MLflow does: never start runs quietly in an experiment someone deleted.
        raise InvalidInputError(
            f"cannot set the deleted experiment {experiment.name!r} (id "
            f"{experiment.experiment_id}) as the active experiment; restore it with "
            f"TrackingClient().restore_experiment({experiment.experiment_id!r}), or use "
            "another name"
        )
    _experiment = experiment
    return experiment


def active_experiment_id(client: TrackingClient) -> str:
    """The experiment new runs go to (internal use: for the fluent defaults above tracking).

    The one ``set_experiment`` chose, else the one named by ``SPARKTRACK_EXPERIMENT_NAME``,
    else the default experiment (created in ``client``'s store if needed).
    """
    if _experiment is not None:
        return _experiment.experiment_id
    name = os.environ.get("SPARKTRACK_EXPERIMENT_NAME")
    if name:
        return set_experiment(name).experiment_id
    return client.get_or_create_experiment(DEFAULT_EXPERIMENT_NAME).experiment_id


class ActiveRun(Run):
    """The run returned by ``start_run``; ``with`` ends it."""

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        if any(r.info.run_id == self.info.run_id for r in _stack()):
            end_run(status, run_id=self.info.run_id)
        # Returning None never swallows the user's exception.


def remember_last_run(run_id: str) -> None:
    """Make ``last_active_run`` return this run (internal use: autolog and sweeps start
    runs through the client, and they count as started here)."""
    global _last_run_id
    _last_run_id = run_id


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
    parent_run_id: str | None = None,
) -> ActiveRun:
    """Start a run (or resume ``run_id``) and make it this thread's active run."""
    global _last_run_id
    client = get_client()
    stack = _stack()
    if stack and not nested:
        raise RunStateError(
            f"run {stack[-1].info.run_id} is already active in this thread; end it first, "
            "or pass nested=True to start a child run"
        )
    if run_id is not None:
        run = client.resume_run(run_id, tags=tags)
    else:
        parent = parent_run_id or (stack[-1].info.run_id if stack else _inherited_parent_run_id)
        run = client.create_run(
            experiment_id if experiment_id is not None else active_experiment_id(client),
            run_name=run_name,
            tags=tags,
            parent_run_id=parent,
        )
    active = ActiveRun(run.info, run.data)
    stack.append(active)
    _last_run_id = active.info.run_id
    return active


def end_run(status: str = RunStatus.FINISHED, *, run_id: str | None = None) -> None:
    """End this thread's active run (or the given one among the active ones).

    Ending a parent ends the children started inside it first, as they stop with it.
    Nothing changes when the call is rejected (an unknown status, a run not active here).
    """
    stack = _stack()
    if not stack:
        return
    target = run_id or stack[-1].info.run_id
    check_end(status, None, target)
    if not any(r.info.run_id == target for r in stack):
        raise RunStateError(
            f"run {target} is not active in this thread (active: "
            f"{[r.info.run_id for r in stack]}); end it with TrackingClient.set_terminated"
        )
    client = get_client()
    while stack:
        top = stack[-1]
        client.set_terminated(top.info.run_id, status, now_ms())
        stack.pop()  # only once ended: a run whose ending failed can be ended again
        if top.info.run_id == target:
            break


def active_run() -> ActiveRun | None:
    stack = _stack()
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    """The active run, else the run most recently started in this process."""
    current = active_run()
    if current is not None:
        return get_run(current.info.run_id)
    return get_run(_last_run_id) if _last_run_id else None


def run_id_for_logging() -> str:
    """The active run's id, after starting a run if none is active (internal use).

    MLflow's habit, which the fluent ``log_*`` functions follow: logging without a run
    starts one. For the fluent defaults of the layers above tracking.
    """
    current = active_run()
    if current is None:
        current = start_run()
    return current.info.run_id


# The name the log_* functions below have always called.
_run_id_for_logging = run_id_for_logging


def log_param(key: str, value: Any) -> Any:
    return get_client().log_param(_run_id_for_logging(), key, value)


def log_params(params: Mapping[str, Any]) -> None:
    get_client().log_params(_run_id_for_logging(), params)


def log_metric(key: str, value: float, step: int | None = None, timestamp: int | None = None):
    get_client().log_metric(_run_id_for_logging(), key, value, timestamp, step)


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
) -> None:
    get_client().log_metrics(_run_id_for_logging(), metrics, step, timestamp)


def set_tag(key: str, value: Any) -> None:
    get_client().set_tag(_run_id_for_logging(), key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    get_client().set_tags(_run_id_for_logging(), tags)


def log_artifact(local_path: str | Path, artifact_path: str | None = None) -> None:
    get_client().log_artifact(_run_id_for_logging(), local_path, artifact_path)


def log_artifacts(local_dir: str | Path, artifact_path: str | None = None) -> None:
    get_client().log_artifacts(_run_id_for_logging(), local_dir, artifact_path)


def log_dict(dictionary: Any, artifact_file: str) -> None:
    get_client().log_dict(_run_id_for_logging(), dictionary, artifact_file)


def log_text(text: str, artifact_file: str) -> None:
    get_client().log_text(_run_id_for_logging(), text, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    get_client().log_figure(_run_id_for_logging(), figure, artifact_file)


def log_input(dataset: DatasetInput, context: str | None = None) -> None:
    """Record that the active run read ``dataset`` (see ``sparktrack.datasets``)."""
    get_client().log_input(_run_id_for_logging(), dataset, context)


def get_run(run_id: str) -> Run:
    return get_client().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    return get_client().get_metric_history(run_id, key)


def flush() -> None:
    """Wait for autolog's pending work, commit everything logged so far, fsync the journal."""
    run_before_flush()  # autologging's wait for its worker (see tracking._hooks)
    get_client().flush()


def search_runs(
    experiment_ids: Iterable[str] | None = None,
    filter_string: str = "",
    run_view_type: str = "ACTIVE_ONLY",
    max_results: int = 100_000,
    order_by: list[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Iterable[str] | None = None,
    spark: Any = None,
) -> Any:
    """Runs matching a filter, as pandas (default), a list of Runs, or a Spark DataFrame.

    Experiments: ``experiment_ids`` and/or ``experiment_names``; neither means the active
    experiment (all of them with ``search_all_experiments=True``).
    """
    client = get_client()
    ids: list[str] | None = None
    if experiment_ids is not None or experiment_names is not None:
        ids = [str(e) for e in (experiment_ids or [])]
        for name in experiment_names or []:
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise NotFoundError(f"experiment {name!r} does not exist in {client.store.uri!r}")
            ids.append(experiment.experiment_id)
    elif not search_all_experiments:
        ids = [active_experiment_id(client)]
    if output_format == "list":
        return client.search_runs(
            ids, filter_string, run_view_type, max_results, order_by, output_format="list"
        )
    frame = client.search_runs(ids, filter_string, run_view_type, max_results, order_by)
    if output_format == "pandas":
        return frame
    if output_format == "spark":
        return to_spark_dataframe(frame, spark)
    raise InvalidInputError(f"output_format {output_format!r} must be 'pandas', 'list' or 'spark'")


def _end_runs_at_exit() -> None:
    """End runs still active when the interpreter exits: FAILED after an uncaught error.

    Nothing may be raised from here (the interpreter is exiting), so a failure is
    logged with the run it concerns: the run then stays RUNNING until its heartbeat
    times out and a reader stores it KILLED.
    """
    stack = _stack()
    client = _client
    if not stack or client is None:
        return
    failed = getattr(sys, "last_value", None) is not None or _uncaught.is_set()
    status = RunStatus.FAILED if failed else RunStatus.FINISHED
    run_ids = [r.info.run_id for r in stack]
    try:
        end_run(status, run_id=run_ids[0])
    except Exception as exc:
        _log.error(
            "sparktrack could not end run(s) %s as %s at exit: %s: %s",
            ", ".join(r.info.run_id for r in _stack()),  # those that did not end
            status,
            type(exc).__name__,
            exc,
        )
    try:
        client.flush()
    except Exception as exc:
        _log.error(
            "sparktrack could not commit at exit what was logged to store %r (runs %s): "
            "%s: %s; it stays in the journal and is replayed next time the store is opened",
            client.settings.store,
            ", ".join(run_ids),
            type(exc).__name__,
            exc,
        )


_uncaught = threading.Event()
_hooks_installed = False


def _install_hooks() -> None:
    """Install the exit hooks once, on first use (never at import).

    Importing sparktrack must leave the interpreter as it was. The excepthook chains
    the one current *now* (IPython and others install their own), and only notes that
    an uncaught error ends the program, so the runs still active end FAILED.
    """
    global _hooks_installed
    if not _hooks_installed:
        _hooks_installed = True
        previous = sys.excepthook

        def excepthook(
            exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
        ) -> None:
            _uncaught.set()
            previous(exc_type, exc, tb)

        sys.excepthook = excepthook
    # atexit runs hooks last-in first-out: registering after the store opened (and
    # registered its own closing hook) ends the runs before the store closes.
    atexit.unregister(_end_runs_at_exit)
    atexit.register(_end_runs_at_exit)


def _start_over_in_child() -> None:
    """After ``fork``, in the child: the forking thread's runs are the parent's.

    They become the parent of the runs the child starts; the child never ends them
    (its exit hook ends only its own). The client lock is new: another thread of the
    parent may have held it at the fork.
    """
    global _inherited_parent_run_id, _client_lock
    stack = getattr(_local, "stack", None)
    if stack:
        _inherited_parent_run_id = stack[-1].info.run_id
    _local.stack = []
    _client_lock = threading.Lock()


os.register_at_fork(after_in_child=_start_over_in_child)
