"""What survives a dead process: runs it left open, journals of a deleted store, fsyncs.

Victims are real processes killed with SIGKILL. Whether a process is dead is decided
by its journal's lock; which of its runs to end, by the table's content.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import deltalake
import pytest
from deltalake import DeltaTable

from sparktrack import TrackingClient
from sparktrack.config import load_settings
from sparktrack.errors import StoreError
from sparktrack.store import open_store
from tests._processes import child_env, python, run_child, start, wait_for

# Opens the store, runs SETUP (Python code) and reports the run it started; then waits
# to be killed.
_VICTIM = textwrap.dedent(
    """
    import sys, time
    import sparktrack
    sparktrack.set_store(sys.argv[1])
    {setup}
    print("READY", run.info.run_id, flush=True)
    time.sleep(600)
    """
)


class Victim:
    """A process that logs, says READY, and is then killed with SIGKILL."""

    def __init__(self, store: str, journal: Path, setup: str, **env: str) -> None:
        self.child = start(
            python("-c", _VICTIM.format(setup=setup), store),
            stderr_dir=journal.parent,
            env=child_env(SPARKTRACK_JOURNAL_DIR=str(journal), **env),
            name="victim",
        )
        self.run_id = self.child.expect_line("READY ")[1]

    def kill(self) -> None:
        self.child.kill()


@pytest.fixture
def warnings_seen(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    caplog.set_level(logging.WARNING, logger="sparktrack")
    yield lambda: [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# -- a dead owner's runs --------------------------------------------------------------------
@pytest.mark.slow
def test_a_run_killed_right_after_it_logged_ends_killed(tmp_path: Path) -> None:
    # The last journal write comes within milliseconds of start_run; nothing decides
    # by comparing event times with the journal file's modification time.
    store, journal = str(tmp_path / "store"), tmp_path / "journal"
    setup = "run = sparktrack.start_run(); sparktrack.log_param('alpha', 0.5)"
    victims = [Victim(store, journal, setup) for _ in range(3)]
    for victim in victims:
        victim.kill()
    client = TrackingClient(store)  # opening the store replays the dead processes' journals
    for victim in victims:
        run = client.get_run(victim.run_id)
        assert run.info.status == "KILLED"
        assert run.info.end_time is not None and run.info.end_time >= run.info.start_time
        assert run.data.params == {"alpha": "0.5"}
    client.flush()
    events = DeltaTable(f"{store}/runs").to_pandas()
    killed = events.loc[events["status"] == "KILLED", "run_id"]
    assert sorted(killed) == sorted(v.run_id for v in victims)  # one verdict per run
    client.close()


@pytest.mark.slow
@pytest.mark.parametrize("afterwards", ["resumed", "finished"])
def test_a_run_somebody_moved_on_with_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, afterwards: str
) -> None:
    store = str(tmp_path / "store")
    dead_journal, other_journal = tmp_path / "dead", tmp_path / "other"
    setup = "run = sparktrack.start_run(); sparktrack.flush()"
    victim = Victim(store, dead_journal, setup)
    victim.kill()
    # Another process (another journal folder: it does not replay the dead one) takes
    # the run over before anybody replays the dead process's journal.
    monkeypatch.setenv("SPARKTRACK_JOURNAL_DIR", str(other_journal))
    other = TrackingClient(store)
    if afterwards == "resumed":
        other.resume_run(victim.run_id)
    else:
        other.set_terminated(victim.run_id, "FINISHED")
    other.flush()
    monkeypatch.setenv("SPARKTRACK_JOURNAL_DIR", str(dead_journal))
    replaying = TrackingClient(store)
    status = replaying.get_run(victim.run_id).info.status
    assert status == ("RUNNING" if afterwards == "resumed" else "FINISHED")
    events = DeltaTable(f"{store}/runs").to_pandas()
    assert (events["status"] == "KILLED").sum() == 0
    replaying.close()
    other.close()


# -- journals belong to one store ---------------------------------------------------------------
@pytest.mark.slow
def test_a_journal_is_not_replayed_into_a_new_store_at_the_same_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warnings_seen: Callable[[], list[str]]
) -> None:
    store, journal = str(tmp_path / "store"), tmp_path / "journal"
    setup = (
        "sparktrack.set_experiment('old-experiment'); run = sparktrack.start_run(); "
        "sparktrack.log_param('alpha', 0.5)"
    )
    # Killed before its first commit: everything it logged is only in its journal.
    victim = Victim(
        store,
        journal,
        setup,
        SPARKTRACK_FLUSH_INTERVAL_SECONDS="3600",
        SPARKTRACK_HEARTBEAT_TIMEOUT_SECONDS="7260",
    )
    victim.kill()
    subprocess.run(["rm", "-rf", store], check=True)

    fresh = TrackingClient(store)  # a new store at the same path
    assert [e.name for e in fresh.search_experiments()] == []
    assert len(fresh.search_runs(None)) == 0
    assert not DeltaTable(f"{store}/params").to_pandas().shape[0]
    [warning] = warnings_seen()
    assert store in warning and "other-stores" in warning
    kept = list(journal.rglob("other-stores/*/*.jsonl"))
    assert kept and "old-experiment" in kept[0].read_text()
    fresh.close()
    TrackingClient(store).close()  # the journal kept aside is not looked at again
    assert len(warnings_seen()) == 1


def test_a_journal_without_a_store_id_is_still_replayed(store_uri: str, tmp_path: Path) -> None:
    # Journals written before segments named their store: records and no header.
    first = TrackingClient(store_uri)
    first.create_run()
    first.close()
    [directory] = (tmp_path / "journal").iterdir()
    (directory / "oldwriter.lock").touch()
    start = {
        "run_id": "r" * 32,
        "experiment_id": "0",
        "event": "start",
        "status": "RUNNING",
        "run_name": "old",
        "start_time": 1,
        "artifact_uri": "x",
        "event_time": 1000,
    }
    lines = [[1, "runs", [start]], [2, "params", [{"run_id": "r" * 32, "key": "a", "value": "1"}]]]
    (directory / "oldwriter.000000.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    client = TrackingClient(store_uri)
    run = client.get_run("r" * 32)
    assert run.data.params == {"a": "1"} and run.info.status == "KILLED"
    client.close()


def test_the_store_reports_a_dead_writers_open_runs_and_leaves_the_verdict_to_its_caller(
    store_uri: str, tmp_path: Path
) -> None:
    # The store alone (no tracking client) commits what the dead writer acknowledged and
    # reports the run it left open; it writes no verdict of its own.
    settings = load_settings(store=store_uri)
    first = open_store(store_uri, settings)
    first.append("experiments", [{"experiment_id": "0", "name": "Default", "event_time": 1}])
    store_id = first.store_id()  # type: ignore[attr-defined]
    first.close()
    [directory] = (tmp_path / "journal").iterdir()
    run_id, opened_at = "d" * 32, 5_000
    start = {
        "run_id": run_id,
        "experiment_id": "0",
        "event": "start",
        "status": "RUNNING",
        "start_time": 5,
        "artifact_uri": "x",
        "event_time": opened_at,
    }
    header = {"store_id": store_id, "open_runs": {}}
    lines = [[-1, "_header", [header]], [1, "runs", [start]]]
    (directory / "deadwriter.lock").touch()
    segment = directory / "deadwriter.000000.jsonl"
    segment.write_text("".join(json.dumps(x) + "\n" for x in lines))

    store = open_store(store_uri, settings)
    [report] = store.orphaned_runs()
    assert (report.writer_id, dict(report.open_runs)) == ("deadwriter", {run_id: opened_at})
    assert report.events["status"].to_pylist() == ["RUNNING"]  # committed, not judged
    store.close()  # unsettled: the journal stays for the next store
    assert segment.exists()

    store = open_store(store_uri, settings)
    [report] = store.orphaned_runs()
    verdict = {"run_id": run_id, "event": "end", "status": "KILLED", "end_time": 6}
    store.settle_orphaned(report, [{**verdict, "event_time": opened_at + 1}])
    assert store.orphaned_runs() == [] and not segment.exists()
    with pytest.raises(StoreError, match="deadwriter"):
        store.settle_orphaned(report, [])  # settled once only
    store.close()
    events = DeltaTable(f"{store_uri}/runs").to_pandas()
    assert sorted(events["event"]) == ["end", "start"]


# -- a process that exits normally ---------------------------------------------------------
def test_what_a_process_logged_is_committed_when_it_exits(tmp_path: Path) -> None:
    # Its last commit round runs at interpreter exit, with records for several tables.
    store = tmp_path / "store"
    script = textwrap.dedent(
        """
        import sys
        from sparktrack import TrackingClient
        client = TrackingClient(sys.argv[1])
        run_id = client.create_run().info.run_id
        client.log_params(run_id, {"alpha": 1, "beta": 2})
        client.log_metric(run_id, "loss", 0.5)
        client.set_tag(run_id, "team", "ml")
        print(run_id, flush=True)
        """
    )
    done = run_child(
        python("-c", script, store),
        env=child_env(
            SPARKTRACK_JOURNAL_DIR=str(tmp_path / "journal"),
            # Nothing is committed before the exit but by the exit itself.
            SPARKTRACK_FLUSH_INTERVAL_SECONDS="3600",
            SPARKTRACK_HEARTBEAT_TIMEOUT_SECONDS="7260",
        ),
    )
    assert "could not commit" not in done.stderr, done.explain("a commit at exit failed")
    run_id = done.stdout.split()[0]

    def rows(table: str) -> list[dict[str, Any]]:
        # Read with delta-rs directly: opening the store would replay the journal.
        return [
            r
            for r in DeltaTable(str(store / table)).to_pyarrow_table().to_pylist()
            if r["run_id"] == run_id
        ]

    assert sorted(r["key"] for r in rows("params")) == ["alpha", "beta"]
    assert [r["key"] for r in rows("metrics")] == ["loss"]
    assert "team" in {r["key"] for r in rows("tags")}
    assert [r["event"] for r in rows("runs")] == ["start"]


# -- group commit ---------------------------------------------------------------------------
@pytest.mark.usefixtures("commit_only_on_flush")
def test_ending_a_run_does_not_wait_for_a_disk_flush(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []
    real_fsync, real_write = os.fsync, deltalake.write_deltalake

    def fsync(fd: int) -> None:
        calls.append(("fsync", threading.current_thread().name))
        real_fsync(fd)

    def write(target: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(("commit", threading.current_thread().name))
        return real_write(target, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    for name, module in list(sys.modules.items()):
        if name.startswith("sparktrack.") and getattr(module, "write_deltalake", None) is (
            real_write
        ):
            monkeypatch.setattr(module, "write_deltalake", write)
    client = TrackingClient(store_uri)
    run_id = client.create_run().info.run_id
    client.log_param(run_id, "alpha", 1)
    client.flush()
    calls.clear()
    client.set_terminated(run_id)
    assert ("fsync", threading.current_thread().name) not in calls
    wait_for(lambda: ("commit", "sparktrack-writer") in calls, "the writer's commit", interval=0.01)
    # The writer made the journal durable (one fsync for everything before it) and
    # only then committed.
    assert calls.index(("fsync", "sparktrack-writer")) < calls.index(
        ("commit", "sparktrack-writer")
    ), calls
    assert client.get_run(run_id).info.status == "FINISHED"
    calls.clear()
    client.log_param(run_id, "beta", 2)
    client.flush()  # flush() still returns only after an fsync
    assert ("fsync", threading.current_thread().name) in calls
    client.close()
