"""Reading runs: one run, its tags, a metric's history, its inputs, and searches over all runs.

Every read sees what this process logged: a search first commits it
(``flush(fsync=False)``); a read of some runs adds the rows still queued for them to
the committed ones (``Store.scan_runs``), so reading a run just logged commits
nothing. Runs are folded by the one runs fold (``_state``), then judged by its
heartbeat rule at the time of the read; the runs it finds dead are handed to
``Liveness``, which stores the verdict, unless the caller must not write
(``record_verdicts=False``: the verdict is reported, not stored). Search keeps what
it reads and folds in a ``TableCache``, each entry for as long as its tables stay at
the same version, and the latest point of every metric in ``LatestMetrics``, brought
up to date from the files added since. Reads of one run ask the store for that run's
rows only, which a store clustered by run_id finds without reading other runs' files.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sparktrack.config import Settings
from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.store import LifecycleStage, Store
from sparktrack.tracking._cache import Slot, TableCache, Versions
from sparktrack.tracking._columns import Codes, flags, one_array, positions, take
from sparktrack.tracking._entities import DatasetInput, Metric, Run, RunData, RunInfo
from sparktrack.tracking._experiments import check_view
from sparktrack.tracking._folded_runs import runs_summary
from sparktrack.tracking._latest_metrics import LatestMetrics
from sparktrack.tracking._liveness import Liveness
from sparktrack.tracking._run_index import RunIndex
from sparktrack.tracking._run_keys import present_keys, read_keys
from sparktrack.tracking._search import (
    INPUT_COLUMNS,
    KINDS,
    EncodedTable,
    LongTable,
    RunSet,
    check_columns,
    check_max_results,
    empty_store_result,
    query_columns,
    query_keys,
    result_frame,
    result_runs,
    select,
)
from sparktrack.tracking._search_reads import SearchReads
from sparktrack.tracking._state import RUN_SCHEMA, fold_keys, run_states, stale_marked, states_of
from sparktrack.tracking._validation import check_run_id, now_ms

__all__ = ["RunReader"]

_RUNS: Slot[pa.Table] = Slot("runs folded")
_ENCODED: dict[str, Slot[EncodedTable]] = {kind: Slot(f"{kind} encoded") for kind in KINDS}
_LONG: dict[str, Slot[LongTable]] = {kind: Slot(f"{kind} by folded run") for kind in KINDS}
_INPUTS: Slot[pa.Table] = Slot("inputs")
# The run columns a search decides on for every run: which runs are in scope (experiment,
# lifecycle stage), the heartbeat rule (status, start and end time), the tie-breakers.
_DECIDING = frozenset({"experiment_id", "status", "start_time", "end_time", "lifecycle_stage"})
# The others, folded for every run only when a query names them, else for the runs a
# search returns (a million runs' names and artifact paths are most of a fold's memory).
_SHOWN = frozenset(RUN_SCHEMA.names) - _DECIDING
# Up to this many runs a search keeps the params, metrics and tags tables whole,
# encoded (about 750 MB at 100,000 runs of 20 params, 10 metrics and 5 tags), and
# answers every query from them; above, it reads the keys a query names and the rows
# of the runs it returns (``SearchReads``), which a million runs need to fit in memory.
WHOLE_TABLES_UP_TO = 100_000


class RunReader:
    """Reads runs from the store (thread-safe); the methods are ``TrackingClient``'s."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        runs: RunIndex,
        liveness: Liveness,
        cache: TableCache,
    ) -> None:
        self._store = store
        self._timeout_ms = int(settings.heartbeat_timeout_seconds * 1000)
        self._runs = runs
        self._liveness = liveness
        self._cache = cache
        self._latest_metrics = LatestMetrics()
        self._reads = SearchReads(store, cache)

    def _judged(self, states: pa.Table, record: bool) -> pa.Table:
        """Apply the heartbeat rule now and, if ``record``, store its verdicts."""
        states = stale_marked(states, now_ms(), self._timeout_ms)
        if record:
            self._liveness.store_stale(states)
        return states

    def get_run(self, run_id: str, *, record_verdicts: bool = True) -> Run:
        check_run_id(run_id)
        events = self._store.scan_runs("runs", [run_id])
        if events.num_rows == 0:
            raise NotFoundError(f"run {run_id!r} does not exist in store {self._store.uri!r}")
        states = run_states(events, self._store.scan_runs("heartbeats", [run_id]))
        if states.num_rows == 0:
            raise NotFoundError(f"run {run_id!r} has events but no start in {self._store.uri!r}")
        [row] = self._judged(states, record_verdicts).to_pylist()
        folded = {kind: fold_keys(self._store.scan_runs(kind, [run_id]), kind) for kind in KINDS}
        info = RunInfo(
            run_id=run_id,
            experiment_id=row["experiment_id"],
            run_name=row["run_name"],
            user_id=row["user_id"],
            status=row["status"],
            start_time=int(row["start_time"]),
            end_time=row["end_time"],
            artifact_uri=row["artifact_uri"],
            lifecycle_stage=row["lifecycle_stage"],
            parent_run_id=row["parent_run_id"],
        )
        metrics = {key: float(value) for key, value in _pairs(folded["metrics"]).items()}
        params, tags = _pairs(folded["params"]), _pairs(folded["tags"])
        return Run(info, RunData(metrics=metrics, params=params, tags=tags))

    def get_tags(self, run_id: str) -> dict[str, str]:
        self._runs.experiment_of(run_id)
        return _pairs(fold_keys(self._store.scan_runs("tags", [run_id]), "tags"))

    def logged_params(self, run_id: str) -> dict[str, str]:
        """The params the run holds in the store."""
        return _pairs(fold_keys(self._store.scan_runs("params", [run_id]), "params"))

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        points = self._history(run_id, key)
        values = points["value"].to_numpy().astype(np.float64, copy=False).tolist()
        times = points["timestamp"].to_numpy().tolist()
        steps = points["step"].to_numpy().tolist()
        return [Metric(key, v, t, s) for v, t, s in zip(values, times, steps, strict=True)]

    def get_metric_history_frame(self, run_id: str, key: str) -> pd.DataFrame:
        return self._history(run_id, key).select(["step", "timestamp", "value"]).to_pandas()

    def get_metric_history_frames(
        self, run_ids: list[str], keys: list[str]
    ) -> dict[tuple[str, str], pd.DataFrame]:
        for run_id in run_ids:
            self._runs.experiment_of(run_id)
        # One read for every curve: a run's points are read once, whatever the keys.
        points = self._store.scan_runs(
            "metrics", run_ids, columns=["run_id", "key", "value", "timestamp", "step"]
        )
        points = points.filter(pc.is_in(points["key"], pa.array(keys, pa.string())))
        order = pc.sort_indices(
            points,
            [
                ("run_id", "ascending"),
                ("key", "ascending"),
                ("step", "ascending"),
                ("timestamp", "ascending"),
            ],
        )
        frame = points.take(order).to_pandas()
        return {
            (str(run_id), str(key)): group[["step", "timestamp", "value"]].reset_index(drop=True)
            for (run_id, key), group in frame.groupby(["run_id", "key"], sort=False)
        }

    def _history(self, run_id: str, key: str) -> pa.Table:
        """The run's points of ``key`` (``value``, ``timestamp``, ``step``), in order."""
        self._runs.experiment_of(run_id)
        points = self._store.scan_runs(
            "metrics", [run_id], columns=["key", "value", "timestamp", "step"]
        )
        points = points.filter(pc.equal(points["key"], key))
        # A stable sort, so points logged at the same step and time keep their order.
        order = pc.sort_indices(points, [("step", "ascending"), ("timestamp", "ascending")])
        return points.take(order)

    def get_inputs(self, run_id: str) -> list[DatasetInput]:
        return self.get_inputs_of([run_id])[run_id]

    def get_inputs_of(self, run_ids: Sequence[str]) -> dict[str, list[DatasetInput]]:
        for run_id in run_ids:
            self._runs.experiment_of(run_id)
        frame = self._store.scan_runs("inputs", list(run_ids)).to_pandas()
        frame = frame.drop_duplicates(["run_id", "digest", "context"])
        found: dict[str, list[DatasetInput]] = {run_id: [] for run_id in run_ids}
        for row in frame.itertuples():
            found[row.run_id].append(
                DatasetInput(
                    name=row.dataset_name,
                    digest=row.digest,
                    source_type=row.source_type,
                    source=row.source,
                    schema=row.schema,
                    num_rows=None if pd.isna(row.num_rows) else int(row.num_rows),
                    context=row.context,
                )
            )
        return found

    def search_runs(
        self,
        experiment_ids: Iterable[str] | None,
        filter_string: str | None,
        run_view_type: str,
        max_results: int,
        order_by: list[str] | None,
        output_format: str,
        *,
        columns: Iterable[str] | None = None,
        record_verdicts: bool = True,
    ) -> pd.DataFrame | list[Run]:
        check_view(run_view_type)
        check_max_results(max_results)
        if output_format not in ("pandas", "list"):
            raise InvalidInputError(f"output_format {output_format!r} must be 'pandas' or 'list'")
        names = None if columns is None else check_columns(columns)
        self._store.flush(fsync=False)
        needed = query_columns(filter_string, order_by)
        keys = query_keys(filter_string, order_by)
        # Every run's decision columns, and those of the other run columns the query names.
        fields = frozenset(_DECIDING | (needed & _SHOWN))
        prefetch = self._prefetch_keys(keys, fields)
        try:
            runs_versions, states = self._folded_runs(fields)
        finally:
            for thread in prefetch:
                thread.join()
        if states.num_rows <= WHOLE_TABLES_UP_TO:
            # Few runs: every column of every run, kept with the whole tables.
            runs_versions, states = self._folded_runs()
            whole = self._search_tables(states, runs_versions)
            keyed = lambda kind, key: whole[kind]  # noqa: E731
            of_runs = lambda kind, where: whole[kind]  # noqa: E731
        else:
            keyed, of_runs = self._key_reads(keys, states, runs_versions)
        states = self._judged(states, record_verdicts)
        if states.num_rows == 0:
            return [] if output_format == "list" else empty_store_result(filter_string, order_by)
        run_set = RunSet(
            states,
            keyed,
            of_runs,
            scope=_candidates(states, experiment_ids, "ALL"),
            candidates=_candidates(states, experiment_ids, run_view_type),
            inputs=self._inputs_table,
            shown=partial(self._shown, states),
        )
        returned = select(run_set, filter_string, order_by, max_results)
        if output_format == "list":
            return result_runs(run_set, returned, names)
        return result_frame(run_set, returned, names)

    def _shown(self, states: pa.Table, where: Codes) -> pa.Table:
        """The judged runs at ``where`` with every run column (``RUN_SCHEMA``).

        The columns only shown (names, users, artifact paths, parents) are folded from
        these runs' own events when ``states`` lacks them.
        """
        chosen = states.take(pa.array(where, pa.int64()))
        missing = [name for name in RUN_SCHEMA.names if name not in chosen.column_names]
        if not missing:
            return chosen
        details = self._reads.run_details(one_array(chosen["run_id"]), missing)
        rows = positions(chosen["run_id"], one_array(details["run_id"]))
        for name in missing:
            chosen = chosen.append_column(name, take(details[name], rows))
        return chosen.select(RUN_SCHEMA.names).cast(RUN_SCHEMA)

    def _prefetch_keys(
        self, keys: dict[str, set[str]], fields: frozenset[str]
    ) -> list[threading.Thread]:
        """Start reading the keys a search names while it folds the runs, when that helps.

        Only for a store that will read keys (more than ``WHOLE_TABLES_UP_TO`` runs,
        judged by the runs table's rows: a run has two events or more) and whose runs
        are not folded yet: folding a million runs keeps one core busy (under a second
        from gc's saved summary, several without one), during which the other reads the
        keys. What is read is cached
        (``SearchReads``) and the search finds it there; a failed read is left for the
        search to meet again and report.
        """
        if not any(keys.values()) or self._cache.holds(_fold_slot(fields), self._runs_versions()):
            return []
        events = self._store.row_count("runs")
        if events is None or events <= 2 * WHOLE_TABLES_UP_TO:
            return []

        def read() -> None:
            for kind in keys:
                with contextlib.suppress(Exception):  # the search reads it again and reports
                    self._reads.read_keys({kind: keys[kind]})

        # One thread, one kind after another: beside the fold that makes two reads at a
        # time, each holding its decode buffers; a thread per kind made three, which
        # took a search of a million runs past a gigabyte at its peak.
        thread = threading.Thread(target=read, name="sparktrack-read-keys")
        thread.start()
        return [thread]

    def _key_reads(
        self, keys: dict[str, set[str]], states: pa.Table, runs_versions: Versions
    ) -> tuple[Callable[[str, str], LongTable], Callable[[str, Codes], LongTable]]:
        """A large store's ``RunSet.keyed`` and ``of_runs``: reads of what a query needs."""
        run_ids = one_array(states["run_id"])
        # Reading Parquet is Arrow work that lets go of the GIL: the kinds' keys are read
        # beside each other; two workers keep both cores busy.
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda kind: self._reads.read_keys({kind: keys[kind]}), keys))

        def keyed(kind: str, key: str) -> LongTable:
            return self._reads.keyed(kind, key, run_ids, runs_versions)

        def of_runs(kind: str, where: Codes) -> LongTable:
            ids = run_ids.take(pa.array(where))
            return LongTable.of_some(self._reads.of_runs(ids)[kind], ids, where)

        return keyed, of_runs

    def run_keys(
        self, kind: str, experiment_ids: Iterable[str] | None, run_view_type: str
    ) -> list[str]:
        check_view(run_view_type)
        if kind not in KINDS:
            raise InvalidInputError(f"kind {kind!r} must be one of {', '.join(KINDS)}")
        self._store.flush(fsync=False)
        # The tables a search keeps; no run is judged (the heartbeat rule decides a
        # status, never a lifecycle stage), so listing keys never writes.
        runs_versions, states = self._folded_runs(_DECIDING)
        large = states.num_rows > WHOLE_TABLES_UP_TO
        if not large:
            runs_versions, states = self._folded_runs()
        wanted = np.zeros(states.num_rows, dtype=np.bool_)
        wanted[_candidates(states, experiment_ids, run_view_type)] = True
        if large:
            # Not the whole tables a search of fewer runs keeps: their key columns only.
            return read_keys(self._store, kind, one_array(states["run_id"]), wanted)
        longs = self._search_tables(states, runs_versions)
        return present_keys(longs[kind], kind, wanted)

    # -- the cached tables of a search ----------------------------------------------------
    def _folded_runs(self, fields: frozenset[str] | None = None) -> tuple[Versions, pa.Table]:
        """The runs folded from their events (not judged yet), and the tables' versions.

        ``fields``: fold only these run columns (``run_schema``); default: all.
        """
        versions = self._runs_versions()

        def fold() -> pa.Table:
            summary = runs_summary(self._store, fields)
            heartbeats = self._store.scan("heartbeats", dictionary=True)
            return states_of(summary, heartbeats, fields)

        return versions, self._cache.get(_fold_slot(fields), versions, fold)

    def _runs_versions(self) -> Versions:
        return (self._store.version("runs"), self._store.version("heartbeats"))

    def _encoded(self, kind: str) -> tuple[Versions, EncodedTable]:
        """The params, metrics or tags table with integer codes, and its version.

        Metrics are folded to their latest point per (run, key) first: the raw table
        can hold a hundred points per metric, and the search shows the latest one.
        """
        versions = (self._store.version(kind),)

        def encode() -> EncodedTable:
            if kind == "metrics":
                return EncodedTable.of(self._latest_metrics.table(self._store), kind)
            return EncodedTable.of(self._store.scan(kind, dictionary=True), kind)

        return versions, self._cache.get(_ENCODED[kind], versions, encode)

    def _search_tables(self, states: pa.Table, runs_versions: Versions) -> dict[str, LongTable]:
        """The params, metrics and tags tables, whole, their rows knowing their run."""
        # Loading a Delta log and reading Parquet are Rust and Arrow work that releases
        # the GIL; two workers keep both cores busy.
        with ThreadPoolExecutor(max_workers=2) as pool:
            encoded = dict(zip(KINDS, pool.map(self._encoded, KINDS), strict=True))
        run_ids = one_array(states["run_id"])

        def by_run(kind: str) -> LongTable:
            kind_versions, table = encoded[kind]
            make = lambda: LongTable.of(table, run_ids)  # noqa: E731
            return self._cache.get(_LONG[kind], (*kind_versions, *runs_versions), make)

        return {kind: by_run(kind) for kind in KINDS}

    def _inputs_table(self) -> pa.Table:
        """The inputs table's ``INPUT_COLUMNS``, kept for as long as the table stays the same."""
        versions = (self._store.version("inputs"),)
        read = lambda: self._store.scan("inputs", columns=INPUT_COLUMNS)  # noqa: E731
        return self._cache.get(_INPUTS, versions, read)


def _fold_slot(fields: frozenset[str] | None) -> Slot[pa.Table]:
    """Where the runs folded on ``fields`` (None: every column) are cached."""
    return _RUNS if fields is None else Slot(("runs folded", tuple(sorted(fields))))


def _pairs(folded: pa.Table) -> dict[str, Any]:
    return dict(zip(folded["key"].to_pylist(), folded["value"].to_pylist(), strict=True))


def _candidates(
    states: pa.Table, experiment_ids: Iterable[str] | None, run_view_type: str
) -> npt.NDArray[np.int64]:
    """Positions of the runs in the wanted experiments and lifecycle stage."""
    keep = np.ones(states.num_rows, dtype=np.bool_)
    if experiment_ids is not None:
        wanted = pa.array([str(e) for e in experiment_ids], pa.string())
        keep &= flags(pc.is_in(states["experiment_id"], value_set=wanted))
    if run_view_type != "ALL":
        active = run_view_type == "ACTIVE_ONLY"
        stage = LifecycleStage.ACTIVE if active else LifecycleStage.DELETED
        keep &= flags(pc.equal(states["lifecycle_stage"], stage))
    return np.flatnonzero(keep).astype(np.int64)
