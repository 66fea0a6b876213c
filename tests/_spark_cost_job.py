"""What runs cost on a cluster, in a session the user built: a child process.

    python -m tests._spark_cost_job STORE

The session is ``local-cluster[2,1,1024]`` (two executor JVMs of one core each) with
``spark.ui.enabled=false`` and no Delta; autolog runs for real (on its background
thread). Runs: a fluent run with a job of 8 partitions and a shuffle, a CrossValidator
under autolog, and a last fluent run just before ``spark.stop()``. Prints one
``RESULT {...}`` line with each run's ``spark.*`` metrics and, for the first fluent
run, the status store's own totals of the jobs it ran, read by job id through Spark's
public status tracker.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

EXECUTORS = 2
START_DEADLINE_S = 300


def _spark_metrics(run: Any) -> dict[str, float]:
    return {k: v for k, v in run.data.metrics.items() if k.startswith("spark.")}


def _stage_totals(spark: Any, job_ids: list[int]) -> dict[str, int]:
    """Tasks and shuffle bytes of those jobs' stages, from the public status tracker."""
    tracker = spark.sparkContext.statusTracker()
    stage_ids = {s for j in job_ids for s in tracker.getJobInfo(j).stageIds}
    infos = [tracker.getStageInfo(s) for s in stage_ids]
    ran = [i for i in infos if i is not None and i.numCompletedTasks > 0]
    return {"stages": len(ran), "tasks": sum(i.numTasks for i in ran)}


def main(store: str) -> None:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
    from pyspark.sql import SparkSession

    import sparktrack
    from sparktrack.tracking import _spark_status

    spark = (
        SparkSession.builder.master(f"local-cluster[{EXECUTORS},1,1024]")
        .appName("cost-job")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    # Both executors registered before the job (the driver is listed too), so that
    # the job's tasks spread over both.
    java_tracker = spark.sparkContext._jsc.sc().statusTracker()
    deadline = time.monotonic() + START_DEADLINE_S
    while len(java_tracker.getExecutorInfos()) < EXECUTORS + 1:
        if time.monotonic() > deadline:
            raise SystemExit(f"{EXECUTORS} executors did not register in {START_DEADLINE_S} s")
        time.sleep(0.2)
    context = spark.sparkContext
    sparktrack.set_store(store)
    context.parallelize(range(10), 2).count()  # before the run: not its work

    tracker = context.statusTracker()
    before = set(tracker.getJobIdsForGroup(None))
    with sparktrack.start_run(run_name="fluent") as fluent:
        context.parallelize(range(1000), 8).map(lambda x: (x % 10, x)).reduceByKey(
            lambda a, b: a + b, 4
        ).collect()
    run_jobs = sorted(set(tracker.getJobIdsForGroup(None)) - before)
    context.parallelize(range(10), 3).count()  # after the run: not its work either

    rows = [(float(i % 7), float((i * 3) % 5), float((i % 7) + (i * 3) % 5 > 5)) for i in range(60)]
    df = spark.createDataFrame(rows, "a double, b double, label double")
    lr = LogisticRegression(maxIter=3)
    pipeline = Pipeline(stages=[VectorAssembler(inputCols=["a", "b"], outputCol="features"), lr])
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.1]).build()
    evaluator = BinaryClassificationEvaluator()
    sparktrack.autolog(log_models=False, log_datasets=False)
    CrossValidator(
        estimator=pipeline,
        estimatorParamMaps=grid,
        evaluator=evaluator,
        numFolds=2,
        parallelism=2,
    ).fit(df)
    cv_run = sparktrack.last_active_run()
    sparktrack.flush()
    client = sparktrack.get_client()

    def children(parent_id: str) -> list[dict[str, float]]:
        found = client.search_runs(
            None, filter_string=f"tags.mlflow.parentRunId = '{parent_id}'", output_format="list"
        )
        return [_spark_metrics(r) for r in found]

    assert cv_run is not None
    result = {
        "fluent": _spark_metrics(client.get_run(fluent.info.run_id)),
        "fluent_jobs": run_jobs,
        "fluent_store": _stage_totals(spark, run_jobs),
        "cv": _spark_metrics(client.get_run(cv_run.info.run_id)),
        "cv_children": children(cv_run.info.run_id),
    }
    # A script's last run, stopped right away, autolog off (it would drain on stop by
    # itself): what the run cost is read before the context goes.
    # A slow driver: the listener bus takes a while to deliver the run's last events.
    sparktrack.autolog(disable=True)
    catch_up = _spark_status.StatusStore.catch_up

    def slow_catch_up(self: Any) -> None:
        time.sleep(2.0)
        catch_up(self)

    _spark_status.StatusStore.catch_up = slow_catch_up  # type: ignore[method-assign]
    with sparktrack.start_run(run_name="last") as last:
        context.parallelize(range(100), 3).count()
    spark.stop()
    sparktrack.flush()
    result["last"] = _spark_metrics(client.get_run(last.info.run_id))
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
