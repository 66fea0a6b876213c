"""The runs fold in pieces: summaries of batches merge into the fold of the whole table,
and a new reader folds gc's saved summary with the events committed since.

The random event tables of ``test_search_folding`` (every event kind, equal event
times, runs without a start, stale RUNNING runs, heartbeats) are cut into consecutive
batches at random places; the merged summaries must fold to exactly what the whole
table folds to, ties included. On a real store, gc saves the summary; what was logged
after it (ends, renames, deletes, new runs, a run left RUNNING) must read as a fold of
every event does, and a saved summary that is unreadable or covers none of the
table's files must be ignored.
"""

from __future__ import annotations

import itertools
import random
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sparktrack import TrackingClient
from sparktrack.store import Store
from sparktrack.tracking import _folded_runs, _reader, _run_summaries
from sparktrack.tracking._folded_runs import RUNS_SUMMARY, runs_summary
from sparktrack.tracking._run_summaries import merged, summarized, summary_of_batches
from sparktrack.tracking._state import run_states, stale_marked, states_of
from tests.test_search_folding import NOW_MS, TIMEOUT_S, random_tables

# The run columns a search decides on for every run (``_reader._DECIDING``).
DECIDING = frozenset({"experiment_id", "status", "start_time", "end_time", "lifecycle_stage"})
# Every field, the deciding ones, and some shown ones (with what the heartbeat rule reads).
FIELD_SETS = [None, DECIDING, frozenset({"run_name", "parent_run_id", "status", "end_time"})]


def _cut(table: pa.Table, rng: random.Random, pieces: int) -> list[pa.Table]:
    """``table`` in ``pieces`` consecutive batches, cut at random rows (some empty)."""
    cuts = sorted(rng.randrange(table.num_rows + 1) for _ in range(pieces - 1))
    bounds = [0, *cuts, table.num_rows]
    return [table.slice(start, end - start) for start, end in itertools.pairwise(bounds)]


def _by_run(states: pa.Table) -> dict[str, dict[str, Any]]:
    return {row["run_id"]: row for row in states.to_pylist()}


def _judged(states: pa.Table) -> pa.Table:
    return stale_marked(states, NOW_MS, int(TIMEOUT_S * 1000))


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("encoded", [False, True])
def test_batches_merged_fold_as_the_whole_table(seed: int, encoded: bool) -> None:
    tables = random_tables(seed, runs=80, encoded=encoded)
    events, heartbeats = tables["runs"], tables["heartbeats"]
    rng = random.Random(seed)
    for fields in FIELD_SETS:
        whole = _by_run(_judged(run_states(events, heartbeats, fields)))
        assert whole, "the random table has runs"
        for pieces in (2, 5, 40):
            batches = _cut(events, rng, pieces)
            summary = summary_of_batches(batches, fields)
            assert _by_run(_judged(states_of(summary, heartbeats, fields))) == whole
            # Merged in any grouping of consecutive pieces: the merge is associative.
            summaries = [summarized(batch, fields) for batch in batches]
            middle = len(summaries) // 2
            regrouped = merged([merged(summaries[:middle]), merged(summaries[middle:])])
            assert _by_run(_judged(states_of(regrouped, heartbeats, fields))) == whole


def test_summaries_merge_as_they_go_when_they_grow(monkeypatch: pytest.MonkeyPatch) -> None:
    # A table larger than the merge threshold is merged several times on the way.
    merges: list[int] = []

    def counting(pieces: list[pa.Table]) -> pa.Table:
        merges.append(len(pieces))
        return merged(pieces)

    monkeypatch.setattr(_run_summaries, "_MERGE_ROWS", 10)
    monkeypatch.setattr(_run_summaries, "merged", counting)
    tables = random_tables(3, runs=80)
    batches = _cut(tables["runs"], random.Random(3), 30)
    summary = summary_of_batches(batches)
    assert len(merges) > 2
    assert _by_run(states_of(summary, tables["heartbeats"])) == _by_run(
        run_states(tables["runs"], tables["heartbeats"])
    )


def test_ties_keep_row_order_across_batches() -> None:
    # Two starts and two ends at the same time, in different batches: the first start
    # and the last end win, as in one table.
    rows = [
        {"run_id": "r", "event": "start", "event_time": 5, "status": "RUNNING",
         "experiment_id": "1", "start_time": 1, "run_name": "first"},
        {"run_id": "r", "event": "start", "event_time": 5, "status": "RUNNING",
         "experiment_id": "2", "start_time": 2, "run_name": "second"},
        {"run_id": "r", "event": "end", "event_time": 9, "status": "FAILED", "end_time": 3},
        {"run_id": "r", "event": "end", "event_time": 9, "status": "FINISHED", "end_time": 4},
    ]  # fmt: skip
    events = pa.Table.from_pylist(rows, schema=random_tables(0)["runs"].schema)
    whole = _by_run(run_states(events, None))
    assert whole["r"]["experiment_id"] == "1" and whole["r"]["status"] == "FINISHED"
    for cut in range(1, 4):
        batches = [events.slice(0, cut), events.slice(cut)]
        assert _by_run(states_of(summary_of_batches(batches), None)) == whole


# -- a real store: gc's saved summary and the events since ----------------------------
def _fold_of_everything(store: Store, fields: frozenset[str] | None) -> pa.Table:
    return run_states(store.scan("runs"), store.scan("heartbeats"), fields)


def _summarized_rows(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record how many events each summary of a whole table reads."""
    counted: list[int] = []
    original = _folded_runs.summary_of_batches

    def counting(batches: Any, fields: Any = None) -> pa.Table:
        batches = list(batches)
        counted.append(sum(batch.num_rows for batch in batches))
        return original(batches, fields)

    monkeypatch.setattr(_folded_runs, "summary_of_batches", counting)
    return counted


@pytest.fixture
def maintained(tmp_path: Path) -> TrackingClient:
    """A store with finished, failed, renamed and deleted runs, then gc."""
    client = TrackingClient(str(tmp_path / "store"))
    experiment = client.create_experiment("summaries")
    runs = [client.create_run(experiment, run_name=f"run-{i}").info.run_id for i in range(12)]
    for run in runs[:6]:
        client.set_terminated(run, "FINISHED")
    client.set_terminated(runs[6], "FAILED")
    client.rename_run(runs[7], "renamed-before-gc")
    client.delete_run(runs[8])
    client.flush()
    client.maintain()  # what `sparktrack gc` runs
    return client


def test_gc_saves_the_runs_summary_without_judging_staleness(maintained: TrackingClient) -> None:
    store = maintained.store
    saved = store.saved_fold(RUNS_SUMMARY)
    assert saved is not None
    assert saved.files == frozenset(store.scan_appended("runs", None).files or ())
    statuses = saved.rows.column("status.status").to_pylist()
    # Runs left RUNNING are saved RUNNING: the heartbeat rule is applied when read.
    assert statuses.count("RUNNING") == 5 and "KILLED" not in statuses


@pytest.mark.parametrize("fields", [None, DECIDING])
def test_a_saved_summary_and_the_events_since_gc_fold_as_every_event(
    maintained: TrackingClient, fields: frozenset[str] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, store = maintained, maintained.store
    experiment = _experiment(client)
    before = _by_run(_fold_of_everything(store, None))
    [running, *_] = [run for run, row in before.items() if row["status"] == "RUNNING"]
    renamed, deleted = (
        next(run for run, row in before.items() if row["run_name"] == name)
        for name in ("run-0", "run-1")
    )
    client.set_terminated(running, "FINISHED")  # ended after gc
    client.rename_run(renamed, "renamed-after-gc")
    client.delete_run(deleted)
    client.restore_run(next(r for r, row in before.items() if row["lifecycle_stage"] == "deleted"))
    started = client.create_run(experiment, run_name="after-gc").info.run_id
    client.flush()
    counted = _summarized_rows(monkeypatch)
    summary = runs_summary(store, fields)
    # Only the events committed since gc were folded, not the table.
    assert counted == [5]
    expected = _fold_of_everything(store, fields)
    got = states_of(summary, store.scan("heartbeats"), fields)
    assert _by_run(got) == _by_run(expected)
    rows = _by_run(got)
    assert rows[running]["status"] == "FINISHED" and rows[started]["status"] == "RUNNING"
    if fields is None:
        assert rows[renamed]["run_name"] == "renamed-after-gc"
    assert rows[deleted]["lifecycle_stage"] == "deleted"


def test_a_run_left_running_is_judged_when_read_not_when_saved(
    maintained: TrackingClient,
) -> None:
    store = maintained.store
    states = states_of(runs_summary(store), store.scan("heartbeats"))
    running = [row for row in states.to_pylist() if row["status"] == "RUNNING"]
    assert running
    last_seen = max(row["last_seen"] for row in running)
    timeout_ms = 60_000
    alive = _by_run(stale_marked(states, last_seen, timeout_ms))
    dead = _by_run(stale_marked(states, last_seen + timeout_ms + 1, timeout_ms))
    for row in running:
        assert alive[row["run_id"]]["status"] == "RUNNING"
        assert dead[row["run_id"]]["status"] == "KILLED"
        assert dead[row["run_id"]]["end_time"] == row["last_seen"]


def test_a_search_from_a_saved_summary_returns_what_a_fold_of_the_table_does(
    maintained: TrackingClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = maintained
    uri = client.store.uri
    client.create_run(_experiment(client), run_name="after-gc")
    client.rename_run(client.search_runs(None)["run_id"].iloc[0], "renamed-after-gc")
    client.close()
    # The same store without its saved folds: searched by folding the runs table.
    plain = tmp_path / "without-saved-folds"
    shutil.copytree(uri, plain, ignore=shutil.ignore_patterns("_folds"))
    # Above WHOLE_TABLES_UP_TO runs (0 here) a search folds only the deciding columns.
    monkeypatch.setattr(_reader, "WHOLE_TABLES_UP_TO", 0)
    query: dict[str, Any] = {"run_view_type": "ALL", "order_by": ["attributes.run_name"]}
    counted = _summarized_rows(monkeypatch)
    reader = TrackingClient(uri)  # a new reader of the store
    got = reader.search_runs(None, **query)
    assert counted == [2]  # the events since gc
    other = TrackingClient(str(plain))
    expected = other.search_runs(None, **query)
    pd.testing.assert_frame_equal(got, expected)
    assert "renamed-after-gc" in set(got["tags.mlflow.runName"]) | set(got["run_name"])
    reader.close()
    other.close()


def _experiment(client: TrackingClient) -> str:
    experiment = client.get_experiment_by_name("summaries")
    assert experiment is not None
    return experiment.experiment_id


def test_a_saved_summary_of_files_compacted_away_is_not_used(
    maintained: TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, store = maintained, maintained.store
    experiment = _experiment(client)
    client.create_run(experiment, run_name="after-gc")
    client.flush()
    store.maintain()  # compaction alone: the saved summary covers none of the files now
    saved = store.saved_fold(RUNS_SUMMARY)
    assert saved is not None and not saved.files & frozenset(
        store.scan_appended("runs", None).files or ()
    )
    counted = _summarized_rows(monkeypatch)
    merges: list[int] = []
    original = _folded_runs.brought_up_to_date

    def merging(earlier: pa.Table, later: pa.Table) -> pa.Table:
        merges.append(earlier.num_rows)
        return original(earlier, later)

    monkeypatch.setattr(_folded_runs, "brought_up_to_date", merging)
    summary = runs_summary(store)
    assert counted == [store.scan("runs").num_rows]  # every event, from the start
    assert merges == []  # and nothing merged into the saved summary
    assert _by_run(states_of(summary, None)) == _by_run(run_states(store.scan("runs"), None))


@pytest.mark.parametrize("damage", ["not parquet", "other columns"])
def test_an_unreadable_saved_summary_is_ignored(
    maintained: TrackingClient, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = maintained.store
    (data,) = (Path(store.uri) / "_folds").glob(f"{RUNS_SUMMARY}-*.parquet")
    if damage == "not parquet":
        data.write_bytes(b"not parquet")
    else:  # a summary written by another version, without today's columns
        pq.write_table(pa.table({"run_id": ["x"], "something": [1]}), data)
    with caplog.at_level("WARNING"):
        summary = runs_summary(store, DECIDING)
    assert "ignoring the saved" in caplog.text
    expected = _fold_of_everything(store, DECIDING)
    assert _by_run(states_of(summary, None, DECIDING)) == _by_run(
        run_states(store.scan("runs"), None, DECIDING)
    )
    assert len(expected) == 12
