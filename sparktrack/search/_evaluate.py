"""Apply a parsed filter and order to a pandas frame of runs (one row per run).

Everything is vectorised: each predicate becomes a pair of numpy boolean masks and
sorting is one ``np.lexsort`` over float key arrays, so cost grows with columns
touched, not with Python-level work per row.

Missing values follow SQL: a comparison against a missing value is *unknown*,
unknown rows never match, and ``NOT`` of unknown stays unknown. Only ``IS NULL``
matches missing values. A column the frame does not have is missing for every run.

What is missing is what pandas' ``isna`` says. In a plain ``float64`` column NaN is
missing; a column that must tell a logged NaN from "never logged" is Arrow-backed
(``double[pyarrow]``, as ``search_runs`` builds them), where only null is missing
and NaN is a value: present for ``IS NULL``, compared as IEEE 754 does (every
comparison is false but ``!=``), sorted after every number and before missing
values in both directions (MLflow's order). A param compared with a number is
missing when its text is not a number.

A ``datasets.<field>`` column holds, per run, the list of that field's values over
the run's dataset inputs (empty or None: no input). A comparison holds for a run
when it holds for any of those values (MLflow's rule); ``NOT`` negates the whole
comparison, and a run without inputs is missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Sequence
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
    "numeric_param_columns",
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
    series = frame[expr.ident.column]
    values = _as_numbers(series)
    # A param's text that is not a number has no numeric value: unknown, like a missing one.
    present = ~np.isnan(values) if expr.ident.kind == "param" else _present(series)
    # numpy compares NaN as IEEE 754 does: only != holds.
    return _known(_NUMERIC_OPS[expr.op](values, expr.value), present)


def _string_comparison(expr: StringComparison, frame: pd.DataFrame) -> _Truth:
    def truth(texts: pd.Series) -> _Truth:
        present = _present(texts)
        if expr.op in ("=", "!="):
            equal = _to_bools(texts == expr.value)
            return _known(equal if expr.op == "=" else ~equal, present)
        case_sensitive = expr.op in ("LIKE", "NOT LIKE")
        hit = _like(texts, expr.value, case_sensitive=case_sensitive)
        return _known(~hit if expr.op.startswith("NOT") else hit, present)

    return _text_truth(expr.ident, frame, truth)


def _in_list(expr: InList, frame: pd.DataFrame) -> _Truth:
    def truth(texts: pd.Series) -> _Truth:
        member = _to_bools(texts.isin(expr.values))
        return _known(~member if expr.negated else member, _present(texts))

    return _text_truth(expr.ident, frame, truth)


def _text_truth(
    ident: Identifier, frame: pd.DataFrame, truth: Callable[[pd.Series], _Truth]
) -> _Truth:
    """``truth`` of the column's texts per run; for per-input columns, of any input's."""
    if ident.column not in frame.columns:
        return _unknown(frame)
    if not ident.is_per_input:
        return truth(_as_texts(frame[ident.column]))
    rows, texts = _per_input(frame[ident.column])
    hit = np.zeros(len(frame), dtype=bool)
    hit[rows[truth(texts).true]] = True
    present = np.zeros(len(frame), dtype=bool)
    present[rows] = True
    return _Truth(hit, present & ~hit)


def _per_input(series: pd.Series) -> tuple[npt.NDArray[np.intp], pd.Series]:
    """Every value of a per-input column: the row it belongs to, and the value as text."""
    exploded = pd.Series(series.to_numpy(dtype=object)).explode()
    exploded = exploded[exploded.notna()]
    rows = np.asarray(exploded.index, dtype=np.intp)
    return rows, _as_texts(exploded.reset_index(drop=True).astype(object))


def _is_null(expr: IsNull, frame: pd.DataFrame) -> _Truth:
    column = expr.ident.column
    if column not in frame.columns:
        missing = np.ones(len(frame), dtype=bool)
    elif expr.ident.is_per_input:
        missing = np.ones(len(frame), dtype=bool)
        missing[_per_input(frame[column])[0]] = False
    else:
        missing = ~_present(frame[column])
    # IS [NOT] NULL is never unknown.
    return _Truth(~missing, missing) if expr.negated else _Truth(missing, ~missing)


def _present(series: pd.Series) -> BoolArray:
    return np.asarray(series.notna().to_numpy(dtype=bool), dtype=np.bool_)


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


def sort_frame(
    frame: pd.DataFrame, order: list[OrderKey], *, numeric_params: Collection[str] | None = None
) -> pd.DataFrame:
    """``frame`` sorted by ``order``, then by start_time DESC and run_id ASC.

    Per key, MLflow's order whatever the direction: values (ascending or descending),
    then NaN, then missing values. Params named in ``numeric_params`` (columns such as
    ``params.depth``) sort as numbers, others as text; None means those that
    ``numeric_param_columns`` picks in ``frame``. Tie-breaker columns the frame lacks
    are skipped. The index is kept, as with ``DataFrame.sort_values``.
    """
    return frame.iloc[_sorted_rows(frame, order, np.arange(len(frame)), numeric_params)]


def numeric_param_columns(frame: pd.DataFrame, order: Sequence[OrderKey]) -> set[str]:
    """The param columns of ``order`` that sort as numbers: every present value is one.

    The caller decides over which runs: ``search_frame`` looks at the whole frame it
    searches, ``search_runs`` at every run of the searched experiments, so whether
    ``"10"`` sorts after ``"9"`` never depends on which runs a filter kept.
    """
    numeric = set()
    for key in order:
        column = key.ident.column
        if key.ident.kind != "param" or column not in frame.columns:
            continue
        series = frame[column]
        parsed = np.count_nonzero(~np.isnan(_as_numbers(series)))
        if parsed == np.count_nonzero(_present(series)):
            numeric.add(column)
    return numeric


def _sorted_rows(
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


# Where a run falls in the order of one key, before its value: MLflow puts NaN after
# every number and missing values after NaN, ascending and descending alike.
_VALUE, _NAN, _MISSING = 0.0, 1.0, 2.0


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
    present = _present(series)
    if key.ident.is_numeric or column in numeric_params:
        values = _as_numbers(series)
        tier = np.where(present, np.where(np.isnan(values), _NAN, _VALUE), _MISSING)
    else:
        values = _text_ranks(series)
        tier = np.where(present, _VALUE, _MISSING)
    values = np.where(tier == _VALUE, values, 0.0)
    ordered = values if key.ascending else -values
    return [ordered] if not tier.any() else [tier, ordered]


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
    Whether a param sorts as numbers is decided over the whole ``frame``, not over the
    rows the filter kept.
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
