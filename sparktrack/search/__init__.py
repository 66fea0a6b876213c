"""Run search: parse MLflow-style filter / order_by strings and apply them to a runs frame.

    >>> expr = parse_filter("metrics.acc > 0.9 AND params.optimizer = 'adam'")
    >>> order = parse_order_by(["metrics.acc DESC"])
    >>> columns = referenced_columns(expr, order)  # load only these, then:
    >>> # search_frame(frame, "metrics.acc > 0.9", ["metrics.acc DESC"], max_results=10)

Syntax errors raise ``sparktrack.errors.SearchSyntaxError`` naming the offending text,
its position and what was expected there.
"""

from __future__ import annotations

from sparktrack.search._evaluate import (
    filter_frame,
    like_to_regex,
    numeric_param_columns,
    referenced_columns,
    search_frame,
    sort_frame,
)
from sparktrack.search._grammar import (
    ATTRIBUTE_ALIASES,
    ATTRIBUTES,
    DATASET_KEYS,
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
    parse_filter,
    parse_order_by,
)

__all__ = [
    "ATTRIBUTES",
    "ATTRIBUTE_ALIASES",
    "DATASET_KEYS",
    "And",
    "Expr",
    "Identifier",
    "InList",
    "IsNull",
    "Not",
    "NumericComparison",
    "Or",
    "OrderKey",
    "StringComparison",
    "filter_frame",
    "like_to_regex",
    "numeric_param_columns",
    "parse_filter",
    "parse_order_by",
    "referenced_columns",
    "search_frame",
    "sort_frame",
]
