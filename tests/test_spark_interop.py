"""Both engines on the same tables: delta-spark reads delta-rs writes and the reverse."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable

import sparktrack.spark as sts
from sparktrack import TrackingClient
from sparktrack.config import load_settings
from sparktrack.errors import InvalidInputError
from sparktrack.registry import RegistryClient
from sparktrack.session import delta_package
from sparktrack.tracking import LoggedModels
from tests._processes import python, run_child

pytestmark = pytest.mark.spark


def _logged_store(store_uri: str) -> tuple[TrackingClient, list[str]]:
    client = TrackingClient(store_uri)
    experiment_id = client.create_experiment("interop")
    ids = []
    for i in range(3):
        run_id = client.create_run(experiment_id, run_name=f"run-{i}").info.run_id
        client.log_params(run_id, {"maxDepth": i + 2})
        for step in range(4):
            client.log_metric(run_id, "rmse", 1.0 / (i + step + 1), step=step, timestamp=step)
        client.set_terminated(run_id, "FINISHED" if i else "FAILED")
        ids.append(run_id)
    client.flush()
    return client, ids


def test_spark_reads_what_delta_rs_wrote(spark, store_uri: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = _logged_store(store_uri)
    metrics = sts.read_table("metrics", spark, store=store_uri)
    expected = spark.createDataFrame(client.store.scan("metrics").to_pandas()).select(
        "run_id", "key", "value", "step", "timestamp"
    )
    assert_df_equality(metrics, expected, ignore_row_order=True, ignore_nullable=True)

    sts.register_views(spark, store=store_uri)
    statuses = spark.sql("SELECT run_name, status FROM sparktrack_runs ORDER BY run_name").collect()
    assert [(r.run_name, r.status) for r in statuses] == [
        ("run-0", "FAILED"),
        ("run-1", "FINISHED"),
        ("run-2", "FINISHED"),
    ]
    best = spark.sql(
        """SELECT r.run_name, MIN(m.value) AS best_rmse
           FROM sparktrack_runs r JOIN sparktrack_metrics m ON r.run_id = m.run_id
           WHERE m.key = 'rmse' GROUP BY r.run_name ORDER BY best_rmse LIMIT 1"""
    ).collect()
    assert best[0].run_name == "run-2" and best[0].best_rmse == pytest.approx(1 / 6)
    client.close()


def test_spark_reads_tables_compacted_and_clustered_by_run_id(spark, store_uri: str) -> None:  # type: ignore[no-untyped-def]
    settings = dataclasses.replace(load_settings(store=store_uri), compact_every_commits=2)
    client = TrackingClient(store_uri, settings=settings)
    experiment_id = client.create_experiment("clustered")
    ids = [client.create_run(experiment_id).info.run_id for _ in range(4)]
    for step in range(5):  # commits the writer compacts, sorted by run_id
        for run_id in ids:
            client.log_metric(run_id, "loss", float(step), step=step)
        client.flush()

    def same_rows() -> None:
        metrics = sts.read_table("metrics", spark, store=store_uri)
        expected = spark.createDataFrame(client.store.scan("metrics").to_pandas()).select(
            "run_id", "key", "value", "step", "timestamp"
        )
        assert_df_equality(metrics, expected, ignore_row_order=True, ignore_nullable=True)
        assert metrics.count() == 20

    same_rows()
    client.store.maintain()  # every run-keyed table z-ordered by run_id
    same_rows()
    client.close()


def test_registered_versions_are_a_spark_sql_view(spark, store_uri: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    client = TrackingClient(store_uri)
    registry = RegistryClient(client)
    for _ in range(3):
        registry.register_model(str(folder), "churn")
    registry.transition_model_version_stage("churn", 1, "Production")
    registry.transition_model_version_stage("churn", 2, "Production")
    registry.delete_model_version("churn", 3)
    sts.register_views(spark, store=store_uri)
    rows = spark.sql(
        "SELECT name, version, current_stage FROM sparktrack_model_versions ORDER BY version"
    ).collect()
    assert [tuple(r) for r in rows] == [("churn", 1, "Archived"), ("churn", 2, "Production")]
    # A renamed model's versions read under the new name only, with their stages.
    registry.rename_registered_model("churn", "attrition")
    registry.transition_model_version_stage("attrition", 1, "Staging")
    sts.register_views(spark, store=store_uri)
    rows = spark.sql(
        "SELECT name, version, current_stage FROM sparktrack_model_versions ORDER BY version"
    ).collect()
    assert [tuple(r) for r in rows] == [
        ("attrition", 1, "Staging"),
        ("attrition", 2, "Production"),
    ]
    # MLflow 3's logged models are a table like the others.
    experiment_id = client.get_or_create_experiment("lm").experiment_id
    made = LoggedModels(client).create(experiment_id, name="model", tags={"k": "v"})
    sts.register_views(spark, store=store_uri)
    logged = spark.sql(
        "SELECT model_id, event, name FROM sparktrack_logged_models WHERE event = 'create'"
    ).collect()
    assert [tuple(r) for r in logged] == [(made.model_id, "create", "model")]
    client.close()


def test_delta_rs_reads_what_spark_wrote(spark, store_uri: str) -> None:  # type: ignore[no-untyped-def]
    client, ids = _logged_store(store_uri)
    extra = spark.createDataFrame(
        [(ids[1], "auc", 0.75, 10, 99)],
        "run_id string, key string, value double, step long, timestamp long",
    )
    sts.append_rows("metrics", extra, store=store_uri)
    reader = TrackingClient(store_uri)  # a fresh reader, as another process would be
    assert reader.get_run(ids[1]).data.metrics["auc"] == 0.75
    assert [m.step for m in reader.get_metric_history(ids[1], "auc")] == [10]
    # The Python writer keeps committing to the table Spark appended to.
    reader.log_metric(ids[1], "auc", 0.8, step=11)
    reader.flush()
    assert sts.read_table("metrics", spark, store=store_uri).filter("key = 'auc'").count() == 2
    reader.close()
    client.close()


def test_spark_cannot_append_to_the_registry(spark, store_uri: str) -> None:  # type: ignore[no-untyped-def]
    TrackingClient(store_uri).close()
    rows = spark.createDataFrame([("churn", "model_created")], "name string, event string")
    with pytest.raises(InvalidInputError, match=r"'registry' table from Spark.*RegistryClient"):
        sts.append_rows("registry", rows, store=store_uri)
    assert DeltaTable(f"{store_uri}/registry").version() == 0


def test_search_runs_as_a_spark_dataframe(spark, store_uri: str) -> None:  # type: ignore[no-untyped-def]
    import sparktrack

    client, ids = _logged_store(store_uri)
    client.close()
    sparktrack.set_store(store_uri)
    frame = sparktrack.search_runs(
        experiment_names=["interop"],
        filter_string="params.maxDepth >= 3",
        order_by=["params.maxDepth"],
        output_format="spark",
        spark=spark,
    )
    rows = frame.select("run_id", "`params.maxDepth`", "`metrics.rmse`").collect()
    assert [r.run_id for r in rows] == [ids[1], ids[2]]
    assert rows[0]["params.maxDepth"] == "3"


def test_spark_optimize_compacts_under_the_store_lock(spark, store_uri: str) -> None:  # type: ignore[no-untyped-def]
    client, ids = _logged_store(store_uri)
    for step in range(5):
        client.log_metric(ids[0], "extra", float(step), step=step)
        client.flush()
    report = sts.optimize(spark, store=store_uri)
    assert report["metrics"]["numFilesRemoved"] >= 5
    # Registry changes take no lock: delta-spark's local commits must stay off that table.
    assert "registry" not in report
    assert len(client.get_metric_history(ids[0], "extra")) == 5
    client.close()


PLAIN_SPARK_JOB = textwrap.dedent(
    """
    from pyspark.sql import SparkSession
    spark = (SparkSession.builder.master("local[1]").appName("plain-job")
             .config("spark.ui.enabled", "false").getOrCreate())
    import sparktrack
    sparktrack.set_store({store!r})
    with sparktrack.start_run(run_name="plain") as run:
        sparktrack.log_metric("rows", float(spark.range(10).count()))
    print(run.info.run_id)
    try:
        import sparktrack.spark as sts
        sts.read_table("runs", spark, store={store!r})
    except sparktrack.ConfigurationError as exc:
        print("CONFIG-ERROR", str(exc).replace("\\n", " "))
    spark.stop()
    """
)


def test_logging_inside_a_session_without_delta(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    script = tmp_path / "job.py"
    script.write_text(PLAIN_SPARK_JOB.format(store=store))
    done = run_child(python(script), timeout=300)
    run_id, error_line = done.stdout.strip().splitlines()[-2:]
    client = TrackingClient(store)
    run = client.get_run(run_id)
    # Besides what the run logged, it may have what it cost on the cluster (spark.*).
    assert {k: v for k, v in run.data.metrics.items() if not k.startswith("spark.")} == {
        "rows": 10.0
    }
    assert run.data.tags["sparktrack.spark.app_name"] == "plain-job"
    assert run.data.tags["sparktrack.spark.master"] == "local[1]"
    # Spark-side access says exactly which confs the session lacks.
    assert "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension" in error_line
    assert f"spark.jars.packages={delta_package()}" in error_line
    assert delta_package().startswith("io.delta:delta-spark_2.12:3.3.")
    client.close()
