"""Run search: parse MLflow-style filter / order_by strings and apply them to a runs frame.

    >>> expr = parse_filter("metrics.acc > 0.9 AND params.optimizer = 'adam'")
    >>> order = parse_order_by(["metrics.acc DESC"])
    >>> columns = referenced_columns(expr, order)  # load only these, then:
    >>> # search_frame(frame, "metrics.acc > 0.9", ["metrics.acc DESC"], max_results=10)

Syntax errors raise ``sparktrack.errors.SearchSyntaxError`` naming the offending text,
its position and what was expected there.

The package reads no store: ``TrackingClient.search_runs`` loads the runs frame and
hands it here. Inside, text goes through the lexer (``_lexer``) and the parser
(``_grammar``) into a tree of frozen dataclasses (``_ast``), which the evaluator
(``_filter``, ``_sort``, ``_evaluate``) applies to the frame.
"""

from __future__ import annotations

from sparktrack.search._ast import (
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
)
from sparktrack.search._evaluate import referenced_columns, search_frame
from sparktrack.search._filter import filter_frame, like_to_regex
from sparktrack.search._grammar import parse_filter, parse_order_by
from sparktrack.search._sort import TIE_BREAKERS, numeric_param_columns, sort_frame

__all__ = [
    "ATTRIBUTES",
    "ATTRIBUTE_ALIASES",
    "DATASET_KEYS",
    "TIE_BREAKERS",
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
