"""The store on an S3-compatible server (moto on loopback), as users' S3 stores are.

Everything the tracking path does, against ``s3a://`` stores in one shared server:
fluent logging, artifacts, a Spark model logged and loaded from a session without
s3a, the registry, JVM-free search, the CLI, a function sweep, forked pool workers;
how several writers commit safely there (``object_store_commits``) with real
processes; and the clear errors: no choice made, a server that ignores conditional
writes, an http endpoint without ``AWS_ALLOW_HTTP``. Clients find the server through
the engines' usual environment (``AWS_ENDPOINT_URL``, ``AWS_ALLOW_HTTP``, credentials
and region), as ``S3Server.env`` sets it.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError
from pyspark import cloudpickle
from pyspark.ml import Pipeline
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import LinearRegression

import sparktrack
from sparktrack import TrackingClient
from sparktrack.errors import ConfigurationError, StoreError
from sparktrack.registry import RegistryClient
from sparktrack.store import TABLE_NAMES
from sparktrack.tracking import Metric
from sparktrack.tracking._folded_runs import RUNS_SUMMARY, runs_summary
from sparktrack.tracking._latest_metrics import LATEST_FOLD, latest_of_keys
from sparktrack.tracking._state import run_states, states_of
from tests._processes import child_env, python, run_child, run_workers
from tests._s3_server import S3Server
from tests._workers import log_together


@pytest.fixture
def s3_store(s3_server: S3Server, s3_env: dict[str, str]) -> Iterator[str]:
    """A fresh ``s3a://`` store of the test's own, which the fluent API logs to."""
    uri = s3_server.new_prefix("s3a")
    sparktrack.set_store(uri)
    yield uri
    # Close the store while the environment still points at the server: what the run
    # logged last (its spark.* cost metrics, from a background thread) is committed now.
    # A run left active is conftest's _fluent_state's to report.
    if sparktrack.active_run() is None:
        sparktrack.set_store("memory://")


def _delta_rows(s3_store: str, table: str) -> int:
    """Rows of a store table, read by delta-rs straight from the bucket."""
    return (
        DeltaTable(s3_store.replace("s3a://", "s3://", 1) + "/" + table).to_pyarrow_table().num_rows
    )


def test_fluent_logging_and_search_without_a_jvm(s3_store: str) -> None:
    sparktrack.set_experiment("s3")
    with sparktrack.start_run(run_name="first") as run:
        sparktrack.log_param("alpha", 0.5)
        sparktrack.log_params({"beta": "b", "gamma": 3})
        sparktrack.log_metric("loss", 1.0, step=0)
        sparktrack.log_metrics({"loss": 0.5, "auc": 0.9}, step=1)
        sparktrack.set_tag("team", "fraud")
        sparktrack.set_tags({"stage": "dev"})
        run_id = run.info.run_id
    client = sparktrack.get_client()
    client.log_batch(run_id, [Metric("late", 2.0, 0, 0)], params={"delta": 1}, tags={"x": "y"})
    with sparktrack.start_run(run_name="second"):
        sparktrack.log_metric("loss", 0.7)
    sparktrack.flush()

    got = sparktrack.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.data.params == {"alpha": "0.5", "beta": "b", "gamma": "3", "delta": "1"}
    assert got.data.metrics == {"loss": 0.5, "auc": 0.9, "late": 2.0}
    assert {"team": "fraud", "stage": "dev", "x": "y"}.items() <= got.data.tags.items()
    assert [m.value for m in sparktrack.get_metric_history(run_id, "loss")] == [1.0, 0.5]
    found = sparktrack.search_runs(filter_string="metrics.loss < 0.8", order_by=["metrics.loss"])
    assert list(found["tags.mlflow.runName"]) == ["first", "second"]
    # A second process's view: a new client reads the same bucket.
    other = TrackingClient(s3_store)
    assert len(other.search_runs(None)) == 2
    other.close()
    assert _delta_rows(s3_store, "params") == 4


def test_gc_saves_the_latest_metrics_beside_the_tables_on_s3(s3_store: str) -> None:
    with sparktrack.start_run() as run:
        for step, value in enumerate([3.0, 2.0, 1.0]):
            sparktrack.log_metric("loss", value, step=step)
    run_id = run.info.run_id
    client = sparktrack.get_client()
    client.maintain()  # what `sparktrack gc` runs
    saved = client.store.saved_fold(LATEST_FOLD, ["loss"])
    assert saved is not None and saved.files
    assert saved.rows.to_pylist()[0]["value"] == 1.0  # the latest point, read from the bucket
    client.log_metric(run_id, "loss", 0.5, step=3)
    client.flush()
    latest = latest_of_keys(client.store, ["loss"])  # the saved fold, brought up to date
    assert latest.select(["run_id", "value"]).to_pylist() == [{"run_id": run_id, "value": 0.5}]


def test_gc_saves_the_runs_summary_beside_the_tables_on_s3(s3_store: str) -> None:
    with sparktrack.start_run(run_name="before-gc") as run:
        sparktrack.log_param("alpha", 1)
    client = sparktrack.get_client()
    client.maintain()  # what `sparktrack gc` runs
    saved = client.store.saved_fold(RUNS_SUMMARY)
    assert saved is not None and saved.files
    assert saved.rows.select(["run_id", "status.status"]).to_pylist() == [
        {"run_id": run.info.run_id, "status.status": "FINISHED"}  # read from the bucket
    ]
    client.rename_run(run.info.run_id, "renamed-after-gc")
    later = client.create_run(run.info.experiment_id, run_name="after-gc").info.run_id
    client.flush()
    # The saved summary, brought up to date with the events since, folds as the table.
    states = states_of(runs_summary(client.store), None)
    expected = run_states(client.store.scan("runs"), None)
    assert sorted(states.to_pylist(), key=str) == sorted(expected.to_pylist(), key=str)
    names = dict(zip(states["run_id"].to_pylist(), states["run_name"].to_pylist(), strict=True))
    assert names == {run.info.run_id: "renamed-after-gc", later: "after-gc"}


def test_artifacts_round_trip(s3_store: str, tmp_path: Path) -> None:
    folder = tmp_path / "report"
    (folder / "plots").mkdir(parents=True)
    (folder / "summary.txt").write_text("ok")
    (folder / "plots" / "roc.csv").write_text("fpr,tpr\n0,0\n1,1\n")
    single = tmp_path / "config.json"
    single.write_text(json.dumps({"k": 1}))
    with sparktrack.start_run() as run:
        sparktrack.log_artifact(str(single))
        sparktrack.log_artifacts(str(folder), "report")
        sparktrack.log_text("hello", "notes/readme.txt")
    client = sparktrack.get_client()
    run_id = run.info.run_id
    assert [(f.path, f.is_dir) for f in client.list_artifacts(run_id)] == [
        ("config.json", False),
        ("notes", True),
        ("report", True),
    ]
    assert [f.path for f in client.list_artifacts(run_id, "report/plots")] == [
        "report/plots/roc.csv"
    ]
    got = Path(client.download_artifacts(run_id, "report", tmp_path / "down"))
    assert (got / "summary.txt").read_text() == "ok"
    assert (got / "plots" / "roc.csv").read_text().startswith("fpr,tpr")
    one = Path(client.download_artifacts(run_id, "config.json", tmp_path / "one"))
    assert json.loads(one.read_text()) == {"k": 1}
    assert run.info.artifact_uri.startswith(s3_store + "/artifacts/")


def test_registry_stages_and_aliases(s3_store: str, tmp_path: Path) -> None:
    with sparktrack.start_run() as run:
        sparktrack.log_text("flavors: {}\n", "model/MLmodel")
    registry = RegistryClient(sparktrack.get_client())
    uri = f"runs:/{run.info.run_id}/model"
    assert [registry.register_model(uri, "churn").version for _ in range(3)] == [1, 2, 3]
    registry.transition_model_version_stage("churn", 1, "Production")
    registry.transition_model_version_stage("churn", 2, "Production")  # archives 1
    registry.set_registered_model_alias("churn", "champion", 3)
    stages = {v.version: v.current_stage for v in registry.search_model_versions("name = 'churn'")}
    assert stages == {1: "Archived", 2: "Production", 3: "None"}
    assert registry.get_model_version_by_alias("churn", "champion").version == 3
    assert sparktrack.get_model_version("churn", 2).current_stage == "Production"


def test_cli_lists_and_shows_runs_in_its_own_process(s3_store: str, s3_env: dict[str, str]) -> None:
    sparktrack.set_experiment("cli")
    with sparktrack.start_run(run_name="listed") as run:
        sparktrack.log_metric("auc", 0.8)
    sparktrack.flush()
    command = python("-m", "sparktrack.cli", "--store", s3_store)
    env = child_env(**s3_env)
    listed = run_child([*command, "runs", "list", "--json"], env=env, timeout=120)
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [run.info.run_id], listed.explain()
    shown = run_child([*command, "runs", "show", run.info.run_id, "--json"], env=env, timeout=120)
    assert json.loads(shown.stdout)["metrics"]["auc"] == 0.8, shown.explain()
    experiments = run_child([*command, "experiments", "list", "--json"], env=env, timeout=120)
    assert "cli" in [e["name"] for e in json.loads(experiments.stdout)], experiments.explain()


def test_an_s3_store_without_a_commit_choice_refuses_to_open(
    s3_server: S3Server, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPARKTRACK_OBJECT_STORE_COMMITS")
    uri = s3_server.new_prefix("s3a")
    with pytest.raises(ConfigurationError) as raised:
        TrackingClient(uri).search_runs(None)
    message = str(raised.value)
    assert "'object_store_commits'" in message and uri in message
    assert "conditional-put" in message and "single-writer" in message
    assert "SPARKTRACK_OBJECT_STORE_COMMITS" in message
    # Nothing was written: the store was refused before any table was created.
    listed = s3_server.client("s3").list_objects_v2(
        Bucket=s3_server.bucket, Prefix=uri.split("/", 3)[3]
    )
    assert listed.get("KeyCount", 0) == 0


def test_local_stores_ignore_the_commit_choice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARKTRACK_OBJECT_STORE_COMMITS", "single-writer")
    client = TrackingClient(str(tmp_path / "store"))
    assert client.search_runs(None).empty
    client.close()


def test_dynamodb_commits_are_refused_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARKTRACK_OBJECT_STORE_COMMITS", "dynamodb")
    with pytest.raises(ConfigurationError, match="no longer commits through a DynamoDB table"):
        TrackingClient("s3a://bucket/store")


@pytest.mark.slow
def test_concurrent_processes_lose_and_duplicate_nothing(
    s3_server: S3Server, s3_env: dict[str, str], tmp_path: Path
) -> None:
    # Spawned workers inherit this environment: the server, and conditional-put commits.
    store, journal = s3_server.new_prefix("s3a"), str(tmp_path / "journal")
    processes, threads, metrics = 3, 2, 40
    together = multiprocessing.get_context("spawn").Barrier(processes)
    run_workers(
        log_together,
        [(store, journal, w, together, threads, metrics) for w in range(processes)],
        stderr_dir=tmp_path,
    )
    bucket_store = store.replace("s3a://", "s3://", 1)
    metric_rows = DeltaTable(f"{bucket_store}/metrics").to_pandas()
    assert len(metric_rows) == processes * threads * metrics * 2
    assert not metric_rows.duplicated(["run_id", "key", "step"]).any()
    client = TrackingClient(store)
    runs = client.search_runs(None)
    assert len(runs) == processes * (threads + 1)
    assert set(runs["status"]) == {"FINISHED"}
    client.close()
    # The writers did collide, and S3 refused the losers' commit files (which would
    # otherwise have replaced the winners'): the retries above lost nothing.
    assert s3_server.refused_conditional_puts(store) > 0


def quadratic(params: dict[str, Any]) -> dict[str, float]:
    if params["x"] < 0:
        raise ValueError("x must not be negative")
    return {"loss": (params["x"] - 2) ** 2}


@pytest.mark.spark
def test_a_function_sweep_records_every_trial(s3_store: str, spark: Any, tmp_path: Path) -> None:
    # Trial functions reach Spark's Python workers by value (they cannot import tests).
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    sparktrack.set_experiment("sweep")
    result = sparktrack.sweep(
        quadratic,
        {"x": [-1, 1, 2, 3]},
        metric="loss",
        mode="min",
        strategy="grid",
        parallelism=2,
        progress=False,
    )
    assert result.best_params == {"x": 2} and result.best_metric == 0.0
    client = sparktrack.get_client()
    client.flush()
    children = client.search_runs(
        None, filter_string=f"tags.`mlflow.parentRunId` = '{result.run_id}'"
    )
    assert sorted(children["status"]) == ["FAILED", "FINISHED", "FINISHED", "FINISHED"]
    failed = children[children["status"] == "FAILED"]["run_id"].iloc[0]
    error = Path(client.download_artifacts(failed, "error.txt", tmp_path))
    assert "x must not be negative" in error.read_text()


@pytest.mark.spark
def test_a_spark_model_logs_and_loads_without_s3a_in_the_session(s3_store: str, spark: Any) -> None:
    frame = spark.createDataFrame([(float(i), 2.0 * i + 1.0) for i in range(20)], ["x", "y"])
    pipeline = Pipeline(
        stages=[
            VectorAssembler(inputCols=["x"], outputCol="features"),
            LinearRegression(labelCol="y"),
        ]
    )
    model = pipeline.fit(frame)
    with sparktrack.start_run() as run:
        sparktrack.log_model(model, "model", input_example=frame.select("x").limit(3).toPandas())
    uri = f"runs:/{run.info.run_id}/model"
    loaded = sparktrack.load_model(uri)
    predicted = loaded.predict(pd.DataFrame({"x": [0.0, 10.0]}))
    assert list(predicted.round(6)) == [1.0, 21.0]
    version = sparktrack.register_model(uri, "line")
    assert sparktrack.load_model(f"models:/line/{version.version}").predict(
        pd.DataFrame({"x": [1.0]})
    ).round(6).tolist() == [3.0]
    # Spark's own loader reads the same folder: spark_udf scores with the Spark model.
    scores = frame.limit(2).withColumn("p", sparktrack.spark_udf(spark, uri)("x"))
    assert [round(r.p, 6) for r in scores.collect()] == [1.0, 3.0]
    # Spark's own loader reads the same folder (copied down: the session has no s3a).
    transformed = loaded.spark_model.transform(frame.limit(2)).select("prediction")
    assert [round(r.prediction, 6) for r in transformed.collect()] == [1.0, 3.0]


def test_a_store_created_by_another_process_meanwhile_opens(
    s3_server: S3Server, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drivers starting together each find a new store's tables missing and create
    them; all but the first see delta-rs's create fail, as the table now exists."""
    real_create = DeltaTable.create
    created: list[str] = []

    def another_process_first(table_uri: str, *args: Any, **kwargs: Any) -> Any:
        real_create(table_uri, *args, **kwargs)  # the other driver's version 0 lands
        created.append(table_uri)
        # What delta-rs raises when S3 refused our version 0 (measured: 8 drivers).
        raise CommitFailedError(
            "Failed to commit transaction: Protocol changed since last commit: protocol changed"
        )

    monkeypatch.setattr(DeltaTable, "create", staticmethod(another_process_first))
    uri = s3_server.new_prefix("s3a")
    client = TrackingClient(uri)
    assert len(created) == len(TABLE_NAMES)
    run_id = client.create_run(client.get_or_create_experiment("e").experiment_id).info.run_id
    client.log_metric(run_id, "m", 1.0)
    client.set_terminated(run_id)
    client.close()
    assert TrackingClient(uri).get_run(run_id).data.metrics == {"m": 1.0}


def test_a_plain_http_endpoint_without_allow_http_says_what_to_set(
    s3_server: S3Server, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ALLOW_HTTP")
    with pytest.raises(StoreError) as raised:
        TrackingClient(s3_server.new_prefix("s3a")).search_runs(None)
    assert "AWS_ALLOW_HTTP=true" in str(raised.value)
    assert "AWS_ENDPOINT_URL" in str(raised.value)


def test_a_single_writer_store_logs_and_reads(
    s3_server: S3Server, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARKTRACK_OBJECT_STORE_COMMITS", "single-writer")
    uri = s3_server.new_prefix("s3")
    client = TrackingClient(uri)
    assert client.store.location.delta_rs_options() == {"AWS_S3_ALLOW_UNSAFE_RENAME": "true"}
    run_id = client.create_run(client.get_or_create_experiment("one").experiment_id).info.run_id
    client.log_metric(run_id, "m", 1.0)
    client.set_terminated(run_id)
    client.close()
    reopened = TrackingClient(uri)
    assert reopened.get_run(run_id).data.metrics == {"m": 1.0}
    reopened.close()


def test_conditional_put_on_a_server_that_ignores_it_refuses_to_open(
    s3_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Some S3-compatible servers ignore If-None-Match: commits racing there replace one
    # another. Such a store must refuse conditional-put before anything is logged.
    server = S3Server.start(tmp_path, conditional_writes=False)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
        uri = server.new_prefix("s3a")
        with pytest.raises(ConfigurationError) as raised:
            TrackingClient(uri)
        message = str(raised.value)
        assert uri in message and "If-None-Match" in message and "single-writer" in message
        probes = server.client("s3").list_objects_v2(
            Bucket=server.bucket, Prefix=uri.split("/", 3)[3] + "/.sparktrack-probe/"
        )
        assert probes.get("KeyCount", 0) == 0, "the check left its probe behind"
        monkeypatch.setenv("SPARKTRACK_OBJECT_STORE_COMMITS", "single-writer")
        TrackingClient(uri).close()  # the user's way out: one writer at a time
    finally:
        server.stop()


def test_conditional_put_without_obstore_names_the_extra(
    s3_server: S3Server, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "obstore", None)  # as if it were not installed
    with pytest.raises(ConfigurationError, match=r"pip install 'sparktrack\[s3\]'"):
        TrackingClient(s3_server.new_prefix("s3a"))


@pytest.mark.slow
def test_forked_pool_workers_log_through_their_helper(
    s3_server: S3Server, s3_env: dict[str, str], tmp_path: Path
) -> None:
    # A forked worker cannot run delta-rs: its store commits through a helper process,
    # which must open the tables with the store's commit options.
    store = s3_server.new_prefix("s3a")
    env = child_env(**s3_env, SPARKTRACK_STORE=store, SPARKTRACK_JOURNAL_DIR=str(tmp_path))
    job = run_child(python("-m", "tests._pool_job", store, "fork", "-"), env=env, timeout=400)
    result = json.loads(job.stdout.strip().splitlines()[-1])
    assert len(set(result["children"])) == 4, job.explain()
    client = TrackingClient(store)
    found = client.search_runs(None, f"tags.`mlflow.parentRunId` = '{result['parent']}'")
    assert set(found["run_id"]) == set(result["children"]), job.explain()
    assert set(found["status"]) == {"FINISHED"}
    metrics = DeltaTable(store.replace("s3a://", "s3://", 1) + "/metrics").to_pandas()
    assert len(metrics) == 4 * 50 and not metrics.duplicated(["run_id", "step"]).any()
    client.close()
