"""What a search of a large store reads: the keys its query names, the returned runs' rows.

A search of a million runs must not hold every run's every param (twenty million rows):
above ``WHOLE_TABLES_UP_TO`` runs it reads each key its filter and order name, for
every run, and every key only of the runs it returns. Reads of a few runs skip the
Parquet row groups whose run_id range holds none of them. The results themselves are
checked against an oracle in test_search_folding.py (both ways); here, what is read.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from sparktrack import TrackingClient
from sparktrack.store import Appended, MemoryStore, Store, _pruning
from sparktrack.store._pruning import RunRanges, row_groups_of_runs
from sparktrack.tracking import _reader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from _bulk_store import BulkShape, build_store, run_id

SHAPE = BulkShape(runs=60, params=6, metrics=4, steps=5, experiments=2, batch_runs=25)
QUERY: dict[str, Any] = {
    "experiment_ids": None,
    "filter_string": "params.p0 = 'a3' and metrics.m0 > 0.2",
    "order_by": ["metrics.m1 DESC"],
    "max_results": 3,
}
KEYED = ("params", "metrics", "tags")


class Reads:
    """The params, metrics and tags reads a store serves: (table, run ids, keys)."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[tuple[str, frozenset[str] | None, frozenset[str] | None]] = []
        scan, scan_appended = store.scan, store.scan_appended

        def recorded(table: str, run_ids: Iterable[str] | None, keys: Iterable[str] | None) -> None:
            if table in KEYED:
                self.seen.append(
                    (
                        table,
                        None if run_ids is None else frozenset(run_ids),
                        None if keys is None else frozenset(keys),
                    )
                )

        def scanned(table: str, **options: Any) -> pa.Table:
            recorded(table, options.get("run_ids"), options.get("keys"))
            return scan(table, **options)

        def appended(table: str, seen: Any, **options: Any) -> Appended:
            recorded(table, None, options.get("keys"))
            return scan_appended(table, seen, **options)

        monkeypatch.setattr(store, "scan", scanned)
        monkeypatch.setattr(store, "scan_appended", appended)

    def take(self) -> list[tuple[str, frozenset[str] | None, frozenset[str] | None]]:
        seen, self.seen = self.seen, []
        return seen


@pytest.fixture
def bulk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TrackingClient]:
    # A small store searched as a large one is (small ones keep whole tables).
    monkeypatch.setattr(_reader, "WHOLE_TABLES_UP_TO", 0)
    client = TrackingClient(build_store(tmp_path / "store", SHAPE))
    yield client
    client.close()


def test_a_search_reads_the_keys_it_names_and_the_runs_it_returns(
    bulk: TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = Reads(bulk.store, monkeypatch)
    found = bulk.search_runs(**QUERY)
    returned = frozenset(found["run_id"])
    assert len(returned) == QUERY["max_results"]
    seen = reads.take()
    # No read of a whole table: each names the keys or the runs it wants.
    assert all(run_ids is not None or keys is not None for _, run_ids, keys in seen), seen
    keyed = {(table, key) for table, _, keys in seen for key in keys or ()}
    assert keyed == {("params", "p0"), ("metrics", "m0"), ("metrics", "m1")}
    by_run = {table: run_ids for table, run_ids, _ in seen if run_ids is not None}
    assert by_run == {table: returned for table in KEYED}
    # The returned runs show every key they have, as get_run does.
    for row in found.to_dict("records"):
        run = bulk.get_run(row["run_id"])
        assert {k: row[f"params.{k}"] for k in run.data.params} == run.data.params
        assert {k: row[f"metrics.{k}"] for k in run.data.metrics} == run.data.metrics
        assert {k: row[f"tags.{k}"] for k in run.data.tags} == run.data.tags


def test_a_search_again_reads_nothing_until_its_tables_change(
    bulk: TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = bulk.search_runs(**QUERY)
    reads = Reads(bulk.store, monkeypatch)
    again = bulk.search_runs(**QUERY)
    assert reads.take() == []
    assert list(again["run_id"]) == list(first["run_id"])
    # A tag on a returned run: only the tags table is read again, and the run shows it.
    target = str(first["run_id"][0])
    bulk.set_tag(target, "reviewed", "yes")
    bulk.flush()
    changed = bulk.search_runs(**QUERY)
    assert {table for table, _, _ in reads.take()} == {"tags"}
    assert changed.set_index("run_id").loc[target, "tags.reviewed"] == "yes"


@pytest.mark.parametrize("kind", ["memory", "delta"])
def test_scan_by_keys(kind: str, tmp_path: Path) -> None:
    client = TrackingClient(MemoryStore() if kind == "memory" else str(tmp_path / "store"))
    experiment = client.get_or_create_experiment("keys").experiment_id
    runs = [client.create_run(experiment).info.run_id for _ in range(3)]
    for index, target in enumerate(runs):
        client.log_param(target, "a", str(index))
        client.log_param(target, "b", "x")
        client.log_metric(target, "m", float(index))
        client.log_metric(target, "n", 1.0)
    client.flush()
    params = client.store.scan("params", keys=["a"])
    pairs = zip(params["run_id"].to_pylist(), params["value"].to_pylist(), strict=True)
    assert sorted(pairs) == sorted((target, str(index)) for index, target in enumerate(runs))
    both = client.store.scan("metrics", keys=["m", "n"], run_ids=[runs[1]])
    pairs = zip(both["key"].to_pylist(), both["value"].to_pylist(), strict=True)
    assert sorted(pairs) == [("m", 1.0), ("n", 1.0)]
    appended = client.store.scan_appended("metrics", None, keys=["n"])
    rows = pa.concat_tables(list(appended.batches))
    assert set(rows["key"].to_pylist()) == {"n"} and rows.num_rows == 3
    client.close()


def _row_groups(dataset: ds.Dataset) -> list[tuple[str, int]]:
    return [
        (fragment.path, group.id)
        for fragment in dataset.get_fragments()
        for group in fragment.row_groups
    ]


def test_reads_of_some_runs_skip_row_groups_without_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_pruning, "_EXACT_UP_TO_ROWS", 0)  # every group by its range
    ids = sorted(run_id(SHAPE, i) for i in range(40))
    sorted_table = pa.table({"run_id": ids, "value": list(range(40))})
    pq.write_table(sorted_table, tmp_path / "sorted.parquet", row_group_size=5)
    # Interleaved: row group k holds rows k, k + 8, ..., k + 32, so its range spans
    # rows of the others, and only the ranges say which groups to skip.
    mixed = [k + 8 * j for k in range(8) for j in range(5)]
    pq.write_table(sorted_table.take(pa.array(mixed)), tmp_path / "mixed.parquet", row_group_size=5)
    dataset = ds.dataset([str(tmp_path / "sorted.parquet"), str(tmp_path / "mixed.parquet")])
    wanted = sorted([ids[0], ids[12], ids[13], ids[39]])
    known: RunRanges = {}
    narrowed = row_groups_of_runs(dataset, wanted, known)
    kept = _row_groups(narrowed)
    # Sorted file: the groups of rows 0-4, 10-14 and 35-39. Mixed: every group's range
    # (rows k to k + 32) spans ids[12] and ids[13], so none may be skipped.
    assert [g for path, g in kept if path.endswith("sorted.parquet")] == [0, 2, 7]
    assert [g for path, g in kept if path.endswith("mixed.parquet")] == list(range(8))
    filtered = narrowed.to_table(filter=pc.field("run_id").isin(pa.array(wanted)))
    assert sorted(filtered["run_id"].to_pylist()) == sorted(wanted * 2)
    # Footers are read once per file; a file gone from the dataset is forgotten.
    assert set(known) == {str(tmp_path / "sorted.parquet"), str(tmp_path / "mixed.parquet")}
    row_groups_of_runs(ds.dataset([str(tmp_path / "sorted.parquet")]), wanted, known)
    assert set(known) == {str(tmp_path / "sorted.parquet")}


def test_small_row_groups_are_read_only_when_they_hold_a_wanted_run(tmp_path: Path) -> None:
    # A writer's commit of a few runs: their random ids span most of the id space, so
    # the group's range excludes nothing; its run ids, read once, do.
    ids = sorted(run_id(SHAPE, i) for i in range(40))
    mixed = [k + 8 * j for k in range(8) for j in range(5)]  # group k: rows k, k + 8, ...
    table = pa.table({"run_id": ids, "value": list(range(40))}).take(pa.array(mixed))
    pq.write_table(table, tmp_path / "mixed.parquet", row_group_size=5)
    dataset = ds.dataset([str(tmp_path / "mixed.parquet")])
    wanted = sorted([ids[0], ids[12], ids[13], ids[39]])  # in groups 0, 4, 5 and 7
    narrowed = row_groups_of_runs(dataset, wanted, {})
    assert [g for _, g in _row_groups(narrowed)] == [0, 4, 5, 7]
    filtered = narrowed.to_table(filter=pc.field("run_id").isin(pa.array(wanted)))
    assert sorted(filtered["run_id"].to_pylist()) == wanted


def test_a_search_of_a_maintained_store_returns_what_it_did_before(bulk: TrackingClient) -> None:
    before = bulk.search_runs(**{**QUERY, "max_results": 1000})
    bulk.store.maintain()  # clustered by run_id: reads of some runs now skip row groups
    after = bulk.search_runs(**{**QUERY, "max_results": 1000})
    assert list(after["run_id"]) == list(before["run_id"])
    first = bulk.search_runs(**QUERY)
    assert list(first["run_id"]) == list(before["run_id"][: QUERY["max_results"]])


# The run columns only shown, never decided on unless a query names them.
SHOWN_ONLY = {"run_name", "user_id", "artifact_uri", "parent_run_id"}


def _runs_reads(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, set[str]]]:
    """Record each read of the runs table: (its run ids or None, the columns it reads).

    A fold of every run reads the files it has not summarized (``scan_appended``).
    """
    seen: list[tuple[Any, set[str]]] = []
    scan, scan_appended = store.scan, store.scan_appended

    def scanned(table: str, **options: Any) -> pa.Table:
        if table == "runs":
            columns = options.get("columns")
            wanted = options.get("run_ids")
            every = set(scan("runs").column_names) if columns is None else set()
            seen.append((None if wanted is None else frozenset(wanted), set(columns or every)))
        return scan(table, **options)

    def appended(table: str, known: Any, **options: Any) -> Appended:
        if table == "runs":
            columns = options.get("columns")
            seen.append((None, set(columns or scan("runs").column_names)))
        return scan_appended(table, known, **options)

    monkeypatch.setattr(store, "scan", scanned)
    monkeypatch.setattr(store, "scan_appended", appended)
    return seen


def test_a_search_folds_every_runs_deciding_columns_and_shows_the_others_for_those_returned(
    bulk: TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _runs_reads(bulk.store, monkeypatch)
    found = bulk.search_runs(**QUERY)
    whole = [columns for run_ids, columns in reads if run_ids is None]
    assert whole and all(not columns & SHOWN_ONLY for columns in whole), reads
    shown = [columns for run_ids, columns in reads if run_ids == frozenset(found["run_id"])]
    assert shown and all(columns >= SHOWN_ONLY for columns in shown), reads
    # What it shows is what a search of whole tables shows.
    monkeypatch.setattr(_reader, "WHOLE_TABLES_UP_TO", 10**9)
    wide = TrackingClient(bulk.store.uri)
    expected = wide.search_runs(**QUERY)
    pd.testing.assert_frame_equal(found, expected)
    assert [r.info for r in bulk.search_runs(**QUERY, output_format="list")] == [
        r.info for r in wide.search_runs(**QUERY, output_format="list")
    ]
    wide.close()


def test_a_filter_on_a_shown_run_column_folds_it_for_every_run(
    bulk: TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = bulk.get_run(run_id(SHAPE, 7)).info
    reads = _runs_reads(bulk.store, monkeypatch)
    query = {**QUERY, "filter_string": f"attributes.artifact_uri = '{target.artifact_uri}'"}
    found = bulk.search_runs(**query)
    assert list(found["run_id"]) == [target.run_id]
    whole = [columns for run_ids, columns in reads if run_ids is None]
    assert whole and all("artifact_uri" in c and "run_name" not in c for c in whole), reads
