"""The README's demo and the notebooks run end to end, as a user would run them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sparktrack import TrackingClient
from sparktrack.registry import RegistryClient
from tests._processes import ROOT, Finished, child_env, python, run_child

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _run(script: Path, store: Path, cwd: Path) -> Finished:
    # A user's shell: none of the suite's SPARKTRACK_* settings (snapshots on, autolog's
    # real background path), the store and a journal of the test's own.
    env = child_env(
        sparktrack_settings=False,
        SPARKTRACK_STORE=str(store),
        SPARKTRACK_JOURNAL_DIR=str(cwd / "journal"),
    )
    return run_child(python(script), cwd=cwd, env=env, timeout=900)


@pytest.mark.h2o  # the demo adds an H2O run
def test_demo_runs_an_autologged_sweep_and_prints_the_runs(tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = _run(ROOT / "examples" / "demo.py", store, tmp_path)
    assert "One child run per param map" in done.stdout
    assert "models:/breast-cancer/Production scores new rows" in done.stdout
    assert "spark_udf scored the" in done.stdout
    assert "answered POST /invocations: {'predictions': [" in done.stdout
    assert "avg_auc" in done.stdout  # the Spark SQL part ran
    # The shifted copy of the test data alerts, on the column that was shifted.
    drift = done.stdout.split("sparktrack.monitor on a shifted copy of the test data: ")
    assert len(drift) == 2 and drift[1].startswith("ALERT"), done.explain("no drift alert")
    assert re.search(r"^\s*mean_radius\s", drift[1], re.MULTILINE), done.explain("mean_radius")
    client = TrackingClient(str(store))
    runs = client.search_runs(None)
    # The drift check is a run of the monitoring experiment, tagged with the model.
    monitoring = runs[runs["tags.sparktrack.monitor.status"].notna()]
    assert list(monitoring["tags.sparktrack.monitor.status"]) == ["ALERT"]
    assert list(monitoring["tags.sparktrack.monitor.model"]) == ["breast-cancer"]
    runs = runs.drop(monitoring.index)
    demo = client.get_experiment_by_name("breast-cancer-demo")
    assert demo is not None
    runs = runs[runs["experiment_id"] == demo.experiment_id]
    parents = runs[runs["tags.mlflow.parentRunId"].isna()]
    children = runs[runs["tags.mlflow.parentRunId"].notna()]
    assert sorted(parents["run_name"]) == ["CrossValidator", "H2OGBM", "sweep"]
    swept = parents[parents["run_name"] == "sweep"]["run_id"].iloc[0]
    trials = children[children["tags.mlflow.parentRunId"] == swept]
    assert len(trials) == 5 and set(trials["tags.sparktrack.sweep.state"]) == {"complete"}
    children = children[children["tags.mlflow.parentRunId"] != swept]
    parents = parents[parents["run_name"] == "CrossValidator"]
    assert len(children) == 6 and set(children["status"]) == {"FINISHED"}
    assert children["metrics.avg_areaUnderROC"].between(0.9, 1.0).all()
    sweep = client.get_run(parents["run_id"].iloc[0])
    assert sweep.data.metrics["areaUnderROC_test_predictions"] > 0.9
    artifacts = {a.path for a in client.list_artifacts(sweep.info.run_id)}
    assert {"model", "search_results.csv", "best_training_loss.png"} <= artifacts
    assert [i.context for i in client.get_inputs(sweep.info.run_id)] == ["training"]
    # With Sparkling Water installed (it is in the dev extra) the demo adds an H2O run.
    h2o = runs[runs["run_name"] == "H2OGBM"]
    assert len(h2o) == 1 and h2o["metrics.training_AUC"].iloc[0] > 0.9
    h2o_artifacts = {a.path for a in client.list_artifacts(h2o["run_id"].iloc[0])}
    assert {"model", "feature_importances.csv"} <= h2o_artifacts
    assert "H2O GBM run" in done.stdout
    production = RegistryClient(client).resolve("models:/breast-cancer/Production")
    assert production.source == f"runs:/{sweep.info.run_id}/model"
    assert production.aliases == ("champion",)
    staging = RegistryClient(client).resolve("models:/breast-cancer/Staging")
    assert staging.source == f"runs:/{swept}/model" and staging.version == production.version + 1
    assert "sparktrack.sweep (TPE, 5 trials" in done.stdout
    assert re.search(r"^    sparktrack --store \S+ ui$", done.stdout, re.MULTILINE)
    # The project's run, re-run with a param changed, and what the diff says.
    project = client.get_experiment_by_name("breast-cancer-project")
    assert project is not None
    launched = client.search_runs([project.experiment_id], order_by=["start_time ASC"])
    assert list(launched["status"]) == ["FINISHED", "FINISHED"]
    first, again = launched["run_id"]
    assert client.get_run(again).data.tags["sparktrack.rerunOf"] == first
    assert list(launched["params.reg_param"]) == ["0.01", "0.5"]
    assert launched["metrics.test_auc"].between(0.9, 1.0).all()
    assert f"sparktrack rerun {first} -P reg_param=0.5  ->  run {again}" in done.stdout
    assert "param  reg_param: 0.01 -> 0.5" in done.stdout
    assert "code rebuilt from the first run's source snapshot" in done.stdout
    # The demo's output is its story: the JVM's and H2O's console output goes elsewhere.
    for chatter in (":: loading settings ::", "H2O_cluster_", "Model Details", "0%|", "WARN"):
        assert chatter not in done.stdout, f"{chatter!r} in the demo's output:\n{done.stdout}"
    client.close()


def test_quickstart_notebook_runs(tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = _run(ROOT / "notebooks" / "quickstart.py", store, tmp_path)
    assert "linreg-reg0.0" in done.stdout
    client = TrackingClient(str(store))
    runs = client.search_runs(None, order_by=["metrics.rmse"])
    assert list(runs["run_name"]) == ["linreg-reg0.0", "linreg-reg0.5"]
    client.close()
