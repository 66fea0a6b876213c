"""Searching a pandas frame of runs (one row per run): parse, filter, sort, cut.

Everything is vectorised (filtering in ``_filter``, ordering in ``_sort``), so cost
grows with columns touched, not with Python-level work per row. Work is done on row
positions and the frame is copied once, at the end.

Missing values follow SQL and MLflow: a comparison with a missing value matches no
run, only ``IS NULL`` matches them, and a column the frame lacks is missing for every
run. A column that must tell a logged NaN from "never logged" is Arrow-backed
(``double[pyarrow]``, as ``search_runs`` builds them): there NaN is a value, compared
as IEEE 754 does and sorted after every number and before missing values.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from sparktrack.errors import InvalidInputError
from sparktrack.search._ast import (
    And,
    Expr,
    Identifier,
    InList,
    IsNull,
    Not,
    NumericComparison,
    Or,
    OrderKey,
    StringComparison,
)
from sparktrack.search._filter import matching_rows
from sparktrack.search._grammar import parse_filter, parse_order_by
from sparktrack.search._sort import TIE_BREAKERS, sorted_rows

__all__ = ["referenced_columns", "search_frame"]


def referenced_columns(expr: Expr | None, order: list[OrderKey]) -> set[str]:
    """Name the frame columns that filtering and sorting will read.

    Lets a caller load only these columns before searching.

    Args:
        expr: A tree from ``parse_filter``, or None.
        order: Keys from ``parse_order_by``.

    Returns:
        Column names such as ``metrics.acc``; always with the tie-breaker columns
        ``start_time`` and ``run_id``, which ``sort_frame`` uses for every order.
        Columns may be absent from a frame.
    """
    columns = {key.ident.column for key in TIE_BREAKERS}
    columns.update(ident.column for ident in _identifiers(expr))
    columns.update(key.ident.column for key in order)
    return columns


def _identifiers(expr: Expr | None) -> Iterator[Identifier]:
    match expr:
        case None:
            return
        case NumericComparison() | StringComparison() | InList() | IsNull():
            yield expr.ident
        case Not():
            yield from _identifiers(expr.operand)
        case And() | Or():
            for operand in expr.operands:
                yield from _identifiers(operand)


def search_frame(
    frame: pd.DataFrame,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
    max_results: int | None = None,
) -> pd.DataFrame:
    """Parse, filter, sort and truncate: the runs matching a filter, best first.

    Whether a param sorts as numbers is decided over the whole ``frame``, not over
    the rows the filter kept. Bad input fails before any data is read, even on an
    empty frame.

    Args:
        frame: One row per run (columns as for ``filter_frame``).
        filter_string: An MLflow-style filter; None or blank matches every run.
        order_by: Clauses such as ``["metrics.auc DESC"]``; ties and an empty order
            fall back to start_time DESC, then run_id.
        max_results: Return at most this many runs; None returns every match.

    Returns:
        The matching runs in order, with a fresh 0..n-1 index.

    Raises:
        SearchSyntaxError: ``filter_string`` or ``order_by`` is not valid.
        InvalidInputError: ``max_results`` is not a non-negative integer or None.
    """
    # Validate everything before touching data so bad input fails even on empty frames.
    expr = parse_filter(filter_string)
    order = parse_order_by(order_by)
    _check_max_results(max_results)
    # Work on row positions and copy the frame once at the end: with 40 columns the
    # copy costs more than the filtering and sorting together.
    rows = sorted_rows(frame, order, matching_rows(frame, expr))
    if max_results is not None:
        rows = rows[:max_results]
    return frame.iloc[rows].reset_index(drop=True)


def _check_max_results(max_results: int | None) -> None:
    if max_results is None:
        return
    is_integer = isinstance(max_results, int | np.integer) and not isinstance(max_results, bool)
    if not is_integer or max_results < 0:
        raise InvalidInputError(
            f"max_results must be a non-negative integer or None, got {max_results!r}"
        )
