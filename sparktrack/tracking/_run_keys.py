"""The distinct params, metrics or tags keys some runs have, without spreading any value.

A column chooser over 100,000 runs needs the names of thousands of keys, not a
search's frame with a column per key and a row per run (hundreds of megabytes). The
keys come from the integer codes of the encoded table a search keeps per table version
(``EncodedTable``), so a listing after a search reads nothing again.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sparktrack.tracking._columns import flags, pick
from sparktrack.tracking._search import LongTable
from sparktrack.tracking._state import KEY_FOLDS

__all__ = ["present_keys"]


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
