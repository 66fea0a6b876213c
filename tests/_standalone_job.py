"""A user's training job on a standalone cluster, submitted with ``spark-submit``.

    spark-submit --master spark://HOST:PORT ... tests/_standalone_job.py STORE

The session is the one a user builds (master and resources from spark-submit, no Delta,
no sparktrack confs); autolog runs on its real background thread. The executors' Python
lacks sparktrack. In order:

1. autolog over a CrossValidator: its best model is registered as version 1 of
   ``standalone`` and moved to Production;
2. a function sweep, whose trials run as tasks on the executors;
3. an estimator sweep, which registers its best model as version 2; moving that to
   Production archives version 1;
4. ``spark_udf`` scoring with ``models:/standalone/Production`` on the same executors,
   which still lack sparktrack (the scoring code travels with the tasks); the scores are
   compared with the model's own ``transform`` on the cluster (chispa).

``STORE`` is the store's URI (any the store takes). Prints one ``RESULT {...}`` line
with what only the job can see (executors, ids, the comparison); the test reads the
rest from the store. Functions here travel to the executors by value: this module runs
as ``__main__``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

EXECUTORS = 2
START_DEADLINE_S = 300
MODEL_NAME = "standalone"


def square_score(params: dict[str, Any]) -> dict[str, float]:
    """A function trial: the standard library only, as on executors without our package.
    It lasts a second, so that two trials at once hold both executors' one core."""
    time.sleep(1.0)
    return {"score": -((params["x"] - 3.0) ** 2)}


def _where_python_runs(_: Any) -> list[Any]:
    """On an executor: its process, working directory, and where sparktrack imports from."""
    import importlib.util
    import os

    spec = importlib.util.find_spec("sparktrack")
    return [[os.getpid(), os.getcwd(), None if spec is None else spec.origin]]


def _probe(spark: Any) -> dict[str, Any]:
    seen = spark.sparkContext.parallelize(range(8), 8).mapPartitions(_where_python_runs).collect()
    return {
        "pids": sorted({row[0] for row in seen}),
        "cwds": sorted({row[1] for row in seen}),
        "sparktrack": sorted({str(row[2]) for row in seen}),
    }


def _wait_for_executors(spark: Any) -> None:
    # Both executors registered before any work (the driver is listed too), so that the
    # work spreads over both.
    tracker = spark.sparkContext._jsc.sc().statusTracker()
    deadline = time.monotonic() + START_DEADLINE_S
    while len(tracker.getExecutorInfos()) < EXECUTORS + 1:
        if time.monotonic() > deadline:
            raise SystemExit(f"{EXECUTORS} executors did not register in {START_DEADLINE_S} s")
        time.sleep(0.2)


def main(store: str) -> dict[str, Any]:
    import os

    from chispa import assert_df_equality
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    import sparktrack

    spark = SparkSession.builder.appName("sparktrack-standalone-job").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    _wait_for_executors(spark)
    outcome: dict[str, Any] = {"driver": {"pid": os.getpid(), "cwd": os.getcwd()}}
    outcome["before_scoring"] = _probe(spark)

    sparktrack.set_store(store)
    sparktrack.set_experiment("standalone")
    sparktrack.autolog(registered_model_name=MODEL_NAME)

    rows = [(float(i % 7), float((i * 3) % 5), float((i % 7) + (i * 3) % 5 > 5)) for i in range(80)]
    data = spark.createDataFrame(rows, "a double, b double, label double").repartition(4)
    lr = LogisticRegression(maxIter=5)
    pipeline = Pipeline(stages=[VectorAssembler(inputCols=["a", "b"], outputCol="features"), lr])
    cross_validator = CrossValidator(
        estimator=pipeline,
        estimatorParamMaps=ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.5]).build(),
        evaluator=BinaryClassificationEvaluator(),
        numFolds=2,
        parallelism=2,
        seed=7,
    )
    cv_model = cross_validator.fit(data)
    cv_run = sparktrack.last_active_run()
    assert cv_run is not None
    sparktrack.flush()  # the model is logged, and registered, on autolog's thread
    sparktrack.set_model_stage(MODEL_NAME, 1, "Production")
    outcome["cv"] = {"run_id": cv_run.info.run_id, "avg_metrics": list(cv_model.avgMetrics)}

    functions = sparktrack.sweep(square_score, {"x": [1, 2, 3, 4, 5]}, metric="score",
                                 mode="max", strategy="grid", parallelism=2,
                                 name="function-sweep", progress=False)  # fmt: skip
    outcome["function_sweep"] = {"run_id": functions.run_id, "best": functions.best_params}

    estimators = sparktrack.sweep(pipeline, {"regParam": [0.0, 0.5]}, train=data, num_folds=2,
                                  evaluator=BinaryClassificationEvaluator(), strategy="grid",
                                  parallelism=2, name="estimator-sweep",
                                  register_as=MODEL_NAME, progress=False)  # fmt: skip
    sparktrack.set_model_stage(MODEL_NAME, estimators.registered_version, "Production")
    outcome["estimator_sweep"] = {
        "run_id": estimators.run_id,
        "best": estimators.best_params,
        "version": estimators.registered_version,
    }

    predict = sparktrack.spark_udf(spark, f"models:/{MODEL_NAME}/Production")
    batch = spark.createDataFrame(
        [(float(i % 11) - 2.0, float((i * 7) % 6)) for i in range(200)], "a double, b double"
    ).repartition(4)
    scored = batch.withColumn("prediction", predict()).select("a", "b", "prediction")
    expected = estimators.best_model.transform(batch).select("a", "b", "prediction")
    # Reported, not raised, so that the test still checks the store: chispa's table of
    # differing rows (or schemas) is the message. transform's prediction column carries
    # ML attributes in its metadata, and is not nullable; the UDF's column is plain.
    try:
        assert_df_equality(scored, expected, ignore_row_order=True, ignore_nullable=True,
                           ignore_metadata=True)  # fmt: skip
        outcome["udf_difference"] = None
    except Exception as exc:  # chispa's errors (DataFramesNotEqualError, ...)
        outcome["udf_difference"] = f"{type(exc).__name__}: {exc}"
    outcome["udf_rows"] = scored.count()
    outcome["after_scoring"] = _probe(spark)
    outcome["udf_classes"] = sorted(
        r[0] for r in scored.select(F.col("prediction")).distinct().collect()
    )
    sparktrack.flush()
    spark.stop()
    return outcome


if __name__ == "__main__":
    # The checkout's sparktrack on the driver only: PYTHONPATH would not reach the
    # executors on this cluster anyway, and they must not have it.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    result = main(*sys.argv[1:])
    print("RESULT " + json.dumps(result, default=str), flush=True)
