"""Many drivers on one S3 store at once: plain Python jobs and Spark applications.

Eight driver processes (``tests/_driver.py``: plain Python logging runs, Spark
applications on ``local[1]`` running autolog or a function sweep) log to one ``s3a://``
store on the moto server, released together through a gate folder. Afterwards this
process checks, with delta-rs and sparktrack's own search: every run a driver reported
is stored once, with exactly what it logged; no table holds a duplicate row; every
Delta table and every commit of it reads with delta-rs, and delta-spark reads the same
rows; search agrees with the runs table. Then the same with one driver killed with
SIGKILL while it logs: its run ends KILLED, and what it had journaled is committed
exactly once.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable

from sparktrack import TrackingClient
from sparktrack.store import RunEvent, RunStatus, parse_store_uri
from tests._driver import RUNS, SWEEP_XS
from tests._processes import Child, child_env, python, start, wait_for
from tests._s3_server import S3Server

pytestmark = [pytest.mark.spark, pytest.mark.slow]

# Spark starts in three of the children at once on a shared machine: generous.
DRIVER_TIMEOUT_S = 600
# The killed driver logs this many acknowledged points, some of them committed, first.
ACKNOWLEDGED_BEFORE_KILL = 300


class Drivers:
    """The driver processes of one test, started at once and released by one gate."""

    def __init__(self, store: str, tmp_path: Path, env: dict[str, str]) -> None:
        self.store, self.tmp_path, self.env = store, tmp_path, env
        self.gate = tmp_path / "gate"
        self.gate.mkdir()
        self.children: dict[int, Child] = {}

    def start(self, kinds: Iterable[str], **extra_env: str) -> list[int]:
        indices = []
        for kind in kinds:
            index = len(self.children)
            command = python("-m", "tests._driver", kind, self.store, self.gate, str(index))
            self.children[index] = start(
                command,
                stderr_dir=self.tmp_path,
                env={**self.env, **extra_env},
                cwd=self.tmp_path,
                name=f"driver-{index}-{kind}",
            )
            indices.append(index)
        return indices

    def open_gate(self) -> None:
        """Once every driver is ready (Spark started, store opened), let all of them go."""

        def all_ready() -> bool:
            for index, child in self.children.items():
                if not child.running() and not (self.gate / f"ready-{index}").exists():
                    raise AssertionError(child.explain(f"driver {index} exited before the gate"))
            return all((self.gate / f"ready-{i}").exists() for i in self.children)

        wait_for(all_ready, "every driver to be ready", timeout=DRIVER_TIMEOUT_S, interval=0.1)
        (self.gate / "go").touch()

    def results(self, indices: Iterable[int]) -> dict[str, dict[str, Any]]:
        """Every run the drivers ``indices`` reported, once each exited with status 0."""
        reported: dict[str, dict[str, Any]] = {}
        for index in indices:
            runs = self.children[index].result(timeout=DRIVER_TIMEOUT_S)["runs"]
            assert not set(runs) & set(reported), f"driver {index} reported another's run"
            reported.update(runs)
        return reported

    def stop_all(self) -> None:
        for child in self.children.values():
            child.kill()


@pytest.fixture
def drivers(s3_server: S3Server, s3_env: dict[str, str], tmp_path: Path) -> Iterator[Drivers]:
    """A fresh store on the server, and the drivers' environment: a user's (no test
    mode, autolog's background thread), the server's, one journal folder for all."""
    env = child_env(
        sparktrack_settings=False,
        **s3_env,
        SPARKTRACK_JOURNAL_DIR=str(tmp_path / "journal"),
        PYSPARK_PYTHON=sys.executable,
    )
    group = Drivers(s3_server.new_prefix("s3a"), tmp_path, env)
    yield group
    group.stop_all()  # those left by a failed test never outlive it


def _table(store: str, name: str, version: int | None = None) -> DeltaTable:
    location = parse_store_uri(store)
    return DeltaTable(
        location.for_delta_rs(name), version=version, storage_options=location.delta_rs_options()
    )


def _delta_tables(s3_server: S3Server, store: str) -> list[str]:
    """Every Delta table in the store, found by its log folder in the bucket."""
    prefix = store.split("://", 1)[1].split("/", 1)[1] + "/"
    pages = s3_server.client("s3").get_paginator("list_objects_v2")
    names = set()
    for page in pages.paginate(Bucket=s3_server.bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            table, _, rest = item["Key"][len(prefix) :].partition("/")
            if rest.startswith("_delta_log/"):
                names.add(table)
    return sorted(names)


def _check_tables_read(s3_server: S3Server, store: str) -> dict[str, pd.DataFrame]:
    """Every table reads with delta-rs, at its latest version and at each commit."""
    tables = _delta_tables(s3_server, store)
    assert {"runs", "params", "metrics", "tags"} <= set(tables), tables
    frames = {}
    for name in tables:
        table = _table(store, name)
        history = table.history()
        assert len(history) == table.version() + 1, (name, "a commit is missing")
        for version in range(table.version() + 1):
            _table(store, name, version).to_pyarrow_table()
        frames[name] = table.to_pandas()
    return frames


def _check_spark_reads(spark: Any, s3_server: S3Server, store: str, copy: Path) -> None:
    """delta-spark reads each table as delta-rs does, from a copy of the bucket's
    objects (the test session has no s3a: pip's pyspark lacks the hadoop-aws jars)."""
    prefix = store.split("://", 1)[1].split("/", 1)[1] + "/"
    tables = _delta_tables(s3_server, store)
    s3 = s3_server.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=s3_server.bucket, Prefix=prefix
    ):
        for item in page.get("Contents", []):
            relative = item["Key"][len(prefix) :]
            # The tables' objects only (folder markers and artifacts are not read here).
            if relative.split("/", 1)[0] in tables and not relative.endswith("/"):
                target = copy / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(s3_server.bucket, item["Key"], str(target))
    for name in tables:
        read = spark.read.format("delta").load(str(copy / name))
        rows = _table(store, name).to_pyarrow_table().to_pylist()
        expected = spark.createDataFrame(rows, read.schema)
        assert_df_equality(read, expected, ignore_row_order=True, ignore_nullable=True)


def _check_no_duplicate_rows(frames: dict[str, pd.DataFrame]) -> None:
    metrics, params, runs = frames["metrics"], frames["params"], frames["runs"]
    twice = metrics[metrics.duplicated(["run_id", "key", "step", "timestamp"], keep=False)]
    assert twice.empty, f"metric points committed twice:\n{twice}"
    assert not params.duplicated(["run_id", "key"]).any(), "a param committed twice"
    starts = runs[runs["event"] == RunEvent.START]["run_id"]
    assert not starts.duplicated().any(), "a run started twice"
    ends = runs[runs["event"] == RunEvent.END]["run_id"]
    assert not ends.duplicated().any(), "a run ended twice"
    assert set(ends) == set(starts), "a run was never ended"
    # Every driver created the experiment as it started: its id derives from its name.
    experiments = frames["experiments"].groupby("name")["experiment_id"].nunique()
    assert (experiments == 1).all(), experiments


def _check_runs(
    client: TrackingClient, frames: dict[str, pd.DataFrame], reported: dict[str, dict[str, Any]]
) -> None:
    """Each reported run holds exactly what its driver logged."""
    params, metrics = frames["params"], frames["metrics"]
    for run_id, expected in reported.items():
        stored = client.get_run(run_id)
        if "params" in expected:
            rows = params[params["run_id"] == run_id]
            assert dict(zip(rows["key"], rows["value"], strict=True)) == expected["params"]
            points = metrics[metrics["run_id"] == run_id].sort_values("step")
            logged = {k: list(points[points["key"] == k]["value"]) for k in set(points["key"])}
            # Spark drivers add spark.* cost metrics to their runs: only the driver's own.
            assert {k: logged.get(k) for k in expected["metrics"]} == expected["metrics"], run_id
            assert expected["tags"].items() <= stored.data.tags.items(), run_id
        else:
            assert len(stored.data.params) == expected["param_count"], run_id
            assert len(stored.data.metrics) == expected["metric_count"], run_id


def _check_search(
    client: TrackingClient, frames: dict[str, pd.DataFrame], statuses: dict[str, str]
) -> pd.DataFrame:
    """search_runs finds each run of the runs table once, with its folded status."""
    found = client.search_runs(None, max_results=10_000)
    assert not found["run_id"].duplicated().any(), "search returned a run twice"
    assert set(found["run_id"]) == set(frames["runs"]["run_id"]) == set(statuses)
    assert dict(zip(found["run_id"], found["status"], strict=True)) == statuses
    return found


def _check_plain_searches(client: TrackingClient, reported: dict[str, dict[str, Any]]) -> None:
    """A filter and an order over the plain drivers' runs, against what they logged."""
    by_driver: dict[str, dict[str, float]] = {}
    for run_id, expected in reported.items():
        driver = expected.get("params", {}).get("driver")
        if driver is not None:
            by_driver.setdefault(driver, {})[run_id] = expected["metrics"]["loss"][-1]
    assert len(by_driver) >= 5, by_driver
    for driver, last_loss in by_driver.items():
        found = client.search_runs(
            None, f"params.driver = '{driver}' and metrics.loss > 0", order_by=["metrics.loss"]
        )
        assert list(found["run_id"]) == sorted(last_loss, key=last_loss.__getitem__), driver
        assert list(found["metrics.loss"]) == sorted(last_loss.values()), driver


def test_eight_drivers_lose_and_duplicate_nothing(
    drivers: Drivers, s3_server: S3Server, tmp_path: Path, spark: Any
) -> None:
    indices = drivers.start(["plain"] * 6 + ["autolog", "sweep"])
    drivers.open_gate()
    reported = drivers.results(indices)
    assert len(reported) == 6 * RUNS + 1 + len(SWEEP_XS) + 1

    frames = _check_tables_read(s3_server, drivers.store)
    _check_no_duplicate_rows(frames)
    client = TrackingClient(drivers.store)
    _check_runs(client, frames, reported)
    _check_search(client, frames, {run_id: RunStatus.FINISHED for run_id in reported})
    _check_plain_searches(client, reported)
    client.close()
    _check_spark_reads(spark, s3_server, drivers.store, tmp_path / "copy")
    assert not list((tmp_path / "journal").rglob("*.jsonl")), "a journal was left to replay"
    # Every commit of the eight was a conditional write: none could replace another's.
    assert s3_server.unconditional_commits(drivers.store) == []


def _acknowledgements(child: Child) -> tuple[str, list[int]]:
    """The doomed driver's run id, and a list its last acknowledged step is kept in
    (read on a thread: a pipe nobody reads would stop the driver before it is killed)."""
    run_id = child.expect_line("RUN ")[1]
    last = [-1]

    def read() -> None:
        for line in iter(child.readline, ""):
            if line.startswith("ACK "):
                last[0] = int(line.split()[1])

    threading.Thread(target=read, daemon=True).start()
    return run_id, last


def test_a_driver_killed_mid_run_is_replayed_once_and_ends_killed(
    drivers: Drivers, s3_server: S3Server, tmp_path: Path
) -> None:
    indices = drivers.start(["plain"] * 5 + ["autolog", "sweep"])
    # Commits every 50 ms: when the signal comes, part of what it acknowledged is
    # committed and part is only in its journal. Heartbeats land with commits, so the
    # timeout must outlast the interval (the settings refuse a shorter one).
    [doomed_index] = drivers.start(
        ["doomed"],
        SPARKTRACK_FLUSH_INTERVAL_SECONDS="0.05",
        SPARKTRACK_HEARTBEAT_TIMEOUT_SECONDS="60.1",
    )
    doomed = drivers.children[doomed_index]
    drivers.open_gate()
    doomed_run, last_ack = _acknowledgements(doomed)

    def committed_part_of_it() -> bool:
        if last_ack[0] < ACKNOWLEDGED_BEFORE_KILL:
            return False
        metrics = _table(drivers.store, "metrics").to_pandas(columns=["run_id"])
        return bool((metrics["run_id"] == doomed_run).any())

    wait_for(committed_part_of_it, "the doomed driver to commit", timeout=300, child=doomed)
    doomed.kill()
    assert doomed.process.returncode == -signal.SIGKILL, doomed.explain("not killed")
    reported = drivers.results(i for i in indices if i != doomed_index)
    acknowledged = last_ack[0]  # the pipe closed with the process: nothing more comes

    # Opening the store replays the dead driver's journal, unless a driver's last
    # flush() already did: either way, once.
    client = TrackingClient(drivers.store)
    frames = _check_tables_read(s3_server, drivers.store)
    _check_no_duplicate_rows(frames)
    _check_runs(client, frames, reported)
    statuses = {run_id: RunStatus.FINISHED for run_id in reported}
    _check_search(client, frames, {**statuses, doomed_run: RunStatus.KILLED})
    steps = [m.step for m in client.get_metric_history(doomed_run, "loss")]
    assert len(steps) == len(set(steps)), "a replayed point was committed twice"
    assert set(range(acknowledged + 1)) <= set(steps), "an acknowledged point was lost"
    # At most the call in flight when the signal came may also have been journaled.
    assert len(steps) <= acknowledged + 2
    assert client.get_run(doomed_run).data.params == {"driver": str(doomed_index)}
    client.close()

    again = TrackingClient(drivers.store)  # a second open finds nothing more to replay
    assert len(again.get_metric_history(doomed_run, "loss")) == len(steps)
    runs = _table(drivers.store, "runs").to_pandas()
    verdicts = runs[(runs["run_id"] == doomed_run) & (runs["status"] == RunStatus.KILLED)]
    assert len(verdicts) == 1, verdicts
    again.close()
    assert not list((tmp_path / "journal").rglob("*.jsonl")), "a journal was left to replay"
