"""search_runs folds and widens only what it needs; the result must be the full fold's.

Random event tables with every awkward case the folding rules name (duplicate params,
deleted and re-set tags, metric ties and NaN, renames, deletes and restores, runs
without a start, stale RUNNING runs, equal event times, several dataset inputs per
run) are searched through a TrackingClient and through the oracle in
``_search_oracle``, and the frames compared exactly: rows, order, columns, dtypes and
index.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sparktrack import TrackingClient
from sparktrack.config import Settings, load_settings
from sparktrack.store import TABLES, MemoryStore
from sparktrack.tracking import _reader
from sparktrack.tracking._state import RUN_COLUMNS, run_states
from tests._search_oracle import Oracle
from tests._search_oracle import fold_run_events as oracle_fold_run_events

NOW_MS = 1_700_000_000_000
# Long enough that runs with fresh signs of life are never stale, whatever the clock.
FAR_FUTURE_MS = 4_000_000_000_000
TIMEOUT_S = 60.0


def _events(rng: random.Random, runs: int) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    clock = [1_000_000]

    def tick() -> int:
        # Small steps, often zero: equal event times must keep row order.
        clock[0] += rng.choice([0, 0, 1, 7])
        return clock[0]

    for i in range(runs):
        run_id = f"run{i:03d}{rng.randrange(10**6):06d}"
        fresh = rng.random() < 0.5
        start_ms = (FAR_FUTURE_MS if fresh else NOW_MS - 10**9) + i
        if rng.random() < 0.9:
            rows["runs"].append(
                {
                    "run_id": run_id,
                    "experiment_id": rng.choice(["1", "2", "3"]),
                    "event": "start",
                    "status": "RUNNING",
                    "run_name": f"name-{rng.randrange(20)}",
                    "user_id": rng.choice(["u1", "u2", None]),
                    "parent_run_id": rng.choice([None, None, "parent"]),
                    "start_time": start_ms,
                    "artifact_uri": f"file:///a/{run_id}",
                    "event_time": tick(),
                }
            )
        for _ in range(rng.randrange(4)):
            event = rng.choice(["end", "end", "resume", "rename", "delete", "restore", "start"])
            row: dict[str, Any] = {"run_id": run_id, "event": event, "event_time": tick()}
            if event == "start":  # a later start: its fields lose to the first start's
                row.update(
                    status="RUNNING",
                    experiment_id="1",
                    run_name="late-start",
                    user_id="u3",
                    start_time=start_ms + 3,
                    artifact_uri="file:///late",
                )
            elif event == "end":
                row.update(status=rng.choice(["FINISHED", "FAILED"]), end_time=start_ms + 5)
            elif event == "resume":
                row.update(status="RUNNING")
            elif event == "rename":
                row.update(run_name=f"renamed-{rng.randrange(5)}")
            rows["runs"].append(row)
        if rng.random() < 0.3:
            rows["heartbeats"].append({"run_id": run_id, "time": start_ms + rng.randrange(100)})
        _long_rows(rng, rows, run_id, tick)
    return rows


def _long_rows(
    rng: random.Random, rows: dict[str, list[dict[str, Any]]], run_id: str, tick: Any
) -> None:
    for _ in range(rng.randrange(6)):
        key = rng.choice(["p0", "p1", "p2", "p 3", "pn"])
        # pn holds numbers only: it sorts as numbers (text order would put "10" before "9").
        value = rng.choice(
            ["10", "9", "2.5", "-1"] if key == "pn" else ["a", "b", "10", "9", "2.5", "x y"]
        )
        rows["params"].append({"run_id": run_id, "key": key, "value": value, "event_time": tick()})
    for _ in range(rng.randrange(8)):
        rows["metrics"].append(
            {
                "run_id": run_id,
                "key": rng.choice(["m0", "m1", "m2"]),
                "value": rng.choice([rng.random(), rng.random(), float("nan"), 0.5]),
                "step": rng.randrange(3),
                "timestamp": rng.randrange(3),
            }
        )
    for _ in range(rng.randrange(3)):
        rows["inputs"].append(
            {
                "run_id": run_id,
                "dataset_name": rng.choice(["train", "holdout", "Train"]),
                "digest": rng.choice(["d1", "d2", "d3"]),
                "source_type": "memory",
                "context": rng.choice(["training", "validation", None]),
                "event_time": tick(),
            }
        )
    for _ in range(rng.randrange(7)):
        deleted = rng.random() < 0.25
        rows["tags"].append(
            {
                "run_id": run_id,
                "key": rng.choice(["t0", "t1", "mlflow.runName", "t.3"]),
                "value": None if deleted else rng.choice(["x", "y", "v1", "v2"]),
                "deleted": deleted,
                "event_time": tick(),
            }
        )


def _table(name: str, rows: list[dict[str, Any]], rng: random.Random, encoded: bool) -> pa.Table:
    """Rows in shuffled order, in several chunks, strings optionally dictionary-encoded."""
    rows = list(rows)
    rng.shuffle(rows)
    schema = TABLES[name]
    cut = len(rows) // 3
    pieces = [rows[:cut], rows[cut : 2 * cut], rows[2 * cut :]]
    batches = [pa.Table.from_pylist(piece, schema=schema) for piece in pieces]
    table = pa.concat_tables(batches)
    if not encoded:
        return table
    for index, field in enumerate(schema):
        if field.type == pa.string():
            chunks = [chunk.dictionary_encode() for chunk in table[field.name].chunks]
            table = table.set_column(index, field.name, pa.chunked_array(chunks))
    return table


def fold_run_events(events: pa.Table, heartbeats: pa.Table | None) -> pd.DataFrame:
    """The runs fold (before the heartbeat rule) as the oracle's pandas frame."""
    states = run_states(events, heartbeats)
    if states.num_rows == 0:
        return pd.DataFrame(columns=RUN_COLUMNS)
    frame = states.to_pandas()
    frame["end_time"] = frame["end_time"].astype("Int64")
    return frame[RUN_COLUMNS]


def random_tables(seed: int, runs: int = 60, *, encoded: bool = False) -> dict[str, pa.Table]:
    rng = random.Random(seed)
    rows = _events(rng, runs)
    return {name: _table(name, rows[name], rng, encoded) for name in TABLES}


def _plain(table: pa.Table) -> pa.Table:
    """The table with dictionary-encoded strings decoded (the oracle takes plain ones)."""
    fields = [
        field.with_type(field.type.value_type) if pa.types.is_dictionary(field.type) else field
        for field in table.schema
    ]
    return table.cast(pa.schema(fields))


class _FixedStore(MemoryStore):
    """A store that reads back prepared tables; what the client appends is dropped."""

    def __init__(self, tables: dict[str, pa.Table]) -> None:
        super().__init__()
        self._fixed = tables

    def append(self, table: str, rows: Sequence[Any], *, durable: bool = True) -> None:
        return None

    def scan(
        self,
        table: str,
        *,
        run_ids: Iterable[str] | None = None,
        keys: Iterable[str] | None = None,
        columns: Sequence[str] | None = None,
        dictionary: bool = False,
    ) -> pa.Table:
        fixed = self._fixed[table]
        # A search reads the keys its query names and the rows of the runs it returns.
        for column, wanted in (("run_id", run_ids), ("key", keys)):
            if wanted is not None:
                values = fixed[column].cast(pa.string())
                fixed = fixed.filter(
                    pc.is_in(values, value_set=pa.array(list(wanted), pa.string()))
                )
        return fixed if columns is None else fixed.select(list(columns))


@pytest.fixture
def settings() -> Settings:
    return dataclasses.replace(
        load_settings(store="memory://"),
        heartbeat_interval_seconds=TIMEOUT_S / 4,
        heartbeat_timeout_seconds=TIMEOUT_S,
    )


def _client(tables: dict[str, pa.Table], settings: Settings) -> Iterator[TrackingClient]:
    client = TrackingClient(_FixedStore(tables), settings=settings)
    yield client
    client.close()


QUERIES: list[tuple[str, list[str] | None, int]] = [
    ("", None, 1000),
    ("", None, 3),
    ("metrics.m0 > 0.3", ["metrics.m1 DESC"], 5),
    ("metrics.m2 <= 0.5 AND tags.t0 != 'x'", ["metrics.m2"], 2),
    ("params.p1 = 'a'", ["params.p0"], 4),
    ("params.p0 > 5", ["params.`p 3` DESC"], 3),
    ("params.p2 IS NULL", ["start_time ASC"], 7),
    ("tags.t0 LIKE 'v%'", ["tags.t1 DESC", "attributes.run_name"], 6),
    ("tags.`t.3` IN ('x', 'y')", ["tags.`mlflow.runName`"], 100),
    ("tags.t1 IS NOT NULL OR metrics.m1 > 0.9", ["end_time DESC"], 4),
    ("attributes.status = 'KILLED' OR attributes.status = 'RUNNING'", ["end_time"], 3),
    ("attributes.user_id = 'u1'", ["attributes.user_id DESC", "metrics.m0"], 10),
    ("attributes.run_name LIKE 'renamed%'", ["run_id"], 5),
    ("attributes.lifecycle_stage = 'deleted'", None, 50),
    ("metrics.missing > 0", None, 10),
    ("tags.missing = 'x'", ["params.missing"], 10),
    # A logged NaN is present, compares as IEEE 754 does and sorts between numbers and
    # missing values, in both directions.
    ("metrics.m1 IS NOT NULL", ["metrics.m1 DESC"], 40),
    ("metrics.m0 != 0.5", ["metrics.m0", "metrics.m2 DESC"], 40),
    ("NOT (metrics.m2 > 0.5)", ["metrics.m2 ASC"], 40),
    # Numeric or text order of a param is decided before the filter.
    ("params.p0 = '10' OR params.p0 = '9'", ["params.p0"], 10),
    ("params.p1 IN ('10', '9', '2.5')", ["params.p1 DESC", "params.p2"], 10),
    ("params.pn > 2", ["params.pn DESC"], 10),
    ("", ["params.pn", "metrics.m0"], 30),
    ("datasets.name = 'train'", ["metrics.m0 DESC"], 20),
    ("datasets.name ILIKE 'TRAIN' AND datasets.context != 'training'", None, 20),
    ("datasets.digest NOT IN ('d1') OR datasets.context IS NULL", ["tags.t0"], 20),
    ("NOT (datasets.name LIKE 'hold%')", None, 20),
]
SCOPES: list[tuple[list[str] | None, str]] = [
    (None, "ACTIVE_ONLY"),
    (["1"], "ACTIVE_ONLY"),
    (["1", "3"], "ALL"),
    (["2", "9"], "DELETED_ONLY"),
]


@pytest.mark.parametrize("seed", range(6))
def test_run_fold_matches_the_oracle(seed: int) -> None:
    for encoded in (False, True):
        tables = random_tables(seed, encoded=encoded)
        plain = {name: _plain(table) for name, table in tables.items()}
        expected = oracle_fold_run_events(plain["runs"], plain["heartbeats"])
        actual = fold_run_events(tables["runs"], tables["heartbeats"])
        pd.testing.assert_frame_equal(
            actual.sort_values("run_id").reset_index(drop=True),
            expected.sort_values("run_id").reset_index(drop=True),
        )


# Stores up to _reader.WHOLE_TABLES_UP_TO runs are searched from whole tables, larger
# ones by reading the keys a query names and the rows of the runs returned.
@pytest.mark.parametrize("reads", ["whole tables", "keys and returned runs"])
@pytest.mark.parametrize("encoded", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_search_matches_the_oracle(
    seed: int, encoded: bool, reads: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    if reads != "whole tables":
        monkeypatch.setattr(_reader, "WHOLE_TABLES_UP_TO", 0)
    tables = random_tables(seed, encoded=encoded)
    plain = {name: _plain(table) for name, table in tables.items()}
    oracle = Oracle(plain, NOW_MS, int(TIMEOUT_S * 1000))
    for client in _client(tables, settings):
        for experiment_ids, view in SCOPES:
            for filter_string, order_by, max_results in QUERIES:
                query = (experiment_ids, view, filter_string, order_by, max_results)
                actual = client.search_runs(
                    experiment_ids, filter_string, view, max_results, order_by
                )
                expected = oracle.search(*query)
                assert list(actual.columns) == list(expected.columns), query
                pd.testing.assert_frame_equal(actual, expected, obj=str(query))


def test_empty_store_matches_the_oracle(settings: Settings) -> None:
    tables = {name: schema.empty_table() for name, schema in TABLES.items()}
    for client in _client(tables, settings):
        oracle = Oracle(tables, NOW_MS, 1000)
        expected = oracle.search(None, "ACTIVE_ONLY", "metrics.a > 1", ["params.b"], 10)
        actual = client.search_runs(None, "metrics.a > 1", order_by=["params.b"])
        pd.testing.assert_frame_equal(actual, expected)
