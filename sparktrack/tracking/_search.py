"""search_runs: filter and order on what the query needs, then widen the runs returned.

The params and tags tables stay in Arrow, unfolded; metrics come already folded to
their latest point per (run, key) (``_latest_metrics``), since a metric can have a
hundred points per run. Only the keys a filter or order mentions are folded and
spread into ``<kind>.<key>`` columns for the candidate runs; every key is folded and
spread only for the runs that survive ``max_results``. Folding per (run, key) commutes
with keeping whole runs or whole keys, so the result is the one a fold of the full
tables would give.

The frame the filter reads keeps what a plain pandas frame would lose: metric columns
are Arrow-backed, so a logged NaN stays a value apart from "never logged", and the
dataset inputs (read only when a filter names ``datasets.*``) are lists per run.
Whether a param sorts as numbers is decided over every run of the searched
experiments, whatever the filter and lifecycle stage, so the order of two runs never
depends on which other runs a filter kept.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sparktrack.errors import InvalidInputError
from sparktrack.search import (
    DATASET_KEYS,
    OrderKey,
    filter_frame,
    numeric_param_columns,
    parse_filter,
    parse_order_by,
    referenced_columns,
    sort_frame,
)
from sparktrack.tracking._columns import (
    Codes,
    encode,
    flags,
    one_array,
    pick,
    positions,
    take,
)
from sparktrack.tracking._entities import Run, RunData, RunInfo
from sparktrack.tracking._state import KEY_FOLDS

__all__ = [
    "BASE_COLUMNS",
    "INPUT_COLUMNS",
    "INPUT_FIELDS",
    "KINDS",
    "TIME_COLUMNS",
    "EncodedTable",
    "LongTable",
    "RunSet",
    "check_columns",
    "check_max_results",
    "empty_store_result",
    "query_columns",
    "query_keys",
    "result_frame",
    "result_runs",
    "select",
    "spread",
]

KINDS = ("metrics", "params", "tags")
# A search result's run columns, in order, before its metrics, params and tags.
BASE_COLUMNS = [
    "run_id",
    "experiment_id",
    "run_name",
    "status",
    "user_id",
    "artifact_uri",
    "start_time",
    "end_time",
    "lifecycle_stage",
]
TIME_COLUMNS = ("start_time", "end_time")
"""The run columns a search result holds as times (milliseconds in the store)."""
# The inputs table's column behind each ``datasets.<field>``.
INPUT_FIELDS = {"name": "dataset_name", "digest": "digest", "context": "context"}
assert set(INPUT_FIELDS) == DATASET_KEYS
INPUT_COLUMNS = ["run_id", *INPUT_FIELDS.values()]
# Metric columns the filter reads keep NaN apart from null (see the module docstring).
_ARROW_FLOATS = {pa.float64(): pd.ArrowDtype(pa.float64())}


@dataclass(frozen=True)
class EncodedTable:
    """A raw params, metrics or tags table with its run ids and keys as integer codes.

    ``run_codes`` indexes ``run_ids`` and ``keys`` indexes ``key_names`` (-1: null).
    Made once per table version, so searches spread columns without hashing strings.
    ``table`` keeps only the ``value`` column and the fold's ``absent_if``.
    """

    table: pa.Table
    run_codes: Codes
    run_ids: pa.Array
    keys: Codes
    key_names: list[str]
    # The sort keys of the kind's fold (``KEY_FOLDS``), as numpy arrays.
    order: list[npt.NDArray[np.generic]]

    @staticmethod
    def of(table: pa.Table, kind: str) -> EncodedTable:
        if table.num_rows == 0:
            empty = np.empty(0, dtype=np.int64)
            return EncodedTable(table, empty, pa.array([], pa.string()), empty, [], [])
        table = _one_chunk(table)
        run_codes, run_ids = encode(table["run_id"])
        keys, names = encode(table["key"])
        fold = KEY_FOLDS[kind]
        order = fold.sort_keys(table)
        # Only the columns searches take values from: the run ids and keys live on as
        # codes, the order as numpy arrays (the metrics of a million runs kept whole
        # would hold their run ids twice, 72 MB for two metrics).
        # (A read of keys only, listing them, has no values to keep.)
        wanted = ["value", *([fold.absent_if] if fold.absent_if else [])]
        kept = table.select([name for name in wanted if name in table.column_names])
        return EncodedTable(kept, run_codes, run_ids, keys, names.to_pylist(), order)


def _one_chunk(table: pa.Table) -> pa.Table:
    """The table with one chunk per column where Arrow can put them together.

    A file's row group is a chunk: every search takes values from these columns, and a
    take across many chunks, each with its own dictionary, costs more per search than
    putting them together once per table version.
    """
    columns = []
    for column in table.columns:
        try:
            columns.append(one_array(column))
        except pa.ArrowInvalid:
            # Arrow cannot yet unify dictionaries that hold a null: keep the chunks.
            columns.append(column)
    return pa.table(columns, schema=table.schema)


@dataclass(frozen=True)
class LongTable:
    """An encoded table whose rows know their run's position among the folded runs.

    ``runs`` is -1 for rows of a run that has no start.
    """

    encoded: EncodedTable
    runs: Codes

    @staticmethod
    def of(encoded: EncodedTable, run_ids: pa.Array) -> LongTable:
        # Look up each distinct run id once; code -1 (null) reads the appended -1.
        found = np.append(positions(encoded.run_ids, run_ids), -1)
        return LongTable(encoded, found[encoded.run_codes])

    @staticmethod
    def of_some(encoded: EncodedTable, run_ids: pa.Array, where: Codes) -> LongTable:
        """Rows of some runs only: ``run_ids`` (distinct) are the folded runs at ``where``.

        Looking the rows' runs up among a few ids costs less than among every run.
        """
        # -1 (not among run_ids, or a null run id) reads the appended -1, twice over.
        found = np.append(np.append(where, -1)[positions(encoded.run_ids, run_ids)], -1)
        return LongTable(encoded, found[encoded.run_codes])


def spread(
    long: LongTable, kind: str, targets: Codes, keys: Collection[str] | None = None
) -> dict[str, pa.Array | pa.ChunkedArray]:
    """Folded ``<kind>.<key>`` columns for some runs, null where a run lacks the key.

    ``targets`` maps each folded run's position to its row in the output (-1: not in
    it). Only ``keys`` (default: every key) and only keys that some output run has get
    a column, in key order, as ``DataFrame.pivot`` of the folded table would.
    """
    encoded = long.encoded
    width = int(targets.max(initial=-1)) + 1
    if encoded.table.num_rows == 0 or width == 0:
        return {}
    # Index -1 (a run without a start) reads the appended -1.
    out_rows = np.append(targets, -1)[long.runs]
    names = encoded.key_names
    wanted = range(len(names)) if keys is None else _codes_of(names, keys)
    key_slot = np.full(len(names) + 1, -1, dtype=np.int64)
    key_slot[list(wanted)] = np.arange(len(wanted))
    slots = key_slot[encoded.keys]
    rows = np.flatnonzero((out_rows >= 0) & (slots >= 0))
    fold = KEY_FOLDS[kind]
    cells = out_rows[rows] * len(wanted) + slots[rows]
    order = [key[rows] for key in encoded.order]
    groups, winners = pick(cells, order, last=fold.latest)
    winners = rows[winners]
    if fold.absent_if is not None:
        # A tag whose latest event deletes it is absent.
        kept = ~flags(encoded.table[fold.absent_if].take(pa.array(winners)))
        groups, winners = groups[kept], winners[kept]
    cells_table = np.full(width * len(wanted), -1, dtype=np.int64)
    cells_table[groups] = winners
    by_run = cells_table.reshape(width, len(wanted))
    chosen = [names[code] for code in wanted]
    present = [
        k for k in sorted(range(len(chosen)), key=chosen.__getitem__) if (by_run[:, k] >= 0).any()
    ]
    # One take for all the columns, cut into one slice per column.
    values = take(encoded.table["value"], by_run[:, present].T.ravel())
    return {f"{kind}.{chosen[k]}": values.slice(i * width, width) for i, k in enumerate(present)}


def _codes_of(names: list[str], keys: Collection[str]) -> list[int]:
    wanted = set(keys)
    return [code for code, name in enumerate(names) if name in wanted]


def query_columns(filter_string: str | None, order_by: list[str] | None) -> set[str]:
    """The frame columns a filter and order read (``<kind>.<key>`` and run columns)."""
    return referenced_columns(parse_filter(filter_string), parse_order_by(order_by))


def query_keys(filter_string: str | None, order_by: list[str] | None) -> dict[str, set[str]]:
    """The keys of each kind a filter and order read (the only keys a selection reads)."""
    expression = parse_filter(filter_string)
    return _query_keys(referenced_columns(expression, parse_order_by(order_by)))


def _query_keys(needed: Collection[str]) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for column in needed:
        kind, _, key = column.partition(".")
        if kind in keys and key:
            keys[kind].add(key)
    return keys


def _targets(count: int, rows: Codes) -> Codes:
    """Output row of each of ``count`` folded runs, for output rows ``rows`` (-1: none)."""
    targets = np.full(count, -1, dtype=np.int64)
    targets[rows] = np.arange(len(rows))
    return targets


@dataclass(frozen=True)
class RunSet:
    """The runs one search looks at, and how it reads their params, metrics and tags.

    ``runs`` are the folded runs; ``scope`` the positions of those in the searched
    experiments (any lifecycle stage), ``candidates`` those a search may return.
    ``keyed(kind, key)`` gives the kind's rows of one key, for every run (what a filter
    or an order reads); ``of_runs(kind, positions)`` the kind's rows, every key, of the
    runs at those positions (what the returned runs show). ``inputs`` reads the inputs
    table (``INPUT_COLUMNS``), called only when a filter names ``datasets.*``.
    ``runs`` may hold only the run columns a query decides on; ``shown(positions)``
    gives the runs at those positions with every run column, as a search returns them.
    """

    runs: pa.Table
    keyed: Callable[[str, str], LongTable]
    of_runs: Callable[[str, Codes], LongTable]
    scope: Codes
    candidates: Codes
    inputs: Callable[[], pa.Table]
    shown: Callable[[Codes], pa.Table]


def _key_columns(
    run_set: RunSet, kind: str, targets: Codes, keys: Collection[str]
) -> dict[str, pa.Array | pa.ChunkedArray]:
    """``spread`` of ``keys`` of one kind, each key read on its own, in key order."""
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for key in sorted(keys):
        columns.update(spread(run_set.keyed(kind, key), kind, targets, {key}))
    return columns


def _narrow_frame(run_set: RunSet, needed: Collection[str]) -> pd.DataFrame:
    """The candidate runs with just the columns the query reads (one row per run, in order)."""
    runs, candidates = run_set.runs, run_set.candidates
    base = runs.select([name for name in BASE_COLUMNS if name in needed])
    if len(candidates) < runs.num_rows:
        base = base.take(pa.array(candidates))
    columns: dict[str, pa.Array | pa.ChunkedArray] = dict(
        zip(base.column_names, base.columns, strict=True)
    )
    targets = _targets(runs.num_rows, candidates)
    for kind, keys in _query_keys(needed).items():
        columns.update(_key_columns(run_set, kind, targets, keys))
    frame = pa.table(columns).to_pandas(types_mapper=_ARROW_FLOATS.get)
    if "end_time" in frame.columns:
        frame["end_time"] = frame["end_time"].astype("Int64")
    fields = sorted(c.partition(".")[2] for c in needed if c.startswith("datasets."))
    if fields:
        for field, values in _input_lists(run_set, fields, targets).items():
            frame[f"datasets.{field}"] = values
    return frame


def _input_lists(run_set: RunSet, fields: Sequence[str], targets: Codes) -> dict[str, Any]:
    """Per output row (``targets``), the distinct values of each dataset field over its inputs."""
    inputs = run_set.inputs()
    width = int(targets.max(initial=-1)) + 1
    lists: dict[str, Any] = {}
    run_rows = np.full(0, -1, dtype=np.int64)
    if inputs.num_rows:
        run_ids = one_array(run_set.runs["run_id"])
        # Index -1 (a run that never started) reads the appended -1.
        run_rows = np.append(targets, -1)[positions(inputs["run_id"], run_ids)]
    for field in fields:
        per_row = np.full(width, None, dtype=object)  # None: no input with this field
        if inputs.num_rows:
            values = inputs[INPUT_FIELDS[field]]
            if pa.types.is_dictionary(values.type):
                # Chunks may carry different dictionaries, which grouping cannot unify.
                values = values.cast(values.type.value_type)
            keep = (run_rows >= 0) & flags(pc.is_valid(values))
            grouped = (
                pa.table({"row": run_rows[keep], "value": values.filter(pa.array(keep))})
                .group_by("row", use_threads=False)
                .aggregate([("value", "distinct")])
            )
            rows = np.asarray(grouped["row"].to_numpy(), dtype=np.int64)
            for row, distinct in zip(rows, grouped["value_distinct"].to_pylist(), strict=True):
                per_row[row] = distinct
        lists[field] = per_row
    return lists


def _order_numeric_params(run_set: RunSet, order: list[OrderKey]) -> set[str]:
    """The params of ``order`` every run in scope has as a number (where it has one)."""
    keys = {key.ident.key for key in order if key.ident.kind == "param"}
    if not keys:
        return set()
    targets = _targets(run_set.runs.num_rows, run_set.scope)
    columns = _key_columns(run_set, "params", targets, keys)
    scope_frame = pd.DataFrame({name: column.to_pandas() for name, column in columns.items()})
    return numeric_param_columns(scope_frame, order)


def select(
    run_set: RunSet, filter_string: str | None, order_by: list[str] | None, max_results: int
) -> Codes:
    """The positions (in ``run_set.runs``) of the candidates that match, best first."""
    expression = parse_filter(filter_string)
    order = parse_order_by(order_by)
    narrow = _narrow_frame(run_set, referenced_columns(expression, order))
    selected = sort_frame(
        filter_frame(narrow, expression),
        order,
        numeric_params=_order_numeric_params(run_set, order),
    ).head(max_results)
    # The narrow frame has a fresh 0..n-1 index, so labels are positions among candidates.
    return run_set.candidates[np.asarray(selected.index, dtype=np.int64)]


def check_max_results(max_results: int) -> int:
    """``max_results`` if it is a positive integer.

    Raises:
        InvalidInputError: It is not.
    """
    if not isinstance(max_results, int) or isinstance(max_results, bool) or max_results < 1:
        raise InvalidInputError(f"max_results {max_results!r} must be a positive integer")
    return max_results


def check_columns(names: Iterable[str]) -> list[str]:
    """``search_runs``' ``columns``: each ``params.<key>``, ``metrics.<key>`` or ``tags.<key>``.

    Raises:
        InvalidInputError: An entry is not such a name.
    """
    names = [names] if isinstance(names, str) else list(names)
    for name in names:
        kind, _, key = name.partition(".") if isinstance(name, str) else ("", "", "")
        if kind not in KINDS or not key:
            raise InvalidInputError(
                f"columns entry {name!r} must name a param, metric or tag, e.g. "
                "'metrics.auc', 'params.maxDepth' or 'tags.mlflow.parentRunId'"
            )
    return names


def _wide_columns(
    run_set: RunSet, returned: Codes, chosen: pa.Table, names: Collection[str] | None = None
) -> dict[str, pa.Array | pa.ChunkedArray]:
    """The ``returned`` runs' base columns, then every metric, param and tag they have.

    ``chosen``: the returned runs' rows of ``run_set.shown``. ``names``: of the metrics,
    params and tags, only these ``<kind>.<key>`` (default: all).
    """
    columns: dict[str, pa.Array | pa.ChunkedArray] = {name: chosen[name] for name in BASE_COLUMNS}
    targets = _targets(run_set.runs.num_rows, returned)
    wanted = None if names is None else _query_keys(names)
    for kind in KINDS:
        keys = None if wanted is None else wanted[kind]
        if keys is None or keys:
            columns.update(spread(run_set.of_runs(kind, returned), kind, targets, keys))
    return columns


def result_frame(
    run_set: RunSet, returned: Codes, names: Collection[str] | None = None
) -> pd.DataFrame:
    """The ``returned`` runs as search_runs' DataFrame, one row per run, in that order.

    ``names``: only these ``<kind>.<key>`` columns beside the run columns (default: all).
    """
    columns = _wide_columns(run_set, returned, run_set.shown(returned), names)
    for name in TIME_COLUMNS:
        columns[name] = _utc_times(columns[name])
    return pa.table(columns).to_pandas()


def result_runs(
    run_set: RunSet, returned: Codes, names: Collection[str] | None = None
) -> list[Run]:
    """The ``returned`` runs as ``Run`` records; a logged NaN metric is kept, as get_run does.

    ``names``: only these ``<kind>.<key>`` in the records' data (default: all).
    """
    chosen = run_set.shown(returned)
    columns = _wide_columns(run_set, returned, chosen, names)
    parents = chosen["parent_run_id"].to_pylist()
    data: dict[str, list[dict[str, Any]]] = {kind: [{} for _ in returned] for kind in KINDS}
    for name, column in columns.items():
        kind, _, key = name.partition(".")
        if kind in data:
            for row, value in enumerate(column.to_pylist()):
                if value is not None:
                    data[kind][row][key] = value
    base = {name: columns[name].to_pylist() for name in BASE_COLUMNS}
    return [
        Run(
            RunInfo(
                run_id=base["run_id"][row],
                experiment_id=base["experiment_id"][row],
                run_name=base["run_name"][row],
                user_id=base["user_id"][row],
                status=base["status"][row],
                start_time=base["start_time"][row],
                end_time=base["end_time"][row],
                artifact_uri=base["artifact_uri"][row],
                lifecycle_stage=base["lifecycle_stage"][row],
                parent_run_id=parents[row],
            ),
            RunData(
                metrics=data["metrics"][row], params=data["params"][row], tags=data["tags"][row]
            ),
        )
        for row in range(len(returned))
    ]


def _utc_times(milliseconds: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Milliseconds since the epoch as the UTC datetimes (microseconds) pandas shows."""
    return pc.multiply(milliseconds, 1000).cast(pa.timestamp("us", tz="UTC"))


def empty_store_result(filter_string: str | None, order_by: list[str] | None) -> pd.DataFrame:
    """The result of any search of a store without runs (the query is still checked)."""
    parse_filter(filter_string)
    parse_order_by(order_by)
    result = pd.DataFrame(columns=BASE_COLUMNS)
    for column in TIME_COLUMNS:
        result[column] = pd.to_datetime(result[column].astype("Int64"), unit="ms", utc=True)
    return result
