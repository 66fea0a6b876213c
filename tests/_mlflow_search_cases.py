"""MLflow's own run-search test cases, as data: the runs, the queries and what MLflow asserts.

Read from mlflow/mlflow's tests: ``tests/utils/test_search_utils.py`` (the file store's
``SearchUtils``) and ``tests/store/tracking/sqlalchemy_store/test_sqlalchemy_store_runs.py``
(the SQL store). Each scenario is one MLflow test's runs; each case names the test
its filter, order and expected runs come from. Where a test changed its runs
between assertions (an update, a rename), only the assertions on the final state are
kept. Scenarios marked "derived" check what MLflow's parsing tests assert about a
filter's meaning on runs written to make each filter decidable.

Used by ``tests/test_search_mlflow_cases.py`` (sparktrack against MLflow's expected
results) and by ``bench/search_compat.py`` (the same runs logged to both tools,
results compared case by case). Standard library only: the bench imports it too.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EXTENSIONS",
    "ORDER_EXTENSIONS",
    "REJECTED",
    "REJECTED_ORDERS",
    "SCENARIOS",
    "Case",
    "Input",
    "Point",
    "RunSpec",
    "Scenario",
    "log_to_sparktrack",
    "render",
    "sparktrack_run_ids",
]


@dataclass(frozen=True)
class Point:
    """One logged metric value."""

    key: str
    value: float
    timestamp: int = 1
    step: int = 0


@dataclass(frozen=True)
class Input:
    """One dataset input; ``context`` None means MLflow's input had no context tag."""

    name: str
    digest: str
    context: str | None = None


@dataclass(frozen=True)
class RunSpec:
    """A run as one of MLflow's tests writes it.

    ``mlflow_id`` is the run id the test gave (its order breaks ties), or the label
    where the test let the store choose one.
    """

    label: str
    start_time: int
    status: str = "FINISHED"
    end_time: int | None = 1
    run_name: str | None = None
    user_id: str = "user-id"
    experiment: str = "a"
    metrics: tuple[Point, ...] = ()
    params: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    inputs: tuple[Input, ...] = ()
    mlflow_id: str = ""


@dataclass(frozen=True)
class Case:
    """A search and the runs (labels) MLflow's test expects, in order when ``ordered``.

    Filters may hold ``{id:label}`` / ``{ID:label}`` (a run's id, lower / upper case)
    and ``{uri:label}`` / ``{URI:label}`` (its artifact URI): each tool's own.
    """

    source: str
    filter: str | None
    expected: tuple[str, ...]
    order_by: tuple[str, ...] | None = None
    ordered: bool = False
    experiments: tuple[str, ...] | None = None  # labels; None: all of the scenario's


@dataclass(frozen=True)
class Scenario:
    name: str
    runs: tuple[RunSpec, ...]
    cases: tuple[Case, ...]

    @property
    def experiments(self) -> list[str]:
        return sorted({run.experiment for run in self.runs})


def _cases(source: str, rows: Sequence[tuple[Any, ...]], **common: Any) -> tuple[Case, ...]:
    """Cases from ``(filter, expected)`` or ``(filter, expected, order_by)`` rows."""
    cases = []
    for row in rows:
        filter_string, expected = row[0], row[1]
        order_by = tuple(row[2]) if len(row) > 2 and row[2] is not None else None
        cases.append(Case(source, filter_string, tuple(expected), order_by, **common))
    return tuple(cases)


# --------------------------------------------------------------------------- scenarios

_UTILS = "tests/utils/test_search_utils.py"
_SQL = "tests/store/tracking/sqlalchemy_store/test_sqlalchemy_store_runs.py"

_FILTERING = Scenario(
    "search_utils_filtering",
    (
        RunSpec(
            "0",
            0,
            status="FAILED",
            metrics=(Point("key1", 121),),
            params={"my_param": "A"},
            inputs=(Input("name1", "digest1", "train"),),
            mlflow_id="hi",
        ),
        RunSpec(
            "1",
            0,
            metrics=(Point("key1", 123),),
            params={"my_param": "A"},
            tags={"tag1": "C"},
            inputs=(Input("name1", "digest1"),),
            mlflow_id="hi2",
        ),
        RunSpec(
            "2",
            0,
            status="FAILED",
            experiment="b",
            metrics=(Point("key1", 125),),
            params={"my_param": "B"},
            tags={"tag1": "D"},
            inputs=(Input("name2", "digest2"),),
            mlflow_id="hi3",
        ),
    ),
    _cases(
        f"{_UTILS}::test_correct_filtering",
        [
            (None, ["0", "1", "2"]),
            ("", ["0", "1", "2"]),
            ("attributes.status = 'FAILED'", ["0", "2"]),
            ("metrics.key1 = 123", ["1"]),
            ("metrics.key1 != 123", ["0", "2"]),
            ("metrics.key1 >= 123", ["1", "2"]),
            ("params.my_param = 'A'", ["0", "1"]),
            ("tags.tag1 = 'D'", ["2"]),
            ("tags.tag1 != 'D'", ["1"]),
            ("params.my_param = 'A' AND attributes.status = 'FAILED'", ["0"]),
            ("datasets.name = 'name1'", ["0", "1"]),
            ("datasets.name IN ('name1', 'name2')", ["0", "1", "2"]),
            ("datasets.digest IN ('digest1', 'digest2')", ["0", "1", "2"]),
            ("datasets.name = 'name1' AND datasets.digest = 'digest2'", []),
            ("datasets.context = 'train'", ["0"]),
            ("datasets.name = 'name1' AND datasets.context = 'train'", ["0"]),
        ],
    ),
)

_SORTING = Scenario(
    "search_utils_sorting",
    (
        RunSpec(
            "0",
            0,
            status="FAILED",
            metrics=(Point("key1", 121),),
            params={"my_param": "A"},
            mlflow_id="9",
        ),
        RunSpec(
            "1",
            1,
            metrics=(Point("key1", 123),),
            params={"my_param": "A"},
            tags={"tag1": "C"},
            mlflow_id="8",
        ),
        RunSpec(
            "2",
            1,
            status="FAILED",
            experiment="b",
            metrics=(Point("key1", 125),),
            params={"my_param": "B"},
            tags={"tag1": "D"},
            mlflow_id="7",
        ),
    ),
    _cases(
        f"{_UTILS}::test_correct_sorting",
        [
            ("", ["2", "1", "0"], None),
            ("", ["2", "1", "0"], []),
            ("", ["2", "1", "0"], ["tags.noSuchTag"]),
            ("", ["2", "0", "1"], ["attributes.status"]),
            ("", ["0", "2", "1"], ["attributes.start_time"]),
            ("", ["0", "1", "2"], ["metrics.key1 asc"]),
            ("", ["2", "1", "0"], ['metrics."key1"  desc']),
            ("", ["1", "0", "2"], ["params.my_param"]),
            ("", ["0", "1", "2"], ["params.my_param aSc", "attributes.status  ASC"]),
            ("", ["1", "0", "2"], ["params.my_param", "attributes.status DESC"]),
            ("", ["2", "1", "0"], ["params.my_param DESC", "attributes.status   DESC"]),
            ("", ["2", "1", "0"], ["params.`my_param` DESC", "attributes.status DESC"]),
            ("", ["1", "2", "0"], ["tags.tag1"]),
            ("", ["2", "1", "0"], ["tags.tag1    DESC"]),
        ],
        ordered=True,
    ),
)

_NAN_VALUES = ["nan", "inf", "-inf", "-1000", "0", "1000", "None"]
_NANS = Scenario(
    "search_utils_nan_infs_nones",
    tuple(
        RunSpec(
            x,
            0,
            user_id="user",
            metrics=() if x == "None" else (Point("x", float(x)),),
            mlflow_id=x,
        )
        for x in _NAN_VALUES
    ),
    _cases(
        f"{_UTILS}::test_order_by_metric_with_nans_infs_nones",
        [
            ("", ["-inf", "-1000", "0", "1000", "inf", "nan", "None"], ["metrics.x asc"]),
            ("", ["inf", "1000", "0", "-1000", "-inf", "nan", "None"], ["metrics.x desc"]),
        ],
        ordered=True,
    ),
)


def _metric_tag_param_run(x: str | None, y: str) -> RunSpec:
    label = f"{x}/{y}"
    return RunSpec(
        label,
        123,
        status="RUNNING",
        end_time=None,
        run_name=label,
        user_id="MrDuck",
        tags={"metric": y},
        params={"metric": y},
        metrics=() if x is None else (Point("x", float(x)), Point("y", float(y))),
    )


_METRIC_TAG_PARAM = Scenario(
    "sql_order_by_metric_tag_param",
    tuple(
        _metric_tag_param_run(x, y)
        for x, y in zip(
            [None, "nan", "inf", "-inf", "-1000", "0", "0", "1000"],
            ["1", "2", "3", "4", "5", "6", "7", "8"],
            strict=True,
        )
    ),
    _cases(
        f"{_SQL}::test_order_by_metric_tag_param",
        [
            (
                "",
                ["-inf/4", "-1000/5", "0/6", "0/7", "1000/8", "inf/3", "nan/2", "None/1"],
                ["metrics.x asc", "metrics.y asc"],
            ),
            (
                "",
                ["-inf/4", "-1000/5", "0/6", "0/7", "1000/8", "inf/3", "nan/2", "None/1"],
                ["metrics.x asc", "tag.metric asc"],
            ),
            (
                "",
                ["-inf/4", "-1000/5", "0/7", "0/6", "1000/8", "inf/3", "nan/2", "None/1"],
                ["metrics.x asc", "metrics.y desc"],
            ),
            (
                "",
                ["-inf/4", "-1000/5", "0/7", "0/6", "1000/8", "inf/3", "nan/2", "None/1"],
                ["metrics.x asc", "tag.metric desc"],
            ),
            (
                "",
                ["inf/3", "1000/8", "0/6", "0/7", "-1000/5", "-inf/4", "nan/2", "None/1"],
                ["metrics.x desc", "metrics.y asc"],
            ),
            (
                "",
                ["inf/3", "1000/8", "0/7", "0/6", "-1000/5", "-inf/4", "nan/2", "None/1"],
                ["metrics.x desc", "param.metric desc"],
            ),
        ],
        ordered=True,
    ),
)

_ENDS = [234, None, 456, -123, 789, 123]
_ATTRIBUTE_ORDER = Scenario(
    "sql_order_by_attributes",
    tuple(
        RunSpec(str(end), 123 + i, end_time=end, run_name=str(end), user_id="MrDuck")
        for i, end in enumerate(_ENDS)
    ),
    _cases(
        f"{_SQL}::test_order_by_attributes",
        [
            ("", ["-123", "123", "234", "456", "789", "None"], ["attribute.end_time asc"]),
            ("", ["789", "456", "234", "123", "-123", "None"], ["attribute.end_time desc"]),
            (
                "",
                ["234", "None", "456", "-123", "789", "123"],
                ["attribute.start_time asc", "attribute.end_time desc"],
            ),
        ],
        ordered=True,
    ),
)

_PARAMS_TAGS_METRICS = Scenario(
    "sql_search_params_tags_metrics_full",
    (
        RunSpec(
            "r1",
            1,
            status="RUNNING",
            end_time=None,
            params={"generic_param": "p_val", "generic_2": "some value", "p_a": "abc"},
            tags={"generic_tag": "p_val", "generic_2": "some value", "p_a": "abc"},
            metrics=(
                Point("common", 1.0, 1),
                Point("measure_a", 1.0, 1),
                Point("m_a", 2.0, 2),
            ),
        ),
        RunSpec(
            "r2",
            2,
            status="RUNNING",
            end_time=None,
            params={"generic_param": "p_val", "generic_2": "another value", "p_b": "ABC"},
            tags={"generic_tag": "p_val", "generic_2": "another value", "p_b": "ABC"},
            metrics=(
                Point("common", 1.0, 1),
                Point("measure_a", 200.0, 2),
                Point("measure_a", 400.0, 3),
                Point("m_b", 3.0, 2),
                Point("m_b", 4.0, 8),  # the last timestamp: the latest value
                Point("m_b", 8.0, 3),
            ),
        ),
    ),
    _cases(
        f"{_SQL}::test_search_params",
        [
            ("params.generic_param = 'p_val'", ["r1", "r2"]),
            ("params.generic_2 = 'some value'", ["r1"]),
            ("params.generic_2 = 'another value'", ["r2"]),
            ("params.generic_param = 'wrong_val'", []),
            ("params.generic_param != 'p_val'", []),
            ("params.generic_param != 'wrong_val'", ["r1", "r2"]),
            ("params.generic_2 != 'wrong_val'", ["r1", "r2"]),
            ("params.p_a = 'abc'", ["r1"]),
            ("params.p_a = 'ABC'", []),
            ("params.p_a != 'ABC'", ["r1"]),
            ("params.p_b = 'ABC'", ["r2"]),
            ("params.generic_2 LIKE '%other%'", ["r2"]),
            ("params.generic_2 LIKE 'other%'", []),
            ("params.generic_2 LIKE '%other'", []),
            ("params.generic_2 LIKE 'other'", []),
            ("params.generic_2 LIKE '%Other%'", []),
            ("params.generic_2 ILIKE '%Other%'", ["r2"]),
        ],
    )
    + _cases(
        f"{_SQL}::test_search_tags",
        [
            ("tags.generic_tag = 'p_val'", ["r1", "r2"]),
            ("tags.generic_tag = 'P_VAL'", []),
            ("tags.generic_tag != 'P_VAL'", ["r1", "r2"]),
            ("tags.generic_2 = 'some value'", ["r1"]),
            ("tags.generic_2 = 'another value'", ["r2"]),
            ("tags.generic_tag = 'wrong_val'", []),
            ("tags.generic_tag != 'p_val'", []),
            ("tags.generic_tag != 'wrong_val'", ["r1", "r2"]),
            ("tags.generic_2 != 'wrong_val'", ["r1", "r2"]),
            ("tags.p_a = 'abc'", ["r1"]),
            ("tags.p_b = 'ABC'", ["r2"]),
            ("tags.generic_2 LIKE '%other%'", ["r2"]),
            ("tags.generic_2 LIKE '%Other%'", []),
            ("tags.generic_2 LIKE 'other%'", []),
            ("tags.generic_2 LIKE '%other'", []),
            ("tags.generic_2 LIKE 'other'", []),
            ("tags.generic_2 ILIKE '%Other%'", ["r2"]),
            ("tags.generic_2 ILIKE '%Other%' and tags.generic_tag = 'p_val'", ["r2"]),
            ("tags.generic_2 ILIKE '%Other%' and tags.generic_tag ILIKE 'p_val'", ["r2"]),
        ],
    )
    + _cases(
        f"{_SQL}::test_search_metrics",
        [
            ("metrics.common = 1.0", ["r1", "r2"]),
            ("metrics.common > 0.0", ["r1", "r2"]),
            ("metrics.common >= 0.0", ["r1", "r2"]),
            ("metrics.common < 4.0", ["r1", "r2"]),
            ("metrics.common <= 4.0", ["r1", "r2"]),
            ("metrics.common != 1.0", []),
            ("metrics.common >= 3.0", []),
            ("metrics.common <= 0.75", []),
            ("metrics.measure_a > 0.0", ["r1", "r2"]),
            ("metrics.measure_a < 50.0", ["r1"]),
            ("metrics.measure_a < 1000.0", ["r1", "r2"]),
            ("metrics.measure_a != -12.0", ["r1", "r2"]),
            ("metrics.measure_a > 50.0", ["r2"]),
            ("metrics.measure_a = 1.0", ["r1"]),
            ("metrics.measure_a = 400.0", ["r2"]),
            ("metrics.m_a > 1.0", ["r1"]),
            ("metrics.m_b > 1.0", ["r2"]),
            ("metrics.m_b > 5.0", []),
            ("metrics.m_b = 4.0", ["r2"]),
        ],
    )
    + _cases(
        f"{_SQL}::test_search_full",
        [
            ("params.generic_param = 'p_val' and metrics.common = 1.0", ["r1", "r2"]),
            (
                "params.generic_param = 'p_val' and metrics.common = 1.0 and metrics.m_a > 1.0",
                ["r1"],
            ),
            (
                "params.generic_param = 'p_val' and metrics.common = 1.0 "
                "and metrics.m_a > 1.0 and params.p_a LIKE 'a%'",
                ["r1"],
            ),
            (
                "params.generic_param = 'p_val' and metrics.common = 1.0 "
                "and metrics.m_a > 1.0 and params.p_a LIKE 'A%'",
                [],
            ),
            (
                "params.generic_param = 'p_val' and metrics.common = 1.0 "
                "and metrics.m_a > 1.0 and params.p_a ILIKE 'A%'",
                ["r1"],
            ),
            (
                "params.random_bad_name = 'p_val' and metrics.common = 1.0 and metrics.m_a > 1.0",
                [],
            ),
            (
                "params.generic_param = 'p_val' and metrics.common = 1.0 and metrics.m_a > 100.0",
                [],
            ),
        ],
    ),
)

_ATTRS = Scenario(
    "sql_search_attrs",
    (
        RunSpec("r1", 1, status="RUNNING", end_time=None, experiment="e1"),
        RunSpec("r2", 2, status="FAILED", end_time=300, experiment="e2"),
    ),
    _cases(
        f"{_SQL}::test_search_attrs",
        [
            ("", ["r1", "r2"]),
            ("attribute.status != 'blah'", ["r1", "r2"]),
            ("attribute.status = 'RUNNING'", ["r1"]),
            ("attribute.status = 'FAILED'", ["r2"]),
            ("attribute.status != 'SCHEDULED'", ["r1", "r2"]),
            ("attribute.status = 'SCHEDULED'", []),
            ("attribute.status = 'KILLED'", []),
            ("attr.artifact_uri = '{uri:r1}'", ["r1"]),
            ("attr.artifact_uri = '{URI:r1}'", []),
            ("attr.artifact_uri != '{URI:r1}'", ["r1", "r2"]),
            ("attribute.artifact_uri = 'random_artifact_path'", []),
            ("attribute.artifact_uri != 'random_artifact_path'", ["r1", "r2"]),
            ("attribute.artifact_uri LIKE '%{id:r1}%'", ["r1"]),
            ("attribute.artifact_uri LIKE '%{ID:r1}%'", []),
            ("attribute.artifact_uri ILIKE '%{ID:r1}%'", ["r1"]),
        ],
    ),
)

_RUN_NAME = Scenario(
    "sql_search_runs_run_name",
    (
        RunSpec("run1", 1, status="RUNNING", end_time=None, run_name="run_name1"),
        RunSpec("run2", 2, status="RUNNING", end_time=None, run_name="run_name2"),
    ),
    _cases(
        f"{_SQL}::test_search_runs_run_name",
        [
            ("attributes.run_name = 'run_name1'", ["run1"]),
            ("attributes.`Run name` = 'run_name1'", ["run1"]),
            ("attributes.`run name` = 'run_name2'", ["run2"]),
            ("attributes.`Run Name` = 'run_name2'", ["run2"]),
            ("tags.`mlflow.runName` = 'run_name2'", ["run2"]),
        ],
    ),
)

_RUN_ID_AND_CREATED = Scenario(
    "sql_search_runs_run_id_and_start_time_alias",
    (
        RunSpec("run1", 1, status="RUNNING", end_time=None, run_name="name"),
        RunSpec("run2", 2, status="RUNNING", end_time=None, run_name="name"),
    ),
    _cases(
        f"{_SQL}::test_search_runs_run_id",
        [
            ("attributes.run_id = '{id:run1}'", ["run1"]),
            ("attributes.run_id != '{id:run1}'", ["run2"]),
            ("attributes.run_id IN ('{id:run1}')", ["run1"]),
            ("run_name = 'name' AND run_id IN ('{id:run1}')", ["run1"]),
            ("attributes.run_id IN ('{id:run1}','{id:run2}')", ["run2", "run1"]),
            ("attributes.run_id IN ('{id:run1}', '{id:run2}')", ["run2", "run1"]),
            ("attributes.run_id IN ('{id:run1}',  '{id:run2}')", ["run2", "run1"]),
            ("attributes.run_id NOT IN ('{id:run1}', '{id:run2}')", []),
        ],
        ordered=True,
    )
    + _cases(
        f"{_SQL}::test_search_runs_start_time_alias",
        [
            ("attributes.run_name = 'name'", ["run2", "run1"], ["attributes.start_time DESC"]),
            ("attributes.run_name = 'name'", ["run1", "run2"], ["attributes.created ASC"]),
            ("attributes.run_name = 'name'", ["run2", "run1"], ["attributes.Created DESC"]),
            ("attributes.created > 1", ["run2"]),
            ("attributes.Created > 2", []),
        ],
        ordered=True,
    )
    + _cases(
        f"{_SQL}::test_search_runs_start_time_alias",
        [("attributes.start_time > 0", ["run1", "run2"])],
    ),
)

_DATASETS = Scenario(
    "sql_search_runs_datasets",
    (
        RunSpec(
            "run1",
            1,
            status="RUNNING",
            end_time=None,
            inputs=(Input("name1", "digest1", "train"), Input("name2", "digest2", "eval")),
        ),
        RunSpec(
            "run2",
            3,
            status="RUNNING",
            end_time=None,
            inputs=(Input("name1", "digest1", "train"), Input("name3", "digest3", "eval")),
        ),
        RunSpec(
            "run3",
            2,
            status="RUNNING",
            end_time=None,
            inputs=(Input("name2", "digest2", "test"),),
        ),
    ),
    _cases(
        f"{_SQL}::test_search_runs_datasets",
        [
            ("dataset.name = 'name1'", ["run1", "run2"]),
            ("dataset.digest = 'digest2'", ["run1", "run3"]),
            ("dataset.name = 'name4'", []),
            ("dataset.context = 'train'", ["run1", "run2"]),
            ("dataset.context = 'test'", ["run3"]),
            ("dataset.context = 'test' and dataset.name = 'name2'", ["run3"]),
            ("dataset.name = 'name2' and dataset.context = 'test'", ["run3"]),
            ("datasets.name IN ('name1', 'name2')", ["run1", "run2", "run3"]),
            ("datasets.digest IN ('digest1', 'digest2')", ["run1", "run2", "run3"]),
            ("datasets.name LIKE 'Name%'", []),
            ("datasets.name ILIKE 'Name%'", ["run1", "run2", "run3"]),
            ("datasets.context ILIKE 'test%'", ["run3"]),
            ("datasets.context IN ('test', 'train')", ["run1", "run2", "run3"]),
        ],
    ),
)

_DATASETS_WITH_PARAMS = Scenario(
    "sql_search_runs_datasets_with_param_filters",
    (
        RunSpec(
            "run1",
            1,
            status="RUNNING",
            end_time=None,
            params={"learning_rate": "0.01", "batch_size": "32"},
            inputs=(Input("train_data", "digest1", "training"),),
        ),
        RunSpec(
            "run2",
            2,
            status="RUNNING",
            end_time=None,
            params={"learning_rate": "0.02"},
            inputs=(Input("train_data", "digest1", "training"),),
        ),
    ),
    _cases(
        f"{_SQL}::test_search_runs_datasets_with_param_filters",
        [
            ("params.learning_rate = '0.01' AND dataset.name = 'train_data'", ["run1"]),
            ("params.learning_rate = '0.01' AND dataset.context = 'training'", ["run1"]),
            (
                "params.learning_rate = '0.01' AND params.batch_size = '32' "
                "AND dataset.name = 'train_data'",
                ["run1"],
            ),
            (
                "params.learning_rate = '0.01' AND dataset.name = 'train_data' "
                "AND dataset.context = 'training'",
                ["run1"],
            ),
        ],
    ),
)

_IS_NULL = Scenario(
    "search_utils_tag_and_param_is_null",
    (
        RunSpec("run1", 0, user_id="user", tags={"env": "prod"}),
        RunSpec("run2", 0, user_id="user", params={"lr": "0.01"}),
    ),
    _cases(
        f"{_UTILS}::test_filter_runs_by_tag_and_param_is_null",
        [
            ("tags.env IS NOT NULL", ["run1"]),
            ("tags.env IS NULL", ["run2"]),
            ("params.lr IS NOT NULL", ["run2"]),
            ("params.lr IS NULL", ["run1"]),
        ],
    ),
)

_TIMES_AND_USER = Scenario(
    "search_utils_start_end_time_user",
    (
        RunSpec("a", 0, end_time=0),
        RunSpec("b", 1, end_time=1, user_id="user-id2"),
        RunSpec("c", 2, end_time=2),
    ),
    _cases(
        f"{_UTILS}::test_filter_runs_by_start_time",
        [
            ("attribute.start_time >= 0", ["a", "b", "c"]),
            ("attribute.start_time > 1", ["c"]),
            ("attribute.start_time = 2", ["c"]),
        ],
    )
    + _cases(
        f"{_UTILS}::test_filter_runs_by_end_time",
        [
            ("attribute.end_time >= 0", ["a", "b", "c"]),
            ("attribute.end_time > 1", ["c"]),
            ("attribute.end_time = 2", ["c"]),
        ],
    )
    + _cases(
        f"{_UTILS}::test_filter_runs_by_user_id",
        [("attribute.user_id = 'user-id2'", ["b"])],
    ),
)

# Derived: the filters of test_filter / test_correct_quote_trimming, whose parsed forms
# MLflow asserts, on runs written so each filter decides something.
_PARSED = f"{_UTILS}::test_filter (derived)"
_SPELLINGS = "mlflow/utils/search_utils.py SearchUtils identifiers (derived)"
_PREFIX_FORMS = Scenario(
    "search_utils_filter_forms",
    (
        RunSpec(
            "r",
            2000,
            status="RUNNING",
            end_time=None,
            metrics=(
                Point("acc", 0.95),
                Point("legit name", 0.3),
                Point("XYZ", 3),
                Point("X-Y-Z", 3),
                Point("rmse", 0.5),
                Point("a", 0.2),
                Point("accuracy.2.0", 6),
                Point("spacey name", 6),
            ),
            params={
                "m": "LR",
                "cat dog": "pets",
                "model": "LinearRegression",
                "model_class": "LR",
                "p.a.r.a.m": "b",
                "lr": "0.01",
                "b": "val",
            },
            tags={"version": "commit-hash", "source_name": "a notebook", "t.a.g": "a"},
            inputs=(Input("my_dataset", "dg", "training"),),
        ),
        RunSpec("hosp", 1500, params={"m": "L'Hosp"}),
        RunSpec("other", 1000),
    ),
    _cases(
        _PARSED,
        [
            ("metric.acc >= 0.94", ["r"]),
            ("metric.acc>=100", []),
            ("params.m!='tf'", ["r", "hosp"]),
            ('params."m"!="tf"', ["r", "hosp"]),
            ('metric."legit name" >= 0.243', ["r"]),
            ("metrics.XYZ = 3", ["r"]),
            ('params."cat dog" = "pets"', ["r"]),
            ('metrics."X-Y-Z" = 3', ["r"]),
            ('metrics."X//Y#$$@&Z" = 3', []),
            ("params.model = 'LinearRegression'", ["r"]),
            ("metrics.rmse < 1 and params.model_class = 'LR'", ["r"]),
            ("", ["r", "hosp", "other"]),
            ("`metric`.a >= 0.1", ["r"]),
            ("tags.version = 'commit-hash'", ["r"]),
            ("`tags`.source_name = 'a notebook'", ["r"]),
            ('metrics."accuracy.2.0" > 5', ["r"]),
            ("metrics.`spacey name` > 5", ["r"]),
            ('params."p.a.r.a.m" != "a"', ["r"]),
            ('tags."t.a.g" = "a"', ["r"]),
            ("attribute.artifact_uri = '1/23/4'", []),
            ("attribute.start_time >= 1234", ["r", "hosp"]),
            ("run.status = 'RUNNING'", ["r"]),
            ("dataset.name = 'my_dataset'", ["r"]),
            ("tags.version IS NULL", ["hosp", "other"]),
            ("tags.version IS NOT NULL", ["r"]),
            ("params.lr IS NULL", ["hosp", "other"]),
            ("params.lr IS NOT NULL", ["r"]),
            ("tags.a IS NULL AND params.b = 'val'", ["r"]),
        ],
    )
    + _cases(
        f"{_UTILS}::test_correct_quote_trimming (derived)",
        [
            ("params.m = 'LR'", ["r"]),
            ('params.m = "LR"', ["r"]),
            ('params.m = "L\'Hosp"', ["hosp"]),
        ],
    )
    + _cases(
        _SPELLINGS,
        [
            ("`metrics`.a >= 0.1", ["r"]),
            ("parameter.model = 'LinearRegression'", ["r"]),
            ("parameters.model = 'LinearRegression'", ["r"]),
            ("`param`.model = 'LinearRegression'", ["r"]),
            ("`params`.model = 'LinearRegression'", ["r"]),
            ("tag.version = 'commit-hash'", ["r"]),
            ("attr.status = 'RUNNING'", ["r"]),
            ("`attribute`.status = 'RUNNING'", ["r"]),
            ("`run`.status = 'RUNNING'", ["r"]),
            ("status = 'RUNNING'", ["r"]),
            ("datasets.digest = 'dg'", ["r"]),
            ("`dataset`.context = 'training'", ["r"]),
            ("`datasets`.name = 'my_dataset'", ["r"]),
            ("created >= 1500", ["r", "hosp"]),
            ("Created < 1500", ["other"]),
        ],
    ),
)

SCENARIOS: tuple[Scenario, ...] = (
    _FILTERING,
    _SORTING,
    _NANS,
    _METRIC_TAG_PARAM,
    _ATTRIBUTE_ORDER,
    _PARAMS_TAGS_METRICS,
    _ATTRS,
    _RUN_NAME,
    _RUN_ID_AND_CREATED,
    _DATASETS,
    _DATASETS_WITH_PARAMS,
    _IS_NULL,
    _TIMES_AND_USER,
    _PREFIX_FORMS,
)

# Filters MLflow's tests assert it rejects (test_error_filter, test_error_comparison_clauses,
# test_bad_quotes, test_invalid_clauses, test_bad_comparators), that sparktrack rejects too.
REJECTED: tuple[str, ...] = (
    "metric.acc >= 0.94; metrics.rmse < 1",
    "m.acc >= 0.94",
    "acc >= 0.94",
    "p.model >= 'LR'",
    "attri.x != 1",
    "a.x != 1",
    "model >= 'LR'",
    "metrics.A > 0.1 NAND params.B = 'LR'",
    "`metrics.A > 0.1",
    "param`.A > 0.1",
    "`dummy.A > 0.1",
    "dummy`.A > 0.1",
    "attribute.start != 1",
    "attribute.experiment_id != 1",
    "attribute.name != 1",
    "attribute.time != 1",
    "attribute._status != 'RUNNING'",
    "attribute.status = true",
    "dataset.status = 'true'",
    "dataset.profile = 'num_rows: 10'",
    "metric.model = 'LR'",
    "metric.model = '5'",
    "tags.acc = 5",
    "metrics.acc != metrics.acc",
    "1.0 > metrics.acc",
    "attribute.status = 1",
    "params.acc = LR",
    "tags.acc = LR",
    "params.acc = `LR`",
    "params.'acc = LR",
    "params.acc = 'LR",
    "params.acc = LR'",
    "params.acc = \"LR'",
    "tags.acc = \"LR'",
    "tags.acc = = 'LR'",
    "attribute.status IS 'RUNNING'",
    "params.acc LR !=",
    "params.acc LR",
    "metric.acc !=",
    "acc != 1.0",
    "foo is null",
    "1=1",
    "1==2",
    "metrics.abc ~ 1.0",
    "metrics.abc ~= 1.0",
    "params.abc > 'my-param-value'",
    "params.abc <= 'my-param-value'",
    "params.abc ~ 'my-param-value'",
    "tags.abc > 'my-tag-value'",
    "tags.abc ~ 'my-tag-value'",
    "attributes.status > 'my-tag-value'",
    "attributes.status ~ 'my-tag-value'",
    "attributes.start_time LIKE 1234",
    "attributes.start_time ILIKE 1234",
    "datasets.name > 'my-dataset-name'",
    "datasets.name ~ 'my-dataset-name'",
)

# Filters MLflow rejects and sparktrack accepts on purpose, with the reason.
EXTENSIONS: dict[str, str] = {
    "metrics.A > 0.1 OR params.B = 'LR'": "OR",
    "metrics.A > 0.1 AND (params.B = 'LR')": "parentheses",
    "NOT (params.B = 'LR')": "NOT",
    "metrics.acc IS NULL": "IS NULL for every kind of key",
    "attribute.status IS NULL": "IS NULL for every kind of key",
    "params.acc = 5": "params compared with numbers",
    "params.acc > 0.5": "params compared with numbers",
    "attribute.lifecycle_stage = 'ACTIVE'": "attributes lifecycle_stage and experiment_id",
    "attribute.experiment_id = '1'": "attributes lifecycle_stage and experiment_id",
    "attributes.status IN ('RUNNING', 'FAILED')": "IN for every text attribute",
    "tags.t NOT LIKE 'x%'": "NOT LIKE / NOT ILIKE",
}

# order_by clauses from test_invalid_order_by_search_runs: rejected by both tools...
REJECTED_ORDERS: tuple[str, ...] = (
    "m.acc",
    "acc",
    "attri.x",
    "`metrics.A",
    "`metrics.A`",
    "attribute.start",
    "metrics.A != 1",
    "attribute.run_id ACS",
    "attribute.run_id decs",
)
# ...and those sparktrack accepts on purpose.
ORDER_EXTENSIONS: dict[str, str] = {
    "attribute.experiment_id": "attributes lifecycle_stage and experiment_id",
    "params.my_param ": "whitespace around an order_by clause",
}


# --------------------------------------------------------------------------- helpers

_PLACEHOLDER = re.compile(r"\{(id|ID|uri|URI):([^}]+)\}")


def render(text: str | None, ids: Mapping[str, str], uris: Mapping[str, str]) -> str | None:
    """``text`` with its placeholders replaced by one tool's run ids and artifact URIs."""
    if text is None:
        return None

    def value(match: re.Match[str]) -> str:
        kind, label = match.groups()
        found = (ids if kind.lower() == "id" else uris)[label]
        return found.upper() if kind.isupper() else found

    return _PLACEHOLDER.sub(value, text)


def sparktrack_run_ids(scenario: Scenario) -> dict[str, str]:
    """32-hex run ids whose order is that of the ids MLflow's test gave (its tie-breaks)."""
    prefix = hashlib.sha1(scenario.name.encode()).hexdigest()[:24]
    ranked = sorted(scenario.runs, key=lambda run: run.mlflow_id or run.label)
    return {run.label: f"{prefix}{rank:08x}" for rank, run in enumerate(ranked)}


def log_to_sparktrack(
    client: Any,
    scenario: Scenario,
    run_ids: Mapping[str, str],
    experiment_ids: Mapping[str, str],
) -> dict[str, str]:
    """Write ``scenario``'s runs to a sparktrack ``TrackingClient``; returns artifact URIs.

    A run's start and end, and its inputs, are written as rows of the runs and inputs
    tables (the README's layout): MLflow's tests choose run ids, start and end times
    (0, negative, or an end without a time) and inputs without a context, which
    ``create_run``, ``set_terminated`` and ``log_input`` would not take. Params, metrics
    and tags go through the client.
    """
    uris = {}
    clock = time.time_ns() // 1000
    for run in scenario.runs:
        run_id = run_ids[run.label]
        experiment_id = experiment_ids[run.experiment]
        uris[run.label] = client.store.artifacts.run_root(experiment_id, run_id)
        clock += 1
        events = [
            {
                "run_id": run_id,
                "experiment_id": experiment_id,
                "event": "start",
                "status": "RUNNING",
                "run_name": run.run_name,
                "user_id": run.user_id,
                "parent_run_id": None,
                "start_time": run.start_time,
                "end_time": None,
                "artifact_uri": uris[run.label],
                "event_time": clock,
            }
        ]
        if run.status != "RUNNING":
            clock += 1
            events.append(
                {
                    "run_id": run_id,
                    "event": "end",
                    "status": run.status,
                    "end_time": run.end_time,
                    "event_time": clock,
                }
            )
        client.store.append("runs", events)
        tags = {"mlflow.user": run.user_id, **run.tags}
        if run.run_name is not None:
            tags["mlflow.runName"] = run.run_name
        client.set_tags(run_id, tags)
        if run.params:
            client.log_params(run_id, dict(run.params))
        for point in run.metrics:
            client.log_metric(run_id, point.key, point.value, point.timestamp, point.step)
        inputs = []
        for item in run.inputs:
            clock += 1
            inputs.append(
                {
                    "run_id": run_id,
                    "dataset_name": item.name,
                    "digest": item.digest,
                    "source_type": "memory",
                    "source": "{}",
                    "schema": "{}",
                    "num_rows": None,
                    "context": item.context,
                    "event_time": clock,
                }
            )
        if inputs:
            client.store.append("inputs", inputs)
    client.flush()
    return uris
