"""The README's demo and the notebooks run end to end, as a user would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sparktrack import TrackingClient

ROOT = Path(__file__).parent.parent
pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _run(script: Path, store: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SPARKTRACK_STORE": str(store)}
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


def test_demo_runs_a_tracked_sweep_and_prints_the_runs(tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = _run(ROOT / "examples" / "demo.py", store, tmp_path)
    assert "Best: lr-" in done.stdout
    assert "final_train_loss" in done.stdout  # the Spark SQL part ran
    client = TrackingClient(str(store))
    runs = client.search_runs(None)
    children = runs[runs["tags.mlflow.parentRunId"].notna()]
    assert len(children) == 6
    assert set(children["status"]) == {"FINISHED"}
    assert children["metrics.test_auc"].between(0.9, 1.0).all()
    child = client.get_run(children["run_id"].iloc[0])
    assert len(client.get_metric_history(child.info.run_id, "train_loss")) > 5
    assert [a.path for a in client.list_artifacts(child.info.run_id)] == ["roc.png"]
    client.close()


def test_quickstart_notebook_runs(tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = _run(ROOT / "notebooks" / "quickstart.py", store, tmp_path)
    assert "linreg-reg0.0" in done.stdout
    client = TrackingClient(str(store))
    runs = client.search_runs(None, order_by=["metrics.rmse"])
    assert list(runs["run_name"]) == ["linreg-reg0.0", "linreg-reg0.5"]
    client.close()
