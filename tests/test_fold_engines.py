"""The runs fold has one description and two engines; both fold the same events alike.

Random event tables (the generator of ``test_search_folding``: renames, deletes and
restores, resumed and ended runs, runs without a start, stale RUNNING runs and
heartbeats) are folded by the Arrow engine behind ``get_run``/``search_runs`` and by
the Spark SQL of the ``sparktrack_runs`` view, and the results compared with chispa.

Spark cannot see row order, which the Arrow fold uses to break ties between equal
event times (only events of different processes can tie), so the tables are first
given distinct event times in the Arrow fold's order (time, then row).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from chispa import assert_df_equality
from deltalake import write_deltalake

import sparktrack.spark as sts
from sparktrack.store import TABLES, parse_store_uri
from sparktrack.tracking import runs_view_sql
from sparktrack.tracking._runs_fold import RUNS_FOLD
from sparktrack.tracking._state import run_states, stale_marked
from tests.test_search_folding import NOW_MS, TIMEOUT_S, random_tables

pytestmark = pytest.mark.spark

_STATE_SCHEMA = (
    "run_id string, experiment_id string, run_name string, user_id string, status string, "
    "start_time bigint, end_time bigint, artifact_uri string, lifecycle_stage string, "
    "parent_run_id string"
)


def untied(table: pa.Table) -> pa.Table:
    """``table`` with distinct event times, in the order (event time, row) it had."""
    if "event_time" not in table.column_names or table.num_rows == 0:
        return table
    times = table["event_time"].to_numpy()
    order = np.lexsort((np.arange(table.num_rows), times))
    distinct = np.empty(table.num_rows, dtype=np.int64)
    distinct[order] = 1_000_000 + np.arange(table.num_rows)
    index = table.schema.get_field_index("event_time")
    return table.set_column(index, "event_time", pa.array(distinct, pa.int64()))


def _tables(seed: int) -> dict[str, pa.Table]:
    return {name: untied(table) for name, table in random_tables(seed, runs=80).items()}


def _arrow_fold(tables: dict[str, pa.Table], now_ms: int) -> list[dict[str, Any]]:
    states = run_states(tables["runs"], tables["heartbeats"])
    judged = stale_marked(states, now_ms, int(TIMEOUT_S * 1000))
    return judged.select(list(RUNS_FOLD.state_columns)).to_pylist()


def _rows(folded: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(row[name] for name in RUNS_FOLD.state_columns) for row in folded]


def test_the_tables_tie_nowhere_and_fold_as_before() -> None:
    # The untying keeps the Arrow fold's result: it only makes row order explicit.
    original = random_tables(0, runs=80)
    tables = _tables(0)
    times = tables["runs"]["event_time"].to_pylist()
    assert len(set(times)) == len(times)
    key = "run_id"
    before = sorted(_arrow_fold(original, NOW_MS), key=lambda row: row[key])
    after = sorted(_arrow_fold(tables, NOW_MS), key=lambda row: row[key])
    assert before == after
    assert {row["status"] for row in after} >= {"RUNNING", "KILLED", "FINISHED", "FAILED"}
    assert {row["lifecycle_stage"] for row in after} == {"active", "deleted"}


@pytest.mark.parametrize("seed", range(4))
def test_spark_sql_folds_like_arrow(spark: Any, seed: int) -> None:
    tables = _tables(seed)
    for name in ("runs", "heartbeats"):
        rows = [tuple(row.values()) for row in tables[name].to_pylist()]
        frame = spark.createDataFrame(rows, schema=_spark_schema(name))
        frame.createOrReplaceTempView(f"fold{seed}_{name}")
    query = runs_view_sql(
        f"fold{seed}_runs",
        f"fold{seed}_heartbeats",
        heartbeat_timeout_ms=int(TIMEOUT_S * 1000),
        now_ms=NOW_MS,
    )
    expected = spark.createDataFrame(_rows(_arrow_fold(tables, NOW_MS)), schema=_STATE_SCHEMA)
    assert_df_equality(spark.sql(query), expected, ignore_row_order=True, ignore_nullable=True)


def test_the_runs_view_folds_like_search(spark: Any, tmp_path: Path) -> None:
    # The whole path: Delta tables in a store folder, read by delta-spark, the view
    # judging staleness at query time. The random runs' last signs of life are either
    # decades ago or decades ahead, so the verdicts do not depend on the clock.
    store = str(tmp_path / "store")
    tables = _tables(7)
    location = parse_store_uri(store)
    for name, schema in TABLES.items():
        write_deltalake(location.for_delta_rs(name), tables[name].cast(schema))
    names = sts.register_views(spark, store=store, heartbeat_timeout_seconds=TIMEOUT_S)
    assert "sparktrack_runs" in names
    now_ms = int(time.time() * 1000)
    expected = spark.createDataFrame(_rows(_arrow_fold(tables, now_ms)), schema=_STATE_SCHEMA)
    assert_df_equality(
        spark.table("sparktrack_runs"), expected, ignore_row_order=True, ignore_nullable=True
    )


def _spark_schema(table: str) -> str:
    types = {pa.string(): "string", pa.int64(): "bigint", pa.bool_(): "boolean"}
    return ", ".join(f"{field.name} {types[field.type]}" for field in TABLES[table])
