"""Autolog for Sparkling Water on real Spark + H2O: one shared H2OContext, tiny models."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from chispa import assert_df_equality

import sparktrack
from sparktrack import TrackingClient
from sparktrack.autologging import AutologWarning
from tests._processes import python, run_child

pytestmark = [pytest.mark.spark, pytest.mark.h2o]


@pytest.fixture
def client(autolog_client: TrackingClient, h2o_context: Any) -> TrackingClient:
    return autolog_client


@pytest.fixture(scope="module")
def frame(spark: Any) -> Any:
    rows = [
        (float(i % 7), float((i * 3) % 5), "yes" if (i % 7) + (i * 3) % 5 > 5 else "no")
        for i in range(200)
    ]
    return spark.createDataFrame(rows, "a double, b double, label string").cache()


def _last_run(client: TrackingClient) -> Any:
    sparktrack.flush()
    run = sparktrack.last_active_run()
    assert run is not None
    return client.get_run(run.info.run_id)


def _children(client: TrackingClient, parent_id: str) -> list[Any]:
    runs = client.search_runs(None)
    if "tags.mlflow.parentRunId" not in runs.columns:
        return []
    ids = runs[runs["tags.mlflow.parentRunId"] == parent_id]["run_id"]
    return [client.get_run(run_id) for run_id in ids]


def _artifact_text(client: TrackingClient, run_id: str, path: str) -> str:
    return client.read_artifact(run_id, path).decode("utf-8")


def test_h2o_gbm_fit_is_a_complete_run_and_its_model_loads_back(
    client: TrackingClient, frame: Any
) -> None:
    from pysparkling.ml import H2OGBM

    model = H2OGBM(labelCol="label", ntrees=4, maxDepth=3, seed=1).fit(frame)
    run = _last_run(client)
    run_id = run.info.run_id
    assert run.info.status == "FINISHED" and run.info.run_name == "H2OGBM"
    params = run.data.params
    assert params["ntrees"] == "4" and params["maxDepth"] == "3" and params["labelCol"] == "label"
    assert params["monotoneConstraints"] == "{}"  # dicts as JSON
    metrics = run.data.metrics
    assert metrics["training_AUC"] > 0.5 and "training_Logloss" in metrics
    assert math.isnan(metrics["training_AIC"])  # H2O's NaN is kept as NaN
    assert "training_ScoringTime" not in metrics
    history = client.get_metric_history(run_id, "scoring_training_rmse")
    assert [m.step for m in history] == list(range(5))  # 0..4 trees
    importances = list(
        csv.DictReader(io.StringIO(_artifact_text(client, run_id, "feature_importances.csv")))
    )
    assert {row["Variable"] for row in importances} == {"a", "b"}
    assert json.loads(_artifact_text(client, run_id, "model_details.json"))

    mlmodel = yaml.safe_load(_artifact_text(client, run_id, "model/MLmodel"))
    h2o = mlmodel["flavors"]["h2o_mojo"]
    assert h2o["h2o_version"] == "3.46.0.6"
    assert h2o["model_class"].endswith("H2OGBMMOJOModel")
    assert h2o["mojo_path"].startswith("sparkml/stages/0_") and h2o["mojo_path"].endswith(
        "mojo_model"
    )
    assert "h2o-pysparkling-3-5==3.46.0.6.post1" in _artifact_text(
        client, run_id, "model/requirements.txt"
    )
    loaded = sparktrack.models.load_model(f"runs:/{run_id}/model")
    assert type(loaded.spark_model).__name__ == "H2OGBMMOJOModel"
    sample = frame.limit(20)
    expected = [r.prediction for r in model.transform(sample).select("prediction").collect()]
    predicted = loaded.predict(sample.select("a", "b").toPandas())
    assert list(predicted) == expected


def _params_as_encoded(model: Any) -> dict[str, str]:
    """Every defined param of a Sparkling Water model, as the param itself encodes it (the
    views' DataFrames with their rows); a metrics object's random uid left out."""
    java = model._java_obj
    encoded = {}
    for param in java.params():
        if not java.isDefined(param):
            continue
        value = json.loads(param.jsonEncode(java.getOrDefault(param)))
        if isinstance(value, dict) and {"class", "uid", "paramMap"} <= value.keys():
            value.pop("uid")  # H2OMetrics objects get a new uid whenever they are made
        encoded[str(param.name())] = json.dumps(value, sort_keys=True)  # NaN as a token
    return encoded


def _h2o_predictions(model: Any, data: Any) -> list[dict[str, Any]]:
    columns = ["prediction", "detailed_prediction"]
    return [row.asDict(recursive=True) for row in model.transform(data).select(*columns).collect()]


def _mojo_stage_dir(model_dir: Path) -> Path:
    (stage,) = (model_dir / "sparkml" / "stages").iterdir()
    return stage


def test_the_h2o_model_folder_skips_the_views_and_loads_like_the_fitted_model(
    client: TrackingClient, frame: Any
) -> None:
    # Sparkling Water's writer stores the views it derives from the MOJO (DataFrames,
    # metrics objects) and spends seconds on them; sparktrack's folder leaves them out.
    from pyspark.ml import PipelineModel
    from pysparkling.ml import H2OGBM

    model = H2OGBM(
        labelCol="label", ntrees=3, maxDepth=3, seed=1, nfolds=2, keepCrossValidationModels=True
    ).fit(frame)
    run = _last_run(client)
    model_dir = Path(run.info.artifact_uri.removeprefix("file://")) / "model"
    stage_dir = _mojo_stage_dir(model_dir)
    metadata = json.loads((stage_dir / "metadata" / "part-00000").read_text())
    assert metadata["class"] == "ai.h2o.sparkling.ml.models.H2OGBMMOJOModel"
    assert metadata["uid"] == model.uid
    kept = metadata["paramMap"]
    for view in ("scoringHistory", "featureImportances", "modelSummary", "trainingMetricsObject"):
        assert view not in kept
    assert kept["modelDetails"] == model.getModelDetails()
    assert kept["featuresCols"] == ["a", "b"] and kept["numberOfCrossValidationModels"] == 2
    assert (stage_dir / "mojo_model").read_bytes()[:2] == b"PK"  # the MOJO, a zip
    for fold in ("0", "1"):
        assert (stage_dir / "cross_validation_models" / fold / "mojo_model").is_file()
    sample = frame.limit(20)
    expected = _h2o_predictions(model, sample)

    # What mlflow.spark.load_model does with the folder: Spark ML's PipelineModel.load.
    (plain,) = PipelineModel.load(str(model_dir / "sparkml")).stages
    assert type(plain).__name__ == "H2OGBMMOJOModel" and plain.uid == model.uid
    assert _h2o_predictions(plain, sample) == expected
    assert json.dumps(plain.getTrainingMetrics(), sort_keys=True) == json.dumps(
        model.getTrainingMetrics(), sort_keys=True
    )
    assert plain.getCrossValidationMetrics() and plain.getModelDetails() == model.getModelDetails()
    assert len(plain.getCrossValidationModels()) == 2
    assert plain.getScoringHistory() is None  # a view Sparkling Water's reader leaves unset

    # sparktrack's loader sets the views from the MOJO: every param as fitted.
    loaded = sparktrack.models.load_model(f"runs:/{run.info.run_id}/model").spark_model
    assert _params_as_encoded(loaded) == _params_as_encoded(model)
    assert _h2o_predictions(loaded, sample) == expected
    assert_df_equality(loaded.getScoringHistory(), model.getScoringHistory())
    assert loaded.getTrainingMetricsObject().getAUC() == model.getTrainingMetricsObject().getAUC()
    folds = zip(loaded.getCrossValidationModels(), model.getCrossValidationModels(), strict=True)
    for loaded_fold, fitted_fold in folds:
        assert _params_as_encoded(loaded_fold) == _params_as_encoded(fitted_fold)
        assert _h2o_predictions(loaded_fold, sample) == _h2o_predictions(fitted_fold, sample)


def test_a_folder_sparkling_waters_writer_wrote_loads_unchanged(
    client: TrackingClient, frame: Any
) -> None:
    # Models logged before sparktrack wrote the stage itself: every view in the metadata.
    from pysparkling.ml import H2OGBM

    model = H2OGBM(labelCol="label", ntrees=3, maxDepth=3, seed=1).fit(frame)
    run = _last_run(client)
    stage_dir = _mojo_stage_dir(Path(run.info.artifact_uri.removeprefix("file://")) / "model")
    shutil.rmtree(stage_dir)
    model.write().save(str(stage_dir))
    assert (
        "scoringHistory"
        in json.loads((stage_dir / "metadata" / "part-00000").read_text())["paramMap"]
    )
    loaded = sparktrack.models.load_model(f"runs:/{run.info.run_id}/model").spark_model
    assert _params_as_encoded(loaded) == _params_as_encoded(model)
    sample = frame.limit(20)
    assert _h2o_predictions(loaded, sample) == _h2o_predictions(model, sample)


def test_h2o_glm_in_a_pipeline(client: TrackingClient, frame: Any) -> None:
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import SQLTransformer
    from pysparkling.ml import H2OGLM

    pipeline = Pipeline(
        stages=[
            SQLTransformer(statement="SELECT *, a * b AS ab FROM __THIS__"),
            H2OGLM(labelCol="label", featuresCols=["a", "b", "ab"], family="binomial", seed=1),
        ]
    )
    pipeline.fit(frame)
    run = _last_run(client)
    assert run.info.run_name == "Pipeline"
    assert run.data.params["H2OGLM.family"] == "binomial"
    assert "training_AUC" in run.data.metrics
    mlmodel = yaml.safe_load(_artifact_text(client, run.info.run_id, "model/MLmodel"))
    assert mlmodel["flavors"]["h2o_mojo"]["mojo_path"].startswith("sparkml/stages/1_")
    assert len(client.search_runs(None)) == 1  # the GLM stage is not a run of its own


def test_h2o_kmeans_unsupervised(client: TrackingClient, frame: Any) -> None:
    from pysparkling.ml import H2OKMeans

    H2OKMeans(k=2, featuresCols=["a", "b"], seed=1).fit(frame)
    run = _last_run(client)
    assert run.data.params["k"] == "2"
    assert any(k.startswith("training_") for k in run.data.metrics)
    assert (
        "h2o_mojo"
        in yaml.safe_load(_artifact_text(client, run.info.run_id, "model/MLmodel"))["flavors"]
    )


def test_h2o_grid_search_has_a_child_per_model_and_logs_the_best(
    client: TrackingClient, frame: Any
) -> None:
    from pysparkling.ml import H2OGBM, H2OGridSearch

    grid = H2OGridSearch(
        algo=H2OGBM(labelCol="label", ntrees=3, seed=1),
        hyperParameters={"maxDepth": [2, 4]},
        seed=1,
    )
    best = grid.fit(frame)
    parent = _last_run(client)
    children = _children(client, parent.info.run_id)
    assert len(children) == 2
    assert {c.data.params["maxDepth"] for c in children} == {"2", "4"}
    assert all(c.info.status == "FINISHED" and "AUC" in c.data.metrics for c in children)
    assert parent.data.tags["sparktrack.best_run_id"] in {c.info.run_id for c in children}
    assert "grid_results.csv" in {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert "training_AUC" in parent.data.metrics  # the best model's metrics
    mlmodel = yaml.safe_load(_artifact_text(client, parent.info.run_id, "model/MLmodel"))
    assert mlmodel["flavors"]["spark"]["wrapped_model_class"] == (
        f"{type(best).__module__}.{type(best).__qualname__}"
    )


def test_h2o_automl_logs_the_leaderboard_capped_children_and_the_leader(
    client: TrackingClient, frame: Any
) -> None:
    from pysparkling.ml import H2OAutoML

    sparktrack.autolog(max_tuning_runs=1)
    automl = H2OAutoML(
        labelCol="label",
        maxModels=2,
        maxRuntimeSecs=30,
        seed=1,
        includeAlgos=["GLM", "GBM"],
        nfolds=2,
    )
    automl.fit(frame)
    parent = _last_run(client)
    leaderboard = _artifact_text(client, parent.info.run_id, "leaderboard.csv")
    assert "model_id" in leaderboard.splitlines()[0]
    children = _children(client, parent.info.run_id)
    assert len(children) == 1  # capped by max_tuning_runs
    assert children[0].data.params["leaderboard_rank"] == "0"
    assert parent.data.metrics["automl_models"] >= 1
    assert (
        "h2o_mojo"
        in yaml.safe_load(_artifact_text(client, parent.info.run_id, "model/MLmodel"))["flavors"]
    )


def test_a_logging_failure_never_breaks_the_fit(
    client: TrackingClient, frame: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pysparkling.ml import H2OGBM

    from sparktrack.autologging import _h2o

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.delenv("SPARKTRACK_AUTOLOG_TESTING")
    monkeypatch.setattr(_h2o, "log_model_details", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = H2OGBM(labelCol="label", ntrees=3, seed=1).fit(frame)
        sparktrack.flush()
    assert model.transform(frame).count() == 200
    assert any(issubclass(w.category, AutologWarning) for w in caught)
    run = _last_run(client)
    assert run.info.status == "FINISHED" and run.data.params["ntrees"] == "3"


def test_importing_sparktrack_and_autolog_do_not_import_pysparkling() -> None:
    code = (
        "import sys, sparktrack; sparktrack.autolog(); "
        "assert 'pysparkling' not in sys.modules, 'pysparkling imported'; "
        "assert 'h2o' in sparktrack.autologging.enabled_integrations()"
    )
    run_child(python("-c", code), timeout=120)


def test_missing_pysparkling_and_java_options_are_configuration_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    from sparktrack import h2o
    from sparktrack.errors import ConfigurationError

    class _Conf:
        def get(self, key: str, default: str = "") -> str:
            return default

    class _Context:
        master = "local[2]"

        def getConf(self) -> _Conf:
            return _Conf()

    class _Session:
        sparkContext = _Context()

    with pytest.raises(ConfigurationError, match=r"spark\.driver\.extraJavaOptions=--add-exports"):
        h2o._check_java_options(_Session())  # type: ignore[arg-type]
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pysparkling" else real(name)
    )
    with pytest.raises(ConfigurationError, match=r"pip install 'sparktrack\[h2o\]'"):
        h2o.check_h2o_available()


def test_h2o_gbm_sweep_where_cross_validator_fails(client: TrackingClient, spark: Any) -> None:
    from pyspark.ml.evaluation import RegressionEvaluator
    from pysparkling.ml import H2OGBM

    rows = [(float(i % 9), float((i * 7) % 4), 3.0 * (i % 9) - (i * 7) % 4) for i in range(120)]
    data = spark.createDataFrame(rows, "a double, b double, y double")
    train, valid = data.randomSplit([0.75, 0.25], seed=5)
    result = sparktrack.sweep(
        H2OGBM(labelCol="y", seed=1),
        {"ntrees": [2, 8], "maxDepth": [2, 4]},
        train=train,
        valid=valid,
        evaluator=RegressionEvaluator(labelCol="y", metricName="rmse"),
        strategy="grid",
        parallelism=1,
        progress=False,
    )
    assert sorted(result.trials["state"]) == ["complete"] * 4
    assert result.mode == "min"
    assert result.best_metric == result.trials["value"].min()
    assert type(result.best_model).__name__ == "H2OGBMMOJOModel"
    sparktrack.flush()
    runs = client.search_runs(None)
    assert len(runs) == 5  # the sweep and four trials: autolog stayed out of the fits
    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    assert "model" in artifacts
