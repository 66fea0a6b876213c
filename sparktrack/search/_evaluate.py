"""Apply a parsed filter and order to a pandas frame of runs (one row per run).

Everything is vectorised: each predicate becomes a pair of numpy boolean masks and
sorting is one ``np.lexsort`` over float key arrays, so cost grows with columns
touched, not with Python-level work per row.

Missing values follow SQL: a comparison against a missing value is *unknown*,
unknown rows never match, and ``NOT`` of unknown stays unknown. Only ``IS NULL``
matches missing values. A column the frame does not have is missing for every run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from sparktrack.errors import InvalidInputError
from sparktrack.search._grammar import (
    And,
    Expr,
    Identifier,
    InList,
    IsNull,
    Not,
    NumericComparison,
    NumericOp,
    Or,
    OrderKey,
    StringComparison,
    parse_filter,
    parse_order_by,
)

__all__ = [
    "TIE_BREAKERS",
    "filter_frame",
    "like_to_regex",
    "referenced_columns",
    "search_frame",
    "sort_frame",
]

BoolArray: TypeAlias = npt.NDArray[np.bool_]
FloatArray: TypeAlias = npt.NDArray[np.float64]

# Rows equal on every order_by key fall back to newest first, then run_id, so results
# are deterministic across calls; the same order is the default when order_by is empty.
TIE_BREAKERS: tuple[OrderKey, ...] = (
    OrderKey(Identifier("attribute", "start_time"), ascending=False),
    OrderKey(Identifier("attribute", "run_id"), ascending=True),
)

_NUMERIC_OPS: dict[NumericOp, Callable[[FloatArray, float], BoolArray]] = {
    "=": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


# --------------------------------------------------------------------------- filter


@dataclass(frozen=True)
class _Truth:
    """SQL three-valued truth per row: true, false, or neither (unknown)."""

    true: BoolArray
    false: BoolArray

    def __and__(self, other: _Truth) -> _Truth:
        return _Truth(self.true & other.true, self.false | other.false)

    def __or__(self, other: _Truth) -> _Truth:
        return _Truth(self.true | other.true, self.false & other.false)

    def __invert__(self) -> _Truth:
        return _Truth(self.false, self.true)


def _known(hit: BoolArray, present: BoolArray) -> _Truth:
    """Truth of a comparison that holds at ``hit``; rows not ``present`` are unknown."""
    return _Truth(hit & present, ~hit & present)


def filter_frame(frame: pd.DataFrame, expr: Expr | None) -> pd.DataFrame:
    """The rows of ``frame`` for which ``expr`` is true (all rows when ``expr`` is None)."""
    if expr is None:
        return frame
    return frame.iloc[_matching_rows(frame, expr)]


def _matching_rows(frame: pd.DataFrame, expr: Expr | None) -> npt.NDArray[np.intp]:
    """Positions of the rows for which ``expr`` is true, in frame order."""
    if expr is None:
        return np.arange(len(frame))
    return np.flatnonzero(_evaluate(expr, frame).true)


def _evaluate(expr: Expr, frame: pd.DataFrame) -> _Truth:
    match expr:
        case NumericComparison():
            return _numeric_comparison(expr, frame)
        case StringComparison():
            return _string_comparison(expr, frame)
        case InList():
            return _in_list(expr, frame)
        case IsNull():
            return _is_null(expr, frame)
        case Not():
            return ~_evaluate(expr.operand, frame)
        case And():
            return _combine(expr.operands, frame, _Truth.__and__)
        case Or():
            return _combine(expr.operands, frame, _Truth.__or__)


def _combine(
    operands: tuple[Expr, ...], frame: pd.DataFrame, join: Callable[[_Truth, _Truth], _Truth]
) -> _Truth:
    result = _evaluate(operands[0], frame)
    for operand in operands[1:]:
        result = join(result, _evaluate(operand, frame))
    return result


def _unknown(frame: pd.DataFrame) -> _Truth:
    nothing = np.zeros(len(frame), dtype=bool)
    return _Truth(nothing, nothing)


def _numeric_comparison(expr: NumericComparison, frame: pd.DataFrame) -> _Truth:
    if expr.ident.column not in frame.columns:
        return _unknown(frame)
    values = _as_numbers(frame[expr.ident.column])
    # NaN is "missing" (a param that does not parse is missing too); mask it explicitly
    # because NaN != x is True in numpy.
    hit = _NUMERIC_OPS[expr.op](values, expr.value)
    return _known(hit, ~np.isnan(values))


def _string_comparison(expr: StringComparison, frame: pd.DataFrame) -> _Truth:
    if expr.ident.column not in frame.columns:
        return _unknown(frame)
    texts = _as_texts(frame[expr.ident.column])
    present = texts.notna().to_numpy(dtype=bool)
    if expr.op in ("=", "!="):
        equal = _to_bools(texts == expr.value)
        return _known(equal if expr.op == "=" else ~equal, present)
    return _known(_like(texts, expr.value, case_sensitive=expr.op == "LIKE"), present)


def _like(texts: pd.Series, pattern: str, *, case_sensitive: bool) -> BoolArray:
    """Rows whose text matches the LIKE pattern; False where missing.

    The regex runs once per distinct value, since tags and params repeat a lot. The
    flags are inline and scoped so pandas keeps its fast pyarrow (RE2) path for the
    ``str`` dtype; a ``flags=`` argument would force a slow per-row Python fallback.
    """
    regex = f"(?{'s' if case_sensitive else 'is'}:{like_to_regex(pattern)})"
    distinct = _Distinct.of(texts)
    matched = _to_bools(pd.Series(distinct.values).str.fullmatch(regex, na=False))
    return distinct.spread(matched, missing=False)


def _in_list(expr: InList, frame: pd.DataFrame) -> _Truth:
    if expr.ident.column not in frame.columns:
        return _unknown(frame)
    texts = _as_texts(frame[expr.ident.column])
    member = _to_bools(texts.isin(expr.values))
    return _known(~member if expr.negated else member, texts.notna().to_numpy(dtype=bool))


def _is_null(expr: IsNull, frame: pd.DataFrame) -> _Truth:
    if expr.ident.column in frame.columns:
        missing = frame[expr.ident.column].isna().to_numpy(dtype=bool)
    else:
        missing = np.ones(len(frame), dtype=bool)
    # IS [NOT] NULL is never unknown.
    return _Truth(~missing, missing) if expr.negated else _Truth(missing, ~missing)


def like_to_regex(pattern: str) -> str:
    """Translate a SQL LIKE pattern to a regex for ``fullmatch``.

    ``%`` is any run of characters, ``_`` is one character; ``\\%``, ``\\_`` and
    ``\\\\`` stand for the literal character. Everything else is literal.
    """
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and pattern[index + 1 : index + 2] in ("%", "_", "\\"):
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        if char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
        index += 1
    return "".join(parts)


@dataclass(frozen=True)
class _Distinct:
    """A factorized column: the distinct present values and each row's code (-1 if missing)."""

    codes: npt.NDArray[np.intp]
    values: pd.Index

    @staticmethod
    def of(series: pd.Series) -> _Distinct:
        codes, values = pd.factorize(series)
        return _Distinct(np.asarray(codes, dtype=np.intp), pd.Index(values))

    def spread(self, per_value: npt.NDArray[Any], missing: Any) -> npt.NDArray[Any]:
        """One result per row from one result per distinct value; ``missing`` where missing."""
        # Code -1 indexes the appended last element, which holds the missing marker.
        return np.append(per_value, missing)[self.codes]


def _as_numbers(series: pd.Series) -> FloatArray:
    """Float values with NaN for missing; text (params) that is not a number becomes NaN."""
    if pd.api.types.is_numeric_dtype(series.dtype):
        return np.asarray(series.to_numpy(dtype=float, na_value=np.nan), dtype=np.float64)
    # Parsing text is the slow part, so parse each distinct value once.
    distinct = _Distinct.of(series)
    parsed = pd.to_numeric(pd.Series(distinct.values, dtype=object), errors="coerce")
    numbers = np.asarray(parsed.to_numpy(dtype=float, na_value=np.nan), dtype=np.float64)
    return np.asarray(distinct.spread(numbers, missing=np.nan), dtype=np.float64)


def _as_texts(series: pd.Series) -> pd.Series:
    """The column as strings with missing values, whatever dtype it was loaded with."""
    if pd.api.types.is_string_dtype(series.dtype) or series.dtype == object:
        return series
    # e.g. an all-missing tag column that pandas inferred as float64.
    return series.astype("string")


def _to_bools(mask: pd.Series) -> BoolArray:
    """A boolean Series (possibly nullable) as a plain numpy mask, NA counting as False."""
    return np.asarray(mask.to_numpy(dtype=bool, na_value=False), dtype=np.bool_)


# --------------------------------------------------------------------------- sort


def sort_frame(frame: pd.DataFrame, order: list[OrderKey]) -> pd.DataFrame:
    """``frame`` sorted by ``order``, then by start_time DESC and run_id ASC.

    Missing values (and NaN) sort last whatever the direction. Tie-breaker columns the
    frame lacks are skipped. The index is kept, as with ``DataFrame.sort_values``.
    """
    return frame.iloc[_sorted_rows(frame, order, np.arange(len(frame)))]


def _sorted_rows(
    frame: pd.DataFrame, order: list[OrderKey], rows: npt.NDArray[np.intp]
) -> npt.NDArray[np.intp]:
    """``rows`` (positions in ``frame``) rearranged into the wanted order.

    Only the key columns of the selected rows are read, so sorting a filtered subset
    never copies the whole frame.
    """
    keys = [_sort_key(frame, key, rows) for key in order]
    tie_breakers = [key for key in TIE_BREAKERS if key.ident.column in frame.columns]
    keys += [_sort_key(frame, key, rows) for key in tie_breakers]
    if not keys:
        return rows
    # lexsort treats its *last* key as the primary one.
    return rows[np.lexsort(tuple(reversed(keys)))]


def _sort_key(frame: pd.DataFrame, key: OrderKey, rows: npt.NDArray[np.intp]) -> FloatArray:
    """A float array whose ascending order is the wanted order, with NaN for missing.

    numpy sorts NaN last, and negating keeps NaN as NaN, so descending is a negation
    and missing values stay last in both directions.
    """
    if key.ident.column not in frame.columns:
        return np.full(len(rows), np.nan)
    series = frame[key.ident.column].iloc[rows]
    values = _numeric_sort_values(series, key.ident)
    if values is None:
        values = _text_ranks(series)
    return values if key.ascending else -values


def _numeric_sort_values(series: pd.Series, ident: Identifier) -> FloatArray | None:
    """Numbers to sort by, or None when the column must sort as text.

    Params sort numerically only when every present value parses as a number, so
    ``"10"`` sorts after ``"9"`` for a numeric param but a mixed column stays text.
    """
    if ident.is_numeric:
        return _as_numbers(series)
    if ident.kind != "param":
        return None
    numbers = _as_numbers(series)
    if np.count_nonzero(~np.isnan(numbers)) != np.count_nonzero(series.notna().to_numpy()):
        return None
    return numbers


def _text_ranks(series: pd.Series) -> FloatArray:
    """Each value's rank among the column's distinct strings (code-point order); NaN if missing."""
    distinct = _Distinct.of(_as_texts(series))
    ranks = np.empty(len(distinct.values), dtype=np.float64)
    ranks[_argsort_texts(distinct.values)] = np.arange(len(distinct.values))
    return np.asarray(distinct.spread(ranks, missing=np.nan), dtype=np.float64)


def _argsort_texts(values: pd.Index) -> npt.NDArray[np.intp]:
    # Both orders are by code point; each is the faster one for its storage
    # (numpy's fixed-width strings beat comparing Python objects one by one).
    if values.dtype == object:
        return np.argsort(np.asarray(values, dtype=str), kind="stable")
    return np.asarray(values.argsort(), dtype=np.intp)


# --------------------------------------------------------------------------- facade


def referenced_columns(expr: Expr | None, order: list[OrderKey]) -> set[str]:
    """Frame columns that filtering by ``expr`` and sorting by ``order`` read.

    Always includes the tie-breaker columns ``start_time`` and ``run_id``, which
    ``sort_frame`` uses for every order. Columns may be absent from a frame.
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
    """Parse, filter, sort and truncate: the runs matching ``filter_string``, best first.

    ``max_results=None`` returns every match. The result has a fresh 0..n-1 index.
    """
    # Validate everything before touching data so bad input fails even on empty frames.
    expr = parse_filter(filter_string)
    order = parse_order_by(order_by)
    _check_max_results(max_results)
    # Work on row positions and copy the frame once at the end: with 40 columns the
    # copy costs more than the filtering and sorting together.
    rows = _sorted_rows(frame, order, _matching_rows(frame, expr))
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
