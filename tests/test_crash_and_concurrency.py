"""Real processes: many writers at once, and a writer killed with SIGKILL."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from deltalake import DeltaTable

from sparktrack import TrackingClient

pytestmark = pytest.mark.slow


def test_processes_and_threads_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    from tests._workers import log_concurrently, with_stderr_to

    store, journal = str(tmp_path / "store"), str(tmp_path / "journal")
    processes, threads, metrics = 4, 4, 150
    context = multiprocessing.get_context("spawn")  # delta-rs is not fork-safe
    errors = [tmp_path / f"worker-{w}.err" for w in range(processes)]
    workers = [
        context.Process(
            target=with_stderr_to,
            args=(str(errors[w]), log_concurrently, store, journal, w, threads, metrics),
        )
        for w in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker, error in zip(workers, errors, strict=True):
        worker.join(timeout=300)
        assert worker.exitcode == 0, f"worker failed ({worker.exitcode}):\n{read(error)}"

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


def read(path: Path) -> str:
    return path.read_text() if path.exists() else "(no output)"


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


def _start_victim(
    store: str, flush_interval: str, segment_bytes: str, stderr: Path
) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    with stderr.open("w") as errors:
        return subprocess.Popen(
            [sys.executable, "-m", "tests._workers", store, flush_interval, segment_bytes],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=env,
        )


@pytest.mark.parametrize(
    ("flush_interval", "segment_bytes"),
    [("3600", "8388608"), ("0.05", "8388608"), ("0.05", "4096")],
    ids=["nothing-committed", "racing", "rotating-journal"],
)
def test_kill_9_keeps_every_acknowledged_record_exactly_once(
    tmp_path: Path, flush_interval: str, segment_bytes: str
) -> None:
    store = str(tmp_path / "store")
    stderr = tmp_path / "victim.err"
    victim = _start_victim(store, flush_interval, segment_bytes, stderr)
    assert victim.stdout is not None
    first = victim.stdout.readline().split()
    assert first[:1] == ["RUN"], f"the victim did not start:\n{read(stderr)}"
    run_id = first[1]
    acknowledged = -1
    deadline = time.monotonic() + 60
    while acknowledged < 3000 and time.monotonic() < deadline:
        line = victim.stdout.readline().split()
        assert line, f"the victim stopped logging:\n{read(stderr)}"
        acknowledged = int(line[1])
    if segment_bytes == "4096":
        # Committed segments are dropped as the journal rotates: once the first one is
        # gone, the run's start event lives only in the store and its open state only
        # in the newest segment's header.
        journal = tmp_path / "journal"
        wait_for(
            lambda: not list(journal.rglob("*.000000.jsonl")),
            f"the first journal segment to be committed and dropped; victim:\n{read(stderr)}",
        )
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    # The victim kept logging while we read: its last acknowledgements are still in the pipe.
    for line in victim.stdout.read().splitlines():
        if line.startswith("ACK "):
            acknowledged = int(line.split()[1])
    assert acknowledged >= 3000, read(stderr)

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
