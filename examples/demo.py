"""The sparktrack demo: an autologged hyperparameter sweep of an MLlib pipeline on local Spark.

Tunes VectorAssembler -> StandardScaler -> LogisticRegression on the Wisconsin
breast-cancer data set (569 real tumour measurements, shipped with scikit-learn)
with a CrossValidator, into the embedded Delta store (./sparktrack-store unless
SPARKTRACK_STORE says otherwise). ``sparktrack.autolog()`` records it all without
touching the training code: a parent run with the search results and the best
model, a child run per param map with its per-fold metrics and real timings, and
the test-set AUC logged when the evaluator scores the tuned model's predictions.
It ends by printing the runs, loading the logged model back to score new rows,
launching a project's Spark job (examples/project) as a run, re-running it with a param
changed and showing the difference, watching a shifted copy of the test data for drift,
and querying the same store with Spark SQL. With Sparkling Water installed
(``pip install 'sparktrack[h2o]'``) it also trains an H2O GBM on the same data, tracked
by the same ``autolog()`` call, with its MOJO model logged.

    python examples/demo.py            # or: make demo
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: figures go to the store, not to a window

import importlib.util
import json
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
from matplotlib import pyplot as plt
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import StandardScaler, VectorAssembler
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from sklearn.datasets import load_breast_cancer

import sparktrack
import sparktrack.spark as sts
from sparktrack import projects
from sparktrack.models import load_model
from sparktrack.registry import Transition
from sparktrack.sweeps import loguniform, uniform
from sparktrack.tracking import SNAPSHOT_TAG, diff_runs

MODEL_NAME = "breast-cancer"
EXPERIMENT = "breast-cancer-demo"
REPRODUCE = "breast-cancer-project"


def load_data(spark: SparkSession) -> tuple[DataFrame, DataFrame, list[str]]:
    frame: pd.DataFrame = load_breast_cancer(as_frame=True).frame
    # Spark column names with spaces are awkward: "mean radius" -> "mean_radius".
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    features = [c for c in frame.columns if c != "target"]
    data = spark.createDataFrame(frame).withColumnRenamed("target", "label")
    train, test = data.randomSplit([0.75, 0.25], seed=42)
    return train.cache(), test.cache(), features


def build_search(features: list[str]) -> CrossValidator:
    lr = LogisticRegression(maxIter=50)
    pipeline = Pipeline(
        stages=[
            VectorAssembler(inputCols=features, outputCol="raw"),
            StandardScaler(inputCol="raw", outputCol="features"),
            lr,
        ]
    )
    grid = (
        ParamGridBuilder()
        .addGrid(lr.regParam, [0.0, 0.01, 0.1])
        .addGrid(lr.elasticNetParam, [0.0, 0.5])
        .build()
    )
    return CrossValidator(
        estimator=pipeline,
        estimatorParamMaps=grid,
        numFolds=3,
        evaluator=BinaryClassificationEvaluator(),
        parallelism=2,
        seed=7,
    )


def run_sweep(train: DataFrame, features: list[str]) -> None:
    """The same pipeline tuned by sparktrack.sweep: Optuna's TPE over continuous ranges,
    each trial a child run; the best model becomes the next version, in Staging."""
    search = build_search(features)
    fit_part, valid_part = train.randomSplit([0.8, 0.2], seed=11)
    lr = search.getEstimator().getStages()[-1]
    result = sparktrack.sweep(
        search.getEstimator(),
        {lr.regParam: loguniform(1e-4, 0.3), lr.elasticNetParam: uniform(0.0, 1.0)},
        train=fit_part,
        valid=valid_part,
        evaluator=BinaryClassificationEvaluator(),
        strategy="tpe",
        max_trials=5,
        parallelism=2,
        seed=3,
        register_as=MODEL_NAME,
        progress=False,
    )
    assert result.registered_version is not None
    sparktrack.set_model_stage(MODEL_NAME, result.registered_version, "Staging")
    trials = result.trials[["number", "state", "value", *result.trials.filter(like="params.")]]
    print(f"\nsparktrack.sweep (TPE, 5 trials, run {result.run_id}):")
    print(trials.to_string(index=False))
    print(
        f"best validation AUC {result.best_metric:.4f}; registered as "
        f"models:/{MODEL_NAME}/{result.registered_version}, now in Staging"
    )


def train_h2o_gbm(spark: SparkSession, train: DataFrame, test: DataFrame) -> None:
    """Sparkling Water's GBM on the same split: one more autologged run, MOJO included."""
    from pyspark.sql import functions as F
    from pysparkling.ml import H2OGBM

    from sparktrack.h2o import h2o_context

    h2o_context(spark)
    as_classes = F.col("label").cast("string")  # a string label makes H2O classify
    gbm = H2OGBM(labelCol="label", ntrees=20, maxDepth=4, seed=1, splitRatio=0.8)
    model = gbm.fit(train.withColumn("label", as_classes))
    model.transform(test.withColumn("label", as_classes)).count()
    sparktrack.flush()
    run = sparktrack.last_active_run()
    assert run is not None
    metrics = run.data.metrics
    series = sorted(k for k in metrics if k.startswith("scoring_"))
    print(
        f"\nH2O GBM run {run.info.run_id}: training AUC {metrics['training_AUC']:.4f}, "
        f"validation AUC {metrics.get('validation_AUC', float('nan')):.4f}; "
        f"scoring history as series: {', '.join(series[:4])}, ..."
    )
    print(
        "  artifacts:",
        ", ".join(a.path for a in sparktrack.get_client().list_artifacts(run.info.run_id)),
    )


def describe_transition(entry: Transition) -> str:
    """One history entry in words, as `sparktrack models history` lists it."""
    if entry.kind == "stage":
        return f"moved from {entry.from_value or 'None'} to {entry.to_value}"
    if entry.kind == "alias":
        moved = f" (from v{entry.from_value})" if entry.from_value else ""
        return f"now @{entry.key}{moved}"
    if entry.kind == "alias_removed":
        return f"no longer @{entry.key}"
    return entry.kind  # registered, deleted


def promote_best_model(run_id: str, test: DataFrame, features: list[str]) -> None:
    """Register the sweep's model, make it the Production version and the champion."""
    version = sparktrack.register_model(f"runs:/{run_id}/model", MODEL_NAME)
    sparktrack.set_model_stage(MODEL_NAME, version.version, "Production")
    sparktrack.set_model_alias(MODEL_NAME, "champion", version.version)
    print(f"\nRegistered {version.model_uri}, now in Production and aliased @champion.")
    print("Registry history (`sparktrack models history`):")
    for entry in sparktrack.get_model_history(MODEL_NAME)[-4:]:
        print(f"  v{entry.version} {describe_transition(entry)}")
    model = load_model(f"models:/{MODEL_NAME}/Production")
    sample = test.select(*features).limit(3).toPandas()
    print(f"models:/{MODEL_NAME}/Production scores new rows:", list(model.predict(sample)))
    # Batch scoring in every task, with no Spark model inside the tasks.
    predict = sparktrack.spark_udf(test.sparkSession, f"models:/{MODEL_NAME}@champion")
    scored = test.withColumn("prediction", predict())
    accuracy = scored.where("prediction = label").count() / scored.count()
    print(f"spark_udf scored the {scored.count()} test rows: accuracy {accuracy:.3f}")
    if importlib.util.find_spec("fastapi") is not None:
        call_scoring_server(sample)


def watch_drift(test: DataFrame) -> None:
    """Score a shifted copy of the test data and compare it with the model's baseline.

    Autolog saved the baseline (profile.json) with the model; monitor logs its verdict
    as a run of the "monitoring" experiment, with an HTML report.
    """
    # As if the instrument were recalibrated: every mean radius now reads 30 % larger.
    shifted = test.withColumn("mean_radius", F.col("mean_radius") * 1.3)
    result = sparktrack.monitor(f"models:/{MODEL_NAME}/Production", shifted, label_col="label")
    print(f"\nsparktrack.monitor on a shifted copy of the test data: {result.status}")
    alerts = result.alerts()[["column", "psi", "ks", "reasons"]]
    print(alerts.to_string(index=False))
    print(f"Its report: drift_report.html in run {result.run_id} (experiment 'monitoring').")


def call_scoring_server(sample: pd.DataFrame) -> None:
    """`sparktrack serve models:/breast-cancer@champion` in its own process, asked once."""
    command = [sys.executable, "-m", "sparktrack.cli", "serve", f"models:/{MODEL_NAME}@champion",
               "--port", "0", "--refresh-seconds", "0"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        url = next(m.group(0) for line in server.stdout if (m := re.search(r"http://\S+", line)))
        body = json.dumps({"dataframe_split": sample.to_dict(orient="split", index=False)})
        for _ in range(600):  # the URL is printed as the socket opens; wait for /ping
            try:
                urllib.request.urlopen(f"{url}/ping", timeout=5)
                break
            except OSError:
                time.sleep(0.5)
        request = urllib.request.Request(
            f"{url}/invocations", body.encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        print(f"sparktrack serve at {url} answered POST /invocations: {answer}")
    finally:
        server.terminate()
        server.wait(timeout=60)


def reproduce() -> None:
    """A project's run (examples/project), re-run with a param changed, and the diff.

    ``sparktrack run`` launches the project's Spark job through spark-submit; the job's
    autolog joins the run. ``sparktrack rerun`` rebuilds the run's code from its source
    snapshot and runs it again as a new run; ``sparktrack runs diff`` says what changed.
    """
    project = Path(__file__).resolve().parent / "project"
    first = projects.run(
        str(project), "train", {"reg_param": 0.01}, experiment_name=REPRODUCE, echo=False
    )
    # From the run's source snapshot; its git commit when snapshots are turned off.
    recorded = sparktrack.get_run(first.run_id).data.tags
    code = "snapshot" if SNAPSHOT_TAG in recorded else "commit"
    again = projects.rerun(first.run_id, {"reg_param": 0.5}, code=code, echo=False)
    if (first.status, again.status) != ("FINISHED", "FINISHED"):
        raise SystemExit(f"the project's runs ended {first.status} and {again.status}")
    diff = diff_runs(first.run_id, again.run_id)
    auc = {c.key: c for c in diff.metrics}.get("test_auc")
    print("\nReproducible runs (examples/project, an MLproject with a Spark job):")
    print(f"  sparktrack run examples/project -e train -P reg_param=0.01  ->  run {first.run_id}")
    print(f"  sparktrack rerun {first.run_id} -P reg_param=0.5  ->  run {again.run_id}")
    origin = "source snapshot" if code == "snapshot" else "git commit"
    print(f"    (its code rebuilt from the first run's {origin}, tagged sparktrack.rerunOf)")
    print(f"  sparktrack runs diff {first.run_id} {again.run_id}:")
    params = [c for c in diff.params if c.key == "reg_param"]
    for change in params:
        print(f"    param  {change.key}: {change.a} -> {change.b}")
    if auc is not None:
        print(f"    metric test_auc: {auc.a:.4f} -> {auc.b:.4f}")
    print(f"    code: {'the same' if not diff.code_diff else 'changed'}")


def main() -> None:
    spark = sparktrack.spark_session("sparktrack-demo")
    train, test, features = load_data(spark)
    sparktrack.set_experiment(EXPERIMENT)
    sparktrack.autolog(max_tuning_runs=None, log_profiles=True)  # baselines for monitor

    # Plain pyspark from here on: autolog records the sweep.
    tuned = build_search(features).fit(train)
    test_predictions = tuned.transform(test)
    test_auc = BinaryClassificationEvaluator().evaluate(test_predictions)  # logged as well

    sweep = sparktrack.last_active_run()
    assert sweep is not None
    # A hand-logged extra on the same run: the best model's training loss curve.
    history = tuned.bestModel.stages[-1].summary.objectiveHistory
    figure, axes = plt.subplots(figsize=(4, 3))
    axes.plot(history)
    axes.set(xlabel="iteration", ylabel="training loss", title="best model")
    sparktrack.get_client().log_figure(sweep.info.run_id, figure, "best_training_loss.png")
    plt.close(figure)
    sparktrack.flush()

    sweep = sparktrack.get_run(sweep.info.run_id)
    children = sparktrack.search_runs(
        filter_string=f"tags.`mlflow.parentRunId` = '{sweep.info.run_id}'",
        order_by=["metrics.avg_areaUnderROC DESC"],
    )
    pd.set_option("display.width", 160)
    columns = [
        "run_name",
        "params.LogisticRegression.regParam",
        "params.LogisticRegression.elasticNetParam",
        "metrics.avg_areaUnderROC",
        "metrics.std_areaUnderROC",
    ]
    print(f"\nSweep run {sweep.info.run_id} in {sparktrack.get_client().store.uri}:")
    print(
        f"  best cross-validated AUC {sweep.data.metrics['best_avg_areaUnderROC']:.4f}, "
        f"test AUC {test_auc:.4f} (logged as areaUnderROC_test_predictions: "
        f"{sweep.data.metrics.get('areaUnderROC_test_predictions', float('nan')):.4f})"
    )
    print(
        "  artifacts:",
        ", ".join(a.path for a in sparktrack.get_client().list_artifacts(sweep.info.run_id)),
    )
    print("\nOne child run per param map:")
    print(children[columns].to_string(index=False))

    promote_best_model(sweep.info.run_id, test, features)
    watch_drift(test)
    sparktrack.autolog(disable=True)  # the sweep's trials are runs already
    run_sweep(train, features)
    sparktrack.autolog(max_tuning_runs=None)
    if importlib.util.find_spec("pysparkling") is not None:
        train_h2o_gbm(spark, train, test)
    train.unpersist()
    test.unpersist()

    reproduce()

    sts.register_views(spark)
    print("\nThe same store through Spark SQL (sparktrack_runs, sparktrack_metrics, ...):")
    spark.sql(f"""
        SELECT r.run_name, ROUND(m.value, 4) AS avg_auc,
               (r.end_time - r.start_time) / 1000.0 AS seconds
        FROM sparktrack_runs r JOIN sparktrack_metrics m ON r.run_id = m.run_id
        WHERE m.key = 'avg_areaUnderROC' AND r.parent_run_id = '{sweep.info.run_id}'
        ORDER BY avg_auc DESC
    """).show(truncate=False)
    print(
        "Next: `sparktrack runs list`, `sparktrack runs show <run_id>`, "
        '`sparktrack runs search "metrics.avg_areaUnderROC > 0.99"`'
    )
    store = shlex.quote(sparktrack.get_client().store.uri)
    print("See it all in your browser (curves, artifacts, compare, the sweep, the registry):")
    print(f"    sparktrack --store {store} ui")


if __name__ == "__main__":
    main()
