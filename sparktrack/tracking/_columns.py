"""Vectorised building blocks for folding event tables: codes, per-group winners, takes.

Folding keeps, per group (a run, or a run and a key), the row that sorts first or last
under some order. Hashing the run id strings of every row once into integer codes and
then sorting integers with numpy is several times faster than grouping by strings,
whether in pandas or in Arrow.

Columns may be plain strings or dictionary-encoded; both give the same results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "Codes",
    "Ranking",
    "encode",
    "flags",
    "numbers",
    "one_array",
    "pick",
    "positions",
    "take",
]

Codes: TypeAlias = npt.NDArray[np.int64]
Column: TypeAlias = pa.Array | pa.ChunkedArray


def _chunks(column: Column) -> list[pa.Array]:
    return list(column.chunks) if isinstance(column, pa.ChunkedArray) else [column]


def _lookup(array: pa.Array, values: pa.Array) -> Codes:
    found = pc.index_in(array, value_set=values).fill_null(-1)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


def positions(column: Column, values: pa.Array) -> Codes:
    """Each row's position in ``values`` (distinct strings), -1 where absent or null."""
    parts = []
    for chunk in _chunks(column):
        if pa.types.is_dictionary(chunk.type):
            # Look up each distinct value once, then spread by the indices; the last
            # slot of ``mapped`` answers for null indices.
            mapped = np.append(_lookup(chunk.dictionary, values), -1)
            indices = chunk.indices.fill_null(len(chunk.dictionary))
            parts.append(mapped[np.asarray(indices.to_numpy(zero_copy_only=False))])
        else:
            parts.append(_lookup(chunk, values))
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def one_array(column: Column) -> pa.Array:
    """The column as one array: its only chunk as it is, else its chunks put together.

    ``combine_chunks`` copies even a single chunk: a million run ids are 40 MB.
    """
    if not isinstance(column, pa.ChunkedArray):
        return column
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def encode(column: Column) -> tuple[Codes, pa.Array]:
    """Integer codes for a string column (-1 for null) and the distinct values they index."""
    column = one_array(column)
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    indices = column.indices.fill_null(-1)
    return np.asarray(indices.to_numpy(zero_copy_only=False), dtype=np.int64), column.dictionary


def flags(column: Column) -> npt.NDArray[np.bool_]:
    """A boolean column as a numpy mask, null counting as False."""
    filled = one_array(pc.fill_null(column, False))
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.bool_)


def numbers(column: Column) -> npt.NDArray[np.generic]:
    """A numeric column for sorting: as is when complete, as floats with NaN for nulls.

    NaN sorts last in numpy, as null sorts last in pandas and Arrow.
    """
    column = one_array(column)
    if column.null_count:
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
    return np.asarray(column.to_numpy(zero_copy_only=False))


@dataclass(frozen=True)
class Ranking:
    """Rows in a stable sort order: ``rows[i]`` is the i-th row, ``rank[row]`` its place.

    Ties keep row order, so every row has its own place.
    """

    rows: Codes
    rank: Codes

    @staticmethod
    def of(order: Sequence[npt.NDArray[np.generic]]) -> Ranking:
        """The ranking by ``order``, the sort keys, most significant first."""
        if len(order) == 1:
            rows = np.argsort(order[0], kind="stable")
        else:
            # lexsort is stable and treats its *last* key as the primary one.
            rows = np.lexsort(tuple(reversed(order)))
        rank = np.empty(len(rows), dtype=np.int64)
        rank[rows] = np.arange(len(rows))
        return Ranking(np.asarray(rows, dtype=np.int64), rank)


def pick(
    groups: Codes, order: Ranking | Sequence[npt.NDArray[np.generic]], *, last: bool
) -> tuple[Codes, Codes]:
    """Per group, its row that ranks first (or last) in ``order``.

    ``groups`` holds each row's group, -1 for rows that belong to none; ``order`` is a
    ranking or the sort keys to rank by (only sorted if some group has two rows).
    Ties keep row order, so "first" is the earliest such row and "last" the latest,
    like a stable sort then ``drop_duplicates(keep=...)``. Returns the groups and
    their rows, in no particular order.
    """
    rows = np.flatnonzero(groups >= 0)
    if rows.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    members = groups[rows]
    if np.bincount(members).max() == 1:
        # One row per group (a param logged once, a metric with one value): no choice.
        return members, rows
    ranking = order if isinstance(order, Ranking) else Ranking.of(order)
    unset = -1 if last else len(groups)
    best = np.full(int(members.max()) + 1, unset, dtype=np.int64)
    (np.maximum if last else np.minimum).at(best, members, ranking.rank[rows])
    found = np.flatnonzero(best != unset)
    return found, ranking.rows[best[found]]


def take(column: Column, rows: Codes) -> pa.Array | pa.ChunkedArray:
    """``column[rows]`` with null where ``rows`` is -1; dictionaries decoded to values."""
    chunks = _chunks(column)
    indices = pa.array(rows, type=pa.int64(), mask=rows < 0)
    if not any(pa.types.is_dictionary(chunk.type) for chunk in chunks):
        return column.take(indices)
    if 4 * len(rows) > len(column):
        # Many rows: decoding the whole column is cheaper than sorting the rows by chunk.
        return column.cast(column.type.value_type).take(indices)
    # Taking from chunks with different dictionaries would first unify them, hashing
    # every distinct value of the column; decoding chunk by chunk only touches ``rows``.
    value_type = column.type.value_type
    ends = np.cumsum([len(chunk) for chunk in chunks])
    chunk_of = np.where(rows >= 0, np.searchsorted(ends, rows, side="right"), -1)
    order = np.argsort(chunk_of, kind="stable")
    pieces = [pa.nulls(int(np.count_nonzero(rows < 0)), value_type)]
    for index, chunk in enumerate(chunks):
        local = rows[order[chunk_of[order] == index]] - (ends[index] - len(chunk))
        if local.size:
            pieces.append(chunk.take(pa.array(local)).cast(value_type))
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return pa.concat_arrays(pieces).take(pa.array(inverse))
