"""Worker processes: a multiprocessing pool under a parent run, with every start method.

The script (``tests/_pool_job.py``) runs as a user's training script would, in its
own process: a parent run, ``Pool(2).map`` of 4 tasks, each a nested run logging 50
metrics in a worker. ``fork`` is Linux's default start method; delta-rs cannot run in
a forked child, so there the worker's store commits through a helper process.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from deltalake import DeltaTable

import sparktrack
from sparktrack import TrackingClient
from tests._processes import ROOT, child_env, python, run_child, start_worker

pytestmark = pytest.mark.slow


def run_pool_job(store: str, journal: Path, method: str, flush: bool) -> dict[str, object]:
    env = child_env(
        SPARKTRACK_STORE=store,  # what spawned workers open; forked ones inherit it
        SPARKTRACK_JOURNAL_DIR=str(journal),
    )
    job = run_child(
        python("-m", "tests._pool_job", store, method, "flush" if flush else "-"),
        env=env,
        cwd=ROOT,
        timeout=400,
    )
    result: dict[str, object] = json.loads(job.stdout.strip().splitlines()[-1])
    result["stderr"] = job.stderr
    return result


@pytest.mark.parametrize(
    ("method", "flush"),
    [("fork", False), ("fork", True), ("forkserver", False), ("spawn", False)],
    ids=["fork", "fork-flush-in-worker", "forkserver", "spawn"],
)
def test_pool_workers_log_nested_runs_exactly_once(
    tmp_path: Path, method: str, flush: bool
) -> None:
    store, journal = str(tmp_path / "store"), tmp_path / "journal"
    result = run_pool_job(store, journal, method, flush)
    stderr = result["stderr"]
    parent, children = result["parent"], result["children"]
    assert isinstance(children, list) and len(set(children)) == 4, stderr
    assert result["parent_pid"] not in result["worker_pids"]  # type: ignore[operator]
    assert result["visible_while_pool_open"] == 4, stderr

    client = TrackingClient(store)
    for child in children:
        run = client.get_run(child)
        assert run.info.parent_run_id == parent, stderr
        assert run.data.tags["mlflow.parentRunId"] == parent
        assert run.info.status == "FINISHED", stderr
    assert client.get_run(str(parent)).info.status == "FINISHED"
    metrics = DeltaTable(f"{store}/metrics").to_pandas()
    counts = metrics.groupby(["run_id", "step"]).size()
    assert set(counts.index.get_level_values("run_id")) == set(children)
    assert (counts == 1).all(), "a metric was committed twice"
    assert len(counts) == 4 * 50, stderr
    events = DeltaTable(f"{store}/runs").to_pandas()
    ends = events[events["event"] == "end"].groupby("run_id").size()
    assert ends.to_dict() == dict.fromkeys([parent, *children], 1), "a run was ended twice"
    client.close()
    # Every journal was committed and removed: the workers' too.
    assert not list(journal.rglob("*.jsonl")), list(journal.rglob("*"))


def _log_and_flush_in_child() -> None:
    sparktrack.log_metric("from-child", 1.0)
    sparktrack.flush()


def test_flush_in_a_forked_child_returns_while_autolog_work_is_queued_in_the_parent(
    tmp_path: Path, fluent_store: str
) -> None:
    from sparktrack.autologging import _worker

    with sparktrack.start_run() as parent:
        sparktrack.log_param("where", "parent")
        release = threading.Event()
        _worker.submit(release.wait)  # autolog's thread is busy in the parent
        child = start_worker(_log_and_flush_in_child, stderr_dir=tmp_path, method="fork")
        try:
            child.join(timeout=180)  # fails when the child hung or failed, with its stderr
        finally:
            release.set()
    sparktrack.flush()
    runs = sparktrack.search_runs(search_all_experiments=True)
    from_child = runs[runs["metrics.from-child"] == 1.0]
    assert list(from_child["tags.mlflow.parentRunId"]) == [parent.info.run_id]


_PLAIN_FORK = """
import json, os, sys
from pathlib import Path
import sparktrack
sparktrack.set_store(sys.argv[1])
journal = Path(sys.argv[2])
with sparktrack.start_run(run_name="parent") as parent:
    sparktrack.log_param("where", "parent")  # journaled; the writer commits hourly
    parents_journal = sorted(p.name for p in journal.rglob("*") if p.is_file())
    pid = os.fork()
    if pid == 0:
        with sparktrack.start_run(run_name="forked-child") as child:
            sparktrack.log_param("where", "child")
        print(json.dumps({"child": child.info.run_id}), flush=True)
        # A normal exit, still inside the parent's `with`: exit hooks run here, and
        # must neither end the parent's run nor touch the parent's journal.
        sys.exit(0)
    _, status = os.waitpid(pid, 0)
    left = sorted(p.name for p in journal.rglob("*") if p.is_file())
    print(json.dumps({
        "parent": parent.info.run_id,
        "child_status": status,
        "parents_journal_kept": set(parents_journal) <= set(left),
    }), flush=True)
"""


def test_a_plain_fork_child_leaves_the_parents_run_and_journal_alone(tmp_path: Path) -> None:
    store, journal = str(tmp_path / "store"), tmp_path / "journal"
    env = child_env(
        SPARKTRACK_JOURNAL_DIR=str(journal),
        SPARKTRACK_FLUSH_INTERVAL_SECONDS="3600",
        SPARKTRACK_HEARTBEAT_TIMEOUT_SECONDS="7260",
    )
    done = run_child(python("-c", _PLAIN_FORK, store, str(journal)), env=env, timeout=300)
    report: dict[str, object] = {}
    for line in done.stdout.splitlines():
        report.update(json.loads(line))
    assert report["child_status"] == 0, done.stderr
    assert report["parents_journal_kept"], done.stderr
    client = TrackingClient(store)
    parent, child = str(report["parent"]), str(report["child"])
    assert client.get_run(parent).info.status == "FINISHED", done.stderr
    assert client.get_run(parent).data.params == {"where": "parent"}
    assert client.get_run(child).info.status == "FINISHED", done.stderr
    assert client.get_run(child).info.parent_run_id == parent
    params = DeltaTable(f"{store}/params").to_pandas()
    assert params.groupby("run_id").size().to_dict() == {parent: 1, child: 1}
    events = DeltaTable(f"{store}/runs").to_pandas()
    ends = events[events["event"] == "end"].groupby("run_id").size()
    assert ends.to_dict() == {parent: 1, child: 1}, "a run was ended twice"
    client.close()
