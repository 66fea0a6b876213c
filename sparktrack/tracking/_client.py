"""TrackingClient: the explicit-run-id API every other layer is built on."""

from __future__ import annotations

import dataclasses
import os
import uuid
import weakref
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sparktrack.config import Settings, load_settings
from sparktrack.errors import (
    InvalidInputError,
    NotFoundError,
    ParamConflictError,
    StoreError,
)
from sparktrack.store import Store
from sparktrack.tracking._artifact_logging import ArtifactsMixin
from sparktrack.tracking._clock import event_time_us
from sparktrack.tracking._columns import flags
from sparktrack.tracking._context import run_context_tags
from sparktrack.tracking._entities import (
    DatasetInput,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunStatus,
)
from sparktrack.tracking._experiments import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    ExperimentsMixin,
    check_view,
)
from sparktrack.tracking._search import (
    INPUT_COLUMNS,
    KINDS,
    EncodedTable,
    LongTable,
    RunSet,
    empty_store_result,
    result_frame,
    result_runs,
    select,
)
from sparktrack.tracking._shared import acquire_store, release_store
from sparktrack.tracking._state import (
    fold_params,
    fold_runs,
    fold_tags,
    latest_metrics,
    run_states,
    stale_marked,
)
from sparktrack.tracking._validation import (
    check_end,
    check_key,
    check_metric,
    check_param_value,
    check_run_id,
    check_tag_value,
    now_ms,
)

if TYPE_CHECKING:
    from sparktrack.registry import RegistryClient

__all__ = ["DEFAULT_EXPERIMENT_ID", "DEFAULT_EXPERIMENT_NAME", "TrackingClient"]


class TrackingClient(ExperimentsMixin, ArtifactsMixin):
    """Experiments, runs and everything logged to them, with explicit run ids.

    Thread-safe. Log calls validate, hand the records to the store's writer and
    return; reads first commit what this process logged, so they see it.
    """

    def __init__(self, store: str | Store | None = None, *, settings: Settings | None = None):
        explicit_uri = store if isinstance(store, str) else None
        if settings is None:
            settings = load_settings(store=explicit_uri)
        elif explicit_uri is not None:
            settings = dataclasses.replace(settings, store=explicit_uri)
        self.settings = settings
        # Every client of the same store and settings in this process shares one store
        # (one writer) and its caches, so each sees what any other acknowledged.
        shared = acquire_store(store if isinstance(store, Store) else settings.store, settings)
        self._shared = shared
        self._closed = False
        self._lock = shared.lock
        self._run_experiments = shared.run_experiments
        self._params = shared.params
        self._experiments_by_name = shared.experiments_by_name
        self._active_experiments = shared.active_experiments
        self._fold_cache = shared.fold_cache
        self._ended_stale = shared.ended_stale
        self._logged_inputs = shared.logged_inputs
        self._heartbeat = shared.heartbeat
        self._registry: RegistryClient | None = None
        _live_clients.add(self)

    @property
    def store(self) -> Store:
        """The store this client reads and writes (shared with the process's other clients)."""
        if self._closed:
            raise StoreError(
                f"this TrackingClient of store {self._shared.store.uri!r} was closed; "
                "open a new TrackingClient to keep using the store"
            )
        return self._shared.store

    @property
    def registry(self) -> RegistryClient:
        """The model registry in this client's store."""
        if self._registry is None:
            # Imported here: the registry builds on tracking, not the other way round.
            from sparktrack.registry import RegistryClient

            with self._lock:
                if self._registry is None:
                    self._registry = RegistryClient(self)
        return self._registry

    # -- runs ---------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str | None = None,
        *,
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        start_time: int | None = None,
        record_context: bool = True,
    ) -> Run:
        """Start a run (RUNNING) in an experiment (default: "Default")."""
        if experiment_id is None:
            experiment = self.get_or_create_experiment(DEFAULT_EXPERIMENT_NAME)
        else:
            experiment = self._active_experiment(str(experiment_id))
            if experiment.lifecycle_stage != "active":
                raise InvalidInputError(
                    f"experiment {experiment.name!r} (id {experiment.experiment_id}) is deleted; "
                    "restore it before starting runs in it"
                )
        if parent_run_id is not None:
            self._experiment_of(check_run_id(parent_run_id))
        run_id = uuid.uuid4().hex
        run_name = run_name or _generated_run_name(run_id)
        started = now_ms() if start_time is None else int(start_time)
        all_tags: dict[str, Any] = dict(run_context_tags()) if record_context else {}
        all_tags["mlflow.runName"] = run_name
        if parent_run_id:
            all_tags["mlflow.parentRunId"] = parent_run_id
        all_tags.update(tags or {})
        tag_rows = self._tag_rows(run_id, all_tags)
        user_id = str(all_tags["mlflow.user"]) if "mlflow.user" in all_tags else None
        artifact_uri = self.store.artifacts.run_root(experiment.experiment_id, run_id)
        start = {
            "run_id": run_id,
            "experiment_id": experiment.experiment_id,
            "event": "start",
            "status": RunStatus.RUNNING,
            "run_name": run_name,
            "user_id": user_id,
            "parent_run_id": parent_run_id,
            "start_time": started,
            "end_time": None,
            "artifact_uri": artifact_uri,
            "event_time": event_time_us(),
        }
        self.store.append("runs", [start])
        self.store.append("tags", tag_rows)
        with self._lock:
            self._run_experiments[run_id] = experiment.experiment_id
            self._params[run_id] = {}
        self._heartbeat.add(run_id)
        return Run(
            RunInfo(
                run_id,
                experiment.experiment_id,
                run_name,
                user_id,
                RunStatus.RUNNING,
                started,
                None,
                artifact_uri,
                "active",
                parent_run_id,
            ),
            RunData(tags={r["key"]: r["value"] for r in tag_rows}),
        )

    def resume_run(self, run_id: str, *, tags: Mapping[str, Any] | None = None) -> Run:
        """Set an existing run RUNNING again (``start_run(run_id=...)``), adding ``tags``."""
        tag_rows = self._tag_rows(run_id, tags or {})  # a rejected tag resumes nothing
        run = self.get_run(run_id)
        if run.info.lifecycle_stage != "active":
            raise InvalidInputError(f"run {run_id} is deleted; restore it before resuming it")
        self.store.append(
            "runs",
            [
                {
                    "run_id": run_id,
                    "event": "resume",
                    "status": RunStatus.RUNNING,
                    "end_time": None,
                    "event_time": event_time_us(),
                }
            ],
        )
        if tag_rows:
            self.store.append("tags", tag_rows)
        self._heartbeat.add(run_id)
        return self.get_run(run_id)

    def set_terminated(
        self, run_id: str, status: str = RunStatus.FINISHED, end_time: int | None = None
    ) -> None:
        """End a run. Asks for a commit soon, whose round first fsyncs the journal."""
        status, ended = check_end(status, end_time, run_id)
        self._experiment_of(run_id)
        self.store.append(
            "runs",
            [
                {
                    "run_id": run_id,
                    "event": "end",
                    "status": status,
                    "end_time": ended,
                    "event_time": event_time_us(),
                }
            ],
        )
        self._heartbeat.remove(run_id)
        self.store.request_commit(fsync=True)

    def _run_event(self, run_id: str, event: str, **fields: Any) -> None:
        self._experiment_of(run_id)
        self.store.append(
            "runs",
            [
                {
                    "run_id": run_id,
                    "event": event,
                    "event_time": event_time_us(),
                    **fields,
                }
            ],
        )

    def rename_run(self, run_id: str, run_name: str) -> None:
        tag_rows = self._tag_rows(run_id, {"mlflow.runName": run_name})  # check before writing
        self._run_event(run_id, "rename", run_name=tag_rows[0]["value"])
        self.store.append("tags", tag_rows)

    def delete_run(self, run_id: str) -> None:
        self._run_event(run_id, "delete")

    def restore_run(self, run_id: str) -> None:
        self._run_event(run_id, "restore")

    def _experiment_of(self, run_id: str) -> str:
        """The run's experiment id; NotFoundError if the run does not exist."""
        with self._lock:
            known = self._run_experiments.get(run_id)
        if known is not None:
            return known
        check_run_id(run_id)
        self.store.flush(fsync=False)
        events = self.store.scan("runs", run_ids=[run_id], columns=["event", "experiment_id"])
        # Only the start event carries the experiment; other events leave it null.
        experiment_ids = [
            experiment
            for event, experiment in zip(
                events.column("event").to_pylist(),
                events.column("experiment_id").to_pylist(),
                strict=True,
            )
            if event == "start"
        ]
        if not experiment_ids:
            raise NotFoundError(f"run {run_id!r} does not exist in store {self.store.uri!r}")
        experiment_id = experiment_ids[0]
        with self._lock:
            self._run_experiments[run_id] = experiment_id
        return str(experiment_id)

    # -- logging -----------------------------------------------------------------------
    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        self.log_batch(run_id, params={key: value})
        return value

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        self.log_batch(run_id, params=params)

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
    ) -> None:
        if run_id not in self._run_experiments:
            self._experiment_of(run_id)
        key, value, step, timestamp = check_metric(key, value, step, timestamp, run_id)
        self.store.append(
            "metrics",
            [
                {
                    "run_id": run_id,
                    "key": key,
                    "value": value,
                    "step": step,
                    "timestamp": timestamp,
                }
            ],
        )

    def log_metrics(
        self,
        run_id: str,
        metrics: Mapping[str, float],
        step: int | None = None,
        timestamp: int | None = None,
    ) -> None:
        stamp = now_ms() if timestamp is None else timestamp
        self.log_batch(
            run_id,
            metrics=[
                Metric(key, value, stamp, step if step is not None else 0)
                for key, value in metrics.items()
            ],
        )

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Validate everything first, then log it all; a rejected batch logs nothing."""
        self._experiment_of(run_id)
        metric_rows = []
        for metric in metrics:
            key, value, step, stamp = check_metric(
                metric.key, metric.value, metric.step, metric.timestamp, run_id
            )
            metric_rows.append(
                {"run_id": run_id, "key": key, "value": value, "step": step, "timestamp": stamp}
            )
        tag_rows = self._tag_rows(run_id, tags or {})
        with self._lock:
            param_rows = self._new_param_rows(run_id, params or {})
            if param_rows:
                self.store.append("params", param_rows)
                self._params[run_id].update({r["key"]: r["value"] for r in param_rows})
        if tag_rows:
            self.store.append("tags", tag_rows)
        if metric_rows:
            self.store.append("metrics", metric_rows)

    def _new_param_rows(self, run_id: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Validated rows for params not logged yet; conflicting values raise. Lock held."""
        if not params:
            return []
        if run_id not in self._params:
            self.store.flush(fsync=False)
            stored = fold_params(self.store.scan("params", run_ids=[run_id]))
            self._params[run_id] = dict(zip(stored["key"], stored["value"], strict=True))
        logged = self._params[run_id]
        rows = []
        stamp = event_time_us()
        for key, value in params.items():
            key = check_key("param", key, run_id)
            text = check_param_value(key, value, run_id)
            if key in logged:
                if logged[key] != text:
                    raise ParamConflictError(
                        f"param {key!r} of run {run_id} is already {logged[key]!r} and cannot "
                        f"change to {text!r}: params are immutable within a run. Log it under "
                        "another key, or start a new run."
                    )
                continue
            rows.append({"run_id": run_id, "key": key, "value": text, "event_time": stamp})
        return rows

    def _tag_rows(self, run_id: str, tags: Mapping[str, Any]) -> list[dict[str, Any]]:
        stamp = event_time_us()
        return [
            {
                "run_id": run_id,
                "key": check_key("tag", key, run_id),
                "value": check_tag_value(key, value, run_id),
                "deleted": False,
                "event_time": stamp,
            }
            for key, value in tags.items()
        ]

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.log_batch(run_id, tags={key: value})

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        self.log_batch(run_id, tags=tags)

    def delete_tag(self, run_id: str, key: str) -> None:
        if key not in self.get_run(run_id).data.tags:
            raise NotFoundError(f"run {run_id} has no tag {key!r} to delete")
        self.store.append(
            "tags",
            [
                {
                    "run_id": run_id,
                    "key": key,
                    "value": None,
                    "deleted": True,
                    "event_time": event_time_us(),
                }
            ],
        )

    def log_input(self, run_id: str, dataset: DatasetInput, context: str | None = None) -> None:
        """Record that the run read ``dataset`` (lineage); logging it again is a no-op."""
        self._experiment_of(run_id)
        role = context or dataset.context
        key = (run_id, dataset.digest, role)
        with self._lock:
            if key in self._logged_inputs:
                return
            self.store.append(
                "inputs",
                [
                    {
                        "run_id": run_id,
                        "dataset_name": dataset.name,
                        "digest": dataset.digest,
                        "source_type": dataset.source_type,
                        "source": dataset.source,
                        "schema": dataset.schema,
                        "num_rows": dataset.num_rows,
                        "context": role,
                        "event_time": event_time_us(),
                    }
                ],
            )
            # Remembered once appended: a failed append must not make a retry a no-op.
            self._logged_inputs.add(key)

    def get_tags(self, run_id: str) -> dict[str, str]:
        """The run's tags, as ``get_run(run_id).data.tags`` has them, from a read of the
        tags table alone (which first commits what is pending only if one of this run's
        tags is)."""
        self._experiment_of(check_run_id(run_id))
        self.store.flush_run("tags", run_id)
        tags = fold_tags(self.store.scan("tags", run_ids=[run_id]))
        return dict(zip(tags["key"], tags["value"], strict=True))

    def get_inputs(self, run_id: str) -> list[DatasetInput]:
        self._experiment_of(run_id)
        self.store.flush(fsync=False)
        frame = self.store.scan("inputs", run_ids=[run_id]).to_pandas()
        frame = frame.drop_duplicates(["digest", "context"])
        return [
            DatasetInput(
                name=row.dataset_name,
                digest=row.digest,
                source_type=row.source_type,
                source=row.source,
                schema=row.schema,
                num_rows=None if pd.isna(row.num_rows) else int(row.num_rows),
                context=row.context,
            )
            for row in frame.itertuples()
        ]

    # -- reading -----------------------------------------------------------------------
    def _folded(self, table: str, fold: Any) -> Any:
        """``fold(scan(table))``, recomputed only when the table changed."""
        self.store.flush(fsync=False)
        version = self.store.version(table)
        with self._lock:
            cached = self._fold_cache.get(table)
        if cached is not None and version is not None and cached[0] == version:
            return cached[1]
        folded = fold(self.store.scan(table))
        with self._lock:
            self._fold_cache[table] = (version, folded)
        return folded

    def _cached(self, key: str, version: Any) -> Any:
        """The cache entry ``key`` if it was made at ``version`` (None: unknown, never)."""
        with self._lock:
            cached = self._fold_cache.get(key)
        if cached is None or version is None or None in _as_tuple(version):
            return None
        return cached[1] if cached[0] == version else None

    def _remember(self, key: str, version: Any, value: Any) -> None:
        with self._lock:
            self._fold_cache[key] = (version, value)

    def _encoded(self, kind: str) -> tuple[int | None, EncodedTable]:
        """The params, metrics or tags table with integer codes, and its version."""
        version = self.store.version(kind)
        encoded = self._cached(f"encoded-{kind}", version)
        if encoded is None:
            encoded = EncodedTable.of(self.store.scan(kind, dictionary=True), kind)
            self._remember(f"encoded-{kind}", version, encoded)
        return version, encoded

    def _folded_runs(self) -> tuple[tuple[int | None, int | None], pa.Table]:
        """The runs folded from their events (not yet marked stale), and the versions."""
        version = (self.store.version("runs"), self.store.version("heartbeats"))
        states = self._cached("runs-state", version)
        if states is None:
            events = self.store.scan("runs", dictionary=True)
            states = run_states(events, self.store.scan("heartbeats", dictionary=True))
            self._remember("runs-state", version, states)
        return version, states

    def _search_tables(self) -> tuple[pa.Table, dict[str, LongTable]]:
        """Folded runs (not yet marked stale) and the params, metrics and tags tables.

        Each is kept for as long as its table(s) stay at the same version.
        """
        # Loading a Delta log and reading Parquet are Rust and Arrow work that releases
        # the GIL, so the runs (the longest chain: two logs, two scans, a fold) load
        # beside the other tables; two workers keep both cores busy.
        with ThreadPoolExecutor(max_workers=2) as pool:
            folded = pool.submit(self._folded_runs)
            encoded = dict(zip(KINDS, pool.map(self._encoded, KINDS), strict=True))
            runs_version, states = folded.result()
        run_ids = states["run_id"].combine_chunks()
        longs = {}
        for kind, (kind_version, table) in encoded.items():
            version = (kind_version, *runs_version)
            long = self._cached(kind, version)
            if long is None:
                long = LongTable.of(table, run_ids)
                self._remember(kind, version, long)
            longs[kind] = long
        return states, longs

    def _marked_stale(self, states: pa.Table) -> pa.Table:
        """Apply the heartbeat rule and store its verdicts."""
        timeout_ms = int(self.settings.heartbeat_timeout_seconds * 1000)
        states = stale_marked(states, now_ms(), timeout_ms)
        stale = states.filter(states["stale"])
        self._persist_stale(stale["run_id"].to_pylist(), stale["last_seen"].to_pylist())
        return states

    def _persist_stale(self, run_ids: list[str], last_seen: list[int]) -> None:
        """Store the KILLED verdict for runs whose heartbeat stopped (once per run)."""
        if not run_ids:
            return
        with self._lock:
            fresh = [
                (run_id, seen)
                for run_id, seen in zip(run_ids, last_seen, strict=True)
                if run_id not in self._ended_stale
            ]
            self._ended_stale.update(run_id for run_id, _ in fresh)
        if not fresh:
            return
        stamp = event_time_us()
        self.store.append(
            "runs",
            [
                {
                    "run_id": run_id,
                    "event": "end",
                    "status": RunStatus.KILLED,
                    "end_time": int(seen),
                    "event_time": stamp + i,
                }
                for i, (run_id, seen) in enumerate(fresh)
            ],
        )
        self.store.request_commit(fsync=False)

    def get_run(self, run_id: str) -> Run:
        check_run_id(run_id)
        self.store.flush(fsync=False)
        events = self.store.scan("runs", run_ids=[run_id])
        if events.num_rows == 0:
            raise NotFoundError(f"run {run_id!r} does not exist in store {self.store.uri!r}")
        beats = self.store.scan("heartbeats", run_ids=[run_id])
        state = fold_runs(
            events,
            beats,
            now_ms=now_ms(),
            heartbeat_timeout_ms=int(self.settings.heartbeat_timeout_seconds * 1000),
        )
        if state.empty:
            raise NotFoundError(f"run {run_id!r} has events but no start in {self.store.uri!r}")
        stale = state.loc[state["stale"].astype(bool)]
        self._persist_stale(list(stale["run_id"]), [int(t) for t in stale["last_seen"]])
        row = state.iloc[0]
        params = fold_params(self.store.scan("params", run_ids=[run_id]))
        tags = fold_tags(self.store.scan("tags", run_ids=[run_id]))
        metrics = latest_metrics(self.store.scan("metrics", run_ids=[run_id]))
        end_time = _present(row["end_time"])
        info = RunInfo(
            run_id=run_id,
            experiment_id=row["experiment_id"],
            run_name=_present(row["run_name"]),
            user_id=_present(row["user_id"]),
            status=row["status"],
            start_time=int(row["start_time"]),
            end_time=None if end_time is None else int(end_time),
            artifact_uri=row["artifact_uri"],
            lifecycle_stage=row["lifecycle_stage"],
            parent_run_id=_present(row["parent_run_id"]),
        )
        data = RunData(
            metrics={k: float(v) for k, v in zip(metrics["key"], metrics["value"], strict=True)},
            params=dict(zip(params["key"], params["value"], strict=True)),
            tags=dict(zip(tags["key"], tags["value"], strict=True)),
        )
        return Run(info, data)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        self._experiment_of(run_id)
        self.store.flush(fsync=False)
        table = self.store.scan("metrics", run_ids=[run_id])
        frame = table.to_pandas()
        frame = frame[frame["key"] == key].sort_values(["step", "timestamp"], kind="stable")
        return [
            Metric(key, float(v), int(t), int(s))
            for v, t, s in zip(frame["value"], frame["timestamp"], frame["step"], strict=True)
        ]

    def _inputs_table(self) -> pa.Table:
        """The inputs table's ``INPUT_COLUMNS``, kept for as long as the table stays the same."""
        version = self.store.version("inputs")
        table = self._cached("inputs", version)
        if table is None:
            table = self.store.scan("inputs", columns=INPUT_COLUMNS)
            self._remember("inputs", version, table)
        return table

    @overload
    def search_runs(
        self,
        experiment_ids: Iterable[str] | None = ...,
        filter_string: str | None = ...,
        run_view_type: str = ...,
        max_results: int = ...,
        order_by: list[str] | None = ...,
        *,
        output_format: Literal["pandas"] = ...,
    ) -> pd.DataFrame: ...

    @overload
    def search_runs(
        self,
        experiment_ids: Iterable[str] | None = ...,
        filter_string: str | None = ...,
        run_view_type: str = ...,
        max_results: int = ...,
        order_by: list[str] | None = ...,
        *,
        output_format: Literal["list"],
    ) -> list[Run]: ...

    def search_runs(
        self,
        experiment_ids: Iterable[str] | None = None,
        filter_string: str | None = "",
        run_view_type: str = "ACTIVE_ONLY",
        max_results: int = 100_000,
        order_by: list[str] | None = None,
        *,
        output_format: str = "pandas",
    ) -> pd.DataFrame | list[Run]:
        """Runs as a pandas DataFrame: run columns, then ``metrics.*``, ``params.*``, ``tags.*``.

        ``output_format="list"`` gives ``Run`` records instead, whose metrics hold exactly
        what each run logged (a DataFrame cannot tell a logged NaN from a missing metric).
        """
        check_view(run_view_type)
        if not isinstance(max_results, int) or isinstance(max_results, bool) or max_results < 1:
            raise InvalidInputError(f"max_results {max_results!r} must be a positive integer")
        if output_format not in ("pandas", "list"):
            raise InvalidInputError(f"output_format {output_format!r} must be 'pandas' or 'list'")
        self.store.flush(fsync=False)
        states, longs = self._search_tables()
        states = self._marked_stale(states)
        if states.num_rows == 0:
            empty = empty_store_result(filter_string, order_by)
            return [] if output_format == "list" else empty
        run_set = RunSet(
            states,
            longs,
            scope=_candidates(states, experiment_ids, "ALL"),
            candidates=_candidates(states, experiment_ids, run_view_type),
            inputs=self._inputs_table,
        )
        returned = select(run_set, filter_string, order_by, max_results)
        if output_format == "list":
            return result_runs(run_set, returned)
        return result_frame(run_set, returned)

    # -- lifecycle ---------------------------------------------------------------------
    def flush(self) -> None:
        """Commit everything logged so far and fsync the journal."""
        self.store.flush(fsync=True)

    def close(self) -> None:
        """Commit what was logged, then let go of the store; a second close does nothing.

        The store is shared by every client of this process that opened the same store
        with the same settings: it is closed (heartbeats stop, the writer ends) when the
        last of them closes. Runs a closed client started stay RUNNING until ended.
        After ``close`` this client refuses every call; other clients are unaffected.
        """
        if self._closed:
            return
        try:
            self.store.flush(fsync=True)
        finally:
            self._closed = True
            release_store(self._shared)

    def __repr__(self) -> str:
        state = ", closed" if self._closed else ""
        return f"TrackingClient(store={self._shared.store.uri!r}{state})"


_live_clients: weakref.WeakSet[TrackingClient] = weakref.WeakSet()


def _start_over_in_child() -> None:
    # After fork, in the child: the shared stores' locks were renewed (a lock another
    # thread held at the fork stays held); each client follows its store's new lock.
    for client in list(_live_clients):
        client._lock = client._shared.lock


os.register_at_fork(after_in_child=_start_over_in_child)

_ADJECTIVES = (
    "brave",
    "calm",
    "eager",
    "fast",
    "keen",
    "lucid",
    "merry",
    "quiet",
    "sharp",
    "sunny",
    "swift",
    "tidy",
    "vivid",
    "wise",
    "bold",
    "bright",
)
_NOUNS = (
    "otter",
    "falcon",
    "spark",
    "delta",
    "comet",
    "maple",
    "river",
    "lynx",
    "heron",
    "cedar",
    "quartz",
    "tiger",
    "ember",
    "orbit",
    "fjord",
    "koala",
)


def _candidates(
    states: pa.Table, experiment_ids: Iterable[str] | None, run_view_type: str
) -> npt.NDArray[np.int64]:
    """Positions of the runs in the wanted experiments and lifecycle stage."""
    keep = np.ones(states.num_rows, dtype=np.bool_)
    if experiment_ids is not None:
        wanted = pa.array([str(e) for e in experiment_ids], pa.string())
        keep &= flags(pc.is_in(states["experiment_id"], value_set=wanted))
    if run_view_type != "ALL":
        stage = "active" if run_view_type == "ACTIVE_ONLY" else "deleted"
        keep &= flags(pc.equal(states["lifecycle_stage"], stage))
    return np.flatnonzero(keep).astype(np.int64)


def _as_tuple(version: Any) -> tuple[Any, ...]:
    return version if isinstance(version, tuple) else (version,)


def _present(value: Any) -> Any:
    """None for pandas' missing markers (None, NaN, NA), the value otherwise."""
    return None if pd.isna(value) else value


def _generated_run_name(run_id: str) -> str:
    seed = int(run_id[:8], 16)
    return f"{_ADJECTIVES[seed % 16]}-{_NOUNS[(seed >> 4) % 16]}-{seed % 1000}"
