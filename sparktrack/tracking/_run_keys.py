"""The distinct params, metrics or tags keys some runs have, without spreading any value.

A column chooser over 100,000 runs needs the names of thousands of keys, not a
search's frame with a column per key and a row per run (hundreds of megabytes). The
keys come from the integer codes of the encoded table a search keeps per table version
(``EncodedTable``), so a listing after a search reads nothing again.

Above the runs a search keeps whole tables for, the listing reads the run and key
columns only (``read_keys``): params and metrics a row group at a time, stopping to
look runs up once a key is found (most row groups then hold only keys found already),
tags whole but without their values, to fold away the deleted ones.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sparktrack.store import Store
from sparktrack.tracking._columns import flags, pick, positions
from sparktrack.tracking._search import EncodedTable, LongTable
from sparktrack.tracking._state import KEY_FOLDS

__all__ = ["present_keys", "read_keys"]

# Rows of keys not found yet gathered before their runs are looked up, at first: each
# look-up hashes every run id, so the batches grow twice as large each time.
_FIRST_LOOKUP_ROWS = 64 * 1024


def present_keys(long: LongTable, kind: str, wanted: np.ndarray) -> list[str]:
    """The keys, sorted, that the wanted runs have, as a search's columns would show them.

    Args:
        long: The kind's table, its rows knowing their run's position (-1: none).
        kind: "params", "metrics" or "tags".
        wanted: Per folded run's position, whether its keys count.
    """
    encoded = long.encoded
    if encoded.table.num_rows == 0 or not wanted.any():
        return []
    # Position -1 (a run without a start) reads the appended False.
    rows = np.flatnonzero(np.append(wanted, False)[long.runs] & (encoded.keys >= 0))
    fold = KEY_FOLDS[kind]
    if fold.absent_if is not None:
        # A tag whose latest event deletes it is absent: fold those cells as a search does.
        # Cells numbered densely: runs x keys can reach billions, the cells present not.
        pairs = long.runs[rows] * len(encoded.key_names) + encoded.keys[rows]
        cells = np.full(len(encoded.keys), -1, dtype=np.int64)
        cells[rows] = np.unique(pairs, return_inverse=True)[1]
        _, winners = pick(cells, encoded.order, last=fold.latest)
        absent = flags(encoded.table[fold.absent_if].take(pa.array(winners)))
        rows = winners[~absent]
    codes = np.unique(encoded.keys[rows])
    return sorted(encoded.key_names[code] for code in codes)


def read_keys(store: Store, kind: str, run_ids: pa.Array, wanted: np.ndarray) -> list[str]:
    """``present_keys`` of the wanted runs, reading only the kind's key columns.

    Args:
        store: The store.
        kind: "params", "metrics" or "tags".
        run_ids: The folded runs' ids (distinct).
        wanted: Per folded run's position, whether its keys count.
    """
    if not wanted.any():
        return []
    fold = KEY_FOLDS[kind]
    if fold.absent_if is not None:
        columns = ["run_id", "key", *fold.order, fold.absent_if]
        rows = store.scan(kind, columns=columns, dictionary=True)
        return present_keys(LongTable.of(EncodedTable.of(rows, kind), run_ids), kind, wanted)
    appended = store.scan_appended(kind, None, columns=["run_id", "key"], dictionary=True)
    found: set[str] = set()
    pending: list[pa.Table] = []
    pending_rows, lookup_rows = 0, _FIRST_LOOKUP_ROWS
    # Index -1 (a run that never started, or no run id) reads the appended False.
    counted = np.append(wanted, False)

    def look_up() -> None:
        rows = pa.concat_tables(pending)
        keep = counted[positions(rows["run_id"], run_ids)]
        keys = pc.unique(rows["key"].filter(pa.array(keep)))
        found.update(key for key in keys.to_pylist() if key is not None)
        pending.clear()

    for batch in appended.batches:
        batch = batch.cast(pa.schema([("run_id", pa.string()), ("key", pa.string())]))
        if found:
            known = pa.array(sorted(found), pa.string())
            batch = batch.filter(pc.invert(pc.is_in(batch["key"], value_set=known)))
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        pending_rows += batch.num_rows
        if pending_rows >= lookup_rows:
            look_up()
            pending_rows, lookup_rows = 0, 2 * lookup_rows
    if pending:
        look_up()
    return sorted(found)
