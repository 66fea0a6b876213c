"""``spark_udf(log_to=...)`` on real executor JVMs (``local-cluster[2,1,1024]``), in the
session a user builds (no Delta confs), run as a child process.

    python -m tests._scoring_log_cluster FOLDER

Fits and logs a small model with its baseline, scores a shifted batch with the UDF
(tasks stage their rows in executor processes, the driver commits them), reads the log
back, runs ``sparktrack monitor --path LOG``, and scores one more batch into another
table without reading it: the process commits it when it exits. Prints one JSON line
(``RESULT {...}``).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Any


def fail_first_attempt(value: float) -> float:
    """Fails the first attempt of partition 0's task, after the scorer staged its rows."""
    from pyspark import TaskContext

    task = TaskContext.get()
    if task is not None and task.partitionId() == 0 and task.attemptNumber() == 0:
        raise RuntimeError("the first attempt fails on purpose")
    return value


def main(folder: str) -> dict[str, Any]:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    import sparktrack
    from sparktrack.cli import app
    from sparktrack.models import MODEL_VERSION_COLUMN, read_scoring_log, spark_udf

    spark = SparkSession.builder.master("local-cluster[2,1,1024]").appName("user-job").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    store = str(Path(folder) / "store")
    sparktrack.set_store(store)

    def rows(seed: int, count: int, shift: float = 0.0) -> Any:
        frame = spark.range(0, count, 1, 4).select(
            (F.randn(seed) + shift).alias("x1"), F.randn(seed + 1).alias("x2")
        )
        return frame.withColumn("label", (F.col("x1") + F.col("x2") > 0).cast("double"))

    train = rows(1, 3_000).cache()
    fitted = Pipeline(
        stages=[
            VectorAssembler(inputCols=["x1", "x2"], outputCol="features"),
            LogisticRegression(maxIter=10),
        ]
    ).fit(train)
    with sparktrack.start_run():
        sparktrack.log_model(
            fitted,
            "model",
            input_example=train.limit(3).toPandas()[["x1", "x2"]],
            training_data=train,
            registered_model_name="cluster",
        )
    log = str(Path(folder) / "log")
    predict = spark_udf(spark, "models:/cluster/1", log_to=log, log_sample=1.0)
    scored = rows(7, 2_000, shift=1.5).drop("label").withColumn("prediction", predict())
    scored_rows = len(scored.collect())  # the user's one action
    executor_pids = (
        spark.sparkContext.parallelize(range(8), 8)
        .map(lambda _: __import__("os").getpid())
        .distinct()
        .count()
    )
    logged = read_scoring_log(spark, log)
    versions = sorted(r[0] for r in logged.select(MODEL_VERSION_COLUMN).distinct().collect())
    code = None
    printed = io.StringIO()
    command = ["--store", store, "monitor", "models:/cluster/1", "--path", log]
    try:
        with contextlib.redirect_stdout(printed):
            app([*command, "--fail-on", "alert"], prog_name="sparktrack")
    except SystemExit as exc:
        code = exc.code
    lines = [line.split("\t") for line in printed.getvalue().splitlines()]
    alerts = [parts[2] for parts in lines if parts[0] == "ALERT" and len(parts) > 2]
    # A task that fails after staging its rows is retried (4 tries on a cluster): the
    # retry's file replaces the failed attempt's, so the rows are logged once.
    retried_log = str(Path(folder) / "retried")
    predict_again = spark_udf(spark, "models:/cluster/1", log_to=retried_log, log_sample=1)
    flaky = F.udf(fail_first_attempt, "double")
    retried = rows(11, 400).drop("label").withColumn("prediction", predict_again())
    retried_rows = len(retried.withColumn("checked", flaky("prediction")).collect())
    # Scored, not read: committed when this process exits.
    at_exit = spark_udf(
        spark, "models:/cluster/1", log_to=str(Path(folder) / "at-exit"), log_sample=1
    )
    rows(9, 500).drop("label").withColumn("prediction", at_exit()).collect()
    return {
        "delta_in_session": spark.conf.get("spark.sql.extensions", None),
        "executor_pids": executor_pids,
        "scored": scored_rows,
        "logged": logged.count(),
        "versions": versions,
        "cli_code": code,
        "retried_rows": retried_rows,
        "retried_logged": read_scoring_log(spark, retried_log).count(),
        "alerts": alerts,
    }


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(sys.argv[1])), flush=True)
