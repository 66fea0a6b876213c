"""Sweeps on ``local-cluster[2,1,1024]``: real executor JVMs, and a killed driver."""

from __future__ import annotations

import signal
import time
import venv
from pathlib import Path

import pandas as pd
import pytest

from sparktrack import TrackingClient
from tests._processes import ROOT, Child, child_env, python, start, wait_for

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _start(*arguments: str, tmp_path: Path, executor_python: Path | None = None) -> Child:
    """``tests/_sweep_cluster.py`` in a child process (run as a script: its functions
    travel to the executors by value)."""
    env = child_env(SPARKTRACK_JOURNAL_DIR=str(tmp_path / "journal"))
    if executor_python is not None:
        # Executors inherit the driver's environment: keep the package off their path.
        env.pop("PYTHONPATH", None)
        env["PYSPARK_PYTHON"] = str(executor_python)
    return start(
        python(ROOT / "tests" / "_sweep_cluster.py", *arguments),
        stderr_dir=tmp_path,
        env=env,
        cwd=tmp_path,
        name=f"child-{arguments[0]}",
    )


class _StoreReader:
    """Reads the child's store once it exists (the child creates it)."""

    def __init__(self, store: str) -> None:
        self.store = store
        self.client: TrackingClient | None = None

    def search(self, filter_string: str | None = None) -> pd.DataFrame:
        if self.client is None:
            if not Path(self.store, "runs", "_delta_log").is_dir():
                return pd.DataFrame()
            self.client = TrackingClient(self.store)
        return self.client.search_runs(None, filter_string=filter_string)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def test_trials_spread_over_executors_and_pipelines_sweep_on_the_cluster(tmp_path: Path) -> None:
    outcome = _start("spread", str(tmp_path / "store"), tmp_path=tmp_path).result()
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
    reader = _StoreReader(store)
    finished: list[str] = []

    def two_trials_finished() -> bool:
        nonlocal finished
        runs = reader.search("tags.`sparktrack.sweep.state` = 'complete'")
        finished = list(runs["run_id"]) if len(runs) else []
        return len(finished) >= 2

    wait_for(two_trials_finished, "two trials finished", child=victim, timeout=300, interval=0.25)
    victim.kill()
    reader.close()

    outcome = _start("slow", store, "resumable", tmp_path=tmp_path).result()
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
    child = _start("interrupted", store, tmp_path=tmp_path)
    reader = _StoreReader(store)

    def two_trials_running() -> bool:
        trials = reader.search("tags.`sparktrack.sweep.role` = 'trial'")
        return len(trials) > 0 and int((trials["status"] == "RUNNING").sum()) == 2

    wait_for(two_trials_running, "two trials started", child=child, timeout=300, interval=0.25)
    started = time.monotonic()
    child.process.send_signal(signal.SIGINT)
    outcome = child.result()
    assert outcome == {"interrupted": True}
    assert time.monotonic() - started < 60  # the 120 s trials were cancelled, not awaited
    runs = pd.DataFrame()

    def everything_ended() -> bool:
        # The reader picks up the other process's last commits on its next look.
        nonlocal runs
        runs = reader.search()
        return bool(len(runs)) and "RUNNING" not in set(runs["status"])

    wait_for(
        everything_ended, "the killed sweep's runs ended", child=child, timeout=30, interval=0.25
    )
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
    outcome = _start("h2o", str(tmp_path / "store"), tmp_path=tmp_path).result()
    assert outcome["states"] == ["complete"] * 4
    assert outcome["model"] == "H2OGBMMOJOModel"
    assert outcome["best"] > 0


def test_function_sweeps_on_executors_whose_python_lacks_sparktrack(tmp_path: Path) -> None:
    """A fresh cluster's executors run a Python without sparktrack or its dependencies:
    the trial's task code travels with it; what cannot travel stops the sweep early with
    an error naming the module and the fix, instead of spending every trial."""
    bare = tmp_path / "bare-python"
    venv.create(bare, with_pip=False)  # the standard library only
    outcome = _start(
        "bare",
        str(tmp_path / "store"),
        tmp_path=tmp_path,
        executor_python=bare / "bin" / "python",
    ).result()
    assert outcome["executors_lack_sparktrack"]
    shipped = outcome["shipped"]
    assert shipped["states"] == ["complete"] * 4, shipped
    assert shipped["best_params"] == {"x": 4} and shipped["best_metric"] == 40.0

    for case in ("imports_missing", "defined_in_missing"):
        raised = outcome[case]
        assert raised["type"] == "ConfigurationError", raised
        assert "'sweep_helpers'" in raised["message"]
        assert "--py-files" in raised["message"] and "spark.archives" in raised["message"]
        assert raised["seconds"] < 60
        assert len(raised["trial_statuses"]) <= 4  # of 12: stopped after the first failures
        assert raised["sweep_status"] == "FAILED"
        assert "RUNNING" not in raised["trial_statuses"]
    assert "sweep_helpers.train" in outcome["defined_in_missing"]["message"]

    pruning = outcome["pruning_without_optuna"]
    assert pruning["type"] == "ConfigurationError", pruning
    assert "'optuna'" in pruning["message"] and "early_stopping" in pruning["message"]
    assert len(pruning["trial_statuses"]) <= 4

    every_trial_failed = outcome["all_fail"]
    assert every_trial_failed["type"] == "SweepFailedError", every_trial_failed
    assert "ValueError: trial with x=" in every_trial_failed["message"]
    assert "failed on purpose" in every_trial_failed["message"]
    assert every_trial_failed["trial_statuses"] == ["FAILED"] * 4
    assert every_trial_failed["sweep_status"] == "FAILED"
