"""Sweeps on ``local-cluster[2,1,1024]``: real executor JVMs, and a killed driver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sparktrack import TrackingClient

pytestmark = [pytest.mark.spark, pytest.mark.slow]
ROOT = Path(__file__).parent.parent


def _start(*arguments: str, tmp_path: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SPARKTRACK_JOURNAL_DIR": str(tmp_path / "journal"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests._sweep_cluster", *arguments],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _result(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = process.communicate(timeout=600)
    assert process.returncode == 0, out[-3000:]
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def test_trials_spread_over_executors_and_pipelines_sweep_on_the_cluster(tmp_path: Path) -> None:
    outcome = _result(_start("spread", str(tmp_path / "store"), tmp_path=tmp_path))
    assert outcome["executors"] == 2
    assert len(outcome["workers"]) == 2  # function trials ran on both executors
    assert outcome["function_states"] == ["complete"] * 4 and outcome["best_x"] == 4
    assert outcome["pipeline_mode"] == "min"  # rmse: smaller is better, the evaluator says
    assert outcome["pipeline_states"] == ["complete", "complete"]
    assert outcome["pipeline_best"] == {"regParam": 0.0}
    # A failing trial on an executor is a FAILED trial; the sweep goes on.
    assert outcome["failing_states"] == ["complete", "complete", "failed", "failed"]
    # Early stopping decided on the executors cuts the bad curves.
    states = outcome["pruned_states"]
    assert states["0.0"] == states["0.1"] == "complete"
    assert {states[level] for level in ("5.0", "6.0", "7.0", "8.0")} == {"pruned"}


def test_a_sweep_resumes_after_its_driver_was_killed(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    victim = _start("slow", store, "resumable", tmp_path=tmp_path)
    reader: TrackingClient | None = None
    deadline = time.monotonic() + 300
    finished: list[str] = []
    while time.monotonic() < deadline:
        time.sleep(2)
        if not Path(store, "runs", "_delta_log").is_dir():
            continue
        reader = reader or TrackingClient(store)
        runs = reader.search_runs(None, filter_string="tags.`sparktrack.sweep.state` = 'complete'")
        finished = list(runs["run_id"])
        if len(finished) >= 2:
            break
    assert len(finished) >= 2, "the sweep never finished two trials"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    if reader is not None:
        reader.close()

    outcome = _result(_start("slow", store, "resumable", tmp_path=tmp_path))
    trials = outcome["trials"]
    done = [t for t in trials if t["state"] == "complete"]
    assert sorted(t["params.x"] for t in done) == [1, 2, 3, 4, 5, 6]  # every point, once
    resumed = {t["run_id"] for t in trials if t["resumed"] and t["state"] == "complete"}
    assert set(finished) <= resumed  # what finished before the kill was not run again
    client = TrackingClient(store)
    children = client.search_runs(
        None, filter_string=f"tags.`mlflow.parentRunId` = '{outcome['run_id']}'"
    )
    # Trials the kill interrupted stay as KILLED runs; nothing is left RUNNING.
    assert set(children["status"]) <= {"FINISHED", "KILLED"}
    assert (children["status"] == "FINISHED").sum() == 6
    assert client.get_run(outcome["run_id"]).info.status == "FINISHED"
    client.close()


def test_ctrl_c_cancels_running_trials_and_kills_the_sweep(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    process = _start("interrupted", store, tmp_path=tmp_path)
    reader: TrackingClient | None = None
    deadline = time.monotonic() + 300
    running = 0
    while time.monotonic() < deadline and running < 2:
        time.sleep(1)
        if not Path(store, "runs", "_delta_log").is_dir():
            continue
        reader = reader or TrackingClient(store)
        trials = reader.search_runs(None, filter_string="tags.`sparktrack.sweep.role` = 'trial'")
        running = int((trials["status"] == "RUNNING").sum()) if len(trials) else 0
    assert running == 2, "the two trials never started"
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    outcome = _result(process)
    assert outcome == {"interrupted": True}
    assert time.monotonic() - started < 60  # the 120 s trials were cancelled, not awaited
    assert reader is not None
    time.sleep(0.5)  # the reader looks for other processes' commits every 250 ms
    runs = reader.search_runs(None)
    sweep_run = runs[runs["tags.sparktrack.sweep.role"] == "sweep"]
    trials = runs[runs["tags.sparktrack.sweep.role"] == "trial"]
    assert list(sweep_run["status"]) == ["KILLED"]
    assert set(trials["status"]) == {"KILLED"} and len(trials) == 2
    assert set(trials["tags.sparktrack.sweep.state"]) == {"killed"}
    reader.close()


@pytest.mark.h2o
def test_h2o_gbm_sweep_runs_on_the_cluster(tmp_path: Path) -> None:
    # pyspark's CrossValidator fails on H2O estimators; the sweep fits them as they work.
    pytest.importorskip("pysparkling")
    outcome = _result(_start("h2o", str(tmp_path / "store"), tmp_path=tmp_path))
    assert outcome["states"] == ["complete"] * 4
    assert outcome["model"] == "H2OGBMMOJOModel"
    assert outcome["best"] > 0
