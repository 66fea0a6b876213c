"""Ordering a pandas frame of runs by parsed order_by keys, in MLflow's order.

Sorting is one ``np.lexsort`` over float key arrays. Per key, whatever the direction:
values (ascending or descending), then NaN, then missing values. Rows equal on every
key fall back to newest first, then run_id, so results are deterministic across calls.
A param sorts as numbers when every present value of it is one, else as text (by
code point).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from sparktrack.search._ast import Identifier, OrderKey
from sparktrack.search._values import Distinct, FloatArray, as_numbers, as_texts, present

__all__ = ["TIE_BREAKERS", "numeric_param_columns", "sort_frame", "sorted_rows"]

# Rows equal on every order_by key fall back to newest first, then run_id, so results
# are deterministic across calls; the same order is the default when order_by is empty.
TIE_BREAKERS: tuple[OrderKey, ...] = (
    OrderKey(Identifier("attribute", "start_time"), ascending=False),
    OrderKey(Identifier("attribute", "run_id"), ascending=True),
)

# Where a run falls in the order of one key, before its value: MLflow puts NaN after
# every number and missing values after NaN, ascending and descending alike.
_VALUE, _NAN, _MISSING = 0.0, 1.0, 2.0


def sort_frame(
    frame: pd.DataFrame, order: list[OrderKey], *, numeric_params: Collection[str] | None = None
) -> pd.DataFrame:
    """Sort runs by parsed order_by keys, then by start_time DESC and run_id ASC.

    Per key, MLflow's order whatever the direction: values (ascending or descending),
    then NaN, then missing values. Tie-breaker columns the frame lacks are skipped.

    Args:
        frame: One row per run (columns as for ``filter_frame``).
        order: Keys from ``parse_order_by``, most significant first.
        numeric_params: Param columns (such as ``params.depth``) to sort as numbers;
            other params sort as text. None means those that ``numeric_param_columns``
            picks in ``frame``.

    Returns:
        The rows of ``frame`` in the wanted order, index kept (as with
        ``DataFrame.sort_values``).
    """
    return frame.iloc[sorted_rows(frame, order, np.arange(len(frame)), numeric_params)]


def numeric_param_columns(frame: pd.DataFrame, order: Sequence[OrderKey]) -> set[str]:
    """Pick the param columns of an order that sort as numbers.

    The caller decides over which runs: ``search_frame`` looks at the whole frame it
    searches, ``search_runs`` at every run of the searched experiments, so whether
    ``"10"`` sorts after ``"9"`` never depends on which runs a filter kept.

    Args:
        frame: The runs that decide.
        order: Keys from ``parse_order_by``; only param keys are considered.

    Returns:
        The columns (``params.<key>``) of ``order`` in which every present value of
        ``frame`` is a number.
    """
    numeric = set()
    for key in order:
        column = key.ident.column
        if key.ident.kind != "param" or column not in frame.columns:
            continue
        series = frame[column]
        parsed = np.count_nonzero(~np.isnan(as_numbers(series)))
        if parsed == np.count_nonzero(present(series)):
            numeric.add(column)
    return numeric


def sorted_rows(
    frame: pd.DataFrame,
    order: list[OrderKey],
    rows: npt.NDArray[np.intp],
    numeric_params: Collection[str] | None = None,
) -> npt.NDArray[np.intp]:
    """``rows`` (positions in ``frame``) rearranged into the wanted order.

    Only the key columns of the selected rows are read, so sorting a filtered subset
    never copies the whole frame.
    """
    if numeric_params is None:
        numeric_params = numeric_param_columns(frame, order)
    keys: list[FloatArray] = []
    tie_breakers = [key for key in TIE_BREAKERS if key.ident.column in frame.columns]
    for key in [*order, *tie_breakers]:
        keys += _sort_keys(frame, key, rows, numeric_params)
    if not keys:
        return rows
    # lexsort treats its *last* key as the primary one.
    return rows[np.lexsort(tuple(reversed(keys)))]


def _sort_keys(
    frame: pd.DataFrame,
    key: OrderKey,
    rows: npt.NDArray[np.intp],
    numeric_params: Collection[str],
) -> list[FloatArray]:
    """Float arrays whose lexicographic ascending order is the wanted order of ``rows``.

    A tier (value, NaN, missing) then the value, negated for DESC; the tier is left
    out when every row has a value. No arrays for a column the frame lacks (every
    run is missing there, so the key cannot order them).
    """
    column = key.ident.column
    if column not in frame.columns:
        return []
    series = frame[column].iloc[rows]
    has_value = present(series)
    if key.ident.is_numeric or column in numeric_params:
        values = as_numbers(series)
        tier = np.where(has_value, np.where(np.isnan(values), _NAN, _VALUE), _MISSING)
    else:
        values = _text_ranks(series)
        tier = np.where(has_value, _VALUE, _MISSING)
    values = np.where(tier == _VALUE, values, 0.0)
    ordered = values if key.ascending else -values
    return [ordered] if not tier.any() else [tier, ordered]


def _text_ranks(series: pd.Series) -> FloatArray:
    """Each value's rank among the column's distinct strings (code-point order); NaN if missing."""
    distinct = Distinct.of(as_texts(series))
    ranks = np.empty(len(distinct.values), dtype=np.float64)
    ranks[_argsort_texts(distinct.values)] = np.arange(len(distinct.values))
    return np.asarray(distinct.spread(ranks, missing=np.nan), dtype=np.float64)


def _argsort_texts(values: pd.Index) -> npt.NDArray[np.intp]:
    # Both orders are by code point; each is the faster one for its storage
    # (numpy's fixed-width strings beat comparing Python objects one by one).
    if values.dtype == object:
        return np.argsort(np.asarray(values, dtype=str), kind="stable")
    return np.asarray(values.argsort(), dtype=np.intp)
