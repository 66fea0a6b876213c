"""The sparktrack demo: a tracked hyperparameter sweep of an MLlib pipeline on local Spark.

Trains VectorAssembler -> StandardScaler -> LogisticRegression on the Wisconsin
breast-cancer data set (569 real tumour measurements, shipped with scikit-learn),
one child run per hyperparameter setting under a parent "sweep" run, into the
embedded Delta store (./sparktrack-store unless SPARKTRACK_STORE says otherwise).
It ends by printing the runs table, the best run, and the same data through Spark SQL.

    python examples/demo.py            # or: make demo
"""

from __future__ import annotations

import itertools
import time

import matplotlib

matplotlib.use("Agg")  # headless: figures go to the store, not to a window

import pandas as pd
from matplotlib import pyplot as plt
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator, MulticlassClassificationEvaluator
from pyspark.ml.feature import StandardScaler, VectorAssembler
from pyspark.sql import DataFrame, SparkSession
from sklearn.datasets import load_breast_cancer

import sparktrack
import sparktrack.spark as sts

EXPERIMENT = "breast-cancer-demo"
GRID = {"regParam": [0.0, 0.01, 0.1], "elasticNetParam": [0.0, 0.5]}


def load_data(spark: SparkSession) -> tuple[DataFrame, DataFrame, list[str]]:
    bunch = load_breast_cancer(as_frame=True)
    frame: pd.DataFrame = bunch.frame
    # Spark column names cannot hold spaces comfortably; "mean radius" -> "mean_radius".
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    features = [c for c in frame.columns if c != "target"]
    data = spark.createDataFrame(frame).withColumnRenamed("target", "label")
    train, test = data.randomSplit([0.75, 0.25], seed=42)
    return train.cache(), test.cache(), features


def train_one(train: DataFrame, test: DataFrame, features: list[str], params: dict) -> None:
    """One trial: fit, evaluate, and log everything to the active (child) run."""
    lr = LogisticRegression(maxIter=50, **params)
    pipeline = Pipeline(
        stages=[
            VectorAssembler(inputCols=features, outputCol="raw"),
            StandardScaler(inputCol="raw", outputCol="features"),
            lr,
        ]
    )
    sparktrack.log_params({"maxIter": 50, **params, "features": len(features)})
    started = time.perf_counter()
    model = pipeline.fit(train)
    sparktrack.log_metric("fit_seconds", time.perf_counter() - started)
    summary = model.stages[-1].summary
    for step, loss in enumerate(summary.objectiveHistory):
        sparktrack.log_metric("train_loss", loss, step=step)
    predictions = model.transform(test)
    auc = BinaryClassificationEvaluator(metricName="areaUnderROC").evaluate(predictions)
    accuracy = MulticlassClassificationEvaluator(metricName="accuracy").evaluate(predictions)
    sparktrack.log_metrics(
        {"test_auc": auc, "test_accuracy": accuracy, "train_auc": summary.areaUnderROC}
    )
    roc = summary.roc.toPandas()
    figure, axes = plt.subplots(figsize=(4, 4))
    axes.plot(roc["FPR"], roc["TPR"])
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="training ROC")
    sparktrack.log_figure(figure, "roc.png")
    plt.close(figure)


def main() -> None:
    spark = sparktrack.spark_session("sparktrack-demo")
    train, test, features = load_data(spark)
    sparktrack.set_experiment(EXPERIMENT)
    with sparktrack.start_run(run_name="lr-sweep") as sweep:
        sparktrack.log_dict(GRID, "grid.yaml")
        sparktrack.set_tags({"dataset": "sklearn.breast_cancer", "rows": train.count()})
        for values in itertools.product(*GRID.values()):
            params = dict(zip(GRID, values, strict=True))
            name = "lr-" + "-".join(f"{k}={v}" for k, v in params.items())
            with sparktrack.start_run(run_name=name, nested=True):
                train_one(train, test, features, params)
        children = sparktrack.search_runs(
            filter_string=f"tags.`mlflow.parentRunId` = '{sweep.info.run_id}'",
            order_by=["metrics.test_auc DESC", "metrics.test_accuracy DESC"],
        )
        best = children.iloc[0]
        sparktrack.log_metrics({"best_test_auc": best["metrics.test_auc"]})
        sparktrack.set_tag("best_run_id", best["run_id"])
    train.unpersist()
    test.unpersist()

    pd.set_option("display.width", 160)
    columns = [
        "run_name",
        "status",
        "params.regParam",
        "params.elasticNetParam",
        "metrics.test_auc",
        "metrics.test_accuracy",
        "metrics.fit_seconds",
    ]
    print(f"\nRuns of experiment {EXPERIMENT!r} in {sparktrack.get_client().store.uri}:")
    print(children[columns].to_string(index=False))
    print(
        f"\nBest: {best['run_name']} (test AUC {best['metrics.test_auc']:.4f}); "
        f"its ROC curve is at {best['artifact_uri']}/roc.png"
    )

    sts.register_views(spark)
    print("\nThe same store through Spark SQL (sparktrack_runs, sparktrack_metrics, ...):")
    spark.sql(f"""
        SELECT r.run_name, ROUND(MIN(m.value), 4) AS final_train_loss, COUNT(*) AS loss_steps
        FROM sparktrack_runs r JOIN sparktrack_metrics m ON r.run_id = m.run_id
        WHERE m.key = 'train_loss' AND r.parent_run_id = '{sweep.info.run_id}'
        GROUP BY r.run_name ORDER BY final_train_loss
    """).show(truncate=False)
    print(
        "Next: `sparktrack runs list`, `sparktrack runs show <run_id>`, "
        '`sparktrack runs search "metrics.test_auc > 0.99"`'
    )


if __name__ == "__main__":
    main()
