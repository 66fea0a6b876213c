"""Real processes: many writers at once, and a writer killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable

from sparktrack import TrackingClient
from tests._processes import child_env, python, run_workers, start, wait_for
from tests._workers import log_concurrently

pytestmark = pytest.mark.slow


def test_processes_and_threads_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    store, journal = str(tmp_path / "store"), str(tmp_path / "journal")
    processes, threads, metrics = 4, 4, 150
    run_workers(
        log_concurrently,
        [(store, journal, w, threads, metrics) for w in range(processes)],
        stderr_dir=tmp_path,
    )

    metrics_rows = DeltaTable(f"{store}/metrics").to_pandas()
    assert len(metrics_rows) == processes * threads * metrics * 2
    assert not metrics_rows.duplicated(["run_id", "key", "step"]).any()
    params_rows = DeltaTable(f"{store}/params").to_pandas()
    assert len(params_rows) == processes * threads * 10

    client = TrackingClient(store)
    runs = client.search_runs(None)
    assert len(runs) == processes * (threads + 1)
    assert set(runs["status"]) == {"FINISHED"}
    shared = runs[runs["run_name"].str.startswith("shared")]
    assert all(shared[f"metrics.t{t}"].eq(metrics - 1).all() for t in range(threads))
    client.close()
    # Every writer closed cleanly: nothing is left in the journal to replay.
    assert not list(Path(journal).rglob("*.jsonl"))


@pytest.mark.parametrize(
    ("flush_interval", "segment_bytes"),
    [("3600", "8388608"), ("0.05", "8388608"), ("0.05", "4096")],
    ids=["nothing-committed", "racing", "rotating-journal"],
)
def test_kill_9_keeps_every_acknowledged_record_exactly_once(
    tmp_path: Path, flush_interval: str, segment_bytes: str
) -> None:
    store = str(tmp_path / "store")
    victim = start(
        python("-m", "tests._workers", store, flush_interval, segment_bytes),
        stderr_dir=tmp_path,
        env=child_env(),
        name="victim",
    )
    run_id = victim.expect_line("RUN ")[1]
    acknowledged = -1
    deadline = time.monotonic() + 60
    while acknowledged < 3000 and time.monotonic() < deadline:
        line = victim.readline().split()
        assert line, victim.explain("the victim stopped logging")
        acknowledged = int(line[1])
    if segment_bytes == "4096":
        # Committed segments are dropped as the journal rotates: once the first one is
        # gone, the run's start event lives only in the store and its open state only
        # in the newest segment's header.
        journal = tmp_path / "journal"
        wait_for(
            lambda: not list(journal.rglob("*.000000.jsonl")),
            "the first journal segment to be committed and dropped",
            child=victim,
        )
    os.kill(victim.pid, signal.SIGKILL)
    # The victim kept logging while we read: its last acknowledgements are still in the pipe.
    for line in victim.finish(expect=-signal.SIGKILL).splitlines():
        if line.startswith("ACK "):
            acknowledged = int(line.split()[1])
    assert acknowledged >= 3000, victim.explain("fewer than 3000 acknowledgements")

    client = TrackingClient(store)  # opening the store replays the dead process's journal
    history = client.get_metric_history(run_id, "loss")
    steps = [m.step for m in history]
    assert len(steps) == len(set(steps)), "a replayed record was committed twice"
    assert set(range(acknowledged + 1)) <= set(steps)
    # At most the one call in flight when the signal came may also have been journaled.
    assert len(steps) <= acknowledged + 2
    run = client.get_run(run_id)
    assert run.data.params == {"alpha": "0.5"}
    assert run.info.status == "KILLED"
    assert run.info.end_time is not None
    client.close()

    again = TrackingClient(store)  # a second open finds nothing more to replay
    assert len(again.get_metric_history(run_id, "loss")) == len(steps)
    events = DeltaTable(f"{store}/runs").to_pandas()
    assert (events["status"] == "KILLED").sum() == 1
    again.close()
