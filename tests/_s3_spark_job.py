"""A Spark job on a store on S3, run as a child: ``python -m tests._s3_spark_job STORE``.

What a user's job does with ``sparktrack.spark`` when the store is ``s3a://``, in a
process of its own (one SparkContext per process; the suite's ``spark`` fixture has no
s3a). The environment points at the test server (``AWS_*``) and chooses
``object_store_commits``; no SparkSession exists until ``sparktrack.spark`` makes one,
which must then bring hadoop-aws and the s3a confs itself. Prints one ``RESULT {json}``
line of what it saw; tests/test_object_store_spark.py checks it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from typing import Any

from tests._workers import log_metric_batches

SPARK_APPENDS = 6
ROWS_PER_APPEND = 10
DELTA_RS_BATCHES = 30


def _reads(store: str) -> dict[str, Any]:
    """Views, SQL over them, and search_runs as a Spark DataFrame."""
    import sparktrack
    import sparktrack.spark as sts

    sparktrack.set_experiment("s3-spark")
    for name, loss in (("first", 0.5), ("second", 0.7)):
        with sparktrack.start_run(run_name=name):
            sparktrack.log_param("name", name)
            sparktrack.log_metric("loss", loss)
    sparktrack.flush()
    views = sts.register_views()  # no session runs: sparktrack starts one with s3a
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    assert spark is not None
    packages = spark.sparkContext.getConf().get("spark.jars.packages", "")
    runs = spark.sql(
        "SELECT run_name, status FROM sparktrack_runs r JOIN sparktrack_experiments e "
        "ON r.experiment_id = e.experiment_id WHERE e.name = 's3-spark' ORDER BY run_name"
    ).collect()
    frame = sparktrack.search_runs(
        filter_string="metrics.loss < 0.6", output_format="spark", order_by=["metrics.loss"]
    )
    return {
        "packages": packages,
        "views": views,
        "runs": [[row.run_name, row.status] for row in runs],
        "spark_search": [row["tags.mlflow.runName"] for row in frame.collect()],
        "spark_search_type": type(frame).__name__,
    }


def _concurrent_appends(store: str, journal: str) -> dict[str, Any]:
    """Spark appends to ``metrics`` while another process logs metrics with delta-rs."""
    import sparktrack
    import sparktrack.spark as sts
    from sparktrack import TrackingClient

    client = sparktrack.get_client()
    spark_run = client.create_run(client.get_or_create_experiment("race").experiment_id)
    spark_run_id = spark_run.info.run_id
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    assert spark is not None
    context = multiprocessing.get_context("spawn")  # delta-rs is not fork-safe
    ready = context.Event()
    writer = context.Process(
        target=log_metric_batches,
        args=(store, os.path.join(journal, "writer"), "delta-rs", DELTA_RS_BATCHES, ready),
    )
    writer.start()
    ready.wait(timeout=120)  # the writer opened the store: its commits start now
    for append in range(SPARK_APPENDS):
        rows = spark.createDataFrame(
            [
                (spark_run_id, "spark", float(step), step, 0)
                for step in range(append * ROWS_PER_APPEND, (append + 1) * ROWS_PER_APPEND)
            ],
            "run_id string, key string, value double, step long, timestamp long",
        )
        sts.append_rows("metrics", rows)
    writer.join(timeout=300)
    assert writer.exitcode == 0, f"the delta-rs writer ended with {writer.exitcode}"
    fresh = TrackingClient(store)
    spark_steps = sorted(m.step for m in fresh.get_metric_history(spark_run_id, "spark"))
    written_by_rs = fresh.search_runs(None, filter_string="params.writer = 'delta-rs'")
    rs_run_id = written_by_rs.iloc[0]["run_id"]
    rs_steps = sorted(m.step for m in fresh.get_metric_history(rs_run_id, "delta-rs"))
    fresh.close()
    try:
        sts.optimize()
        optimize_error = None
    except sparktrack.SparktrackError as exc:
        optimize_error = f"{type(exc).__name__}: {exc}"
    return {"spark_steps": spark_steps, "rs_steps": rs_steps, "optimize_error": optimize_error}


def _model_straight_to_s3a() -> dict[str, Any]:
    """log_model from a session with s3a: Spark writes the folder on S3 itself."""
    import pandas as pd
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.regression import LinearRegression
    from pyspark.sql import SparkSession

    import sparktrack
    from sparktrack.models import _uri

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model went through a local folder, not straight to s3a")

    # The local-folder path uploads with the store's Arrow file system: closed here.
    _uri.RunArtifactLocation.upload_folder = refuse  # type: ignore[method-assign]
    _uri.RunArtifactLocation.download_folder = refuse  # type: ignore[method-assign]
    spark = SparkSession.getActiveSession()
    assert spark is not None
    frame = spark.createDataFrame([(float(i), 2.0 * i + 1.0) for i in range(20)], ["x", "y"])
    stages = [
        VectorAssembler(inputCols=["x"], outputCol="features"),
        LinearRegression(labelCol="y"),
    ]
    model = Pipeline(stages=stages).fit(frame)
    with sparktrack.start_run() as run:
        sparktrack.log_model(model, "model")
    uri = f"runs:/{run.info.run_id}/model"
    loaded = sparktrack.load_model(uri)
    transformed = loaded.spark_model.transform(frame.limit(2)).select("prediction")
    return {
        "model_uri": run.info.artifact_uri + "/model",
        "spark_predictions": [round(r.prediction, 6) for r in transformed.collect()],
        "predictions": list(loaded.predict(pd.DataFrame({"x": [0.0, 10.0]})).round(6)),
    }


def main(store: str) -> None:
    import sparktrack

    sparktrack.set_store(store)
    result: dict[str, Any] = {}
    result.update(_reads(store))
    result.update(_concurrent_appends(store, os.environ["SPARKTRACK_JOURNAL_DIR"]))
    result.update(_model_straight_to_s3a())
    sparktrack.set_store("memory://")  # commits what is buffered
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
