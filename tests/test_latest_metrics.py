"""The read path at scale: the latest-metrics fold kept up to date from new files, reads
of a few runs that skip the files other runs are in, and a store built in bulk.

The fold must equal a full fold of the table after appends (folded from the new files
alone), after compaction (folded again), and after another process's commits.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

import sparktrack
from sparktrack import Metric, TrackingClient
from sparktrack.config import load_settings
from sparktrack.errors import NotFoundError
from sparktrack.store import Appended, DeltaStore, Store, _clustering
from sparktrack.tracking import _latest_metrics, _reader
from sparktrack.tracking._folded_runs import RUNS_SUMMARY
from sparktrack.tracking._latest_metrics import (
    LATEST_FOLD,
    LatestMetrics,
    latest_of_keys,
    latest_points,
)
from sparktrack.tracking._state import fold_keys
from tests._processes import child_env, python, run_child

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from _bulk_store import BulkShape, build_store, run_id

SHAPE = BulkShape(runs=60, params=4, metrics=3, steps=7, experiments=2, batch_runs=25)


def _by_cell(table: pa.Table) -> dict[tuple[str, str], Any]:
    """(run, key) -> value: NaN compared as a value, as the fold keeps it."""
    out = {}
    for row in table.select(["run_id", "key", "value"]).to_pylist():
        value = row["value"]
        out[(row["run_id"], row["key"])] = "nan" if value != value else value
    return out


def _full_fold(store: Store) -> dict[tuple[str, str], Any]:
    return _by_cell(fold_keys(store.scan("metrics"), "metrics"))


def _read_files(store: Store, seen: frozenset[str] | None) -> Appended:
    return _read_files_of(store.scan_appended("metrics", seen))


@pytest.fixture
def bulk(tmp_path: Path) -> TrackingClient:
    uri = build_store(tmp_path / "store", SHAPE)
    return TrackingClient(uri)


def test_latest_points_equals_the_general_fold_on_ties_nans_and_nulls() -> None:
    rng = random.Random(7)
    for _ in range(30):
        rows = []
        for _ in range(rng.randint(1, 200)):
            rows.append(
                {
                    "run_id": rng.choice(["r1", "r2", "r3", None]),
                    "key": rng.choice(["a", "b", None]),
                    "value": rng.choice([0.0, 1.0, 2.5, float("nan"), -1.0]),
                    "step": rng.choice([0, 1, 2, None] if rng.random() < 0.2 else [0, 1, 2]),
                    "timestamp": rng.choice([10, 11]),
                }
            )
        table = pa.Table.from_pylist(rows, schema=sparktrack.store.TABLES["metrics"])
        expected = _by_cell(fold_keys(table, "metrics"))
        assert _by_cell(latest_points(table)) == expected
        # Folding a split of the rows, then the pieces, gives the same result.
        cut = rng.randint(0, table.num_rows)
        pieces = pa.concat_tables(
            [latest_points(table.slice(0, cut)), latest_points(table.slice(cut))]
        )
        assert _by_cell(latest_points(pieces)) == expected


def test_appended_files_are_read_alone_after_appends(bulk: TrackingClient) -> None:
    store = bulk.store
    first = _read_files(store, None)
    assert first.files and not first.removed
    bulk.log_batch(run_id(SHAPE, 3), metrics=[Metric("m0", 9.0, 1, 100)])
    bulk.flush()
    second = _read_files(store, first.files)
    assert not second.removed
    assert second.files is not None and second.files > first.files
    assert sum(t.num_rows for t in second.batches) == 1
    # Nothing new: nothing read.
    third = _read_files(store, second.files)
    assert not third.removed and sum(t.num_rows for t in third.batches) == 0


def test_incremental_fold_equals_a_full_fold_after_appends(bulk: TrackingClient) -> None:
    store, latest = bulk.store, LatestMetrics()
    assert _by_cell(latest.table(store)) == _full_fold(store)
    read: list[Appended] = []
    scan_appended = store.scan_appended

    def recording(*args: Any, **kwargs: Any) -> Appended:
        appended = _read_files_of(scan_appended(*args, **kwargs))
        read.append(appended)
        return appended

    store.scan_appended = recording  # type: ignore[method-assign]
    target = run_id(SHAPE, 5)
    bulk.log_batch(
        target,
        metrics=[
            Metric("m0", -1.0, 1, 1_000),  # a later step: the new latest
            Metric("m1", 123.0, 1, 0),  # an earlier step: not the latest
            Metric("new", float("nan"), 1, 0),  # a new key, NaN kept as a value
        ],
    )
    bulk.flush()
    folded = _by_cell(latest.table(store))
    assert folded == _full_fold(store)
    assert folded[(target, "m0")] == -1.0 and folded[(target, "new")] == "nan"
    assert not read[-1].removed
    assert sum(t.num_rows for t in read[-1].batches) == 3  # the new commit only


def test_many_small_commits_fold_like_the_whole_table(bulk: TrackingClient) -> None:
    store, latest = bulk.store, LatestMetrics()
    latest.table(store)
    rng = random.Random(3)
    for commit in range(20):
        bulk.log_batch(
            run_id(SHAPE, rng.randrange(SHAPE.runs)),
            metrics=[
                Metric(rng.choice(["m0", "m1", "extra"]), rng.random(), commit, rng.randint(0, 9))
                for _ in range(3)
            ],
        )
        bulk.flush()
        assert _by_cell(latest.table(store)) == _full_fold(store)


def test_fold_starts_over_after_gc(bulk: TrackingClient) -> None:
    store, latest = bulk.store, LatestMetrics()
    latest.table(store)
    bulk.log_batch(run_id(SHAPE, 1), metrics=[Metric("m2", 5.0, 1, 50)])
    bulk.flush()
    assert latest._fold is not None
    seen = latest._fold.files
    store.maintain()
    appended = store.scan_appended("metrics", seen)
    assert appended.removed == seen  # gc rewrote every file it folded
    assert _by_cell(latest.table(store)) == _full_fold(store)


def test_fold_reads_only_what_writers_compaction_wrote(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = build_store(store_uri, SHAPE)
    # The bulk store's files count as large: the writer merges only what it commits.
    sizes = pa.table(DeltaTable(f"{uri}/metrics").get_add_actions(flatten=True))["size_bytes"]
    monkeypatch.setattr(_clustering, "_SMALL_FILE_BYTES", min(sizes.to_pylist()))
    settings = dataclasses.replace(load_settings(store=uri), compact_every_commits=3)
    client = TrackingClient(uri, settings=settings)
    store, latest = client.store, LatestMetrics()
    latest.table(store)
    read: list[Appended] = []
    scan_appended = store.scan_appended

    def recording(*args: Any, **kwargs: Any) -> Appended:
        appended = _read_files_of(scan_appended(*args, **kwargs))
        read.append(appended)
        return appended

    store.scan_appended = recording  # type: ignore[method-assign]
    for commit in range(7):
        runs = [run_id(SHAPE, (commit * 7 + r) % SHAPE.runs) for r in range(4)]
        for target in runs:
            client.log_batch(target, metrics=[Metric("m1", -commit, 1, SHAPE.steps + commit)])
        client.flush()
        assert _by_cell(latest.table(store)) == _full_fold(store)
    compacted = [appended for appended in read if appended.removed]
    assert compacted, "the writer compacted no file"
    for appended in compacted:
        # Only the small files the writer merged were read again, not the whole table.
        assert 0 < sum(t.num_rows for t in appended.batches) < 100


def _read_files_of(appended: Appended) -> Appended:
    return Appended(appended.files, appended.removed, list(appended.batches))


def test_fold_follows_another_process_commits(bulk: TrackingClient, tmp_path: Path) -> None:
    store, latest = bulk.store, LatestMetrics()
    latest.table(store)
    target = run_id(SHAPE, 7)
    script = (
        "import sys, sparktrack\n"
        "from sparktrack import Metric\n"
        "client = sparktrack.TrackingClient(sys.argv[1])\n"
        f"client.log_batch({target!r}, metrics=[Metric('m1', 77.0, 1, 500)])\n"
        "client.flush()\n"
    )
    run_child(python("-c", script, store.uri), env=child_env(), timeout=120)
    folded = _by_cell(latest.table(store))
    assert folded[(target, "m1")] == 77.0
    assert folded == _full_fold(store)


def test_search_shows_latest_metrics_after_appends_and_compaction(store_uri: str) -> None:
    uri = build_store(store_uri, SHAPE)
    sparktrack.set_store(uri)
    client = sparktrack.get_client()
    query = {"search_all_experiments": True, "order_by": ["metrics.m0 DESC"], "max_results": 5}
    before = sparktrack.search_runs(**query)
    loser = before["run_id"][0]
    client.log_metric(loser, "m0", -3.0, step=SHAPE.steps + 1)
    client.flush()
    after = sparktrack.search_runs(**query)
    assert loser not in set(after["run_id"])
    assert list(after["run_id"][:4]) == list(before["run_id"][1:5])
    client.store.maintain()
    compacted = sparktrack.search_runs(**query)
    assert list(compacted["run_id"]) == list(after["run_id"])
    assert sparktrack.get_run(loser).data.metrics["m0"] == -3.0


def _files_run_ids(table_path: str) -> list[list[str]]:
    """The run_id column of each data file of a table, in file order."""
    return [
        pq.read_table(uri, columns=["run_id"])["run_id"].to_pylist()
        for uri in DeltaTable(table_path).file_uris()
    ]


def test_maintenance_clusters_run_keyed_tables_by_run_id(bulk: TrackingClient) -> None:
    store = bulk.store
    before = {r: store.scan("metrics", run_ids=[run_id(SHAPE, r)]) for r in (0, 17, 59)}
    # Built in batches of runs with random ids: rows are in logging order.
    assert any(ids != sorted(ids) for ids in _files_run_ids(f"{store.uri}/metrics"))
    store.maintain()
    for table in ("metrics", "params", "tags", "runs"):
        files = _files_run_ids(f"{store.uri}/{table}")
        # Sorted by run_id within each file, and files cover disjoint ranges: the
        # statistics of files and row groups then tell which hold a run.
        assert all(ids == sorted(ids) for ids in files), table
        ranges = sorted((ids[0], ids[-1]) for ids in files if ids)
        assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges)), table
    for r, rows in before.items():
        after = store.scan("metrics", run_ids=[run_id(SHAPE, r)])
        assert sorted(after.to_pylist(), key=str) == sorted(rows.to_pylist(), key=str)


def test_writers_compact_run_keyed_tables_sorted_by_run_id(store_uri: str) -> None:
    settings = dataclasses.replace(load_settings(store=store_uri), compact_every_commits=3)
    client = TrackingClient(store_uri, settings=settings)
    experiment = client.get_or_create_experiment("compacted").experiment_id
    runs = [client.create_run(experiment).info.run_id for _ in range(8)]
    for commit in range(7):
        for target in runs:
            client.log_batch(target, metrics=[Metric("m", float(commit), 1, commit)])
        client.flush()
    table = DeltaTable(f"{store_uri}/metrics")
    actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
    merged = [a for a in actions if a["num_records"] > len(runs)]
    assert merged, "the writer compacted no file"
    for action in merged:
        ids = pq.read_table(f"{store_uri}/metrics/{action['path']}")["run_id"].to_pylist()
        assert ids == sorted(ids)
        # Its statistics are exact, so that readers skip it for other runs, never wrongly.
        assert (action["min.run_id"], action["max.run_id"]) == (ids[0], ids[-1])
    for target in runs:
        points = client.get_metric_history(target, "m")
        assert [p.step for p in points] == list(range(7))


@pytest.mark.parametrize("store_kind", ["memory", "delta"])
def test_history_frame_holds_what_the_history_list_holds(store_kind: str, store_uri: str) -> None:
    client = TrackingClient("memory://" if store_kind == "memory" else store_uri)
    experiment = client.get_or_create_experiment("frames").experiment_id
    target = client.create_run(experiment).info.run_id
    other = client.create_run(experiment).info.run_id
    # Out of order, ties on step (broken by timestamp), a NaN, another key and run.
    points = [(3, 30, 0.5), (1, 12, float("nan")), (1, 11, 2.0), (0, 5, -1.0), (2, 20, 4.0)]
    client.log_batch(target, metrics=[Metric("loss", v, t, s) for s, t, v in points])
    client.log_batch(target, metrics=[Metric("acc", 1.0, 1, 1)])
    client.log_batch(other, metrics=[Metric("loss", 9.0, 1, 1)])
    history = client.get_metric_history(target, "loss")
    frame = client.get_metric_history_frame(target, "loss")
    assert list(frame.columns) == ["step", "timestamp", "value"]
    listed = [(m.step, m.timestamp, m.value) for m in history]
    framed = list(frame.itertuples(index=False, name=None))
    assert (
        [row[:2] for row in framed]
        == [row[:2] for row in listed]
        == sorted((s, t) for s, t, _ in points)
    )
    assert np.array_equal(frame["value"], [v for *_, v in listed], equal_nan=True)
    assert client.get_metric_history_frame(target, "never").empty
    with pytest.raises(NotFoundError):
        client.get_metric_history_frame("0" * 32, "loss")


@pytest.mark.parametrize("store_kind", ["memory", "delta"])
def test_history_frames_of_several_runs_and_keys_are_each_ones_history_frame(
    store_kind: str, store_uri: str
) -> None:
    client = TrackingClient("memory://" if store_kind == "memory" else store_uri)
    experiment = client.get_or_create_experiment("frames").experiment_id
    first, second, silent = (client.create_run(experiment).info.run_id for _ in range(3))
    client.log_batch(first, metrics=[Metric("loss", 1.0 / s, 100 - s, s) for s in range(1, 9)])
    client.log_batch(first, metrics=[Metric("acc", 0.5, 7, 3), Metric("acc", 0.25, 6, 3)])
    client.log_batch(second, metrics=[Metric("loss", float("nan"), 1, 2), Metric("loss", 3, 2, 1)])
    client.log_batch(second, metrics=[Metric("other", 1.0, 1, 1)])
    runs, keys = [first, second, silent], ["loss", "acc", "never"]
    frames = client.get_metric_history_frames(runs, keys)
    # Every curve a run logged, and only those; each equal to its own read.
    assert set(frames) == {(first, "loss"), (first, "acc"), (second, "loss")}
    for (run, key), frame in frames.items():
        alone = client.get_metric_history_frame(run, key)
        assert list(frame.columns) == ["step", "timestamp", "value"]
        pd.testing.assert_frame_equal(frame, alone)
    with pytest.raises(NotFoundError):
        client.get_metric_history_frames([first, "0" * 32], ["loss"])


def test_search_reads_files_whose_values_are_all_null(store_uri: str) -> None:
    # A commit of deleted tags only: its file's dictionary of values holds just a null,
    # which Arrow cannot merge with other files' dictionaries.
    client = TrackingClient(store_uri)
    experiment = client.create_experiment("deleted-tags")
    run = client.create_run(experiment).info.run_id
    client.set_tag(run, "kept", "yes")
    client.set_tag(run, "gone", "soon")
    client.flush()
    client.delete_tag(run, "gone")
    client.flush()
    frame = client.search_runs([experiment], "tags.kept = 'yes'")
    assert list(frame["run_id"]) == [run]
    assert "tags.gone" not in frame.columns


def test_bulk_store_reads_as_logged(bulk: TrackingClient) -> None:
    run = bulk.get_run(run_id(SHAPE, 9))
    assert run.info.parent_run_id == run_id(SHAPE, 5)
    assert run.info.status == "FINISHED"
    assert set(run.data.params) == {f"p{j}" for j in range(SHAPE.params)}
    assert run.data.tags["idx"] == "9"
    history = bulk.get_metric_history(run_id(SHAPE, 9), "m1")
    assert [m.step for m in history] == list(range(SHAPE.steps))
    assert history[-1].value == run.data.metrics["m1"]
    frame = bulk.search_runs(None, "", "ACTIVE_ONLY", 1000)
    assert len(frame) == SHAPE.runs
    nested = frame["tags.mlflow.parentRunId"].notna().sum()
    assert nested == SHAPE.runs // 5
    assert np.isclose(frame["metrics.m0"].between(0, 1).mean(), 1.0)


def _latest_of(store: Store, keys: list[str]) -> dict[tuple[str, str], Any]:
    return _by_cell(latest_of_keys(store, keys))


def _full_fold_of(store: Store, keys: list[str]) -> dict[tuple[str, str], Any]:
    return {cell: value for cell, value in _full_fold(store).items() if cell[1] in keys}


def test_gc_saves_the_latest_metrics_and_a_new_reader_folds_only_what_came_since(
    bulk: TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    bulk.maintain()  # what `sparktrack gc` runs: compacts, then saves the fold
    store = bulk.store
    saved = store.saved_fold(LATEST_FOLD)
    assert saved is not None and saved.files == frozenset(
        store.scan_appended("metrics", None).files or ()
    )
    assert saved.rows.num_rows == SHAPE.runs * SHAPE.metrics
    target = run_id(SHAPE, 7)
    bulk.log_batch(
        target,
        metrics=[
            Metric("m0", -5.0, 1, 10_000),  # a later step: the new latest
            Metric("m1", 77.0, 1, 0),  # an earlier step: not the latest
            Metric("fresh", 1.5, 1, 0),  # a key the saved fold does not have
        ],
    )
    bulk.flush()
    folded_rows: list[int] = []
    fold_all = _latest_metrics._fold_all

    def counting(batches: Any) -> pa.Table:
        batches = list(batches)
        folded_rows.append(sum(b.num_rows for b in batches))
        return fold_all(batches)

    monkeypatch.setattr(_latest_metrics, "_fold_all", counting)
    for keys in (["m0"], ["m0", "m1", "fresh"], ["m2"]):
        folded_rows.clear()
        assert _latest_of(store, keys) == _full_fold_of(store, keys)
        # Only the rows committed since gc were folded, not the table.
        assert folded_rows == [sum(1 for k in ("m0", "m1", "fresh") if k in keys)]
    latest = _by_cell(LatestMetrics().table(store))
    assert latest == _full_fold(store)
    assert latest[(target, "m0")] == -5.0 and latest[(target, "fresh")] == 1.5
    assert folded_rows[-1] == 3  # a new process's whole fold starts from the saved one


def test_a_saved_fold_of_files_compacted_away_is_not_used(bulk: TrackingClient) -> None:
    bulk.maintain()
    bulk.log_batch(run_id(SHAPE, 2), metrics=[Metric("m1", 99.0, 1, 10_000)])
    bulk.flush()
    store = bulk.store
    store.maintain()  # compaction alone: the saved fold covers none of the files now
    saved = store.saved_fold(LATEST_FOLD)
    appended = store.scan_appended("metrics", None)
    assert saved is not None and not saved.files & frozenset(appended.files or ())
    assert _latest_of(store, ["m1"]) == _full_fold_of(store, ["m1"])
    assert _by_cell(LatestMetrics().table(store)) == _full_fold(store)


def test_an_unreadable_saved_fold_is_ignored(
    bulk: TrackingClient, caplog: pytest.LogCaptureFixture
) -> None:
    bulk.maintain()
    folds = Path(bulk.store.uri) / "_folds"
    (data,) = folds.glob("latest_metrics-*.parquet")
    data.write_bytes(b"not parquet")
    store = bulk.store
    with caplog.at_level("WARNING"):
        assert _latest_of(store, ["m0"]) == _full_fold_of(store, ["m0"])
    assert "ignoring the saved fold" in caplog.text


def test_a_large_store_search_from_a_saved_fold_returns_what_a_fold_of_the_table_does(
    bulk: TrackingClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = bulk.store.uri
    bulk.maintain()
    bulk.log_batch(
        run_id(SHAPE, 4), metrics=[Metric("m0", 2.0, 1, 10_000), Metric("m1", 1e9, 1, 10_000)]
    )
    bulk.close()
    # The same store without its saved fold: searched by folding the metrics table.
    plain = tmp_path / "without-saved-fold"
    shutil.copytree(uri, plain, ignore=shutil.ignore_patterns("_folds"))
    # Above WHOLE_TABLES_UP_TO runs (0 here) a search reads the keys it names, started
    # while the runs fold (the runs table's row count says the store is large).
    monkeypatch.setattr(_reader, "WHOLE_TABLES_UP_TO", 0)
    query: dict[str, Any] = {
        "filter_string": "metrics.m0 > 0.3 and params.p1 != 'x'",
        "order_by": ["metrics.m1 DESC"],
        "max_results": 20,
    }
    saved_folds: list[str] = []
    saved_fold = DeltaStore.saved_fold

    def recording(self: DeltaStore, name: str, keys: Any = None, columns: Any = None) -> Any:
        saved_folds.append(name)
        return saved_fold(self, name, keys, columns)

    monkeypatch.setattr(DeltaStore, "saved_fold", recording)
    client = TrackingClient(uri)  # a new reader: the store's first client since close
    got = client.search_runs(None, **query, run_view_type="ALL")
    assert sorted(saved_folds) == sorted([LATEST_FOLD, RUNS_SUMMARY])
    other = TrackingClient(str(plain))
    expected = other.search_runs(None, **query, run_view_type="ALL")
    pd.testing.assert_frame_equal(got, expected)
    assert got["run_id"].iloc[0] == run_id(SHAPE, 4)
    client.close()
    other.close()
