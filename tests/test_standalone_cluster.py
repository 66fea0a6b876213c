"""A user's job on a real Spark standalone cluster (``tests/_standalone.py``).

One ``spark-submit --master spark://...`` of ``tests/_standalone_job.py`` (startup is
slow on two cores): a session the user built, executors that worker daemons started in
JVMs and working directories of their own, a Python there that lacks sparktrack. The
job autologs a CrossValidator, runs a function sweep and an estimator sweep, promotes
models in the registry and scores with ``spark_udf``; the tests read what the store
holds afterwards from this process. The store is a parameter of the job, and the whole
module runs twice: on a local folder (the executors never touch it) and on a store on the
S3 test server, where the job is submitted as a user on S3 submits one: with
``--packages`` hadoop-aws beside the job (the executors fetch it from the driver) and
the s3a confs its AWS_* variables give (``sparktrack.session.s3a_confs``), so that the
executors write the models autolog and the sweeps log straight to ``s3a://``. Each run
of the job takes minutes on two cores.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import sparktrack
from sparktrack import TrackingClient
from sparktrack.registry import RegistryClient
from sparktrack.session import hadoop_aws_package, s3a_confs
from tests._processes import ROOT, readable, result_line, run_child
from tests._s3_server import S3Server
from tests._standalone import StandaloneCluster

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.cluster]

JOB = ROOT / "tests" / "_standalone_job.py"
JOB_TIMEOUT_S = 600
MODEL_NAME = "standalone"


@dataclass
class Job:
    """The finished job: its RESULT line, its store, and a message explaining it."""

    result: dict[str, Any]
    client: TrackingClient
    why: str
    seconds: float

    def runs(self, filter_string: str | None = None) -> pd.DataFrame:
        return self.client.search_runs(None, filter_string=filter_string)

    def children(self, parent_id: str) -> pd.DataFrame:
        return self.runs(f"tags.`mlflow.parentRunId` = '{parent_id}'")


@pytest.fixture(scope="module", params=["local", "s3"])
def job(
    request: pytest.FixtureRequest,
    standalone_cluster: StandaloneCluster,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Job]:
    folder = tmp_path_factory.mktemp("standalone-job")
    # The user's conditions: no sparktrack settings but where the journal goes (and, on
    # S3, the commits choice), autolog's real background thread (no test mode).
    settings = {"SPARKTRACK_JOURNAL_DIR": str(folder / "journal")}
    conf: dict[str, str] = {}
    if request.param == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        store = server.new_prefix("s3a")
        settings |= {**server.env, "SPARKTRACK_OBJECT_STORE_COMMITS": "conditional-put"}
        conf = {"spark.jars.packages": hadoop_aws_package(), **s3a_confs(server.env)}
    else:
        store = str(folder / "store")
    command = standalone_cluster.submit_command(JOB, store, conf=conf)
    env = standalone_cluster.submit_env(**settings)
    started = time.monotonic()
    done = run_child(command, env=env, cwd=folder, timeout=JOB_TIMEOUT_S, expect=None)
    seconds = time.monotonic() - started
    result = result_line(done.stdout)
    why = done.explain("the standalone job") + "\n" + standalone_cluster.logs()
    assert done.returncode == 0 and result is not None, why
    with pytest.MonkeyPatch.context() as patch:
        # This process reads the store where the job wrote it, with the job's settings
        # (read when the client opens), but a journal of its own.
        for name, value in settings.items():
            if name != "SPARKTRACK_JOURNAL_DIR":
                patch.setenv(name, value)
        client = TrackingClient(store)
        yield Job(result, client, f"{result}\n--- job stderr ---\n{readable(done.stderr)}", seconds)
        client.close()


def test_the_job_ran_on_executors_of_their_own_without_sparktrack(
    job: Job, standalone_cluster: StandaloneCluster
) -> None:
    result = job.result
    before = result["before_scoring"]
    assert len(before["pids"]) == 2 and result["driver"]["pid"] not in before["pids"], job.why
    # Each executor works in its worker's folder for the application, not the driver's.
    assert len(before["cwds"]) == 2, job.why
    assert all(
        Path(cwd).is_relative_to(standalone_cluster.folder / f"worker-{index}")
        for index, cwd in enumerate(before["cwds"], start=1)
    ), job.why
    assert result["driver"]["cwd"] not in before["cwds"], job.why
    assert before["sparktrack"] == ["None"], job.why  # the sweeps ran without it
    applications = standalone_cluster.status()["completedapps"]
    assert "sparktrack-standalone-job" in [app["name"] for app in applications], applications
    runs = job.runs()
    parents = runs[runs["tags.mlflow.parentRunId"].isna()]
    assert set(parents["tags.sparktrack.spark.master"]) == {standalone_cluster.master_url}


def test_autolog_records_the_cross_validator(job: Job) -> None:
    cv_id = job.result["cv"]["run_id"]
    parent = job.client.get_run(cv_id)
    assert parent.info.run_name == "CrossValidator" and parent.info.status == "FINISHED"
    children = job.children(cv_id)
    assert len(children) == 2 and set(children["status"]) == {"FINISHED"}, job.why
    assert sorted(children["params.LogisticRegression.regParam"]) == ["0.0", "0.5"]
    assert sorted(children["metrics.avg_areaUnderROC"]) == pytest.approx(
        sorted(job.result["cv"]["avg_metrics"])
    )
    assert parent.data.params["numFolds"] == "2"
    assert parent.data.metrics["best_avg_areaUnderROC"] == pytest.approx(
        max(job.result["cv"]["avg_metrics"])
    )
    # What the fit cost, from the driver's status store: both executors worked.
    assert parent.data.metrics["spark.executors"] == 2, parent.data.metrics
    assert parent.data.metrics["spark.tasks"] > 0 and parent.data.metrics["spark.jobs"] > 0
    assert (children["metrics.spark.jobs"] > 0).all(), job.why
    # The best model, logged once, loads and scores here without a JVM.
    assert "model" in {a.path for a in job.client.list_artifacts(cv_id)}
    model = sparktrack.load_model(f"runs:/{cv_id}/model", client=job.client)
    scores = model.predict(pd.DataFrame({"a": [0.0, 6.0], "b": [0.0, 4.0]}))
    assert list(scores) == [0.0, 1.0]


def test_function_sweep_trials_ran_on_both_executors(job: Job) -> None:
    sweep_id = job.result["function_sweep"]["run_id"]
    assert job.client.get_run(sweep_id).info.status == "FINISHED"
    trials = job.children(sweep_id)
    assert len(trials) == 5 and set(trials["status"]) == {"FINISHED"}, job.why
    assert set(trials["tags.sparktrack.sweep.state"]) == {"complete"}
    assert trials["tags.sparktrack.sweep.worker"].nunique() == 2, job.why
    assert job.result["function_sweep"]["best"] == {"x": 3}
    best = trials[trials["params.x"] == "3"]
    assert list(best["metrics.score"]) == [0.0]


def test_estimator_sweep_fits_on_the_cluster_and_registers_its_best(job: Job) -> None:
    sweep_id = job.result["estimator_sweep"]["run_id"]
    sweep_run = job.client.get_run(sweep_id)
    assert sweep_run.info.status == "FINISHED"
    trials = job.children(sweep_id)
    assert len(trials) == 2 and set(trials["status"]) == {"FINISHED"}, job.why
    assert sorted(trials["params.regParam"]) == ["0.0", "0.5"]
    assert (trials["metrics.spark.executors"] == 2).all(), job.why
    # The best trial, by the store's figures, is the one the sweep named and registered.
    metric = f"metrics.{sweep_run.data.tags['sparktrack.sweep.metric']}"
    best = trials[trials["run_id"] == sweep_run.data.tags["sparktrack.sweep.best_run_id"]]
    assert list(best[metric]) == [trials[metric].max()], trials[["run_id", metric]]
    assert job.result["estimator_sweep"]["best"] == {
        "regParam": float(best["params.regParam"].iloc[0])
    }
    assert job.result["estimator_sweep"]["version"] == 2


def test_promotion_archives_the_previous_production_version(job: Job) -> None:
    registry = RegistryClient(job.client)
    versions = {v.version: v for v in registry.search_model_versions(f"name = '{MODEL_NAME}'")}
    assert sorted(versions) == [1, 2], versions  # nothing else was registered
    assert versions[1].source == f"runs:/{job.result['cv']['run_id']}/model"
    assert versions[1].current_stage == "Archived"
    assert versions[2].source == f"runs:/{job.result['estimator_sweep']['run_id']}/model"
    assert versions[2].current_stage == "Production"
    moves = [
        (t.version, t.from_value, t.to_value)
        for t in registry.get_model_history(MODEL_NAME)
        if t.kind == "stage"
    ]
    # Version 2's promotion and version 1's archiving are one commit: no order between them.
    assert moves[0] == (1, "None", "Production"), moves
    assert sorted(moves[1:]) == [(1, "Production", "Archived"), (2, "None", "Production")], moves


def test_spark_udf_scores_on_the_executors_as_transform_does(job: Job) -> None:
    result = job.result
    assert result["udf_difference"] is None, result["udf_difference"]
    assert result["udf_rows"] == 200 and result["udf_classes"] == [0.0, 1.0], job.why
    # Scored by the executors, which still lack sparktrack: its scoring code travels with
    # the tasks.
    after = result["after_scoring"]
    assert len(after["pids"]) == 2 and after["sparktrack"] == ["None"], after
