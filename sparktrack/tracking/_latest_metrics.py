"""The latest point of every metric of every run, kept up to date as the table grows.

A store of 100,000 runs that logged 10 metrics of 100 steps holds 100 million metric
points; searches need one per (run, key), the latest (``KEY_FOLDS["metrics"]``: the
greatest step, then timestamp, then value). ``LatestMetrics`` folds the table once,
a bounded number of rows at a time, and keeps the fold with the data files it came
from. When the table changes it folds its previous result with the rows of the files
it has not seen (``Store.scan_appended``). Compaction replaces files by new ones
holding the same rows: those rows are folded again, which changes nothing, since the
fold is a maximum (associative, and a row counted twice is still the same maximum).
When none of the files it folded is left (``sparktrack gc`` rewrote them all), it
folds everything again, which costs what reading the new files would.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Collection, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from sparktrack.store import TABLES, Store, StoredFold
from sparktrack.tracking._columns import Codes, encode, numbers, pick
from sparktrack.tracking._locking import ForkSafeLock
from sparktrack.tracking._state import KEY_FOLDS

__all__ = [
    "LATEST_FOLD",
    "LATEST_SCHEMA",
    "LatestMetrics",
    "latest_of_keys",
    "latest_points",
    "save_latest_metrics",
]

LATEST_SCHEMA = TABLES["metrics"]
LATEST_FOLD = "latest_metrics"
"""The name ``sparktrack gc`` saves the metrics table's fold under (``Store.save_fold``)."""
_COLUMNS = LATEST_SCHEMA.names
_log = logging.getLogger("sparktrack.tracking")
# Folded pieces are folded together once they hold this many rows, so that a first
# fold of a large table never holds much more than its result.
_MERGE_ROWS = 2_000_000
_MAX_CHUNKS = 16
_FOLD_THREADS = 2


def latest_points(table: pa.Table) -> pa.Table:
    """Per (run, key) of a metrics table, its latest point (``LATEST_SCHEMA``, plain strings).

    The rows ``fold_keys`` picks, found without sorting every row: the greatest step
    per (run, key) first, then the full order among the rows at that step only.
    """
    if table.num_rows == 0:
        return LATEST_SCHEMA.empty_table()
    table = table.select(_COLUMNS)
    cells = _cells(table)
    if any(table[name].null_count for name in ("step", "timestamp")):
        # Not written by sparktrack (it always logs both): the fold's order on every row.
        _, rows = pick(cells, KEY_FOLDS["metrics"].sort_keys(table), last=True)
        rows = np.sort(rows)
    else:
        rows = _latest_rows(table, cells)
    return _plain(table.take(pa.array(rows)))


def _cells(table: pa.Table) -> Codes:
    """Each row's (run, key) as one integer (-1: a null run id or key)."""
    runs, _ = encode(table["run_id"])
    keys, names = encode(table["key"])
    valid = (runs >= 0) & (keys >= 0)
    return np.where(valid, runs * max(len(names), 1) + keys, -1)


def _latest_rows(table: pa.Table, cells: Codes) -> Codes:
    valid = cells >= 0
    steps = np.asarray(numbers(table["step"]), dtype=np.int64)
    rows = np.flatnonzero(valid)
    best = np.full(int(cells.max(initial=-1)) + 1, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(best, cells[rows], steps[rows])
    candidates = rows[steps[rows] == best[cells[rows]]]
    # Among a cell's rows at its greatest step: the greatest timestamp, then value;
    # ties keep row order (the last such row wins), as in fold_keys.
    order: list[npt.NDArray[np.generic]] = [
        numbers(table["timestamp"].take(pa.array(candidates))),
        numbers(table["value"].take(pa.array(candidates))),
    ]
    _, chosen = pick(cells[candidates], order, last=True)
    return np.sort(candidates[chosen])


def _plain(table: pa.Table) -> pa.Table:
    """The table with plain strings: pieces of different files differ in dictionaries."""
    return table.cast(LATEST_SCHEMA)


def _fold_all(batches: Iterable[pa.Table]) -> pa.Table:
    """Every batch folded, then the folds folded together."""
    pieces: list[pa.Table] = []
    held = 0
    # Merge when the pieces hold twice what the last merge left (at least _MERGE_ROWS):
    # a fold whose result is larger than _MERGE_ROWS (five metrics of a million runs)
    # would otherwise merge its whole result again after every batch.
    merge_at = _MERGE_ROWS
    # Reading Parquet and numpy's work on large arrays let go of the GIL: batches are
    # read here and folded on two threads, a few batches ahead at most.
    with ThreadPoolExecutor(max_workers=_FOLD_THREADS) as pool:
        pending: deque[Future[pa.Table]] = deque()
        for batch in batches:
            pending.append(pool.submit(latest_points, batch))
            if len(pending) <= _FOLD_THREADS:
                continue
            piece = pending.popleft().result()
            pieces.append(piece)
            held += piece.num_rows
            if held > merge_at and len(pieces) > 1:
                pieces = [latest_points(pa.concat_tables(pieces))]
                held = pieces[0].num_rows
                merge_at = max(_MERGE_ROWS, 2 * held)
        pieces += [future.result() for future in pending]
    if not pieces:
        return LATEST_SCHEMA.empty_table()
    if len(pieces) == 1:
        return pieces[0]
    return latest_points(pa.concat_tables(pieces))


def _merged(latest: pa.Table, new: pa.Table) -> pa.Table:
    """``latest`` with the folded ``new`` rows folded in.

    Only the cells of the runs ``new`` has are folded again: a fold of every row would
    cost as much after each small commit as after a large one.
    """
    if new.num_rows == 0:
        return latest
    touched = pc.is_in(latest["run_id"], value_set=pc.unique(new["run_id"]))
    refolded = latest_points(pa.concat_tables([latest.filter(touched), new]))
    merged = pa.concat_tables([latest.filter(pc.invert(touched)), refolded])
    # One chunk more per merge: put them together before they slow every read down.
    return merged.combine_chunks() if merged["run_id"].num_chunks > _MAX_CHUNKS else merged


def latest_of_keys(store: Store, keys: Collection[str]) -> pa.Table:
    """The latest point of metrics ``keys`` of every run that logged them (``LATEST_SCHEMA``).

    From the fold ``sparktrack gc`` saved, when there is one, brought up to date with
    the rows of the files committed since; otherwise read and folded a row group at a
    time, as the whole table's first fold is: a key of a million runs with ten points
    each is ten million rows, of which the fold keeps a tenth.
    """
    saved = _usable(store.saved_fold(LATEST_FOLD, keys))
    seen = None if saved is None else saved.files
    appended = store.scan_appended("metrics", seen, keys=keys, columns=_COLUMNS, dictionary=True)
    return _brought_up_to_date(saved, appended.files, appended.batches)


def _brought_up_to_date(
    earlier: StoredFold | None, files: frozenset[str] | None, batches: Iterable[pa.Table]
) -> pa.Table:
    """The fold of a table whose files are now ``files``, from an earlier fold if it helps.

    ``earlier`` is a fold made earlier (this process's, or the one gc saved); ``batches``
    are the rows of the files it did not cover (every file when there is none).
    """
    new = _fold_all(batches)
    if earlier is None or files is None or not files & earlier.files:
        return new
    # Files compacted since hold rows the earlier fold has folded already: folding a
    # row twice changes nothing (the fold is a maximum).
    return _merged(earlier.rows, new)


def _usable(saved: StoredFold | None) -> StoredFold | None:
    """The saved fold with ``LATEST_SCHEMA``'s plain strings, or None if it has not them.

    A saved fold is a shortcut: one written by another version, with other columns,
    is left aside (the table is folded as if there were none).
    """
    if saved is None:
        return None
    try:
        return StoredFold(saved.files, _plain(saved.rows.select(_COLUMNS)))
    except (KeyError, pa.ArrowException) as exc:
        _log.warning("ignoring the saved fold of the metrics table: %s", exc)
        return None


def save_latest_metrics(store: Store) -> int:
    """Fold the whole metrics table and save it for readers in new processes.

    What ``sparktrack gc`` does after compacting: a search of a million runs then
    reads the latest points of the metrics it names (a few of five million rows,
    sorted by key) instead of folding fifty million.

    Returns:
        The number of (run, metric) points saved (0: the store keeps no saved folds).
    """
    appended = store.scan_appended("metrics", None, columns=_COLUMNS, dictionary=True)
    latest = _fold_all(appended.batches)
    if appended.files is None:
        return 0
    store.save_fold(LATEST_FOLD, appended.files, latest, ["key", "run_id"])
    return latest.num_rows


class LatestMetrics:
    """The latest point per (run, key) of a store's metrics table (thread-safe)."""

    def __init__(self) -> None:
        self._lock = ForkSafeLock()
        self._fold: StoredFold | None = None

    def table(self, store: Store) -> pa.Table:
        """The metrics table folded to its latest point per (run, key), up to date now.

        Args:
            store: The store to read (always the same one for this object).

        Returns:
            One row per (run, key) a run logged, with the metrics table's columns.
        """
        # One fold at a time: a second caller waits for the first's result rather than
        # reading the same files again. A new process starts from the fold ``sparktrack
        # gc`` saved, if any, as from one of its own: only the files it has not seen are
        # read, and when none of those it saw is left (gc rewrote every file since) the
        # whole table is folded again.
        with self._lock:
            fold = self._fold if self._fold is not None else _usable(store.saved_fold(LATEST_FOLD))
            seen = None if fold is None else fold.files
            appended = store.scan_appended("metrics", seen, columns=_COLUMNS, dictionary=True)
            latest = _brought_up_to_date(fold, appended.files, appended.batches)
            if appended.files is not None:
                self._fold = StoredFold(appended.files, latest)
            return latest
