"""Autolog for pyspark.ml on real Spark: what each kind of fit records, and its safety."""

from __future__ import annotations

import json
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest
from pyspark.ml import Estimator, Model, Pipeline
from pyspark.ml.classification import (
    LogisticRegression,
    OneVsRest,
    RandomForestClassifier,
)
from pyspark.ml.clustering import KMeans
from pyspark.ml.evaluation import (
    BinaryClassificationEvaluator,
    MulticlassClassificationEvaluator,
    RegressionEvaluator,
)
from pyspark.ml.feature import StandardScaler, StringIndexer, VectorAssembler
from pyspark.ml.fpm import FPGrowth
from pyspark.ml.recommendation import ALS
from pyspark.ml.regression import LinearRegression
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder, TrainValidationSplit

import sparktrack
import sparktrack.models
from sparktrack import TrackingClient
from sparktrack.autologging import AutologWarning
from sparktrack.autologging._pyspark._training_data import TrainingData
from sparktrack.registry import RegistryClient
from sparktrack.tracking import _fluent

pytestmark = pytest.mark.spark


@pytest.fixture
def client(autolog_client: TrackingClient, spark: Any) -> TrackingClient:
    return autolog_client


@pytest.fixture(scope="module")
def binary(spark: Any) -> Any:
    rows = [(float(i % 7), float((i * 3) % 5), float((i % 7) + (i * 3) % 5 > 5)) for i in range(60)]
    return spark.createDataFrame(rows, "a double, b double, label double").cache()


@pytest.fixture(scope="module")
def vectors(binary: Any) -> Any:
    return VectorAssembler(inputCols=["a", "b"], outputCol="features").transform(binary).cache()


def _last_run(client: TrackingClient) -> Any:
    sparktrack.flush()
    run = sparktrack.last_active_run()
    assert run is not None
    return client.get_run(run.info.run_id)


def _all_runs(client: TrackingClient) -> Any:
    sparktrack.flush()
    return client.search_runs(None)


def test_an_estimator_fit_is_a_run_with_params_metrics_and_series(
    client: TrackingClient, vectors: Any
) -> None:
    LogisticRegression(regParam=0.01, maxIter=15).fit(vectors)
    run = _last_run(client)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "LogisticRegression"
    assert run.data.params["regParam"] == "0.01" and run.data.params["maxIter"] == "15"
    assert run.data.params["elasticNetParam"] == "0.0"  # defaults too
    metrics = run.data.metrics
    for name in (
        "accuracy",
        "areaUnderROC",
        "weightedPrecision",
        "precisionByLabel_0",
        "recallByLabel_1",
        "fMeasureByLabel_1",
        "totalIterations",
    ):
        assert name in metrics, name
    history = client.get_metric_history(run.info.run_id, "objectiveHistory")
    assert [m.step for m in history] == list(range(len(history))) and len(history) > 2
    assert run.data.tags["sparktrack.autolog"] == "pyspark.ml"
    assert run.data.tags["sparktrack.estimator_class"].endswith("LogisticRegression")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda: LinearRegression(labelCol="label"),
            {"rootMeanSquaredError", "r2", "meanAbsoluteError"},
        ),
        (lambda: KMeans(k=2, seed=1), {"trainingCost"}),
        (lambda: RandomForestClassifier(numTrees=3, seed=1), {"accuracy"}),
    ],
    ids=["regression", "clustering", "trees"],
)
def test_each_family_logs_its_summary_metrics(
    client: TrackingClient, vectors: Any, make: Any, expected: set[str]
) -> None:
    estimator = make()
    estimator.fit(vectors)
    run = _last_run(client)
    assert run.info.run_name == type(estimator).__name__
    assert expected <= set(run.data.metrics)


def test_feature_recommendation_and_fpm_estimators_are_runs(
    client: TrackingClient, spark: Any, binary: Any
) -> None:
    StringIndexer(inputCol="a", outputCol="a_index").fit(binary)
    ratings = spark.createDataFrame(
        [(u, i, float((u + i) % 5)) for u in range(6) for i in range(5)],
        "user int, item int, rating double",
    )
    ALS(rank=2, maxIter=2, seed=1).fit(ratings)
    baskets = spark.createDataFrame([(["a", "b"],), (["a"],), (["b", "c"],)], "items array<string>")
    FPGrowth(minSupport=0.3).fit(baskets)
    runs = _all_runs(client)
    assert set(runs["run_name"]) == {"StringIndexer", "ALS", "FPGrowth"}
    als = runs[runs["run_name"] == "ALS"].iloc[0]
    # Large model classes follow the allowlist: not logged by default, and the run says so.
    assert "ALSModel" in als["tags.sparktrack.model_not_logged"]


def test_pipeline_stages_are_one_run_with_prefixed_params(
    client: TrackingClient, binary: Any
) -> None:
    pipeline = Pipeline(
        stages=[
            VectorAssembler(inputCols=["a", "b"], outputCol="raw"),
            StandardScaler(inputCol="raw", outputCol="scaled"),
            StandardScaler(inputCol="scaled", outputCol="features", withMean=True),
            LogisticRegression(maxIter=5),
        ]
    )
    pipeline.fit(binary)
    runs = _all_runs(client)
    assert list(runs["run_name"]) == ["Pipeline"]  # stage fits are not runs of their own
    params = client.get_run(runs["run_id"].iloc[0]).data.params
    assert params["Pipeline.stages"] if "Pipeline.stages" in params else params["stages"]
    assert params["LogisticRegression.maxIter"] == "5"
    assert params["StandardScaler_1.withMean"] == "False"
    assert params["StandardScaler_2.withMean"] == "True"
    assert params["VectorAssembler.inputCols"] == '["a", "b"]'
    hierarchy = json.loads(client.read_artifact(runs["run_id"].iloc[0], "estimator_hierarchy.json"))
    assert [c["class"].rsplit(".", 1)[1] for c in hierarchy["children"]["stages"]] == [
        "VectorAssembler",
        "StandardScaler",
        "StandardScaler",
        "LogisticRegression",
    ]


def _cross_validator(parallelism: int) -> CrossValidator:
    lr = LogisticRegression(maxIter=5)
    pipeline = Pipeline(stages=[VectorAssembler(inputCols=["a", "b"], outputCol="features"), lr])
    grid = (
        ParamGridBuilder()
        .addGrid(lr.regParam, [0.0, 0.5])
        .addGrid(lr.elasticNetParam, [0.0, 1.0])
        .build()
    )
    return CrossValidator(
        estimator=pipeline,
        estimatorParamMaps=grid,
        numFolds=2,
        evaluator=BinaryClassificationEvaluator(),
        parallelism=parallelism,
        seed=7,
    )


def test_cross_validator_parent_and_a_child_per_param_map(
    client: TrackingClient, binary: Any
) -> None:
    model = _cross_validator(parallelism=2).fit(binary)
    runs = _all_runs(client)
    parent = runs[runs["run_name"] == "CrossValidator"].iloc[0]
    children = runs[runs["tags.mlflow.parentRunId"] == parent["run_id"]]
    assert len(runs) == 5 and len(children) == 4
    assert set(children["status"]) == {"FINISHED"}
    # Real timings: every child ran inside the parent's span, and took time.
    assert (children["start_time"] >= parent["start_time"]).all()
    assert (children["end_time"] > children["start_time"]).all()
    assert (children["end_time"] <= parent["end_time"]).all()
    avg = children["metrics.avg_areaUnderROC"].to_numpy()
    assert sorted(avg) == pytest.approx(sorted(model.avgMetrics))
    assert "metrics.std_areaUnderROC" in children
    child = children.iloc[0]
    history = client.get_metric_history(child["run_id"], "fold_areaUnderROC")
    assert [m.step for m in history] == [0, 1]
    assert set(children["params.LogisticRegression.regParam"]) == {"0.0", "0.5"}
    parent_run = client.get_run(parent["run_id"])
    best = int(max(range(4), key=lambda i: model.avgMetrics[i]))
    best_map = {p.name: v for p, v in model.getEstimatorParamMaps()[best].items()}
    assert parent_run.data.params["best.LogisticRegression.regParam"] == str(best_map["regParam"])
    assert parent_run.data.metrics["best_avg_areaUnderROC"] == pytest.approx(max(model.avgMetrics))
    results = client.read_artifact(parent["run_id"], "search_results.csv").decode()
    assert len(results.strip().splitlines()) == 5
    artifacts = {a.path for a in client.list_artifacts(parent["run_id"])}
    assert "model" in artifacts  # the best model, once
    assert all(not client.list_artifacts(c) for c in children["run_id"])


def test_train_validation_split_and_the_tuning_cap(client: TrackingClient, vectors: Any) -> None:
    sparktrack.autolog(max_tuning_runs=2)
    lr = LogisticRegression(maxIter=5)
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.1, 0.5]).build()
    TrainValidationSplit(
        estimator=lr,
        estimatorParamMaps=grid,
        trainRatio=0.7,
        seed=3,
        evaluator=MulticlassClassificationEvaluator(),
    ).fit(vectors)
    runs = _all_runs(client)
    parent = runs[runs["run_name"] == "TrainValidationSplit"].iloc[0]
    children = runs[runs["tags.mlflow.parentRunId"] == parent["run_id"]]
    assert len(children) == 2  # the best two of three
    assert (children["end_time"] > children["start_time"]).all()


def test_one_vs_rest_is_one_run(client: TrackingClient, vectors: Any) -> None:
    OneVsRest(classifier=LogisticRegression(maxIter=3)).fit(vectors)
    runs = _all_runs(client)
    assert list(runs["run_name"]) == ["OneVsRest"]
    params = client.get_run(runs["run_id"].iloc[0]).data.params
    assert params["classifier"] == "LogisticRegression"
    assert params["LogisticRegression.maxIter"] == "3"


def test_post_training_metrics_follow_derived_dataframes(
    client: TrackingClient, binary: Any, spark: Any
) -> None:
    pipeline = Pipeline(
        stages=[
            VectorAssembler(inputCols=["a", "b"], outputCol="features"),
            LinearRegression(maxIter=5),
        ]
    )
    model = pipeline.fit(binary)
    run_id = _last_run(client).info.run_id
    scored = model.transform(binary)
    holdout = scored.filter("a > 1").select("label", "prediction", "a")
    lookup = spark.createDataFrame([(float(i), f"g{i}") for i in range(7)], "a double, g string")
    joined = holdout.join(lookup, "a")
    RegressionEvaluator(metricName="rmse").evaluate(holdout)
    RegressionEvaluator(metricName="r2").evaluate(joined)
    RegressionEvaluator(metricName="rmse").evaluate(binary.withColumn("prediction", binary.a))
    metrics = _last_run(client).data.metrics if False else client.get_run(run_id).data.metrics
    assert "rmse_holdout" in metrics and "r2_joined" in metrics
    assert not any(k.startswith("rmse_") and k != "rmse_holdout" for k in metrics)


def test_user_subclasses_of_estimator_are_tracked(client: TrackingClient, binary: Any) -> None:
    class MeanModel(Model):
        def _transform(self, dataset: Any) -> Any:
            return dataset

    class MeanEstimator(Estimator):
        def _fit(self, dataset: Any) -> MeanModel:
            return MeanModel()

    sparktrack.autolog(log_models=False)
    model = MeanEstimator().fit(binary)
    assert isinstance(model, MeanModel)
    assert list(_all_runs(client)["run_name"]) == ["MeanEstimator"]


def test_fits_log_into_the_users_active_run_unless_exclusive(
    client: TrackingClient, vectors: Any
) -> None:
    with sparktrack.start_run(run_name="mine") as mine:
        LogisticRegression(maxIter=3).fit(vectors)
    assert client.get_run(mine.info.run_id).data.params["maxIter"] == "3"
    sparktrack.autolog(exclusive=True)
    with sparktrack.start_run(run_name="mine-too") as other:
        LogisticRegression(maxIter=4).fit(vectors)
    assert "maxIter" not in client.get_run(other.info.run_id).data.params
    assert len(_all_runs(client)) == 2


def test_disable_logs_nothing_and_restores_fit(client: TrackingClient, vectors: Any) -> None:
    from pyspark.ml.base import Estimator as Base

    sparktrack.autolog(disable=True)
    assert not hasattr(Base.fit, "__sparktrack_original__")
    LogisticRegression(maxIter=3).fit(vectors)
    assert _all_runs(client).empty


def test_a_failing_fit_passes_its_error_through_and_fails_the_run(
    client: TrackingClient, binary: Any
) -> None:
    with pytest.raises(Exception, match="missing_column"):
        LogisticRegression(featuresCol="missing_column").fit(binary)
    runs = _all_runs(client)
    assert list(runs["status"]) == ["FAILED"]


def test_a_broken_store_leaves_the_fit_identical_with_one_warning(
    tmp_path: Path, spark: Any, vectors: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPARKTRACK_AUTOLOG_TESTING")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store should be")
    monkeypatch.setenv("SPARKTRACK_STORE", str(blocker / "store"))
    sparktrack.set_store("memory://")
    monkeypatch.setattr(_fluent, "_client", None)  # the next client opens the broken store
    estimator = LogisticRegression(maxIter=5, regParam=0.1)
    expected = estimator.fit(vectors).coefficients
    sparktrack.autolog()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first = estimator.fit(vectors)
            second = estimator.fit(vectors)
        assert first.coefficients == expected and second.coefficients == expected
        autolog_warnings = [w for w in caught if issubclass(w.category, AutologWarning)]
        assert len(autolog_warnings) == 1
        assert "Training is unaffected" in str(autolog_warnings[0].message)
    finally:
        sparktrack.autolog(disable=True)
        monkeypatch.setattr(_fluent, "_client", None)


def test_the_logged_model_loads_back_and_predicts_like_the_original(
    client: TrackingClient, binary: Any
) -> None:
    from sparktrack.models import load_model

    model = _cross_validator(parallelism=1).fit(binary)
    sparktrack.flush()
    parent = sparktrack.last_active_run()
    assert parent is not None
    loaded = load_model(f"runs:/{parent.info.run_id}/model")
    assert loaded.signature.input_names == ["a", "b"]
    sample = binary.select("a", "b").limit(20).toPandas()
    expected = model.transform(binary.limit(20)).select("prediction").toPandas()["prediction"]
    assert list(loaded.predict(sample)) == list(expected)
    inputs = client.get_inputs(parent.info.run_id)
    assert [(i.context, i.source_type) for i in inputs] == [("training", "memory")]
    assert inputs[0].num_rows == 60


def test_registered_model_name_registers_each_logged_model(
    client: TrackingClient, vectors: Any
) -> None:
    sparktrack.autolog(registered_model_name="autologged")
    LogisticRegression(maxIter=3).fit(vectors)
    LogisticRegression(maxIter=4).fit(vectors)
    sparktrack.flush()
    versions = RegistryClient(client).search_model_versions("name = 'autologged'")
    runs = _all_runs(client)
    assert sorted(v.version for v in versions) == [1, 2]
    assert {v.run_id for v in versions} == set(runs["run_id"])
    assert {v.source for v in versions} == {f"runs:/{r}/model" for r in runs["run_id"]}


# -- the training data, read while the fit trains (the real background worker) ----------
def _real_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    # Test mode runs autolog's work in the fit's thread; users get the worker thread.
    monkeypatch.delenv("SPARKTRACK_AUTOLOG_TESTING")


def test_the_training_data_is_read_while_the_fit_trains(
    client: TrackingClient, binary: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _real_worker(monkeypatch)
    read = threading.Event()
    real_read = TrainingData.read

    def reading(self: Any, config: Any) -> None:
        real_read(self, config)
        read.set()

    monkeypatch.setattr(TrainingData, "read", reading)
    read_during_fit: list[bool] = []

    class WaitingRegression(LogisticRegression):
        def _fit(self, dataset: Any) -> Any:
            # Only the worker can set it: this fit's thread is busy here.
            read_during_fit.append(read.wait(60))
            return super()._fit(dataset)

    data = VectorAssembler(inputCols=["a", "b"], outputCol="features").transform(binary)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        WaitingRegression(maxIter=3).fit(data)
        run = _last_run(client)
    assert read_during_fit == [True]
    assert [w for w in caught if issubclass(w.category, AutologWarning)] == []
    run_id = run.info.run_id
    assert run.info.status == "FINISHED"
    # The input example and the dataset come from what was read during the fit.
    example = json.loads(client.read_artifact(run_id, "model/input_example.json"))
    expected = data.select("features").limit(5).toPandas()
    assert example["columns"] == ["features"]
    assert example["data"] == [[list(v.toArray())] for v in expected["features"]]
    inputs = client.get_inputs(run_id)
    assert [(i.context, i.num_rows) for i in inputs] == [("training", 60)]


def test_a_fit_that_raises_does_not_wait_for_the_training_data(
    client: TrackingClient, vectors: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _real_worker(monkeypatch)
    reading, release = threading.Event(), threading.Event()

    def stuck(self: Any, config: Any) -> None:
        reading.set()
        assert release.wait(60), "the test never released the read"

    monkeypatch.setattr(TrainingData, "read", stuck)

    class FailingRegression(LogisticRegression):
        def _fit(self, dataset: Any) -> Any:
            assert reading.wait(60), "the training data was never read"
            raise RuntimeError("training diverged")

    try:
        with pytest.raises(RuntimeError, match="training diverged"):
            FailingRegression(maxIter=3).fit(vectors)
        # The fit raised while the read was still stuck: it did not wait for it.
        assert not release.is_set()
    finally:
        release.set()
    run = _last_run(client)
    assert run.info.status == "FAILED"
    assert client.list_artifacts(run.info.run_id) == []
    assert client.get_inputs(run.info.run_id) == []


def test_reading_the_training_data_failing_warns_once_and_logs_the_rest(
    client: TrackingClient, vectors: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _real_worker(monkeypatch)

    def broken(self: Any, config: Any) -> None:
        raise OSError("the source went away")

    monkeypatch.setattr(TrainingData, "read", broken)
    estimator = LogisticRegression(maxIter=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = estimator.fit(vectors)
        estimator.fit(vectors)
        sparktrack.flush()
    autolog_warnings = [str(w.message) for w in caught if issubclass(w.category, AutologWarning)]
    assert len(autolog_warnings) == 1, autolog_warnings
    assert "reading the training data" in autolog_warnings[0]
    assert "the source went away" in autolog_warnings[0]
    runs = _all_runs(client)
    assert list(runs["status"]) == ["FINISHED", "FINISHED"]
    # What the read would have given is read after the fit instead.
    run_id = sparktrack.last_active_run().info.run_id  # type: ignore[union-attr]
    assert [i.num_rows for i in client.get_inputs(run_id)] == [60]
    loaded = sparktrack.models.load_model(f"runs:/{run_id}/model")
    assert loaded.metadata.saved_input_example_info is not None
    sample = vectors.select("features").limit(5).toPandas()
    expected = model.transform(vectors.limit(5)).select("prediction").toPandas()["prediction"]
    assert list(loaded.predict(sample)) == list(expected)
