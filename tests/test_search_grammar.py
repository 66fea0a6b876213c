"""Run-search grammar and evaluator: parsing, filtering, ordering, errors and speed."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sparktrack.errors import InvalidInputError, SearchSyntaxError, SparktrackError
from sparktrack.search import (
    And,
    Identifier,
    InList,
    IsNull,
    Not,
    NumericComparison,
    Or,
    OrderKey,
    StringComparison,
    filter_frame,
    like_to_regex,
    numeric_param_columns,
    parse_filter,
    parse_order_by,
    referenced_columns,
    search_frame,
    sort_frame,
)

# --------------------------------------------------------------------------- fixtures

ACC = Identifier("metric", "acc")
LR = Identifier("param", "lr")
TEAM = Identifier("tag", "team")
STATUS = Identifier("attribute", "status")


TEXT_COLUMNS = ("run_name", "user_id", "params.", "tags.")


TextDtype = Literal["object", "str", "string"]


def _runs_frame(text_dtype: TextDtype = "object") -> pd.DataFrame:
    """Five runs chosen so each operator, tie and missing value shows up.

    Default order (start_time DESC, run_id ASC): r2, r4, r3, r1, r5. Text columns use
    ``text_dtype``: ``object`` (None for missing), pandas 3's ``str`` (NaN) or ``string`` (NA).
    """
    frame = pd.DataFrame(
        {
            "run_id": ["r1", "r2", "r3", "r4", "r5"],
            "experiment_id": ["1", "1", "1", "2", "2"],
            "run_name": ["alpha", "beta", None, "gamma_1", "gammaX1"],
            "status": ["FINISHED", "FINISHED", "FAILED", "RUNNING", "KILLED"],
            "user_id": ["alice", "bob", None, "alice", "carol"],
            "start_time": np.array([1000, 3000, 2000, 3000, 500], dtype=np.int64),
            "end_time": pd.array([2000, 4000, None, None, 900], dtype="Int64"),
            "lifecycle_stage": ["active", "active", "active", "active", "deleted"],
            "artifact_uri": [f"/store/artifacts/r{i}" for i in range(1, 6)],
            "params.lr": ["0.01", "0.1", "abc", "1e-3", None],
            "params.optimizer": ["adam", "sgd", None, "Adam", "a.m"],
            "params.depth": ["10", "9", "2", None, "100"],
            "metrics.acc": [0.9, 0.7, np.nan, 0.9, -1.5],
            "metrics.loss": [0.1, np.nan, 0.5, 0.3, 2.0],
            "metrics.my metric": [1.0, 2.0, 3.0, np.nan, np.nan],
            "tags.team": ["vision", "NLP", None, "vision", "100%_sure"],
            "tags.mlflow.runName": ["alpha", "beta", None, "gamma_1", "gammaX1"],
        }
    )
    for column in frame.columns:
        if column.startswith(TEXT_COLUMNS):
            frame[column] = frame[column].astype(object).astype(text_dtype)
    return frame


@pytest.fixture(params=["object", "str", "string"])
def runs(request: pytest.FixtureRequest) -> pd.DataFrame:
    """The runs frame, once per text dtype: results must not depend on how text was loaded."""
    frame = _runs_frame(request.param)
    assert str(frame["tags.team"].dtype) == request.param
    return frame


def ids(
    frame: pd.DataFrame, filter_string: str | None, order_by: Sequence[str] | None = None
) -> list[str]:
    return list(search_frame(frame, filter_string, order_by)["run_id"])


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("blank", [None, "", "   ", "\n\t"])
def test_blank_filter_parses_to_none_and_matches_everything(
    blank: str | None, runs: pd.DataFrame
) -> None:
    assert parse_filter(blank) is None
    assert ids(runs, blank) == ["r2", "r4", "r3", "r1", "r5"]


def test_simple_comparison_ast() -> None:
    assert parse_filter("metrics.acc > 0.5") == NumericComparison(ACC, ">", 0.5)
    assert parse_filter("params.lr = '0.1'") == StringComparison(LR, "=", "0.1")
    assert parse_filter("params.lr = 0.1") == NumericComparison(LR, "=", 0.1)
    assert parse_filter('tags.team != "nlp"') == StringComparison(TEAM, "!=", "nlp")


@pytest.mark.parametrize(
    ("text", "ident"),
    [
        ("metrics.acc", ACC),
        ("metric.acc", ACC),
        ("METRICS.acc", ACC),
        ("params.lr", LR),
        ("param.lr", LR),
        ("tags.team", TEAM),
        ("tag.team", TEAM),
        ("attributes.status", STATUS),
        ("attribute.status", STATUS),
        ("attr.status", STATUS),
        ("run.status", STATUS),
        ("attributes.STATUS", STATUS),
        ("status", STATUS),  # MLflow accepts a bare attribute name
        ("tags.`mlflow.runName`", Identifier("tag", "mlflow.runName")),
        ("tags.mlflow.runName", Identifier("tag", "mlflow.runName")),
        ('metrics."my metric"', Identifier("metric", "my metric")),
        ("metrics.`my metric`", Identifier("metric", "my metric")),
        ("metrics.`odd``key`", Identifier("metric", "odd`key")),
        ('metrics."odd""key"', Identifier("metric", 'odd"key')),
        ("metrics.val-loss/step:1.x_2", Identifier("metric", "val-loss/step:1.x_2")),
        ("metrics.AND", Identifier("metric", "AND")),  # keys are never keywords
        ("metrics.précision", Identifier("metric", "précision")),
        # Every spelling MLflow's SearchUtils accepts, also with a backticked prefix.
        ("parameter.lr", LR),
        ("parameters.lr", LR),
        ("`metric`.acc", ACC),
        ("`metrics`.acc", ACC),
        ("`params`.lr", LR),
        ("`parameter`.lr", LR),
        ("`tags`.team", TEAM),
        ("`attribute`.status", STATUS),
        ("`run`.status", STATUS),
        ("`metrics`.`my metric`", Identifier("metric", "my metric")),
        # MLflow's attribute aliases, bare, prefixed or backticked.
        ("created", Identifier("attribute", "start_time")),
        ("Created", Identifier("attribute", "start_time")),
        ("attributes.created", Identifier("attribute", "start_time")),
        ("attributes.`Run name`", Identifier("attribute", "run_name")),
        ("attributes.`run name`", Identifier("attribute", "run_name")),
        ("attr.`Run Name`", Identifier("attribute", "run_name")),
        ("`Run name`", Identifier("attribute", "run_name")),
        ('"Run name"', Identifier("attribute", "run_name")),
        ("`status`", STATUS),
        ('"status"', STATUS),
    ],
)
def test_identifier_forms(text: str, ident: Identifier) -> None:
    assert parse_order_by([text]) == [OrderKey(ident)]
    expr = parse_filter(f"{text} IS NULL")
    assert expr == IsNull(ident)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("datasets.name", "name"),
        ("dataset.digest", "digest"),
        ("`datasets`.context", "context"),
        ("DATASETS.Name", "name"),
    ],
)
def test_dataset_identifiers_filter_but_never_order(text: str, key: str) -> None:
    ident = Identifier("dataset", key)
    assert ident.column == f"datasets.{key}"
    assert parse_filter(f"{text} = 'x'") == StringComparison(ident, "=", "x")
    assert parse_filter(f"{text} NOT IN ('x')") == InList(ident, ("x",), negated=True)
    with pytest.raises(SearchSyntaxError, match=r"cannot order runs \(a run can have several"):
        parse_order_by([text])


def test_identifier_column_names() -> None:
    assert ACC.column == "metrics.acc"
    assert LR.column == "params.lr"
    assert Identifier("tag", "mlflow.runName").column == "tags.mlflow.runName"
    assert STATUS.column == "status"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1.0),
        ("-2", -2.0),
        ("0.25", 0.25),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("-1.5E-2", -0.015),
        ("2e+2", 200.0),
    ],
)
def test_number_literals(text: str, value: float) -> None:
    assert parse_filter(f"metrics.acc >= {text}") == NumericComparison(ACC, ">=", value)


@pytest.mark.parametrize("op", [">", ">=", "=", "!=", "<", "<="])
def test_operators_without_spaces(op: str) -> None:
    assert parse_filter(f"metrics.acc{op}-1") == NumericComparison(ACC, op, -1.0)  # type: ignore[arg-type]


def test_string_literal_quoting_and_escapes() -> None:
    assert parse_filter("tags.team = 'it''s'") == StringComparison(TEAM, "=", "it's")
    assert parse_filter('tags.team = "say ""hi"""') == StringComparison(TEAM, "=", 'say "hi"')
    assert parse_filter('tags.team = "it\'s"') == StringComparison(TEAM, "=", "it's")
    assert parse_filter("tags.team = ''") == StringComparison(TEAM, "=", "")
    assert parse_filter("tags.team = 'a AND b'") == StringComparison(TEAM, "=", "a AND b")


def test_keywords_are_case_insensitive() -> None:
    expected = And(
        (
            StringComparison(TEAM, "LIKE", "v%"),
            StringComparison(TEAM, "ILIKE", "V%"),
            InList(TEAM, ("a",)),
            InList(TEAM, ("b",), negated=True),
            IsNull(TEAM, negated=True),
        )
    )
    lower = "tags.team like 'v%' and tags.team ilike 'V%' and tags.team in ('a') "
    lower += "and tags.team not in ('b') and tags.team is not null"
    mixed = "tags.team Like 'v%' AnD tags.team ILike 'V%' aNd tags.team In ('a') "
    mixed += "AND tags.team Not In ('b') and tags.team Is Not Null"
    assert parse_filter(lower) == expected
    assert parse_filter(mixed) == expected


def test_in_list_values() -> None:
    assert parse_filter("params.lr IN ('0.1', \"0.01\",'x')") == InList(LR, ("0.1", "0.01", "x"))
    assert parse_filter("status NOT IN ('FAILED')") == InList(STATUS, ("FAILED",), negated=True)


def test_not_like_is_one_comparison() -> None:
    # Not Not(LIKE): for datasets.* "some input does not match" differs from "none matches".
    assert parse_filter("tags.team NOT LIKE 'v%'") == StringComparison(TEAM, "NOT LIKE", "v%")
    assert parse_filter("tags.team not ilike 'v%'") == StringComparison(TEAM, "NOT ILIKE", "v%")
    assert parse_filter("NOT tags.team LIKE 'v%'") == Not(StringComparison(TEAM, "LIKE", "v%"))


def test_and_binds_tighter_than_or() -> None:
    a = NumericComparison(ACC, ">", 1.0)
    b = NumericComparison(ACC, ">", 2.0)
    c = NumericComparison(ACC, ">", 3.0)
    assert parse_filter("metrics.acc > 1 OR metrics.acc > 2 AND metrics.acc > 3") == Or(
        (a, And((b, c)))
    )
    assert parse_filter("metrics.acc > 1 AND metrics.acc > 2 OR metrics.acc > 3") == Or(
        (And((a, b)), c)
    )
    assert parse_filter("metrics.acc > 1 AND (metrics.acc > 2 OR metrics.acc > 3)") == And(
        (a, Or((b, c)))
    )


def test_chains_are_flattened_and_parentheses_vanish() -> None:
    a = NumericComparison(ACC, ">", 1.0)
    assert parse_filter("((metrics.acc > 1))") == a
    assert parse_filter("metrics.acc > 1 and metrics.acc > 1 and metrics.acc > 1") == And((a, a, a))
    assert parse_filter("metrics.acc > 1 or metrics.acc > 1 or metrics.acc > 1") == Or((a, a, a))


def test_not_binds_tighter_than_and() -> None:
    a = NumericComparison(ACC, ">", 1.0)
    b = NumericComparison(ACC, "<", 2.0)
    assert parse_filter("NOT (metrics.acc > 1)") == Not(a)
    assert parse_filter("not metrics.acc > 1 and metrics.acc < 2") == And((Not(a), b))
    assert parse_filter("NOT (metrics.acc > 1 AND metrics.acc < 2)") == Not(And((a, b)))
    assert parse_filter("NOT NOT metrics.acc > 1") == Not(Not(a))


def test_parse_order_by() -> None:
    assert parse_order_by(None) == []
    assert parse_order_by([]) == []
    assert parse_order_by(["metrics.auc DESC", "params.maxDepth", "attributes.start_time ASC"]) == [
        OrderKey(Identifier("metric", "auc"), ascending=False),
        OrderKey(Identifier("param", "maxDepth"), ascending=True),
        OrderKey(Identifier("attribute", "start_time"), ascending=True),
    ]
    assert parse_order_by(["tags.`mlflow.runName` desc", "  start_time  asc  "]) == [
        OrderKey(Identifier("tag", "mlflow.runName"), ascending=False),
        OrderKey(Identifier("attribute", "start_time"), ascending=True),
    ]
    assert parse_order_by(("metrics.`my metric`",)) == [OrderKey(Identifier("metric", "my metric"))]


def test_ast_nodes_are_frozen_and_hashable() -> None:
    expr = parse_filter("metrics.acc > 1 AND tags.team IN ('a', 'b')")
    assert expr is not None
    assert hash(expr) == hash(parse_filter("metrics.acc > 1 AND tags.team IN ('a', 'b')"))
    with pytest.raises(AttributeError):
        expr.operands = ()  # type: ignore[misc, union-attr]


# --------------------------------------------------------------------------- filtering


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.acc > 0.7", {"r1", "r4"}),
        ("metrics.acc >= 0.7", {"r1", "r2", "r4"}),
        ("metrics.acc = 0.9", {"r1", "r4"}),
        ("metrics.acc != 0.9", {"r2", "r5"}),  # r3 (NaN) is missing: never matches
        ("metrics.acc < 0.9", {"r2", "r5"}),
        ("metrics.acc <= 0.7", {"r2", "r5"}),
        ("metrics.acc < -1", {"r5"}),
        ("metrics.acc > -1e1", {"r1", "r2", "r4", "r5"}),
        ('metrics."my metric" >= 2', {"r2", "r3"}),
        ("metric.loss < 1", {"r1", "r3", "r4"}),
    ],
)
def test_numeric_operators_on_metrics(
    runs: pd.DataFrame, filter_string: str, expected: set[str]
) -> None:
    assert set(ids(runs, filter_string)) == expected


def test_time_attributes_compare_numerically(runs: pd.DataFrame) -> None:
    assert set(ids(runs, "attributes.start_time >= 2000")) == {"r2", "r3", "r4"}
    assert set(ids(runs, "start_time < 1000")) == {"r5"}
    assert set(ids(runs, "attributes.end_time > 1000")) == {"r1", "r2"}
    # Runs without an end_time are missing, so even != does not match them.
    assert set(ids(runs, "attributes.end_time != 4000")) == {"r1", "r5"}


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("tags.team = 'vision'", {"r1", "r4"}),
        ("tags.team != 'vision'", {"r2", "r5"}),  # r3 has no team tag
        ("tags.team = 'VISION'", set()),
        ('params.optimizer = "adam"', {"r1"}),
        ("attributes.status = 'FINISHED'", {"r1", "r2"}),
        ("status != 'FINISHED'", {"r3", "r4", "r5"}),
        ("attributes.user_id = 'alice'", {"r1", "r4"}),
        ("attributes.user_id != 'alice'", {"r2", "r5"}),
        ("attributes.run_name = 'alpha'", {"r1"}),
        ("attributes.experiment_id = '2'", {"r4", "r5"}),
        ("attributes.lifecycle_stage = 'deleted'", {"r5"}),
        ("attributes.artifact_uri = '/store/artifacts/r3'", {"r3"}),
        ("attributes.run_id = 'r2'", {"r2"}),
        ("tags.`mlflow.runName` = 'beta'", {"r2"}),
    ],
)
def test_string_equality(runs: pd.DataFrame, filter_string: str, expected: set[str]) -> None:
    assert set(ids(runs, filter_string)) == expected


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("tags.team LIKE 'vis%'", {"r1", "r4"}),
        ("tags.team LIKE '%ion'", {"r1", "r4"}),
        ("tags.team LIKE 'VIS%'", set()),  # LIKE is case-sensitive
        ("tags.team ILIKE 'VIS%'", {"r1", "r4"}),
        ("tags.team ILIKE 'nlp'", {"r2"}),
        ("tags.team LIKE 'vision'", {"r1", "r4"}),  # no wildcard: whole-value match
        ("tags.team LIKE 'visio'", set()),
        ("tags.team LIKE '%'", {"r1", "r2", "r4", "r5"}),  # missing never matches
        ("attributes.run_name LIKE 'gamma_1'", {"r4", "r5"}),  # _ is any one character
        ("attributes.run_name LIKE 'gamma\\_1'", {"r4"}),  # \_ is a literal underscore
        ("tags.team LIKE '100\\%%'", {"r5"}),  # \% is a literal percent
        ("params.optimizer LIKE 'a.m'", {"r5"}),  # regex characters are literal
        ("params.optimizer LIKE 'a%'", {"r1", "r5"}),
        ("params.optimizer ILIKE 'a%'", {"r1", "r4", "r5"}),
        ("tags.team NOT LIKE 'vis%'", {"r2", "r5"}),
        ("status ILIKE 'f%'", {"r1", "r2", "r3"}),
    ],
)
def test_like_and_ilike(runs: pd.DataFrame, filter_string: str, expected: set[str]) -> None:
    assert set(ids(runs, filter_string)) == expected


def test_like_spans_newlines(runs: pd.DataFrame) -> None:
    runs.loc[0, "tags.team"] = "line one\nline two"
    assert ids(runs, "tags.team LIKE 'line%two'") == ["r1"]
    assert ids(runs, "tags.team ILIKE 'LINE_ONE_LINE%'") == ["r1"]


def test_like_to_regex() -> None:
    assert like_to_regex("a%b_c") == "a.*b.c"
    assert like_to_regex("1.5+(x)") == r"1\.5\+\(x\)"
    assert like_to_regex(r"50\%\_\\") == r"50%_\\"
    assert like_to_regex("back\\slash") == r"back\\slash"


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("params.optimizer IN ('adam', 'sgd')", {"r1", "r2"}),
        ("params.optimizer NOT IN ('adam', 'sgd')", {"r4", "r5"}),  # r3: missing
        ("attributes.status IN ('FAILED', 'KILLED')", {"r3", "r5"}),
        ("attributes.run_id in ('r1', 'r9')", {"r1"}),
        ("tags.team IN ('nothing')", set()),
    ],
)
def test_in_and_not_in(runs: pd.DataFrame, filter_string: str, expected: set[str]) -> None:
    assert set(ids(runs, filter_string)) == expected


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("params.lr > 0.005", {"r1", "r2"}),  # "abc" never matches, missing never matches
        ("params.lr < 0.05", {"r1", "r4"}),  # "1e-3" parses as 0.001
        ("params.lr = 0.001", {"r4"}),
        ("params.lr != 0.1", {"r1", "r4"}),
        ("params.depth >= 10", {"r1", "r5"}),  # numeric, not "9" > "10" as text
        ("params.depth = 10", {"r1"}),
        ("params.depth <= 9", {"r2", "r3"}),
        ("params.lr = '1e-3'", {"r4"}),  # a quoted value compares as text
        ("params.lr = '0.001'", set()),
    ],
)
def test_params_compare_numerically_with_numbers(
    runs: pd.DataFrame, filter_string: str, expected: set[str]
) -> None:
    assert set(ids(runs, filter_string)) == expected


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.acc IS NULL", {"r3"}),
        ("metrics.acc IS NOT NULL", {"r1", "r2", "r4", "r5"}),
        ("params.optimizer is null", {"r3"}),
        ("tags.team IS NOT NULL", {"r1", "r2", "r4", "r5"}),
        ("attributes.end_time IS NULL", {"r3", "r4"}),
        ("attributes.user_id IS NULL", {"r3"}),
        ("status IS NULL", set()),
        ("metrics.never_logged IS NULL", {"r1", "r2", "r3", "r4", "r5"}),
        ("tags.never_set IS NOT NULL", set()),
    ],
)
def test_is_null(runs: pd.DataFrame, filter_string: str, expected: set[str]) -> None:
    assert set(ids(runs, filter_string)) == expected


@pytest.mark.parametrize(
    "filter_string",
    [
        "metrics.never_logged > 0",
        "metrics.never_logged != 0",
        "params.never_set = 'x'",
        "params.never_set != 'x'",
        "params.never_set > 1",
        "tags.never_set LIKE '%'",
        "tags.never_set IN ('a')",
        "tags.never_set NOT IN ('a')",
        "NOT (metrics.never_logged > 0)",
    ],
)
def test_missing_column_means_missing_for_every_run(runs: pd.DataFrame, filter_string: str) -> None:
    assert ids(runs, filter_string) == []


def test_boolean_combinations(runs: pd.DataFrame) -> None:
    assert set(ids(runs, "metrics.acc > 0.8 AND tags.team = 'vision'")) == {"r1", "r4"}
    assert set(ids(runs, "metrics.acc > 0.8 AND status = 'FINISHED'")) == {"r1"}
    assert set(ids(runs, "status = 'FAILED' OR status = 'KILLED'")) == {"r3", "r5"}
    # AND before OR: FAILED, or (FINISHED and acc < 0.8)
    text = "status = 'FAILED' OR status = 'FINISHED' AND metrics.acc < 0.8"
    assert set(ids(runs, text)) == {"r3", "r2"}
    text = "(status = 'FAILED' OR status = 'FINISHED') AND metrics.loss < 1"
    assert set(ids(runs, text)) == {"r1", "r3"}


def test_not_follows_sql_three_valued_logic(runs: pd.DataFrame) -> None:
    # r3 has no acc: "acc > 0.8" is unknown for it, and so is its negation.
    assert set(ids(runs, "NOT (metrics.acc > 0.8)")) == {"r2", "r5"}
    assert set(ids(runs, "NOT (metrics.acc IS NULL)")) == {"r1", "r2", "r4", "r5"}
    # unknown OR true is true (r3: loss = 0.5).
    assert set(ids(runs, "metrics.acc > 0.8 OR metrics.loss = 0.5")) == {"r1", "r3", "r4"}
    # unknown AND false is false, so its negation matches (r3 and r2 included).
    text = "NOT (metrics.acc > 0.8 AND metrics.loss > 1)"
    assert set(ids(runs, text)) == {"r1", "r2", "r3", "r4", "r5"}


def test_not_three_valued_with_and(runs: pd.DataFrame) -> None:
    # r2: acc > 0.8 false; loss missing -> unknown. false AND unknown = false, NOT -> true.
    assert "r2" in ids(runs, "NOT (metrics.acc > 0.8 AND metrics.loss > 1)")
    # r2: false OR unknown = unknown; NOT keeps it unknown, so no match.
    assert "r2" not in ids(runs, "NOT (metrics.acc > 0.8 OR metrics.loss > 1)")


def test_filter_frame_keeps_index_and_none_is_identity(runs: pd.DataFrame) -> None:
    assert filter_frame(runs, None) is runs
    result = filter_frame(runs, parse_filter("tags.team = 'vision'"))
    assert list(result.index) == [0, 3]
    assert list(result.columns) == list(runs.columns)


def test_all_missing_column_of_float_dtype_still_compares_as_text(runs: pd.DataFrame) -> None:
    runs["tags.empty"] = np.nan  # pandas infers float64 for an all-missing column
    assert ids(runs, "tags.empty = 'x'") == []
    assert ids(runs, "tags.empty LIKE '%'") == []
    assert len(ids(runs, "tags.empty IS NULL")) == 5


def test_empty_frame(runs: pd.DataFrame) -> None:
    empty = runs.iloc[0:0]
    result = search_frame(empty, "metrics.acc > 1 AND tags.team LIKE 'x%'", ["params.lr DESC"])
    assert result.empty
    assert list(result.columns) == list(runs.columns)


def _logged_metrics(values: list[float | None]) -> pd.Series:
    """An Arrow-backed metric column, as search_runs builds them: None never logged, NaN logged."""
    # From an Arrow array: pandas' own constructors would read NaN as missing.
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(values, type=pa.float64())))


def _nan_frame() -> pd.DataFrame:
    """auc: r1 0.9, r2 NaN (logged), r3 never logged, r4 -inf, r5 0.5; starts r1 oldest."""
    frame = pd.DataFrame(
        {
            "run_id": ["r1", "r2", "r3", "r4", "r5"],
            "start_time": np.array([1, 2, 3, 4, 5], dtype=np.int64),
        }
    )
    frame["metrics.auc"] = _logged_metrics([0.9, float("nan"), None, -math.inf, 0.5])
    return frame


def test_arrow_backed_column_keeps_a_logged_nan_apart_from_missing() -> None:
    auc = _nan_frame()["metrics.auc"]
    assert auc.isna().tolist() == [False, False, True, False, False]
    assert math.isnan(auc.to_numpy(dtype=float, na_value=0.0)[1])


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        # A logged NaN is present...
        ("metrics.auc IS NOT NULL", {"r1", "r2", "r4", "r5"}),
        ("metrics.auc IS NULL", {"r3"}),
        # ...and compares as IEEE 754 does: every comparison false but !=.
        ("metrics.auc > 0", {"r1", "r5"}),
        ("metrics.auc <= 0.9", {"r1", "r4", "r5"}),
        ("metrics.auc = 0.5", {"r5"}),
        ("metrics.auc != 0.5", {"r1", "r2", "r4"}),
        ("NOT (metrics.auc > 0)", {"r2", "r4"}),
    ],
)
def test_a_logged_nan_is_a_value(filter_string: str, expected: set[str]) -> None:
    assert set(ids(_nan_frame(), filter_string)) == expected


def test_in_a_plain_float_column_nan_is_missing(runs: pd.DataFrame) -> None:
    # r3's acc is NaN in a float64 column: a hand-built frame's "no value".
    assert "r3" in ids(runs, "metrics.acc IS NULL")
    assert "r3" not in ids(runs, "metrics.acc != 0.9")


def _inputs_frame() -> pd.DataFrame:
    """Dataset inputs per run: r1 two, r2 one, r3 none (None), r4 none (empty list)."""
    frame = pd.DataFrame(
        {
            "run_id": ["r1", "r2", "r3", "r4"],
            "start_time": np.array([1, 2, 3, 4], dtype=np.int64),
        }
    )
    frame["datasets.name"] = [["train", "holdout"], ["train"], None, []]
    frame["datasets.context"] = [["training", "validation"], ["training"], None, []]
    return frame


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        # A comparison holds when it holds for any input (MLflow's rule)...
        ("datasets.name = 'holdout'", {"r1"}),
        ("datasets.name = 'train'", {"r1", "r2"}),
        ("datasets.name != 'train'", {"r1"}),
        ("datasets.name IN ('holdout', 'other')", {"r1"}),
        ("datasets.name NOT IN ('train')", {"r1"}),
        ("datasets.name LIKE 'hold%'", {"r1"}),
        ("datasets.name NOT LIKE 'hold%'", {"r1", "r2"}),
        ("datasets.name ILIKE 'TRAIN'", {"r1", "r2"}),
        ("datasets.name NOT ILIKE 'TRAIN'", {"r1"}),
        # ...each comparison on its own: here two different inputs satisfy them.
        ("datasets.name = 'holdout' AND datasets.context = 'training'", {"r1"}),
        # NOT negates the whole comparison: no input matches.
        ("NOT (datasets.name LIKE 'hold%')", {"r2"}),
        ("NOT (datasets.name = 'train')", set()),
        # A run without inputs is missing: unknown, and NOT keeps it unknown.
        ("datasets.name IS NULL", {"r3", "r4"}),
        ("datasets.context IS NOT NULL", {"r1", "r2"}),
        ("datasets.name != 'x' OR datasets.name IS NULL", {"r1", "r2", "r3", "r4"}),
        ("datasets.digest = 'x'", set()),
        ("datasets.digest IS NULL", {"r1", "r2", "r3", "r4"}),
    ],
)
def test_dataset_comparisons_hold_for_any_input(filter_string: str, expected: set[str]) -> None:
    assert set(ids(_inputs_frame(), filter_string)) == expected


# --------------------------------------------------------------------------- ordering


def test_default_order_is_newest_first_then_run_id(runs: pd.DataFrame) -> None:
    assert ids(runs, None) == ["r2", "r4", "r3", "r1", "r5"]
    assert list(sort_frame(runs, [])["run_id"]) == ["r2", "r4", "r3", "r1", "r5"]


def test_metric_order_puts_nan_last_in_both_directions(runs: pd.DataFrame) -> None:
    # acc: r1 0.9, r2 0.7, r3 NaN, r4 0.9, r5 -1.5; r1/r4 tie -> r4 (newer) first.
    assert ids(runs, None, ["metrics.acc"]) == ["r5", "r2", "r4", "r1", "r3"]
    assert ids(runs, None, ["metrics.acc ASC"]) == ["r5", "r2", "r4", "r1", "r3"]
    assert ids(runs, None, ["metrics.acc DESC"]) == ["r4", "r1", "r2", "r5", "r3"]


def test_a_logged_nan_sorts_after_every_number_and_before_missing_both_ways() -> None:
    # MLflow's order (tests/utils/test_search_utils.py, test_order_by_metric_with_nans_infs_nones).
    frame = _nan_frame()
    assert ids(frame, None, ["metrics.auc"]) == ["r4", "r5", "r1", "r2", "r3"]
    assert ids(frame, None, ["metrics.auc DESC"]) == ["r1", "r5", "r4", "r2", "r3"]


def test_nan_and_missing_ties_break_by_start_time_then_run_id() -> None:
    frame = pd.DataFrame(
        {
            "run_id": ["a", "b", "c", "d", "e", "f"],
            "start_time": np.array([1, 2, 2, 1, 2, 2], dtype=np.int64),
        }
    )
    frame["metrics.x"] = _logged_metrics([float("nan"), float("nan"), float("nan"), None, None, 1])
    assert ids(frame, None, ["metrics.x"]) == ["f", "b", "c", "a", "e", "d"]
    assert ids(frame, None, ["metrics.x DESC"]) == ["f", "b", "c", "a", "e", "d"]


def test_ties_break_by_start_time_desc_then_run_id() -> None:
    frame = _runs_frame()
    frame["metrics.acc"] = 1.0
    frame["start_time"] = np.array([5, 5, 9, 5, 1], dtype=np.int64)
    frame["run_id"] = ["b", "a", "c", "d", "e"]
    assert ids(frame, None, ["metrics.acc DESC"]) == ["c", "a", "b", "d", "e"]
    assert ids(frame, None, ["metrics.acc ASC"]) == ["c", "a", "b", "d", "e"]


def test_multiple_order_keys(runs: pd.DataFrame) -> None:
    # tags.team in code-point order: "100%_sure" < "NLP" < "vision"; missing last.
    assert ids(runs, None, ["tags.team", "metrics.loss DESC"]) == ["r5", "r2", "r4", "r1", "r3"]
    assert ids(runs, None, ["tags.team DESC", "metrics.loss"]) == ["r1", "r4", "r2", "r5", "r3"]


def test_numeric_params_sort_as_numbers(runs: pd.DataFrame) -> None:
    # depth: r1 "10", r2 "9", r3 "2", r4 missing, r5 "100"
    assert ids(runs, None, ["params.depth"]) == ["r3", "r2", "r1", "r5", "r4"]
    assert ids(runs, None, ["params.depth DESC"]) == ["r5", "r1", "r2", "r3", "r4"]


def test_param_order_is_decided_before_the_filter(runs: pd.DataFrame) -> None:
    # lr holds "abc" (r3), so lr sorts as text even where the filter drops r3: the order
    # of the runs kept must not depend on which runs the filter dropped.
    assert ids(runs, "params.lr != 'abc'", ["params.lr"]) == ["r1", "r2", "r4"]
    # Over the filtered rows alone every lr is a number, which would sort r4 (1e-3) first.
    kept = runs[runs["params.lr"] != "abc"].reset_index(drop=True)
    assert ids(kept, None, ["params.lr"])[:3] == ["r4", "r1", "r2"]


def test_the_caller_can_decide_which_params_sort_as_numbers(runs: pd.DataFrame) -> None:
    order = parse_order_by(["params.depth"])
    assert numeric_param_columns(runs, order) == {"params.depth"}
    assert numeric_param_columns(runs, parse_order_by(["params.lr", "metrics.acc"])) == set()
    as_text = sort_frame(runs, order, numeric_params=set())
    assert list(as_text["run_id"]) == ["r1", "r5", "r3", "r2", "r4"]  # "10" < "100" < "2" < "9"


def test_params_with_any_non_number_sort_as_text(runs: pd.DataFrame) -> None:
    # lr: "0.01", "0.1", "abc", "1e-3", missing -> text order
    assert ids(runs, None, ["params.lr"]) == ["r1", "r2", "r4", "r3", "r5"]
    assert ids(runs, None, ["params.lr DESC"]) == ["r3", "r4", "r2", "r1", "r5"]


def test_text_order_is_case_sensitive_code_point_order(runs: pd.DataFrame) -> None:
    # optimizer: "adam", "sgd", missing, "Adam", "a.m"
    assert ids(runs, None, ["params.optimizer"]) == ["r4", "r5", "r1", "r2", "r3"]
    assert ids(runs, None, ["params.optimizer DESC"]) == ["r2", "r1", "r5", "r4", "r3"]


def test_attribute_order(runs: pd.DataFrame) -> None:
    assert ids(runs, None, ["attributes.start_time ASC"]) == ["r5", "r1", "r3", "r2", "r4"]
    assert ids(runs, None, ["attributes.end_time DESC"]) == ["r2", "r1", "r5", "r4", "r3"]
    assert ids(runs, None, ["status"]) == ["r3", "r2", "r1", "r5", "r4"]
    assert ids(runs, None, ["attributes.user_id DESC"]) == ["r5", "r2", "r4", "r1", "r3"]


def test_order_by_quoted_tag_key(runs: pd.DataFrame) -> None:
    # "gammaX1" < "gamma_1" because "X" (88) < "_" (95).
    assert ids(runs, None, ["tags.`mlflow.runName`"]) == ["r1", "r2", "r5", "r4", "r3"]
    assert ids(runs, None, ['tags."mlflow.runName" DESC']) == ["r4", "r5", "r2", "r1", "r3"]


def test_order_by_missing_column_falls_back_to_default(runs: pd.DataFrame) -> None:
    assert ids(runs, None, ["metrics.never_logged DESC"]) == ["r2", "r4", "r3", "r1", "r5"]


def test_sort_frame_keeps_index_and_search_frame_resets_it(runs: pd.DataFrame) -> None:
    order = parse_order_by(["metrics.acc DESC"])
    assert list(sort_frame(runs, order).index) == [3, 0, 1, 4, 2]
    result = search_frame(runs, None, ["metrics.acc DESC"])
    assert list(result.index) == [0, 1, 2, 3, 4]


def test_sort_frame_without_tie_breaker_columns() -> None:
    frame = pd.DataFrame({"metrics.x": [2.0, np.nan, 1.0]})
    assert list(sort_frame(frame, parse_order_by(["metrics.x"]))["metrics.x"].fillna(-1)) == [
        1.0,
        2.0,
        -1.0,
    ]
    assert list(sort_frame(frame, []).index) == [0, 1, 2]


def test_order_matches_pandas_sort_values_on_a_large_frame() -> None:
    """An independent oracle for key order, NaN placement and the tie-breakers."""
    frame = _wide_frame(3_000)
    frame["metrics.m1"] = frame["metrics.m1"].round(1)  # force many ties
    result = search_frame(frame, None, ["tags.t2", "metrics.m1 DESC"])
    expected = frame.sort_values(
        ["tags.t2", "metrics.m1", "start_time", "run_id"],
        ascending=[True, False, False, True],
        na_position="last",
        kind="mergesort",
    )
    assert list(result["run_id"]) == list(expected["run_id"])


def test_filter_sort_and_max_results_together(runs: pd.DataFrame) -> None:
    result = search_frame(runs, "metrics.acc IS NOT NULL", ["metrics.acc DESC"], max_results=2)
    assert list(result["run_id"]) == ["r4", "r1"]
    assert search_frame(runs, None, None, max_results=0).empty
    assert len(search_frame(runs, None, None, max_results=100)) == 5


def test_numpy_integer_max_results(runs: pd.DataFrame) -> None:
    assert len(search_frame(runs, None, None, max_results=np.int64(2))) == 2  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1, 1.5, True, "10"])
def test_bad_max_results_is_rejected(runs: pd.DataFrame, bad: object) -> None:
    with pytest.raises(InvalidInputError, match="max_results"):
        search_frame(runs, None, None, max_results=bad)  # type: ignore[arg-type]


def test_syntax_errors_surface_even_on_empty_frames(runs: pd.DataFrame) -> None:
    with pytest.raises(SearchSyntaxError):
        search_frame(runs.iloc[0:0], "metrics.acc >> 1", None)
    with pytest.raises(SearchSyntaxError):
        search_frame(runs.iloc[0:0], None, ["metrics.acc sideways"])


# --------------------------------------------------------------------------- referenced columns


def test_referenced_columns() -> None:
    expr = parse_filter(
        "metrics.acc > 1 AND (params.lr = 0.1 OR NOT tags.`mlflow.runName` LIKE 'x%') "
        "AND status IN ('FINISHED') AND attributes.end_time IS NULL"
    )
    order = parse_order_by(["metrics.auc DESC", "params.depth"])
    assert referenced_columns(expr, order) == {
        "metrics.acc",
        "params.lr",
        "tags.mlflow.runName",
        "status",
        "end_time",
        "metrics.auc",
        "params.depth",
        "start_time",
        "run_id",
    }
    assert referenced_columns(None, []) == {"start_time", "run_id"}


def test_referenced_columns_are_enough_to_search(runs: pd.DataFrame) -> None:
    filter_string = "metrics.acc > 0 AND tags.team ILIKE 'v%'"
    order_by = ["params.depth DESC"]
    needed = referenced_columns(parse_filter(filter_string), parse_order_by(order_by))
    narrow = runs[[c for c in runs.columns if c in needed]]
    assert ids(narrow, filter_string, order_by) == ids(runs, filter_string, order_by)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("filter_string", "fragment"),
    [
        # operators and values
        ("metrics.acc >> 1", "unexpected '>' at position 13; expected a number"),
        ("metrics.acc > 'x'", "unexpected \"'x'\" at position 14; expected a number"),
        ("metrics.acc =", "unexpected end of input at position 13; expected a number"),
        ("metrics.acc ! 1", "unexpected '!' at position 12; expected '!='"),
        ("metrics.acc", "unexpected end of input at position 11; expected one of >, >="),
        ("metrics.acc LIKE 'x'", "unexpected 'LIKE' at position 12; expected one of >"),
        ("metrics.acc IN ('x')", "unexpected 'IN' at position 12; expected one of >"),
        ("tags.team > 'x'", "unexpected '>' at position 10; expected one of =, !=, [NOT] LIKE"),
        ("tags.team = 1", "unexpected '1' at position 12; expected a quoted string"),
        ("params.lr > 'x'", "unexpected \"'x'\" at position 12; expected a number"),
        ("params.lr = ", "at position 12; expected a quoted string or a number"),
        ("status = FINISHED", "unexpected 'FINISHED' at position 9; expected a quoted string"),
        ("tags.team LIKE 5", "unexpected '5' at position 15; expected a quoted pattern after LIKE"),
        ("metrics.acc > 1.2.3", "malformed number '1.2.3' at position 14; expected a number"),
        ("metrics.acc > 1x", "malformed number '1x' at position 14"),
        ("metrics.acc > -", "malformed number '-' at position 14"),
        # IN lists
        ("tags.team IN 'a'", "unexpected \"'a'\" at position 13; expected '(' to open the IN"),
        ("tags.team IN ()", "unexpected ')' at position 14; expected a quoted string in the IN"),
        ("tags.team IN ('a',)", "unexpected ')' at position 18; expected a quoted string"),
        ("tags.team IN ('a' 'b')", "unexpected \"'b'\" at position 18; expected ',' or ')'"),
        ("tags.team IN ('a'", "unexpected end of input at position 17; expected ',' or ')'"),
        ("tags.team IN (1)", "unexpected '1' at position 14; expected a quoted string"),
        ("tags.team NOT 'a'", "unexpected \"'a'\" at position 14; expected IN, LIKE or ILIKE"),
        # IS NULL
        ("tags.team IS", "unexpected end of input at position 12; expected NULL or NOT NULL"),
        ("tags.team IS NOT", "at position 16; expected NULL after IS NOT"),
        ("tags.team IS 'x'", "unexpected \"'x'\" at position 13; expected NULL or NOT NULL"),
        # structure
        ("(metrics.acc > 1", "unexpected end of input at position 16; expected AND, OR or ')'"),
        ("metrics.acc > 1)", "unexpected ')' at position 15; expected AND, OR or end of input"),
        (
            "metrics.acc > 1 metrics.acc < 2",
            "unexpected 'metrics.acc' at position 16; expected",
        ),
        ("metrics.acc > 1 AND", "unexpected end of input at position 19; expected an identifier"),
        ("metrics.acc > 1 ANDD tags.a = 'x'", "unexpected 'ANDD' at position 16; expected AND, OR"),
        ("AND metrics.acc > 1", "unexpected 'AND' at position 0; expected an identifier"),
        ("()", "unexpected ')' at position 1; expected an identifier"),
        ("NOT", "unexpected end of input at position 3; expected an identifier"),
        ("1 = metrics.acc", "unexpected '1' at position 0; expected an identifier"),
        ("'x' = tags.team", "unexpected \"'x'\" at position 0; expected an identifier"),
        ('"x" = tags.team', "unknown attribute 'x' at position 1; expected one of"),
        # identifiers
        ("acc > 1", "unexpected 'acc' at position 0; expected an identifier such as metrics.acc"),
        ("foo.bar = 'x'", "unknown prefix 'foo.' at position 0; expected one of metrics., params."),
        (
            "attributes.foo = 'x'",
            "unknown attribute 'foo' at position 11; expected one of",
        ),
        ("metrics. > 1", "missing key after 'metrics.' at position 8; expected a key"),
        ("metrics.`` > 1", "empty key after 'metrics.' at position 8; expected a non-empty key"),
        (
            "metrics.`acc > 1",
            "unterminated quoted key '`acc > 1' at position 8; expected",
        ),
        ("`acc` > 1", "unknown attribute 'acc' at position 1; expected one of artifact_uri"),
        ("`metrics.acc` > 1", "unknown attribute 'metrics.acc' at position 1"),
        ("`metrics`acc > 1", "unknown attribute 'metrics' at position 1"),
        ("`metrics.acc > 1", "unterminated quoted name '`metrics.acc > 1' at position 0"),
        ("`foo`.acc > 1", "unknown prefix 'foo.' at position 0"),
        ("datasets.profile = 'x'", "unknown dataset field 'profile' at position 9; expected one"),
        ("datasets.name > 'x'", "unexpected '>' at position 14; expected one of =, !=, [NOT] LIKE"),
        ("datasets.name = 1", "unexpected '1' at position 16; expected a quoted string"),
        ("attributes.`run_name x` = 'a'", "unknown attribute 'run_name x' at position 11"),
        # strings and characters
        ("tags.team = 'vision", 'unterminated quoted string "\'vision" at position 12'),
        ('tags.team = "vision', "unterminated quoted string '\"vision' at position 12"),
        ("metrics.acc > 1 ; drop", "unexpected ';' at position 16; expected an identifier, a num"),
    ],
)
def test_filter_syntax_errors(filter_string: str, fragment: str) -> None:
    with pytest.raises(SearchSyntaxError) as caught:
        parse_filter(filter_string)
    message = str(caught.value)
    assert message.startswith(f"filter_string {filter_string!r}: ")
    assert fragment in message
    assert "; expected " in message


def test_unknown_attribute_lists_every_valid_one() -> None:
    with pytest.raises(SearchSyntaxError) as caught:
        parse_filter("attr.duration > 1")
    for name in ("run_id", "run_name", "status", "user_id", "start_time", "end_time"):
        assert name in str(caught.value)
    for name in ("artifact_uri", "lifecycle_stage", "experiment_id"):
        assert name in str(caught.value)


def test_excessive_nesting_is_a_syntax_error_not_a_crash() -> None:
    deep = "(" * 500 + "metrics.acc > 1" + ")" * 500
    with pytest.raises(SearchSyntaxError, match="nesting deeper than 100 levels"):
        parse_filter(deep)
    assert parse_filter("(" * 50 + "metrics.acc > 1" + ")" * 50) == NumericComparison(ACC, ">", 1.0)


@pytest.mark.parametrize(
    ("clauses", "fragment"),
    [
        (
            ["metrics.auc DESCX"],
            "order_by[0] 'metrics.auc DESCX': unexpected 'DESCX' at position",
        ),
        (["metrics.auc DESC x"], "unexpected 'x' at position 17; expected end of the order_by"),
        (
            ["metrics.auc", "params.x UP"],
            "order_by[1] 'params.x UP': unexpected 'UP' at position 9;",
        ),
        ([""], "unexpected end of input at position 0; expected an identifier"),
        (["DESC"], "unexpected 'DESC' at position 0; expected an identifier"),
        (["auc DESC"], "unexpected 'auc' at position 0; expected an identifier"),
        (["metrics.auc > 1"], "unexpected '>' at position 12; expected ASC, DESC or end"),
        (["attributes.duration"], "unknown attribute 'duration' at position 11"),
        (["metrics.auc,params.x"], "unexpected ',' at position 11"),
    ],
)
def test_order_by_syntax_errors(clauses: list[str], fragment: str) -> None:
    with pytest.raises(SearchSyntaxError) as caught:
        parse_order_by(clauses)
    assert fragment in str(caught.value)
    assert "expected" in str(caught.value)


def test_order_by_must_be_a_list_of_strings() -> None:
    with pytest.raises(SearchSyntaxError, match=r"got the string 'metrics.auc DESC'; expected"):
        parse_order_by("metrics.auc DESC")
    with pytest.raises(SearchSyntaxError, match=r"order_by\[1\] must be a string, got int 3"):
        parse_order_by(["metrics.auc", 3])  # type: ignore[list-item]


def test_filter_string_must_be_a_string() -> None:
    with pytest.raises(SearchSyntaxError, match="filter_string must be a string, got int 5"):
        parse_filter(5)  # type: ignore[arg-type]


def test_syntax_error_is_part_of_the_error_tree() -> None:
    with pytest.raises(SearchSyntaxError) as caught:
        parse_filter("metrics.acc >> 1")
    assert isinstance(caught.value, SparktrackError)
    assert isinstance(caught.value, ValueError)


# --------------------------------------------------------------------------- performance


def _wide_frame(rows: int) -> pd.DataFrame:
    """``rows`` runs x 40 columns: 9 attributes, 15 metrics, 10 params, 6 tags."""
    rng = np.random.default_rng(7)
    statuses = np.array(["RUNNING", "FINISHED", "FAILED", "KILLED"], dtype=object)
    columns: dict[str, object] = {
        "run_id": [f"run-{i:06d}" for i in range(rows)],
        "experiment_id": rng.choice(np.array(["1", "2", "3"], dtype=object), rows),
        "run_name": [f"name-{i % 997}" for i in range(rows)],
        "status": rng.choice(statuses, rows),
        "user_id": rng.choice(np.array(["alice", "bob", None], dtype=object), rows),
        "start_time": rng.integers(1_700_000_000_000, 1_800_000_000_000, rows),
        "end_time": pd.array(rng.integers(1_800_000_000_000, 1_900_000_000_000, rows), "Int64"),
        "lifecycle_stage": rng.choice(np.array(["active", "deleted"], dtype=object), rows),
        "artifact_uri": [f"/store/{i}" for i in range(rows)],
    }
    for m in range(15):
        values = rng.random(rows)
        values[rng.random(rows) < 0.1] = np.nan
        columns[f"metrics.m{m}"] = values
    for p in range(10):
        numbers = rng.integers(0, 1000, rows).astype(str).astype(object)
        numbers[rng.random(rows) < 0.1] = None
        columns[f"params.p{p}"] = numbers
    for t in range(6):
        columns[f"tags.t{t}"] = rng.choice(np.array(["red", "green", "blue", None], object), rows)
    frame = pd.DataFrame(columns)
    assert frame.shape == (rows, 40)
    return frame


def test_filter_and_sort_of_10k_runs_is_fast() -> None:
    frame = _wide_frame(10_000)
    filter_string = (
        "metrics.m0 > 0.2 AND (params.p1 >= 100 OR tags.t0 LIKE 'gr%') "
        "AND status IN ('FINISHED', 'RUNNING') AND NOT (tags.t1 ILIKE 'BLUE') "
        "AND attributes.user_id IS NOT NULL AND params.p2 != '5'"
    )
    order_by = ["params.p3 DESC", "metrics.m1", "tags.t2"]
    result = search_frame(frame, filter_string, order_by)  # warm-up (imports, regex cache)
    assert 0 < len(result) < len(frame)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        search_frame(frame, filter_string, order_by, max_results=1000)
        best = min(best, time.perf_counter() - started)
    assert best < 0.2, f"search of 10k x 40 took {best * 1000:.1f} ms"


def test_large_result_matches_a_plain_python_reference() -> None:
    """The vectorised evaluator agrees with a row-by-row reading of the same filter."""
    frame = _wide_frame(2_000)
    result = search_frame(
        frame, "metrics.m0 > 0.5 AND params.p1 < 500 AND tags.t0 = 'red'", ["metrics.m0 DESC"]
    )
    expected = [
        row["run_id"]
        for row in frame.to_dict("records")
        if row["metrics.m0"] > 0.5  # NaN > 0.5 is False, as missing should be
        and row["params.p1"] is not None
        and float(row["params.p1"]) < 500
        and row["tags.t0"] == "red"
    ]
    assert sorted(result["run_id"]) == sorted(expected)
    assert list(result["metrics.m0"]) == sorted(result["metrics.m0"], reverse=True)
