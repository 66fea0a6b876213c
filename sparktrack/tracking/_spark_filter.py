r"""A parsed search filter and order as Spark Columns, meaning what the JVM-free search does.

``sparktrack.search`` evaluates a filter's syntax tree over a pandas frame of runs; this
module compiles the same tree into Column expressions over a DataFrame with one row per
run, for Spark to evaluate where the data is. The rules are the JVM-free search's:

* SQL's three-valued logic is Spark's own: a comparison with null is null, ``NOT``
  of null stays null, and a row is kept only where the filter is true.
* A logged NaN metric is a value (``IS NULL`` is false) and compares as IEEE 754 does,
  where only ``!=`` holds; Spark would call NaN equal to itself and above every number.
* A param compared with a number is read as one where its text is a number as pandas
  reads it (``NUMBER_TEXT``), else it is unknown, like a missing value.
* ``LIKE`` patterns: ``%`` and ``_``, with ``\%``, ``\_`` and ``\\`` standing for
  the character itself and any other backslash for a backslash (Spark's ``LIKE``
  refuses a backslash before another character, so patterns are rewritten).
* ``datasets.*``: a comparison holds for a run when it holds for any of its inputs'
  values, is false when it has values and none matches, and unknown when it has none;
  this is a verdict over many rows, so it is computed per run beforehand
  (``dataset_verdict``) and the filter reads it.
* Order, per key: values (ascending or descending), then NaN, then missing; a param
  sorts as numbers when every present value in the searched experiments is one (a flag
  the caller computes over those runs); ties by ``start_time`` DESC, then ``run_id``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Sequence

# This module is imported only for searches whose result is a Spark DataFrame.
from pyspark.sql import Column
from pyspark.sql import functions as F

from sparktrack.search import (
    TIE_BREAKERS,
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

__all__ = [
    "NUMBER_TEXT",
    "dataset_predicates",
    "dataset_verdict",
    "filter_column",
    "number_of_text",
    "sort_keys",
    "spark_like_pattern",
]

_BLANK = r"[ \t\n\r\x0B\f]*"
NUMBER_TEXT = (
    rf"^{_BLANK}[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?{_BLANK}\z"
    r"|^[+-]?(?i:inf|infinity)\z"
)
"""The texts pandas' ``to_numeric`` reads as a number other than NaN (a Java regex):
decimals with an optional exponent and surrounding ASCII whitespace, and ``inf`` or
``infinity`` in any case, signed, without whitespace."""

_COMPARE: dict[str, Callable[[Column, Column], Column]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
# Where a run falls in the order of one key, before its value (as ``search._sort``).
_VALUE, _NAN, _MISSING = 0, 1, 2

Values = Callable[[Identifier], Column]
"""A run's value of an identifier, as a column of the runs frame."""


def number_of_text(text: Column) -> Column:
    """A param's text as a double; null where it is not a number (``NUMBER_TEXT``)."""
    # The guard keeps texts Spark would read but pandas would not ("1d", "0x1p3") out,
    # and keeps the cast from failing on the others when the session is ANSI.
    return F.when(text.rlike(NUMBER_TEXT), text.cast("double"))


def spark_like_pattern(pattern: str) -> str:
    r"""A LIKE pattern of the search grammar as one for Spark's ``LIKE`` (escape ``\``).

    The grammar's ``\%``, ``\_`` and ``\\`` are the characters themselves (as
    ``search.like_to_regex`` reads them); any other backslash is a backslash, which
    Spark's LIKE wants escaped.
    """
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            following = pattern[index + 1 : index + 2]
            if following in ("%", "_", "\\"):
                parts.append("\\" + following)
                index += 2
                continue
            parts.append("\\\\")
        else:
            parts.append(char)
        index += 1
    return "".join(parts)


def _text_test(expr: StringComparison | InList, text: Column) -> Column:
    """Whether a text matches a comparison (null where the text is)."""
    if isinstance(expr, InList):
        member = text.isin(list(expr.values))
        return ~member if expr.negated else member
    if expr.op == "=":
        return text == expr.value
    if expr.op == "!=":
        return text != expr.value
    pattern = spark_like_pattern(expr.value)
    hit = text.ilike(pattern) if expr.op.endswith("ILIKE") else text.like(pattern)
    return ~hit if expr.op.startswith("NOT ") else hit


def _numeric_test(expr: NumericComparison, value: Column) -> Column:
    number = number_of_text(value) if expr.ident.kind == "param" else value
    compared = _COMPARE[expr.op](number, F.lit(expr.value))
    if expr.ident.kind != "metric":
        return compared
    # IEEE 754: NaN is unequal to everything and in no order (isnan(null) is false).
    return F.when(F.isnan(number), F.lit(expr.op == "!=")).otherwise(compared)


def dataset_predicates(expr: Expr | None) -> list[StringComparison | InList | IsNull]:
    """The comparisons of ``datasets.*`` in a filter, each once, in the filter's order."""
    found: list[StringComparison | InList | IsNull] = []
    for node in _leaves(expr):
        if node.ident.is_per_input and node not in found:
            assert not isinstance(node, NumericComparison)  # the grammar allows none
            found.append(node)
    return found


def _leaves(expr: Expr | None) -> Iterator[NumericComparison | StringComparison | InList | IsNull]:
    match expr:
        case None:
            return
        case Not():
            yield from _leaves(expr.operand)
        case And() | Or():
            for operand in expr.operands:
                yield from _leaves(operand)
        case _:
            yield expr


def dataset_verdict(expr: StringComparison | InList | IsNull, value: Column) -> Column:
    """An aggregate over one run's inputs: its verdict on a ``datasets.*`` comparison.

    ``value`` is the inputs' column of the field. For ``IS [NOT] NULL``: whether some
    input has a value (null when the run has no input); for a comparison: whether some
    input's value matches (false when none does, null when no input has a value).
    """
    if isinstance(expr, IsNull):
        return F.bool_or(value.isNotNull())
    return F.bool_or(F.when(value.isNotNull(), _text_test(expr, value)))


def filter_column(expr: Expr, values: Values, verdicts: Callable[[Expr], Column]) -> Column:
    """The filter as a boolean column of the runs frame (null: unknown).

    Args:
        expr: A tree from ``parse_filter``.
        values: Each identifier's column (attributes, folded metrics, params, tags).
        verdicts: The column of ``dataset_verdict`` of each ``dataset_predicates`` entry.
    """
    match expr:
        case And():
            return _joined([filter_column(e, values, verdicts) for e in expr.operands], "&")
        case Or():
            return _joined([filter_column(e, values, verdicts) for e in expr.operands], "|")
        case Not():
            return ~filter_column(expr.operand, values, verdicts)
        case IsNull() if expr.ident.is_per_input:
            # IS [NOT] NULL is never unknown: a run without inputs has no value.
            present = F.coalesce(verdicts(expr), F.lit(False))
            return present if expr.negated else ~present
        case _ if expr.ident.is_per_input:
            return verdicts(expr)
        case IsNull():
            value = values(expr.ident)
            return value.isNotNull() if expr.negated else value.isNull()
        case NumericComparison():
            return _numeric_test(expr, values(expr.ident))
        case StringComparison() | InList():
            return _text_test(expr, values(expr.ident))
    raise AssertionError(f"not a filter node: {expr!r}")


def _joined(columns: list[Column], how: str) -> Column:
    result = columns[0]
    for column in columns[1:]:
        result = (result & column) if how == "&" else (result | column)
    return result


def sort_keys(
    order: Sequence[OrderKey], values: Values, numeric_param: Callable[[str], Column]
) -> list[tuple[Column, bool]]:
    """The columns to sort runs by, most significant first, each with its direction.

    Args:
        order: Keys from ``parse_order_by``; the tie breakers are appended.
        values: Each identifier's column.
        numeric_param: For a param key, a boolean column: whether it sorts as numbers.

    Returns:
        ``(column, ascending)`` pairs; per key a tier (value, NaN, missing), always
        ascending, then its values in the key's direction.
    """
    keys: list[tuple[Column, bool]] = []
    for key in [*order, *TIE_BREAKERS]:
        value = values(key.ident)
        tier = F.when(value.isNull(), F.lit(_MISSING))
        if key.ident.kind == "metric":
            tier = tier.when(F.isnan(value), F.lit(_NAN))
        keys.append((tier.otherwise(F.lit(_VALUE)), True))
        if key.ident.kind == "param":
            numeric = numeric_param(key.ident.key)
            sorted_values = [F.when(numeric, number_of_text(value)), F.when(~numeric, value)]
        else:
            sorted_values = [value]
        keys += [(column, key.ascending) for column in sorted_values]
    return keys
