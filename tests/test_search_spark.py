"""search_runs(output_format="spark") computes the search in Spark, as the JVM-free one does.

Random stores (the generator of ``test_search_folding``: duplicate params, deleted and
re-set tags, metric ties and NaN, renames, deletes and restores, stale RUNNING runs,
dataset inputs) are written as Delta tables and searched with its queries and scopes
twice: by the JVM-free search (``TrackingClient.search_runs``) and by the fluent
``search_runs(output_format="spark")``, which reads the tables with delta-spark. The
rows, their order, the columns and every value must be the same; a logged NaN must
stay NaN and a missing metric null, which is why values are compared with the
JVM-free ``Run`` records (``output_format="list"``) rather than the pandas frame.

Spark cannot see row order, which the JVM-free folds use to break ties between equal
event times (only events of different processes can tie), so the tables are first
given distinct event times in that order (``untied``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest
from deltalake import write_deltalake

import sparktrack
from sparktrack import SearchSyntaxError, TrackingClient
from sparktrack.session import DELTA_CONFS, delta_package
from sparktrack.store import TABLES, parse_store_uri
from sparktrack.tracking import Run, _fluent_read, _spark_search
from tests.test_fold_engines import untied
from tests.test_search_folding import QUERIES, SCOPES, random_tables

pytestmark = pytest.mark.spark

BASE = [
    "run_id",
    "experiment_id",
    "run_name",
    "status",
    "user_id",
    "artifact_uri",
    "start_time",
    "end_time",
    "lifecycle_stage",
]
# With every fourth of test_search_folding's queries, what Spark would read otherwise:
# NaN (equal to itself and above every number in Spark), params read as numbers or as
# text, keys that need quotes, NULL end times, any-input verdicts on datasets.
SPARK_QUERIES: list[tuple[str, list[str] | None, int]] = [
    ("metrics.m0 = 0.5 OR NOT (metrics.m1 != 0.5)", ["metrics.m1 DESC", "metrics.m0"], 40),
    ("params.p0 <= 9.5 AND params.p2 != 'x y'", ["params.p0", "params.p2 DESC"], 40),
    (
        "params.`p 3` LIKE '%y' OR tags.t1 ILIKE 'V_' OR tags.`t.3` IN ('x')",
        ["tags.`t.3`", "metrics.m0 DESC"],
        40,
    ),
    ("start_time > 0 AND end_time IS NULL", ["attributes.end_time DESC"], 40),
    (
        "datasets.digest NOT IN ('d1') OR datasets.context IS NULL "
        "OR NOT (datasets.name LIKE 'hold%')",
        ["run_name"],
        40,
    ),
    ("", ["params.pn", "metrics.m2 DESC"], 40),
]


def _write_store(root: Path, tables: dict[str, pa.Table]) -> str:
    location = parse_store_uri(str(root))
    for name, schema in TABLES.items():
        write_deltalake(location.for_delta_rs(name), tables[name].cast(schema))
    return str(root)


@pytest.fixture(scope="module")
def random_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    tables = {name: untied(table) for name, table in random_tables(5, runs=80).items()}
    return _write_store(tmp_path_factory.mktemp("spark-search") / "store", tables)


@pytest.fixture
def reference(random_store: str) -> Iterator[TrackingClient]:
    """The JVM-free search of the same store (a reader: it records no verdicts).

    The random runs' last signs of life are decades ago or ahead, so the heartbeat
    verdicts are the same whatever the timeout and the clock.
    """
    client = TrackingClient(random_store, record_verdicts=False)
    yield client
    client.close()


def _comparable(value: Any) -> Any:
    # NaN is unequal to itself; rows must still compare equal where both hold it.
    return "NaN" if isinstance(value, float) and math.isnan(value) else value


def _expected_rows(runs: list[Run], columns: list[str]) -> list[tuple[Any, ...]]:
    rows = []
    for run in runs:
        info = vars(run.info)
        values = {name: info[name] for name in BASE}
        for kind in ("metrics", "params", "tags"):
            for key, value in getattr(run.data, kind).items():
                values[f"{kind}.{key}"] = value
        rows.append(tuple(_comparable(values.get(name)) for name in columns))
    return rows


def _spark_rows(frame: Any) -> list[tuple[Any, ...]]:
    from pyspark.sql import functions as F

    # Times as epoch milliseconds, as Run records hold them (no time zone involved).
    shown = [
        F.unix_millis(F.col(name)).alias(name)
        if name in ("start_time", "end_time")
        else F.col(f"`{name}`")
        for name in frame.columns
    ]
    return [tuple(_comparable(v) for v in row) for row in frame.select(*shown).collect()]


# The rule itself, before the fixture below replaces it.
COMPUTED_BY_CLUSTER = _fluent_read.computed_by_cluster


@pytest.fixture(autouse=True)
def _computed_by_spark(monkeypatch: pytest.MonkeyPatch) -> None:
    """local[2] stands in for a cluster: Spark computes every search of this module
    (in local mode the fluent API would run the JVM-free search on the driver)."""
    monkeypatch.setattr(_fluent_read, "computed_by_cluster", lambda spark: True)


def _search_both(
    client: TrackingClient,
    spark: Any,
    scope: tuple[list[str] | None, str],
    query: tuple[str, list[str] | None, int],
) -> None:
    experiment_ids, view = scope
    filter_string, order_by, max_results = query
    frame = client.search_runs(experiment_ids, filter_string, view, max_results, order_by)
    runs = client.search_runs(
        experiment_ids, filter_string, view, max_results, order_by, output_format="list"
    )
    result = sparktrack.search_runs(
        experiment_ids,
        filter_string,
        view,  # type: ignore[arg-type]
        max_results,
        order_by,
        output_format="spark",
        search_all_experiments=experiment_ids is None,
        spark=spark,
    )
    context = f"scope {scope}, query {query}"
    assert result.columns == list(frame.columns), context
    assert _spark_rows(result) == _expected_rows(runs, result.columns), context
    types = dict(result.dtypes)
    assert {types["start_time"], types["end_time"]} == {"timestamp"}, context
    for name, kind in types.items():
        if "." in name:
            wanted = "double" if name.startswith("metrics.") else "string"
            assert kind == wanted, (context, name)


def _cases() -> list[tuple[tuple[list[str] | None, str], tuple[str, list[str] | None, int]]]:
    # The scopes take turns: a Spark search of a small store takes seconds.
    queries = [*QUERIES[::4], *SPARK_QUERIES]
    return [(SCOPES[index % len(SCOPES)], query) for index, query in enumerate(queries)]


def _search_all(client: TrackingClient, spark: Any, cases: list[Any]) -> None:
    """``_search_both`` for every case, a few at once: a search of a small store is a
    few dozen tiny Spark jobs, whose time is mostly waiting, which searches can share."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda case: _failure(client, spark, *case), cases))
    failures = [outcome for outcome in outcomes if outcome is not None]
    assert not failures, "\n\n".join(failures)


def _failure(client: TrackingClient, spark: Any, scope: Any, query: Any) -> str | None:
    try:
        _search_both(client, spark, scope, query)
    except AssertionError as exc:
        return str(exc)  # it names the scope and the query
    return None


def test_spark_search_matches_the_jvm_free_search(
    spark: Any, random_store: str, reference: TrackingClient
) -> None:
    sparktrack.set_store(random_store)
    _search_all(reference, spark, _cases())


def test_texts_read_as_numbers_and_like_escapes_as_the_jvm_free_search(
    spark: Any, tmp_path: Path
) -> None:
    # Params whose text Spark alone would read as numbers ("1d", "0x1p3"), or only
    # pandas (" 10 "); tags that LIKE patterns match only through their escapes.
    texts = [" 10 ", "1d", "0x1p3", "inf", "-Infinity", "nan", "+3", ".5", "1e400", " inf"]
    tags = ["a\\b", "a%b", "a_b", "aXb", "A%B", "a\\\\b"]
    store = str(tmp_path / "store")
    client = TrackingClient(store, record_verdicts=False)
    experiment = client.create_experiment("texts")
    for index, text in enumerate(texts):
        run = client.create_run(experiment, start_time=1000 + index).info.run_id
        client.log_param(run, "p", text)
        client.log_param(run, "q", str(index) if index % 3 else text)
        client.set_tag(run, "t", tags[index % len(tags)])
        client.set_terminated(run)
    client.flush()
    sparktrack.set_store(store)
    scope = ([experiment], "ACTIVE_ONLY")
    queries = [
        ("params.p > 2 OR params.p <= 0.5", ["params.p"], 20),
        ("params.q >= 0", ["params.q DESC"], 20),
        ("tags.t LIKE 'a\\%b' OR tags.t LIKE 'a\\_b' OR tags.t LIKE 'a\\b'", None, 20),
        ("tags.t LIKE 'a\\\\b' OR tags.t ILIKE 'a\\%b' OR tags.t NOT LIKE 'a_b'", ["tags.t"], 20),
    ]
    _search_all(client, spark, [(scope, query) for query in queries])
    client.close()


def test_the_spark_search_never_runs_the_jvm_free_one(
    spark: Any, random_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the JVM-free search ran")

    sparktrack.set_store(random_store)
    monkeypatch.setattr(TrackingClient, "search_runs", refuse)
    frame = sparktrack.search_runs(
        filter_string="metrics.m0 > 0.3",
        order_by=["metrics.m0 DESC"],
        max_results=5,
        output_format="spark",
        search_all_experiments=True,
        spark=spark,
    )
    values = [row["metrics.m0"] for row in frame.collect()]
    assert len(values) == 5 and values == sorted(values, reverse=True), values


@pytest.mark.parametrize(
    ("filter_string", "order_by"),
    [("metrics.auc >", None), ("params.x = 1 AND", None), ("", ["metrics.auc SIDEWAYS"])],
)
def test_a_bad_query_is_a_search_syntax_error(
    spark: Any, random_store: str, filter_string: str, order_by: list[str] | None
) -> None:
    sparktrack.set_store(random_store)
    with pytest.raises(SearchSyntaxError):
        sparktrack.search_runs(
            filter_string=filter_string,
            order_by=order_by,
            output_format="spark",
            search_all_experiments=True,
            spark=spark,
        )


def test_in_local_mode_the_driver_searches_and_spark_gets_the_same_frame(
    spark: Any, random_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sparktrack.set_store(random_store)
    query: dict[str, Any] = {
        "filter_string": "metrics.m0 > 0.3",
        "order_by": ["metrics.m0 DESC"],
        "max_results": 7,
        "search_all_experiments": True,
    }
    by_spark = sparktrack.search_runs(**query, output_format="spark", spark=spark)
    monkeypatch.undo()  # the rule as it is: local[2] is local mode
    assert not _fluent_read.computed_by_cluster(spark)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("Spark computed a search in local mode")

    monkeypatch.setattr(_spark_search, "search_in_spark", refuse)
    on_driver = sparktrack.search_runs(**query, output_format="spark", spark=spark)
    assert on_driver.columns == by_spark.columns
    assert _spark_rows(on_driver) == _spark_rows(by_spark)


class _Session:
    """What the rule reads of a session: its master and its confs."""

    def __init__(self, master: str, conf: dict[str, str]) -> None:
        self.sparkContext = SimpleNamespace(master=master, getConf=lambda: conf)


@pytest.mark.parametrize(
    ("master", "with_delta", "by_cluster"),
    [
        ("spark://host:7077", True, True),
        ("yarn", True, True),
        ("spark://host:7077", False, False),  # it could not read the tables
        ("local[2]", True, False),
        ("local-cluster[2,1,1024]", True, False),
    ],
)
def test_spark_computes_the_search_on_a_cluster_whose_session_reads_delta(
    master: str, with_delta: bool, by_cluster: bool
) -> None:
    conf = {"spark.jars.packages": delta_package(), **DELTA_CONFS} if with_delta else {}
    session = _Session(master, conf)
    assert COMPUTED_BY_CLUSTER(session) is by_cluster  # type: ignore[arg-type]
