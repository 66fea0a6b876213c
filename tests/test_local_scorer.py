"""The numpy scorer gives what Spark's transform gives, and rejects what Spark rejects."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sparktrack import InvalidInputError
from sparktrack.models import (
    ColSpec,
    LoadedModel,
    Model,
    ModelSignature,
    signature_for_spark_model,
)
from sparktrack.models._local_scorer import LocalScoringUnsupported, compile_local_scorer
from tests._spark_parity import assert_parity

ROWS = 300
FEATURES = ["x0", "x1", "x2", "x3"]


def _training_frame(rows: int = ROWS, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(rows, len(FEATURES))) * [1.0, 5.0, 0.1, 2.0] + [0.0, 3.0, 0.0, -1.0]
    data[rng.random(size=data.shape) < 0.3] = 0.0  # zeros make Spark assemble sparse vectors
    frame = pd.DataFrame(data, columns=FEATURES)
    frame["color"] = rng.choice(["red", "green", "blue"], size=rows)
    score = data @ [1.0, -0.3, 4.0, 0.5] + (frame["color"] == "red") * 0.8
    frame["label"] = (score > np.median(score)).astype(float)
    frame["klass"] = np.digitize(score, np.quantile(score, [0.33, 0.66])).astype(float)
    frame["target"] = score + rng.normal(scale=0.1, size=rows)
    return frame


@pytest.fixture(scope="module")
def training(spark: Any) -> tuple[pd.DataFrame, Any]:
    frame = _training_frame()
    return frame, spark.createDataFrame(frame)


def _loaded(model: Any, schema: Any, labels: tuple[str, ...] = ()) -> LoadedModel:
    signature = signature_for_spark_model(model, schema, ["label", "klass", "target", *labels])
    return LoadedModel(Model(signature=signature), model, "test")


def _spark_outputs(model: Any, spark: Any, frame: pd.DataFrame, columns: list[str]) -> Any:
    rows = model.transform(spark.createDataFrame(frame)).select(*columns).collect()
    return {c: [row[i] for row in rows] for i, c in enumerate(columns)}


def _assert_same(
    local: pd.DataFrame | pd.Series, spark_out: dict[str, list[Any]], exact: set[str]
) -> None:
    if isinstance(local, pd.Series):
        local = local.to_frame()
    for column, expected in spark_out.items():
        got = local[column].tolist()
        assert len(got) == len(expected)
        for g, e in zip(got, expected, strict=True):
            e = e.toArray().tolist() if hasattr(e, "toArray") else e
            if column in exact:
                assert g == e or (math.isnan(g) and math.isnan(e)), column
            else:
                assert np.allclose(g, e, rtol=0, atol=1e-9, equal_nan=True), column


def _with_outputs(loaded: LoadedModel, outputs: list[str]) -> LoadedModel:
    """The same model, asked for several output columns."""
    assert loaded.signature is not None
    signature = ModelSignature(
        inputs=loaded.signature.inputs, outputs=[ColSpec(c, "double") for c in outputs]
    )
    return LoadedModel(Model(signature=signature), loaded.spark_model, "test")


def _lr_pipeline(training: tuple[pd.DataFrame, Any], **lr: Any) -> Any:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import StandardScaler, VectorAssembler

    return Pipeline(
        stages=[
            VectorAssembler(inputCols=FEATURES, outputCol="features"),
            StandardScaler(inputCol="features", outputCol="scaled", withMean=True),
            LogisticRegression(featuresCol="scaled", maxIter=5, **lr),
        ]
    ).fit(training[1])


def _with_params(pipeline: Any, **params: Any) -> Any:
    """The fitted pipeline with params of its last stage changed (no refit)."""
    from pyspark.ml import PipelineModel

    *head, last = pipeline.stages
    extra = {last.getParam(name): value for name, value in params.items()}
    return PipelineModel([*head, last.copy(extra)])


@pytest.fixture(scope="module")
def binary(training: Any) -> Any:
    return _lr_pipeline(training)


@pytest.fixture(scope="module")
def multinomial(training: Any) -> Any:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import MinMaxScaler, OneHotEncoder, StringIndexer, VectorAssembler

    return Pipeline(
        stages=[
            StringIndexer(inputCol="color", outputCol="color_index"),
            OneHotEncoder(inputCols=["color_index"], outputCols=["color_vector"]),
            VectorAssembler(inputCols=[*FEATURES, "color_vector"], outputCol="features"),
            MinMaxScaler(inputCol="features", outputCol="scaled"),
            LogisticRegression(featuresCol="scaled", labelCol="klass", maxIter=5),
        ]
    ).fit(training[1])


@pytest.mark.spark
def test_binary_logistic_pipeline_matches_transform(spark: Any, training: Any, binary: Any) -> None:
    loaded = _with_outputs(
        _loaded(binary, training[1].schema), ["prediction", "probability", "rawPrediction"]
    )
    assert loaded.local_scorer is not None
    frame = training[0][FEATURES]
    local = loaded.predict(frame, engine="local")
    spark_out = _spark_outputs(binary, spark, frame, ["prediction", "probability", "rawPrediction"])
    _assert_same(local, spark_out, exact={"prediction"})
    # The default engine is the local one; Spark gives the same predictions.
    assert loaded.predict(frame)["prediction"].tolist() == spark_out["prediction"]
    assert loaded.predict(frame, engine="spark")["prediction"].tolist() == spark_out["prediction"]


@pytest.mark.spark
@pytest.mark.parametrize(
    "params",
    [
        {"threshold": 0.3},
        {"thresholds": [0.7, 0.3]},
        {"rawPredictionCol": ""},  # prediction from the probability
        {"rawPredictionCol": "", "probabilityCol": ""},  # prediction directly
    ],
)
def test_logistic_variants_match_transform(
    spark: Any, training: Any, binary: Any, params: dict[str, Any]
) -> None:
    model = _with_params(binary, **params)
    outputs = ["prediction"] + [
        c for c in ("probability", "rawPrediction") if params.get(f"{c}Col", c)
    ]
    loaded = _with_outputs(_loaded(model, training[1].schema), outputs)
    frame = training[0][FEATURES]
    _assert_same(
        loaded.predict(frame, engine="local"),
        _spark_outputs(model, spark, frame, outputs),
        exact={"prediction"},
    )


@pytest.mark.spark
def test_multinomial_family_on_two_classes(spark: Any, training: Any) -> None:
    model = _lr_pipeline(training, family="multinomial")  # a row of coefficients per class
    outputs = ["prediction", "probability", "rawPrediction"]
    loaded = _with_outputs(_loaded(model, training[1].schema), outputs)
    frame = training[0][FEATURES]
    _assert_same(
        loaded.predict(frame, engine="local"),
        _spark_outputs(model, spark, frame, outputs),
        exact={"prediction"},
    )


@pytest.mark.spark
@pytest.mark.parametrize("thresholds", [None, [0.5, 0.2, 0.9]])
def test_multinomial_with_categorical_features(
    spark: Any, training: Any, multinomial: Any, thresholds: list[float] | None
) -> None:
    model = _with_params(multinomial, thresholds=thresholds) if thresholds else multinomial
    outputs = ["prediction", "probability", "rawPrediction", "color_index"]
    loaded = _with_outputs(_loaded(model, training[1].schema), outputs)
    assert loaded.local_scorer is not None
    assert loaded.signature is not None
    assert loaded.signature.input_names == [*FEATURES, "color"]
    frame = training[0][[*FEATURES, "color"]]
    _assert_same(
        loaded.predict(frame, engine="local"),
        _spark_outputs(model, spark, frame, outputs),
        exact={"prediction", "color_index"},
    )


@pytest.mark.spark
def test_linear_regression_keeps_missing_values_as_spark_does(spark: Any, training: Any) -> None:
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.regression import LinearRegression

    model = Pipeline(
        stages=[
            VectorAssembler(inputCols=FEATURES, outputCol="features", handleInvalid="keep"),
            LinearRegression(labelCol="target", maxIter=5),
        ]
    ).fit(training[1])
    loaded = _loaded(model, training[1].schema)
    frame = training[0][FEATURES].copy()
    frame.loc[[3, 10], "x1"] = np.nan  # null for Spark: kept as NaN by the assembler
    local = loaded.predict(frame, engine="local")
    expected = _spark_outputs(model, spark, frame, ["prediction"])["prediction"]
    assert np.isnan(local[3]) and np.isnan(local[10])
    _assert_same(local, {"prediction": expected}, exact={"prediction"})


@pytest.mark.spark
def test_missing_values_are_rejected_like_spark_rejects_them(
    spark: Any, training: Any, binary: Any
) -> None:
    loaded = _loaded(binary, training[1].schema)
    frame = training[0][FEATURES].head(5).copy()
    frame.loc[2, "x3"] = None
    with pytest.raises(InvalidInputError, match=r"'x3' is null or NaN in row 2.*handleInvalid"):
        loaded.predict(frame)
    with pytest.raises(Exception, match="Encountered null while assembling"):
        loaded.predict(frame, engine="spark")


@pytest.mark.spark
def test_unseen_labels(spark: Any, training: Any) -> None:
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import StringIndexer

    indexer = StringIndexer(inputCol="color", outputCol="color_index")
    strict = LoadedModel(Model(), Pipeline(stages=[indexer]).fit(training[1]), "test")
    with pytest.raises(InvalidInputError, match=r"'color' holds the unseen label 'purple' in row"):
        strict.predict(pd.DataFrame({"color": ["red", "purple"]}), engine="local")
    with pytest.raises(InvalidInputError, match=r"'color' holds null in row 0"):
        strict.predict(pd.DataFrame({"color": [None, "red"]}), engine="local")
    keep = Pipeline(stages=[indexer.copy().setHandleInvalid("keep")]).fit(training[1])
    lenient = LoadedModel(Model(), keep, "test")
    frame = pd.DataFrame({"color": ["red", "purple", None, "blue"]})
    expected = _spark_outputs(keep, spark, frame, ["color_index"])["color_index"]
    assert lenient.predict(frame, engine="local").tolist() == expected
    assert expected[1] == expected[2] == 3.0


@pytest.mark.spark
def test_unsupported_stages_and_inputs_fall_back_to_spark(spark: Any, training: Any) -> None:
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import Binarizer

    binarizer = Binarizer(threshold=0.0, inputCol="x0", outputCol="positive")
    model = Pipeline(stages=[binarizer]).fit(training[1])
    with pytest.raises(LocalScoringUnsupported, match="Binarizer"):
        compile_local_scorer(model)
    loaded = LoadedModel(Model(), model, "test")
    assert loaded.local_scorer is None
    assert "Binarizer" in str(loaded.local_scoring_unsupported)
    frame = pd.DataFrame({"x0": [-1.0, 2.0]})
    assert loaded.predict(frame).tolist() == [0.0, 1.0]
    with pytest.raises(InvalidInputError, match=r"Binarizer.*engine='spark'"):
        loaded.predict(frame, engine="local")

    # A null vector input: the local scorer leaves it to Spark.
    from pyspark.ml.regression import LinearRegression

    linear = LinearRegression(labelCol="target", featuresCol="v", maxIter=3)
    vectors = spark.createDataFrame(
        [([1.0, 2.0], 1.0), ([0.5, 0.0], 2.0), ([2.0, 1.0], 2.5)], "v array<double>, target double"
    )
    from pyspark.ml.functions import array_to_vector

    fitted = linear.fit(vectors.withColumn("v", array_to_vector("v")))
    scorer_model = LoadedModel(Model(), fitted, "test")
    frame = pd.DataFrame({"v": [[1.0, 2.0], [3.0, 1.0]]})
    local = scorer_model.predict(frame, engine="local")
    assert local.tolist() == pytest.approx(scorer_model.predict(frame, engine="spark").tolist())
    with pytest.raises(InvalidInputError, match="null vector"):
        scorer_model.predict(pd.DataFrame({"v": [None, [1.0, 2.0]]}), engine="local")


@pytest.mark.spark
def test_a_pipeline_inside_a_pipeline_is_flattened(spark: Any, training: Any) -> None:
    """pyspark saves a pipeline holding a pipeline with its own writer, under its Python
    class name: the reader follows it like Spark's."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import StringIndexer, VectorAssembler

    inner = Pipeline(
        stages=[
            StringIndexer(inputCol="color", outputCol="color_index"),
            VectorAssembler(inputCols=[*FEATURES, "color_index"], outputCol="features"),
        ]
    )
    model = Pipeline(stages=[inner, LogisticRegression(maxIter=5)]).fit(training[1])
    scorer = assert_parity(
        model, spark, training[0].head(60), close=["probability", "rawPrediction"]
    )
    assert [type(stage).__name__ for stage in scorer.stages] == [
        "StringIndexer",
        "Assembler",
        "LogisticRegression",
    ]
