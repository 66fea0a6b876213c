"""The numpy scorer's linear models, GLMs, LinearSVC, NaiveBayes and KMeans against Spark.

Property-based: hypothesis draws small datasets (20-200 rows, some with many zeros so
VectorAssembler hands on sparse vectors) and hyperparameters, Spark fits the model,
and ``assert_parity`` compares the saved-and-compiled model's outputs with Spark's
``transform``: predicted labels and clusters equal, numbers within 1e-9 relative (see
each stage's module docstring for why). Params that only matter at scoring (links,
thresholds, output columns) are varied on the fitted model without refitting.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sparktrack import InvalidInputError
from tests._spark_parity import SPARK_EXAMPLES, assert_parity, saved_scorer

pytestmark = pytest.mark.spark

PROBABILISTIC = ("rawPrediction", "probability")


def _features(seed: int, rows: int, size: int, zeros: float) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(rows, size)) * rng.uniform(0.1, 5.0, size) + rng.normal(size=size)
    data[rng.random(size=data.shape) < zeros] = 0.0
    return pd.DataFrame(data, columns=[f"x{j}" for j in range(size)]), data


@st.composite
def datasets(draw: Any, max_size: int = 5) -> tuple[pd.DataFrame, np.ndarray, np.random.Generator]:
    """Feature columns x0..xN (some rows mostly zeros), their matrix and a generator."""
    seed = draw(st.integers(0, 2**32 - 1))
    frame, data = _features(
        seed,
        draw(st.integers(20, 200)),
        draw(st.integers(1, max_size)),
        draw(st.sampled_from([0.0, 0.3, 0.8])),
    )
    return frame, data, np.random.default_rng(seed + 1)


def _fit(
    spark: Any, frame: pd.DataFrame, estimator: Any, assembler: dict[str, Any] | None = None
) -> Any:
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler

    columns = [c for c in frame.columns if c.startswith("x")]
    assemble = VectorAssembler(inputCols=columns, outputCol="features", **(assembler or {}))
    return Pipeline(stages=[assemble, estimator]).fit(spark.createDataFrame(frame))


def _with_params(pipeline: Any, **params: Any) -> Any:
    """The fitted pipeline with params of its last stage changed (no refit)."""
    from pyspark.ml import PipelineModel

    *head, last = pipeline.stages
    return PipelineModel([*head, last.copy({last.getParam(k): v for k, v in params.items()})])


def _score(data: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return data @ rng.normal(size=data.shape[1]) + rng.normal(scale=0.3, size=data.shape[0])


# -- LinearRegression, LogisticRegression, LinearSVC ---------------------------------------
@settings(SPARK_EXAMPLES, max_examples=2)
@given(
    data=datasets(),
    reg=st.sampled_from([0.0, 0.1]),
    elastic=st.sampled_from([0.0, 0.5, 1.0]),
    weighted=st.booleans(),
    intercept=st.booleans(),
)
def test_linear_regression(
    spark: Any, data: Any, reg: float, elastic: float, weighted: bool, intercept: bool
) -> None:
    from pyspark.ml.regression import LinearRegression

    frame, x, rng = data
    frame["label"] = _score(x, rng)
    frame["weight"] = rng.uniform(0.1, 3.0, size=len(frame))
    estimator = LinearRegression(
        regParam=reg, elasticNetParam=elastic, fitIntercept=intercept, maxIter=10
    )
    if weighted:
        estimator.setWeightCol("weight")
    assert_parity(_fit(spark, frame, estimator), spark, frame, exact=(), close=["prediction"])


@settings(SPARK_EXAMPLES, max_examples=3)
@given(
    data=datasets(),
    classes=st.integers(2, 4),
    family=st.sampled_from(["auto", "binomial", "multinomial"]),
    reg=st.sampled_from([0.0, 0.05]),
    elastic=st.sampled_from([0.0, 1.0]),
    cut=st.floats(0.05, 0.95),
)
def test_logistic_regression(
    spark: Any, data: Any, classes: int, family: str, reg: float, elastic: float, cut: float
) -> None:
    from pyspark.ml.classification import LogisticRegression

    frame, x, rng = data
    if family == "binomial":
        classes = 2
    score = _score(x, rng)
    frame["label"] = np.digitize(score, np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1]))
    frame["label"] = frame["label"].astype(float)
    estimator = LogisticRegression(family=family, regParam=reg, elasticNetParam=elastic, maxIter=10)
    model = _fit(spark, frame, estimator)
    assert_parity(model, spark, frame, close=PROBABILISTIC)
    # Thresholds change only the prediction, whichever column Spark predicts from: the raw
    # margin, the probability, or the features directly (tests/test_local_scorer.py
    # covers the binomial threshold without the raw column).
    thresholds = list(rng.uniform(0.1, 1.0, size=classes))
    variants: list[dict[str, Any]] = [
        {"thresholds": thresholds},
        {"thresholds": thresholds, "rawPredictionCol": ""},
        {"thresholds": thresholds, "rawPredictionCol": "", "probabilityCol": ""},
    ]
    if classes == 2:
        variants.append({"threshold": cut})
    for params in variants:
        close = [c for c in PROBABILISTIC if params.get(f"{c}Col", c)]
        assert_parity(_with_params(model, **params), spark, frame, close=close)


@settings(SPARK_EXAMPLES, max_examples=2)
@given(
    data=datasets(),
    reg=st.sampled_from([0.0, 0.01, 0.3]),
    intercept=st.booleans(),
    threshold=st.floats(-1.0, 1.0),
)
def test_linear_svc(spark: Any, data: Any, reg: float, intercept: bool, threshold: float) -> None:
    from pyspark.ml.classification import LinearSVC

    frame, x, rng = data
    frame["label"] = (_score(x, rng) > 0).astype(float)
    model = _fit(spark, frame, LinearSVC(regParam=reg, fitIntercept=intercept, maxIter=10))
    assert_parity(model, spark, frame, close=["rawPrediction"])
    assert_parity(_with_params(model, threshold=threshold), spark, frame, close=["rawPrediction"])
    assert_parity(_with_params(model, threshold=threshold, rawPredictionCol=""), spark, frame)


# -- GeneralizedLinearRegression -----------------------------------------------------------
LINKS = {
    "gaussian": ["identity", "log", "inverse"],
    "binomial": ["logit", "probit", "cloglog"],
    "poisson": ["log", "identity", "sqrt"],
    "gamma": ["inverse", "identity", "log"],
}


def _glm_labels(family: str, eta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if family == "gaussian":
        return eta
    if family == "binomial":
        return (rng.random(eta.shape) < 1 / (1 + np.exp(-eta))).astype(float)
    mean = np.exp(np.clip(eta, -3, 3))
    if family == "poisson":
        return rng.poisson(mean).astype(float)
    return rng.gamma(2.0, mean / 2.0) + 1e-3  # gamma and tweedie: positive


@pytest.mark.parametrize("family", sorted(LINKS))
@settings(SPARK_EXAMPLES, max_examples=1)
@given(
    data=datasets(max_size=4),
    offset=st.booleans(),
    reg=st.sampled_from([0.0, 0.1]),
)
def test_generalized_linear_regression(
    spark: Any, data: Any, family: str, offset: bool, reg: float
) -> None:
    from pyspark.ml.regression import GeneralizedLinearRegression

    frame, x, rng = data
    eta = _score(x / (1 + np.abs(x).max(axis=0)), rng)
    frame["label"] = _glm_labels(family, eta, rng)
    frame["offset"] = rng.uniform(-0.2, 0.2, size=len(frame))
    estimator = GeneralizedLinearRegression(family=family, regParam=reg, maxIter=10)
    if offset:
        estimator.setOffsetCol("offset")
    model = _fit(spark, frame, estimator)  # fitted with the family's default link
    for link in LINKS[family]:
        varied = _with_params(model, link=link, linkPredictionCol="eta")
        assert_parity(varied, spark, frame, exact=(), close=["prediction", "eta"])
    assert_parity(model, spark, frame, exact=(), close=["prediction"])


@settings(SPARK_EXAMPLES, max_examples=2)
@given(
    data=datasets(max_size=4),
    variance=st.sampled_from([0.0, 1.0, 1.5, 2.0, 2.5]),
    powers=st.lists(st.sampled_from([0.0, 1.0, -1.0, 0.5, 0.3, -0.5]), min_size=2, max_size=3),
)
def test_tweedie(spark: Any, data: Any, variance: float, powers: list[float]) -> None:
    from pyspark.ml.regression import GeneralizedLinearRegression

    frame, x, rng = data
    frame["label"] = _glm_labels("gamma", _score(x / (1 + np.abs(x).max(axis=0)), rng), rng)
    estimator = GeneralizedLinearRegression(
        family="tweedie", variancePower=variance, linkPower=0.0, maxIter=10
    )
    model = _fit(spark, frame, estimator)
    for power in powers:
        varied = _with_params(model, linkPower=power, linkPredictionCol="eta")
        assert_parity(varied, spark, frame, exact=(), close=["prediction", "eta"])


@pytest.mark.parametrize("variance", [1.5, 2.0])
def test_tweedie_default_link_is_one_minus_variance_power(spark: Any, variance: float) -> None:
    from pyspark.ml.regression import GeneralizedLinearRegression

    frame, x = _features(3, 80, 2, 0.0)
    rng = np.random.default_rng(4)
    frame["label"] = _glm_labels("gamma", _score(x / (1 + np.abs(x).max(axis=0)), rng), rng)
    estimator = GeneralizedLinearRegression(family="tweedie", variancePower=variance, maxIter=10)
    assert_parity(_fit(spark, frame, estimator), spark, frame, exact=(), close=["prediction"])


# -- NaiveBayes ----------------------------------------------------------------------------
def _nb_features(model_type: str, data: np.ndarray) -> np.ndarray:
    if model_type == "gaussian":
        return data
    if model_type == "bernoulli":
        return (data > 0).astype(float)
    return np.round(np.abs(data) * 2)  # counts


@pytest.mark.parametrize("model_type", ["multinomial", "complement", "bernoulli", "gaussian"])
@settings(SPARK_EXAMPLES, max_examples=1)
@given(
    data=datasets(),
    classes=st.integers(2, 4),
    smoothing=st.sampled_from([0.5, 1.0, 2.0]),
)
def test_naive_bayes(
    spark: Any, data: Any, model_type: str, classes: int, smoothing: float
) -> None:
    from pyspark.ml.classification import NaiveBayes

    frame, x, rng = data
    x = _nb_features(model_type, x)
    frame[[c for c in frame.columns]] = x
    score = _score(x, rng)
    frame["label"] = np.digitize(score, np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1]))
    frame["label"] = frame["label"].astype(float)
    estimator = NaiveBayes(modelType=model_type, smoothing=smoothing)
    model = _fit(spark, frame, estimator)
    assert_parity(model, spark, frame, close=PROBABILISTIC)
    thresholds = list(rng.uniform(0.1, 1.0, size=int(frame["label"].max()) + 1))
    for outputs in ({}, {"rawPredictionCol": ""}):
        varied = _with_params(model, thresholds=thresholds, **outputs)
        close = [c for c in PROBABILISTIC if outputs.get(f"{c}Col", c)]
        assert_parity(varied, spark, frame, close=close)


# -- KMeans --------------------------------------------------------------------------------
@settings(SPARK_EXAMPLES, max_examples=4)
@given(
    data=datasets(),
    k=st.integers(2, 6),
    measure=st.sampled_from(["euclidean", "cosine"]),
    seed=st.integers(0, 1000),
)
def test_kmeans(spark: Any, data: Any, k: int, measure: str, seed: int) -> None:
    from pyspark.ml.clustering import KMeans

    frame, x, _ = data
    if measure == "cosine":  # Spark rejects zero vectors under the cosine distance
        frame.loc[~x.any(axis=1), "x0"] = 1.0
    model = _fit(spark, frame, KMeans(k=k, distanceMeasure=measure, seed=seed, maxIter=5))
    assert_parity(model, spark, frame)


def test_kmeans_near_ties_follow_sparks_shortcut(spark: Any) -> None:
    """Points equidistant from two centers, sparse and dense: Spark's bounds and its
    fast distance decide, and the first center wins exact ties."""
    from pyspark.ml.clustering import KMeans

    frame, _ = _features(11, 60, 6, 0.6)
    model = _fit(spark, frame, KMeans(k=4, seed=1, maxIter=3))
    centers = model.stages[-1].clusterCenters()
    midpoints = [(centers[i] + centers[j]) / 2 for i in range(4) for j in range(i + 1, 4)]
    probes = pd.DataFrame(np.array(midpoints), columns=frame.columns)
    sparse = probes.copy()
    sparse.iloc[:, 1:] = 0.0  # assembled as sparse vectors: the dot-product shortcut
    for points in (probes, sparse, frame):
        assert_parity(model, spark, points)


# -- what Spark rejects, and missing values ------------------------------------------------
def test_nan_features_flow_through_as_spark_lets_them(spark: Any) -> None:
    from pyspark.ml.classification import LinearSVC, NaiveBayes
    from pyspark.ml.regression import GeneralizedLinearRegression, LinearRegression

    frame, x = _features(5, 60, 3, 0.0)
    rng = np.random.default_rng(6)
    frame["label"] = (_score(x, rng) > 0).astype(float)
    probes = frame.head(6).copy()
    probes.loc[[1, 4], "x1"] = np.nan  # null for Spark; the assembler keeps it as NaN
    keep = {"handleInvalid": "keep"}
    for estimator, close in [
        (LinearRegression(maxIter=5), ["prediction"]),
        (GeneralizedLinearRegression(family="binomial", maxIter=5), ["prediction"]),
        (LinearSVC(maxIter=5), ["rawPrediction"]),
        (NaiveBayes(modelType="gaussian"), list(PROBABILISTIC)),
    ]:
        model = _fit(spark, frame, estimator, keep)
        exact = () if "prediction" in close else ("prediction",)
        scorer = assert_parity(model, spark, probes, exact=exact, close=close)
        assert scorer is not None


def _spark_fails(model: Any, spark: Any, frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(Exception, match=message):
        model.transform(spark.createDataFrame(frame)).collect()


def test_rows_spark_rejects_raise_naming_column_and_row(spark: Any) -> None:
    from pyspark.ml.classification import NaiveBayes
    from pyspark.ml.clustering import KMeans

    frame, x = _features(7, 50, 3, 0.3)
    frame[list(frame.columns)] = (x > 0).astype(float)
    frame["label"] = frame["x0"]
    bernoulli = _fit(spark, frame, NaiveBayes(modelType="bernoulli"))
    bad = frame.head(5).copy()
    bad.loc[3, "x2"] = 2.0
    _spark_fails(bernoulli, spark, bad, "Bernoulli naive Bayes requires 0 or 1")
    with pytest.raises(InvalidInputError, match=r"'features'.*row 3 .*holds 2\.0"):
        saved_scorer(bernoulli).transform(
            {c: bad[c].to_numpy(dtype=float) for c in bad.columns}, len(bad)
        )

    multinomial = _fit(spark, frame, NaiveBayes())
    bad.loc[3, "x2"] = -1.0
    _spark_fails(multinomial, spark, bad, "requires nonnegative feature values")
    with pytest.raises(InvalidInputError, match=r"non-negative.*'features'.*row 3"):
        saved_scorer(multinomial).transform(
            {c: bad[c].to_numpy(dtype=float) for c in bad.columns}, len(bad)
        )

    keep = {"handleInvalid": "keep"}
    frame.loc[~frame[["x0", "x1", "x2"]].to_numpy().any(axis=1), "x0"] = 1.0
    for measure, bad_value, spark_message in [
        ("euclidean", np.nan, "requirement failed"),
        ("cosine", 0.0, "Cosine distance is not defined for zero-length vectors"),
    ]:
        kmeans = _fit(spark, frame, KMeans(k=2, distanceMeasure=measure, seed=3), keep)
        probes = frame.head(4).copy()
        probes.loc[2, ["x0", "x1", "x2"]] = [bad_value, 0.0, 0.0]
        _spark_fails(kmeans, spark, probes, spark_message)
        with pytest.raises(InvalidInputError, match=r"row 2 .*'features'"):
            saved_scorer(kmeans).transform(
                {c: probes[c].to_numpy(dtype=float) for c in probes.columns}, len(probes)
            )


def test_wrong_vector_size_is_rejected(spark: Any) -> None:
    from pyspark.ml.classification import LinearSVC, NaiveBayes
    from pyspark.ml.clustering import KMeans
    from pyspark.ml.functions import array_to_vector
    from pyspark.ml.regression import GeneralizedLinearRegression

    rows = [([float(i % 3), float(i % 5), 1.0], float(i % 2)) for i in range(30)]
    train = spark.createDataFrame(rows, "v array<double>, label double").withColumn(
        "v", array_to_vector("v")
    )
    wrong = spark.createDataFrame([([1.0, 2.0],)], "v array<double>").withColumn(
        "v", array_to_vector("v")
    )
    for estimator in [
        GeneralizedLinearRegression(featuresCol="v", family="poisson", maxIter=5),
        LinearSVC(featuresCol="v", maxIter=5),
        NaiveBayes(featuresCol="v"),
        KMeans(featuresCol="v", k=2, seed=1),
    ]:
        model = estimator.fit(train)
        with pytest.raises(Exception):  # noqa: B017 - Spark's own error, whatever its class
            model.transform(wrong).collect()
        with pytest.raises(InvalidInputError, match=r"vectors of 3 values from column 'v', got 2"):
            saved_scorer(model).transform({"v": np.array([[1.0, 2.0]])}, 1)


def test_glm_offset_is_read_and_a_missing_one_goes_to_spark(spark: Any) -> None:
    from pyspark.ml.regression import GeneralizedLinearRegression

    from sparktrack.models._local_scorer import LocalScoringUnsupported

    frame, x = _features(9, 60, 2, 0.0)
    rng = np.random.default_rng(10)
    frame["label"] = _glm_labels("poisson", _score(x / 4, rng), rng)
    frame["offset"] = rng.uniform(-1, 1, size=len(frame))
    estimator = GeneralizedLinearRegression(family="poisson", offsetCol="offset", maxIter=10)
    model = _with_params(_fit(spark, frame, estimator), linkPredictionCol="eta")
    scorer = assert_parity(model, spark, frame, exact=(), close=["prediction", "eta"])
    assert "offset" in scorer.inputs
    columns = {c: frame[c].to_numpy(dtype=float, copy=True) for c in frame.columns}
    columns["offset"][2] = np.nan
    with pytest.raises(LocalScoringUnsupported, match="missing offset"):
        scorer.transform(columns, len(frame))
