"""The fluent API's state and runs: one process-wide TrackingClient, active runs.

Each thread has its own stack of active runs (a sweep's worker threads each run
their own trial). Runs still active at exit end FINISHED, or FAILED after an
uncaught error. All fluent state lives in this module; the functions that log to
the active run (``_fluent_log``) and read (``_fluent_read``) go through
``get_client`` and ``run_id_for_logging``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from sparktrack.errors import InvalidInputError, RunStateError
from sparktrack.store import LifecycleStage
from sparktrack.tracking._attach import RUN_ID_ENV_VAR, join_run
from sparktrack.tracking._client import DEFAULT_EXPERIMENT_NAME, TrackingClient
from sparktrack.tracking._entities import Experiment, Run, RunData, RunInfo, RunStatus
from sparktrack.tracking._exit import at_exit
from sparktrack.tracking._hooks import run_before_flush
from sparktrack.tracking._spark_cost import drain_spark_cost, end_spark_work, start_spark_work
from sparktrack.tracking._system_metrics import start_sampling, stop_sampling
from sparktrack.tracking._validation import check_end, now_ms

__all__ = [
    "ActiveRun",
    "active_experiment_id",
    "active_run",
    "end_run",
    "flush",
    "get_client",
    "last_active_run",
    "remember_last_run",
    "run_id_for_logging",
    "set_experiment",
    "set_store",
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
# At exit, how long to wait for what the ended runs cost (read from Spark in the background).
_EXIT_COST_WAIT_SECONDS = 30.0


def _stack() -> list[ActiveRun]:
    stack: list[ActiveRun] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = []
        _local.stack = stack
    return stack


def get_client() -> TrackingClient:
    """The process-wide client the fluent API logs through (opened on first use).

    Returns:
        The client of the configured store, or of the one ``set_store`` chose.

    Raises:
        ConfigurationError: A setting is invalid.
        StoreError: The store cannot be opened.
    """
    global _client
    with _client_lock:
        if _client is None:
            _client = TrackingClient()
            # After the store registered its own closing hook: the runs end before it closes.
            at_exit(_end_runs_at_exit)
        return _client


def set_store(uri: str | None) -> TrackingClient:
    """Use the store at ``uri`` from now on; the previous one is flushed and closed.

    Args:
        uri: A folder or URI (``hdfs://``, ``s3a://``, ``abfss://``, ``memory://``);
            None: back to the configured store.

    Returns:
        The fluent API's new client.

    Raises:
        RunStateError: A run is active in this thread (end it first).
        StoreError: The store cannot be opened.
    """
    global _client, _experiment, _last_run_id
    if _stack():
        raise RunStateError(
            f"run {_stack()[-1].info.run_id} is active; end it before switching stores"
        )
    drain_spark_cost()  # what the ended runs cost goes to the store they are in
    with _client_lock:
        if _client is not None:
            _client.close()
        _client = TrackingClient(uri)
        at_exit(_end_runs_at_exit)
        _experiment = None
        _last_run_id = None  # that run lives in the store left behind
        return _client


def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None
) -> Experiment:
    """Make an experiment the one new runs start in (created if the name is new).

    Args:
        experiment_name: The experiment's name.
        experiment_id: Or its id (exactly one of the two).

    Returns:
        The experiment.

    Raises:
        InvalidInputError: Neither or both were given, or the experiment is deleted.
        NotFoundError: No experiment has ``experiment_id``.
    """
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
    if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
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

    Args:
        client: The client to look it up (or create it) with.

    Returns:
        The experiment's id.
    """
    if _experiment is not None:
        return _experiment.experiment_id
    name = os.environ.get("SPARKTRACK_EXPERIMENT_NAME")
    if name:
        return set_experiment(name).experiment_id
    return client.get_or_create_experiment(DEFAULT_EXPERIMENT_NAME).experiment_id


class ActiveRun(Run):
    """The run ``start_run`` returns; leaving a ``with`` block ends it.

    Normally FINISHED, through an exception FAILED, through Ctrl-C KILLED; the
    exception always propagates. A run joined through ``SPARKTRACK_RUN_ID`` that another
    process keeps RUNNING (``attached``) is only left: that process ends it.

    Args:
        info: The run's metadata.
        data: Its metrics, params and tags.
        attached: Whether this process joined a run another process ends.
    """

    def __init__(self, info: RunInfo, data: RunData, *, attached: bool = False) -> None:
        super().__init__(info, data)
        object.__setattr__(self, "_attached", attached)  # as a frozen dataclass sets fields

    @property
    def attached(self) -> bool:
        """Whether this process joined, through ``SPARKTRACK_RUN_ID``, a run another ends."""
        return bool(getattr(self, "_attached", False))

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
    """Make ``last_active_run`` return this run (internal use).

    Autolog and sweeps start runs through the client, and they count as started here.

    Args:
        run_id: The run.
    """
    global _last_run_id
    _last_run_id = run_id


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
    parent_run_id: str | None = None,
    snapshot: bool | None = None,
) -> ActiveRun:
    """Start a run (or resume one) and make it this thread's active run.

    With ``SPARKTRACK_RUN_ID`` set (``sparktrack run`` sets it for its job), a call
    without ``run_id`` and ``parent_run_id`` in a thread with no active run joins that
    run. While another process keeps it RUNNING, this process never ends it (the
    launcher ends it with the job's result); an ended run is resumed and ended here.

    Args:
        run_id: Resume this run instead of starting a new one.
        experiment_id: The experiment (default: the active experiment).
        run_name: Its name (default: generated).
        nested: Start a child of this thread's active run (without it, a second
            active run is refused).
        tags: Tags to set at once.
        parent_run_id: The parent run (default: the active run, if nested).
        snapshot: Store a snapshot of the source with a new run (default: the
            ``snapshots`` setting, on unless ``SPARKTRACK_SNAPSHOTS=false``); a resumed
            run gets one only when this is True.

    Returns:
        The run, usable as a context manager that ends it.

    Raises:
        RunStateError: A run is already active in this thread and ``nested`` is false.
        NotFoundError: ``run_id``, the experiment or the parent does not exist, or
            ``SPARKTRACK_RUN_ID`` names a run the store does not hold.
        InvalidInputError: The experiment or run is deleted, ``experiment_id`` is not
            the experiment of the run ``SPARKTRACK_RUN_ID`` names, or a tag is invalid.
    """
    global _last_run_id
    client = get_client()
    stack = _stack()
    if stack and not nested:
        raise RunStateError(
            f"run {stack[-1].info.run_id} is already active in this thread; end it first, "
            "or pass nested=True to start a child run"
        )
    joined = os.environ.get(RUN_ID_ENV_VAR, "").strip()
    attached = False
    if run_id is None and parent_run_id is None and not stack and joined:
        run, attached = join_run(client, joined, experiment_id, run_name, tags, snapshot)
    elif run_id is not None:
        run = client.resume_run(run_id, tags=tags, snapshot=bool(snapshot))
    else:
        parent = parent_run_id or (stack[-1].info.run_id if stack else _inherited_parent_run_id)
        run = client.create_run(
            experiment_id if experiment_id is not None else active_experiment_id(client),
            run_name=run_name,
            tags=tags,
            parent_run_id=parent,
            snapshot=snapshot,
        )
    active = ActiveRun(run.info, run.data, attached=attached)
    stack.append(active)
    start_spark_work(client, active.info.run_id)  # its thread's jobs are its own
    start_sampling(client, active.info.run_id)  # the system metrics, when asked for
    _last_run_id = active.info.run_id
    return active


def end_run(status: str = RunStatus.FINISHED, *, run_id: str | None = None) -> None:
    """End this thread's active run (or the given one among the active ones).

    Ending a parent ends the children started inside it first, as they stop with it.
    Nothing changes when the call is rejected. Without an active run, does nothing.

    Args:
        status: "FINISHED", "FAILED" or "KILLED".
        run_id: Which active run to end (default: the innermost).

    Raises:
        InvalidInputError: ``status`` is not a final status.
        RunStateError: ``run_id`` is not active in this thread.
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
        if not top.attached:  # a joined run is left to the process that ends it
            client.set_terminated(top.info.run_id, status, now_ms())
        stack.pop()  # only once ended: a run whose ending failed can be ended again
        stop_sampling(top.info.run_id)
        end_spark_work(top.info.run_id)
        if top.info.run_id == target:
            break


def active_run() -> ActiveRun | None:
    """This thread's innermost active run.

    Returns:
        The run, or None when no run is active in this thread.
    """
    stack = _stack()
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    """The active run, else the run most recently started in this process.

    Returns:
        The run as it is now (re-read from the store), or None if none was started.
    """
    current = active_run()
    if current is not None:
        return get_client().get_run(current.info.run_id)
    return get_client().get_run(_last_run_id) if _last_run_id else None


def run_id_for_logging() -> str:
    """The active run's id, after starting a run if none is active (internal use).

    MLflow's habit, which the fluent ``log_*`` functions follow: logging without a run
    starts one. For the fluent defaults of the layers above tracking.

    Returns:
        The run id.
    """
    current = active_run()
    if current is None:  # MLflow's habit: logging without a run starts one
        current = start_run()
    return current.info.run_id


def flush() -> None:
    """Wait for autolog's pending work, commit everything logged so far, fsync the journal.

    Raises:
        StoreError: The commit failed (what was logged stays in the journal).
    """
    run_before_flush()  # autologging's wait for its worker (see tracking._hooks)
    get_client().flush()


def _end_runs_at_exit(failed: bool) -> None:
    """End runs still active when the interpreter exits: FAILED after an uncaught error.

    Nothing may be raised from here (the interpreter is exiting), so a failure is
    logged with the run it concerns: the run then stays RUNNING until its heartbeat
    times out and a reader stores it KILLED.
    """
    stack = _stack()
    client = _client
    if not stack or client is None:
        # Runs ended earlier may still have their cost to log: the store flushes it as
        # it closes, after this hook.
        drain_spark_cost(_EXIT_COST_WAIT_SECONDS)
        return
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
    drain_spark_cost(_EXIT_COST_WAIT_SECONDS)
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
