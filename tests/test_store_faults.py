"""Faults at the library boundary: nothing acknowledged is lost, nothing is duplicated.

Each fault is injected where sparktrack meets a library or the OS: deltalake's
``write_deltalake`` and ``TableOptimizer.compact``, ``os.write`` on the journal, the
store folder on disk. For each: every acknowledged record is in the store exactly
once (counted per key with delta-rs), the user sees one warning (not one per retry,
no traceback), and what the caller sees, if anything, is a StoreError naming the
path and what to do.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import deltalake
import pytest
from deltalake import DeltaTable

from sparktrack import StoreError, TrackingClient
from sparktrack.store import _writer
from tests._processes import wait_for

_REAL_WRITE = deltalake.write_deltalake


def rows_per_key(store: str, table: str, *key: str) -> dict[tuple[Any, ...], int]:
    """How many rows each key has in a table, read with delta-rs (not through sparktrack)."""
    frame = DeltaTable(f"{store}/{table}").to_pandas()
    return {
        k if isinstance(k, tuple) else (k,): int(n)
        for k, n in frame.groupby(list(key)).size().items()
    }


def table_name(target: Any) -> str:
    uri = target.table_uri if isinstance(target, DeltaTable) else str(target)
    return uri.rstrip("/").rsplit("/", 1)[-1]


class DeltaWriteFault:
    """``write_deltalake`` as the store calls it, failing (or slow) on one table."""

    def __init__(
        self, table: str, *, landed: bool = False, times: int = 0, delay: float = 0.0
    ) -> None:
        self.table = table
        self.landed = landed  # raise after the real write landed, else before it
        self.remaining = times
        self.delay = delay
        self.calls = 0
        self.in_progress = threading.Event()

    def __call__(self, target: Any, data: Any, *args: Any, **kwargs: Any) -> Any:
        if table_name(target) != self.table:
            return _REAL_WRITE(target, data, *args, **kwargs)
        self.calls += 1
        if self.delay:
            self.in_progress.set()
            time.sleep(self.delay)
        if self.remaining > 0:
            self.remaining -= 1
            if self.landed:
                _REAL_WRITE(target, data, *args, **kwargs)
                raise OSError(errno.ECONNRESET, "connection reset after the commit landed")
            raise OSError(errno.ECONNRESET, "connection reset before the commit")
        result = _REAL_WRITE(target, data, *args, **kwargs)
        self.in_progress.clear()
        return result


def patch_deltalake_write(monkeypatch: pytest.MonkeyPatch, fake: Callable[..., Any]) -> None:
    """Replace ``write_deltalake`` in every sparktrack module that calls it."""
    patched = 0
    for name, module in list(sys.modules.items()):
        if name.startswith("sparktrack.") and getattr(module, "write_deltalake", None) is (
            _REAL_WRITE
        ):
            monkeypatch.setattr(module, "write_deltalake", fake)
            patched += 1
    assert patched, "no sparktrack module calls deltalake.write_deltalake"


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    # The writer's back-off is for real outages; the faults here are instant.
    monkeypatch.setattr(_writer, "_RETRY_DELAYS", (0.01, 0.01, 0.01))
    monkeypatch.setenv("SPARKTRACK_FLUSH_INTERVAL_SECONDS", "0.05")


@pytest.fixture
def warnings_seen(
    caplog: pytest.LogCaptureFixture,
) -> Iterator[Callable[[], list[logging.LogRecord]]]:
    caplog.set_level(logging.WARNING, logger="sparktrack")

    def seen() -> list[logging.LogRecord]:
        return [
            r for r in caplog.records if r.name == "sparktrack" and r.levelno >= logging.WARNING
        ]

    yield seen


def assert_one_clear_warning(records: list[logging.LogRecord], *fragments: str) -> None:
    assert len(records) == 1, [r.getMessage() for r in records]
    message = records[0].getMessage()
    for fragment in fragments:
        assert fragment in message, message
    assert records[0].exc_info is None, "a warning should not carry a traceback"


# -- deltalake's write raises ------------------------------------------------------------
def test_a_commit_that_raises_after_landing_is_not_committed_again(
    store_uri: str, monkeypatch: pytest.MonkeyPatch, warnings_seen: Any
) -> None:
    # What a timeout or a reset connection to an object store does: the commit is in
    # the table, the caller gets an error anyway.
    client = TrackingClient(store_uri)
    run_id = client.create_run().info.run_id
    client.flush()
    fault = DeltaWriteFault("params", landed=True, times=1)
    patch_deltalake_write(monkeypatch, fault)
    client.log_params(run_id, {f"p{i}": i for i in range(12)})
    client.flush()
    assert rows_per_key(store_uri, "params", "run_id", "key") == {
        (run_id, f"p{i}"): 1 for i in range(12)
    }
    assert fault.calls == 1, "the retry asked the table and found the commit had landed"
    assert warnings_seen() == [], "nothing was lost or late: nothing to warn about"
    client.close()


def test_every_attempt_raising_after_landing_still_commits_once(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = TrackingClient(store_uri)
    run_id = client.create_run().info.run_id
    client.flush()
    patch_deltalake_write(monkeypatch, DeltaWriteFault("metrics", landed=True, times=100))
    for step in range(30):
        client.log_metric(run_id, "m", float(step), step=step)
        if step % 10 == 9:
            client.flush()
    assert rows_per_key(store_uri, "metrics", "step") == {(s,): 1 for s in range(30)}
    client.close()


def test_a_commit_that_raises_before_landing_is_retried_and_lands_once(
    store_uri: str, monkeypatch: pytest.MonkeyPatch, warnings_seen: Any
) -> None:
    client = TrackingClient(store_uri)
    run_id = client.create_run().info.run_id
    client.flush()
    fault = DeltaWriteFault("params", times=2)
    patch_deltalake_write(monkeypatch, fault)
    client.log_params(run_id, {f"p{i}": i for i in range(12)})
    client.flush()
    assert fault.calls == 3
    assert rows_per_key(store_uri, "params", "key") == {(f"p{i}",): 1 for i in range(12)}
    assert warnings_seen() == [], "a retry that succeeded is nothing to warn about"
    client.close()


@pytest.mark.usefixtures("commit_only_on_flush")
def test_flush_succeeds_once_a_table_that_failed_alone_is_committed(
    store_uri: str, monkeypatch: pytest.MonkeyPatch, warnings_seen: Any
) -> None:
    # One table's batch fails a whole round while the other tables' batches land.
    client = TrackingClient(store_uri)
    run_id = client.create_run().info.run_id
    client.flush()
    patch_deltalake_write(monkeypatch, DeltaWriteFault("metrics", times=1 + 3))
    client.log_metric(run_id, "m", 1.0)
    client.log_params(run_id, {"p": 1})  # logged after the metric: a higher sequence number
    with pytest.raises(StoreError):
        client.flush()
    client.flush()  # the metric lands now; the params landed before
    assert rows_per_key(store_uri, "metrics", "key") == {("m",): 1}
    assert rows_per_key(store_uri, "params", "key") == {("p",): 1}
    assert_one_clear_warning(warnings_seen(), "'metrics'", store_uri)
    client.close()


def test_a_failing_compaction_neither_fails_nor_repeats_the_commit(
    store_uri: str, monkeypatch: pytest.MonkeyPatch, warnings_seen: Any
) -> None:
    monkeypatch.setenv("SPARKTRACK_COMPACT_EVERY_COMMITS", "1")

    def broken_compact(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EIO, "compaction failed")

    monkeypatch.setattr(deltalake.table.TableOptimizer, "compact", broken_compact)
    client = TrackingClient(store_uri)
    run_id = client.create_run().info.run_id
    for round_ in range(3):
        client.log_params(run_id, {f"p{round_}-{i}": i for i in range(4)})
        client.flush()
    assert rows_per_key(store_uri, "params", "key") == {
        (f"p{r}-{i}",): 1 for r in range(3) for i in range(4)
    }
    assert_one_clear_warning(warnings_seen(), "compact", "sparktrack gc")
    client.close()


def test_commits_fail_for_a_while_then_everything_lands_once(
    store_uri: str, monkeypatch: pytest.MonkeyPatch, warnings_seen: Any
) -> None:
    # A read-only object store (a bucket policy, expired credentials): every write is
    # refused until someone fixes it. Log calls go on; one warning; flush() says why.
    client = TrackingClient(store_uri)
    run_id = client.create_run().info.run_id
    client.flush()
    refused = threading.Event()
    refused.set()
    attempts = []

    def read_only(target: Any, data: Any, *args: Any, **kwargs: Any) -> Any:
        if refused.is_set():
            attempts.append(table_name(target))
            raise PermissionError(errno.EACCES, "Permission denied", table_name(target))
        return _REAL_WRITE(target, data, *args, **kwargs)

    patch_deltalake_write(monkeypatch, read_only)
    for step in range(50):
        client.log_metric(run_id, "m", float(step), step=step)
    wait_for(lambda: len(warnings_seen()) > 0, "the writer's warning")
    with pytest.raises(StoreError) as failed:
        client.flush()
    assert store_uri in str(failed.value) and "writable" in str(failed.value)
    for step in range(50, 100):
        client.log_metric(run_id, "m", float(step), step=step)  # still accepted
    seen = len(attempts)
    wait_for(lambda: len(attempts) > seen + 10, "more rounds of failing commits")
    assert_one_clear_warning(warnings_seen(), store_uri, "journal")

    refused.clear()
    client.flush()
    assert rows_per_key(store_uri, "metrics", "step") == {(s,): 1 for s in range(100)}
    client.close()


def test_a_slow_commit_keeps_log_calls_fast_and_duplicates_nothing(
    store_uri: str, monkeypatch: pytest.MonkeyPatch, warnings_seen: Any
) -> None:
    client = TrackingClient(store_uri)
    run_id = client.create_run().info.run_id
    client.flush()
    fault = DeltaWriteFault("metrics", delay=3.0)
    patch_deltalake_write(monkeypatch, fault)
    client.log_metric(run_id, "m", 0.0, step=0)
    assert fault.in_progress.wait(30), "the writer never started committing"
    slowest = 0.0
    for step in range(1, 300):
        started = time.perf_counter()
        client.log_metric(run_id, "m", float(step), step=step)
        slowest = max(slowest, time.perf_counter() - started)
    assert fault.in_progress.is_set(), "the commit should still be in progress"
    assert slowest < 1.0, f"a log call waited {slowest:.2f} s for a slow commit"
    client.flush()
    assert rows_per_key(store_uri, "metrics", "step") == {(s,): 1 for s in range(300)}
    assert warnings_seen() == []
    client.close()


def test_reads_of_a_run_while_its_points_commit_see_each_point_once(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A read adds the rows still queued to the committed ones: a row whose commit lands
    # during the read must be counted in one place, never both, never neither.
    client = TrackingClient(store_uri)
    run_id = client.create_run().info.run_id
    client.flush()
    fault = DeltaWriteFault("metrics", delay=0.02)
    patch_deltalake_write(monkeypatch, fault)
    logged = 0
    stop = threading.Event()

    def log() -> None:
        nonlocal logged
        while not stop.is_set() and logged < 400:
            client.log_metric(run_id, "m", float(logged), step=logged)
            logged += 1
            time.sleep(0.001)

    writer = threading.Thread(target=log)
    writer.start()
    reads = 0
    try:
        while writer.is_alive():
            at_least = logged
            steps = [m.step for m in client.get_metric_history(run_id, "m")]
            assert steps == list(range(len(steps))), "a point missing or read twice"
            assert len(steps) >= at_least, "a point logged before the read is missing"
            reads += 1
    finally:
        stop.set()
        writer.join()
    assert reads > 10 and fault.calls > 3, "reads and commit rounds alternated"
    client.close()


@pytest.mark.usefixtures("commit_only_on_flush")
def test_a_read_after_a_commit_that_may_have_landed_sees_each_row_once(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The commit landed, then the store stopped answering (the write and every look at
    # what landed raised): the queued rows are in the table too, and only a commit,
    # which asks the table first, can tell. The read commits before it reads.
    client = TrackingClient(store_uri)
    run_id = client.create_run().info.run_id
    client.flush()
    patch_deltalake_write(monkeypatch, DeltaWriteFault("metrics", landed=True, times=1))
    for step in range(10):
        client.log_metric(run_id, "m", float(step), step=step)
    with monkeypatch.context() as unreachable:

        def no_answer(self: DeltaTable, app_id: str) -> int | None:
            raise OSError(errno.ETIMEDOUT, "the store did not answer")

        unreachable.setattr(DeltaTable, "transaction_version", no_answer)
        with pytest.raises(StoreError):
            client.flush()
    assert rows_per_key(store_uri, "metrics", "step") == {(s,): 1 for s in range(10)}
    assert [m.step for m in client.get_metric_history(run_id, "m")] == list(range(10))
    assert client.get_run(run_id).data.metrics == {"m": 9.0}
    assert rows_per_key(store_uri, "metrics", "step") == {(s,): 1 for s in range(10)}
    client.close()


@pytest.mark.usefixtures("commit_only_on_flush")
def test_the_tables_of_a_commit_round_commit_at_the_same_time(
    store_uri: str, monkeypatch: pytest.MonkeyPatch, warnings_seen: Any
) -> None:
    # A flush waits for its slowest table, not for the sum of its tables' commits (on an
    # object store each commit is a round trip). Each table's commit waits here until
    # every table's commit is under way: one after another, the first would wait alone.
    client = TrackingClient(store_uri)
    run_id = client.create_run().info.run_id
    client.flush()
    tables = ("params", "metrics", "tags")
    all_under_way = threading.Barrier(len(tables), timeout=30)
    met: list[str] = []

    def together(target: Any, data: Any, *args: Any, **kwargs: Any) -> Any:
        if table_name(target) in tables:
            all_under_way.wait()  # raises BrokenBarrierError after the deadline
            met.append(table_name(target))
        return _REAL_WRITE(target, data, *args, **kwargs)

    patch_deltalake_write(monkeypatch, together)
    client.log_params(run_id, {"p": 1})
    client.log_metric(run_id, "m", 1.0)
    client.set_tag(run_id, "t", "x")
    client.flush()
    assert sorted(met) == sorted(tables)
    assert rows_per_key(store_uri, "params", "key") == {("p",): 1}
    assert rows_per_key(store_uri, "metrics", "key") == {("m",): 1}
    assert rows_per_key(store_uri, "tags", "key")[("t",)] == 1
    assert warnings_seen() == []
    client.close()


# -- the journal's disk ------------------------------------------------------------------
def journal_fds(directory: Path) -> Callable[[int], bool]:
    def is_journal(fd: int) -> bool:
        try:
            return os.readlink(f"/proc/self/fd/{fd}").startswith(str(directory))
        except OSError:
            return False

    return is_journal


def journal_records(directory: Path) -> list[list[Any]]:
    """Every line of every journal segment, parsed; a line that does not parse fails."""
    lines = []
    for segment in sorted(directory.rglob("*.jsonl")):
        for line in segment.read_bytes().splitlines():
            lines.append(json.loads(line))
    return lines


@pytest.mark.usefixtures("commit_only_on_flush")
def test_short_writes_leave_whole_records(
    store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "journal"
    is_journal = journal_fds(journal)
    real_write = os.write

    def short(fd: int, data: Any) -> int:
        return real_write(fd, bytes(data)[:7] if is_journal(fd) else data)

    client = TrackingClient(store_uri)
    monkeypatch.setattr(os, "write", short)
    run_id = client.create_run().info.run_id
    client.log_params(run_id, {f"p{i}": "x" * 50 for i in range(5)})
    monkeypatch.setattr(os, "write", real_write)
    params = [
        row for _, table, rows in journal_records(journal) if table == "params" for row in rows
    ]
    assert sorted(p["key"] for p in params) == [f"p{i}" for i in range(5)]
    client.close()


@pytest.mark.usefixtures("commit_only_on_flush")
def test_a_full_journal_disk_fails_the_log_call_and_keeps_the_journal_whole(
    store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warnings_seen: Any
) -> None:
    journal = tmp_path / "journal"
    is_journal = journal_fds(journal)
    real_write = os.write
    full = threading.Event()

    def disk_full(fd: int, data: Any) -> int:
        if full.is_set() and is_journal(fd):
            real_write(fd, bytes(data)[:10])  # part of the record made it, then no space
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", disk_full)
    client = TrackingClient(store_uri)
    run_id = client.create_run().info.run_id
    client.log_param(run_id, "before", 1)
    full.set()
    with pytest.raises(StoreError) as failed:
        client.log_param(run_id, "lost", 2)
    message = str(failed.value)
    assert str(journal) in message and "No space left" in message
    assert "SPARKTRACK_JOURNAL_DIR" in message
    full.clear()
    client.log_param(run_id, "after", 3)
    # The journal holds whole records only: what a replay after kill -9 would read.
    params = [
        row["key"] for _, t, rows in journal_records(journal) if t == "params" for row in rows
    ]
    assert params == ["before", "after"]
    client.flush()
    assert client.get_run(run_id).data.params == {"before": "1", "after": "3"}
    assert rows_per_key(store_uri, "params", "key") == {("before",): 1, ("after",): 1}
    assert warnings_seen() == [], "the failed call raised; there is nothing else to say"
    client.close()


# -- the store folder ----------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["disappears", "becomes-a-file"])
def test_the_store_folder_going_away_mid_run_loses_nothing(
    store_uri: str, tmp_path: Path, warnings_seen: Any, fault: str
) -> None:
    # Tests run as root, where chmod does not stop writes: an unwritable store is made
    # by moving the folder away and, for "becomes-a-file", putting a file in its place.
    client = TrackingClient(store_uri)
    run_id = client.create_run().info.run_id
    for step in range(20):
        client.log_metric(run_id, "m", float(step), step=step)
    client.flush()
    moved = tmp_path / "moved-away"
    os.rename(store_uri, moved)
    if fault == "becomes-a-file":
        Path(store_uri).write_text("not a store")
    for step in range(20, 60):
        client.log_metric(run_id, "m", float(step), step=step)  # acknowledged
    wait_for(lambda: len(warnings_seen()) > 0, "the writer's warning")
    with pytest.raises(StoreError) as failed:
        client.flush()
    assert store_uri in str(failed.value)
    if fault == "disappears":
        assert not os.path.exists(store_uri), "a half-made store folder was created"
    else:
        assert Path(store_uri).read_text() == "not a store"
    assert_one_clear_warning(warnings_seen(), store_uri)

    if fault == "becomes-a-file":
        os.unlink(store_uri)
    os.rename(moved, store_uri)
    client.flush()
    assert rows_per_key(store_uri, "metrics", "step") == {(s,): 1 for s in range(60)}
    client.close()
