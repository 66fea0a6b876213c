"""Applying a parsed filter to a pandas frame of runs (one row per run).

Each predicate becomes a pair of numpy boolean masks (SQL's three-valued truth), so
cost grows with the columns touched, not with Python-level work per row.

Missing values follow SQL: a comparison against a missing value is *unknown*,
unknown rows never match, and ``NOT`` of unknown stays unknown. Only ``IS NULL``
matches missing values. A column the frame does not have is missing for every run.
A logged NaN (in an Arrow-backed column) is present for ``IS NULL`` and compares as
IEEE 754 does: every comparison is false but ``!=``. A param compared with a number
is missing when its text is not a number.

A ``datasets.<field>`` column holds, per run, the list of that field's values over
the run's dataset inputs (empty or None: no input). A comparison holds for a run
when it holds for any of those values (MLflow's rule); ``NOT`` negates the whole
comparison, and a run without inputs is missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from sparktrack.search._ast import (
    And,
    Expr,
    Identifier,
    InList,
    IsNull,
    Not,
    NumericComparison,
    NumericOp,
    Or,
    StringComparison,
)
from sparktrack.search._values import (
    BoolArray,
    Distinct,
    FloatArray,
    as_numbers,
    as_texts,
    present,
    to_bools,
)

__all__ = ["filter_frame", "like_to_regex", "matching_rows"]

_NUMERIC_OPS: dict[NumericOp, Callable[[FloatArray, float], BoolArray]] = {
    "=": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


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


def _known(hit: BoolArray, known: BoolArray) -> _Truth:
    """Truth of a comparison that holds at ``hit``; rows not ``known`` are unknown."""
    return _Truth(hit & known, ~hit & known)


def filter_frame(frame: pd.DataFrame, expr: Expr | None) -> pd.DataFrame:
    """Keep the runs for which a parsed filter is true.

    Missing values follow SQL's three-valued logic: a comparison with a missing value
    is unknown and unknown rows are dropped; only ``IS NULL`` matches them. A column
    the frame lacks is missing for every run.

    Args:
        frame: One row per run, with columns such as ``status``, ``metrics.acc``,
            ``params.lr`` and ``tags.team`` (``datasets.<field>``: a list per run).
        expr: A tree from ``parse_filter``; None keeps every row.

    Returns:
        The matching rows of ``frame``, in frame order, index kept.
    """
    if expr is None:
        return frame
    return frame.iloc[matching_rows(frame, expr)]


def matching_rows(frame: pd.DataFrame, expr: Expr | None) -> npt.NDArray[np.intp]:
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
    values = as_numbers(series)
    # A param's text that is not a number has no numeric value: unknown, like a missing one.
    known = ~np.isnan(values) if expr.ident.kind == "param" else present(series)
    # numpy compares NaN as IEEE 754 does: only != holds.
    return _known(_NUMERIC_OPS[expr.op](values, expr.value), known)


def _string_comparison(expr: StringComparison, frame: pd.DataFrame) -> _Truth:
    def truth(texts: pd.Series) -> _Truth:
        known = present(texts)
        if expr.op in ("=", "!="):
            equal = to_bools(texts == expr.value)
            return _known(equal if expr.op == "=" else ~equal, known)
        case_sensitive = expr.op in ("LIKE", "NOT LIKE")
        hit = _like(texts, expr.value, case_sensitive=case_sensitive)
        return _known(~hit if expr.op.startswith("NOT") else hit, known)

    return _text_truth(expr.ident, frame, truth)


def _in_list(expr: InList, frame: pd.DataFrame) -> _Truth:
    def truth(texts: pd.Series) -> _Truth:
        member = to_bools(texts.isin(expr.values))
        return _known(~member if expr.negated else member, present(texts))

    return _text_truth(expr.ident, frame, truth)


def _text_truth(
    ident: Identifier, frame: pd.DataFrame, truth: Callable[[pd.Series], _Truth]
) -> _Truth:
    """``truth`` of the column's texts per run; for per-input columns, of any input's."""
    if ident.column not in frame.columns:
        return _unknown(frame)
    if not ident.is_per_input:
        return truth(as_texts(frame[ident.column]))
    rows, texts = _per_input(frame[ident.column])
    hit = np.zeros(len(frame), dtype=bool)
    hit[rows[truth(texts).true]] = True
    has_input = np.zeros(len(frame), dtype=bool)
    has_input[rows] = True
    return _Truth(hit, has_input & ~hit)


def _per_input(series: pd.Series) -> tuple[npt.NDArray[np.intp], pd.Series]:
    """Every value of a per-input column: the row it belongs to, and the value as text."""
    exploded = pd.Series(series.to_numpy(dtype=object)).explode()
    exploded = exploded[exploded.notna()]
    rows = np.asarray(exploded.index, dtype=np.intp)
    return rows, as_texts(exploded.reset_index(drop=True).astype(object))


def _is_null(expr: IsNull, frame: pd.DataFrame) -> _Truth:
    column = expr.ident.column
    if column not in frame.columns:
        missing = np.ones(len(frame), dtype=bool)
    elif expr.ident.is_per_input:
        missing = np.ones(len(frame), dtype=bool)
        missing[_per_input(frame[column])[0]] = False
    else:
        missing = ~present(frame[column])
    # IS [NOT] NULL is never unknown.
    return _Truth(~missing, missing) if expr.negated else _Truth(missing, ~missing)


def _like(texts: pd.Series, pattern: str, *, case_sensitive: bool) -> BoolArray:
    """Rows whose text matches the LIKE pattern; False where missing.

    The regex runs once per distinct value, since tags and params repeat a lot. The
    flags are inline and scoped so pandas keeps its fast pyarrow (RE2) path for the
    ``str`` dtype; a ``flags=`` argument would force a slow per-row Python fallback.
    """
    regex = f"(?{'s' if case_sensitive else 'is'}:{like_to_regex(pattern)})"
    distinct = Distinct.of(texts)
    matched = to_bools(pd.Series(distinct.values).str.fullmatch(regex, na=False))
    return distinct.spread(matched, missing=False)


def like_to_regex(pattern: str) -> str:
    r"""Translate a SQL LIKE pattern to a regular expression for ``re.fullmatch``.

    ``%`` is any run of characters, ``_`` is one character; ``\%``, ``\_`` and
    ``\\`` stand for the literal character. Everything else is literal. Used by the
    run search and by the registry's filters, so LIKE means the same everywhere.

    Args:
        pattern: The LIKE pattern, e.g. ``"lr_0.%"``.

    Returns:
        A regular expression without flags; add ``(?s)`` or ``(?is)`` as needed.
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
