"""The feature stages of the numpy scorer against Spark 3.5's transform.

Each property test draws small datasets (20 to 200 rows) and the stages' params with
hypothesis, fits the stages with Spark, saves them, compiles the save without Spark
and compares every output column with Spark's ``transform`` (``assert_parity``).

Exactness, per stage (bit-equal: the same IEEE operations in Spark's order):

* bit-equal: VectorAssembler, StandardScaler, MinMaxScaler, MaxAbsScaler, Normalizer
  with p = 1, 2 or infinity, Imputer, Bucketizer (and QuantileDiscretizer's),
  StringIndexer, OneHotEncoder, ElementwiseProduct, Interaction, SQLTransformer
  (selections and renames).
* within 1e-9 relative: Normalizer with another p (Java's Math.pow against the C
  library's pow) and PCA (Spark's Java BLAS accumulates with fused multiply-adds on
  Java 11 and later; numpy has none).

Edge cases: nulls and NaN, unseen labels and categories, values outside the buckets,
strings where numbers are read, and inputs only Spark can judge
(LocalScoringUnsupported: the caller then scores with Spark).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from sparktrack import InvalidInputError
from sparktrack.models._local_projections import parse_selection
from sparktrack.models._local_scorer import LocalScoringUnsupported
from tests._spark_parity import SPARK_EXAMPLES, assert_parity, saved_scorer

pytestmark = pytest.mark.spark

# No shrinking: each step refits with Spark (minutes); the failing example is printed.
EXAMPLES = settings(SPARK_EXAMPLES, max_examples=6, phases=[Phase.explicit, Phase.generate])


def _numbers(seed: int, rows: int, columns: int, *, zeros: float = 0.3) -> pd.DataFrame:
    """Random doubles of mixed scales, with exact zeros (Spark then stores vectors sparse)."""
    rng = np.random.default_rng(seed)
    scales = rng.choice([1e-3, 1.0, 7.0, 1e4], size=columns)
    data = rng.normal(size=(rows, columns)) * scales + rng.normal(size=columns)
    data[rng.random(size=data.shape) < zeros] = 0.0
    return pd.DataFrame(data, columns=[f"x{i}" for i in range(columns)])


def _fit(spark: Any, stages: list[Any], frame: pd.DataFrame) -> Any:
    from pyspark.ml import Pipeline

    return Pipeline(stages=stages).fit(spark.createDataFrame(frame))


# -- numeric vector stages -----------------------------------------------------------------
@EXAMPLES
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(20, 200),
    columns=st.integers(1, 6),
    p=st.sampled_from([1.0, 2.0, math.inf, 1.5, 3.7]),
    k=st.integers(1, 6),
)
def test_vector_stages_match_spark(
    spark: Any, seed: int, rows: int, columns: int, p: float, k: int
) -> None:
    from pyspark.ml.feature import (
        PCA,
        ElementwiseProduct,
        MaxAbsScaler,
        MinMaxScaler,
        Normalizer,
        StandardScaler,
        VectorAssembler,
    )
    from pyspark.ml.linalg import Vectors

    frame = _numbers(seed, rows, columns)
    weights = np.random.default_rng(seed + 1).normal(size=columns).round(3)
    names = list(frame.columns)
    model = _fit(
        spark,
        [
            VectorAssembler(inputCols=names, outputCol="v"),
            MaxAbsScaler(inputCol="v", outputCol="scaled"),
            Normalizer(inputCol="v", outputCol="normed", p=p),
            ElementwiseProduct(
                inputCol="scaled", outputCol="product", scalingVec=Vectors.dense(weights)
            ),
            PCA(inputCol="v", outputCol="projected", k=min(k, columns)),
            StandardScaler(inputCol="v", outputCol="standard", withMean=k % 2 == 0),
            MinMaxScaler(inputCol="v", outputCol="ranged", min=-1.0, max=float(k)),
        ],
        frame,
    )
    exact = ["v", "scaled", "product", "standard", "ranged"] + (
        ["normed"] if p in (1.0, 2.0, math.inf) else []
    )
    close = ["projected"] + ([] if "normed" in exact else ["normed"])
    assert_parity(model, spark, frame, exact=exact, close=close)


@pytest.mark.parametrize("p", [1.0, 2.0, math.inf, 3.0])
def test_normalizer_on_zero_and_missing_values(spark: Any, p: float) -> None:
    from pyspark.ml.feature import Normalizer, VectorAssembler

    frame = pd.DataFrame({"a": [0.0, 0.0, 3.0, np.nan, np.nan], "b": [0.0, -2.0, 4.0, 1.0, 0.0]})
    model = _fit(
        spark,
        [
            VectorAssembler(inputCols=["a", "b"], outputCol="v", handleInvalid="keep"),
            Normalizer(inputCol="v", outputCol="n", p=p),
        ],
        frame,
    )
    # A zero vector is returned as it is; NaN propagates (p = inf skips it in the norm).
    assert_parity(model, spark, frame.head(4), exact=["n"])
    scorer = saved_scorer(model)
    columns = {c: frame[c].to_numpy() for c in frame.columns}
    if p == math.inf:
        assert_parity(model, spark, frame, exact=["n"])
    else:
        # NaN beside a zero: Spark's answer depends on whether it stores the vector
        # dense or sparse, which the frame does not keep.
        with pytest.raises(LocalScoringUnsupported, match="NaN and zeros"):
            scorer.transform(columns, len(frame.index))


# -- Imputer --------------------------------------------------------------------------------
@EXAMPLES
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(20, 200),
    columns=st.integers(1, 3),
    strategy=st.sampled_from(["mean", "median", "mode"]),
    marker=st.sampled_from(["nan", "value"]),
    single=st.booleans(),
)
def test_imputer_matches_spark(
    spark: Any, seed: int, rows: int, columns: int, strategy: str, marker: str, single: bool
) -> None:
    from pyspark.ml.feature import Imputer

    rng = np.random.default_rng(seed)
    frame = _numbers(seed, rows, 1 if single else columns, zeros=0.0)
    frame = frame.round(1) if strategy == "mode" else frame  # repeated values to pick from
    frame.iloc[0, 0] += 0.05  # a value no integer or float column could hold
    missing = -999.0 if marker == "value" else math.nan
    holes = rng.random(size=frame.shape) < 0.2
    holes[0, :] = False
    frame = frame.mask(holes, missing)
    names = list(frame.columns)
    outputs = [f"{c}_imputed" for c in names]
    imputer = (
        Imputer(inputCol=names[0], outputCol=outputs[0], strategy=strategy)
        if single
        else Imputer(inputCols=names, outputCols=outputs, strategy=strategy)
    )
    model = _fit(spark, [imputer.setMissingValue(missing)], frame)
    assert_parity(model, spark, frame, exact=outputs)


def test_imputer_nulls_nan_and_integer_columns(spark: Any) -> None:
    from pyspark.ml.feature import Imputer

    training = spark.createDataFrame([(1.5,), (None,), (float("nan"),), (4.25,)], "x double")
    model = Imputer(inputCol="x", outputCol="xi", strategy="mean").fit(training)
    expected = [row.xi for row in model.transform(training).select("xi").collect()]
    # A null and a NaN are both missing for Spark (missingValue NaN); both NaN here.
    local = saved_scorer(model).transform({"x": np.array([1.5, np.nan, np.nan, 4.25])}, 4)
    assert local["xi"].tolist() == expected == [1.5, 2.875, 2.875, 4.25]

    # missingValue -1: Spark replaces -1 and nulls but keeps NaN; the frame holds nulls
    # as NaN, so a NaN is left to Spark.
    counts = spark.createDataFrame([(1,), (2,), (-1,), (4,)], "n int")
    model = Imputer(inputCol="n", outputCol="ni", missingValue=-1.0).fit(counts)
    scorer = saved_scorer(model)
    with pytest.raises(LocalScoringUnsupported, match="missing value in 'n'"):
        scorer.transform({"n": np.array([np.nan, 3.0])}, 2)
    # An integer column: Spark casts the surrogate (7/3) to int.
    scored = model.transform(spark.createDataFrame([(5,), (-1,)], "n int")).collect()
    assert [row.ni for row in scored] == [5, 2]
    assert scorer.transform({"n": np.array([5, -1])}, 2)["ni"].tolist() == [5, 2]
    # As doubles, whole numbers may have been an integer column: Spark decides.
    with pytest.raises(LocalScoringUnsupported, match="integer or float column"):
        scorer.transform({"n": np.array([5.0, -1.0])}, 2)
    # 5.3 fits neither an integer nor a float column: a double column, no cast.
    doubles = spark.createDataFrame([(5.3,), (-1.0,)], "n double")
    expected = [row.ni for row in model.transform(doubles).collect()]
    assert scorer.transform({"n": np.array([5.3, -1.0])}, 2)["ni"].tolist() == expected
    with pytest.raises(InvalidInputError, match="'n' as a number, but it holds strings"):
        scorer.transform({"n": np.array(["5"], dtype=object)}, 1)


# -- Bucketizer and QuantileDiscretizer -----------------------------------------------------
@EXAMPLES
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(20, 200),
    buckets=st.integers(2, 6),
    columns=st.integers(1, 3),
    keep=st.booleans(),
    infinite=st.booleans(),
)
def test_bucketizer_matches_spark(
    spark: Any, seed: int, rows: int, buckets: int, columns: int, keep: bool, infinite: bool
) -> None:
    from pyspark.ml.feature import Bucketizer

    frame = _numbers(seed, rows, columns).round(1)
    rng = np.random.default_rng(seed)
    splits = []
    for name in frame.columns:
        inner = sorted(set(rng.choice(frame[name].to_numpy(), size=buckets + 1)))
        low, high = frame[name].min(), frame[name].max()
        ends = [-math.inf, math.inf] if infinite else [min(low, inner[0]) - 1, high + 1]
        splits.append([ends[0], *[s for s in inner if ends[0] < s < ends[1]], ends[1]])
    # Values on the splits themselves, and -0.0 (below 0.0 for Java's binary search).
    frame.iloc[0] = [s[1] for s in splits]
    frame.iloc[1] = -0.0
    frame = frame.where(frame.ge([s[0] for s in splits]) & frame.le([s[-1] for s in splits]), 0.0)
    names = list(frame.columns)
    outputs = [f"{c}_bucket" for c in names]
    bucketizer = (
        Bucketizer(inputCols=names, outputCols=outputs, splitsArray=splits)
        if columns > 1
        else Bucketizer(inputCol=names[0], outputCol=outputs[0], splits=splits[0])
    )
    model = _fit(spark, [bucketizer.setHandleInvalid("keep" if keep else "error")], frame)
    assert_parity(model, spark, frame, exact=outputs)


@EXAMPLES
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(20, 200),
    buckets=st.integers(2, 8),
    error=st.sampled_from([0.0, 0.001, 0.1]),
)
def test_quantile_discretizer_matches_spark(
    spark: Any, seed: int, rows: int, buckets: int, error: float
) -> None:
    from pyspark.ml.feature import QuantileDiscretizer

    frame = _numbers(seed, rows, 2).round(2)
    discretizer = QuantileDiscretizer(
        inputCols=["x0", "x1"], outputCols=["b0", "b1"], numBuckets=buckets, relativeError=error
    )
    model = _fit(spark, [discretizer], frame)
    scoring = pd.concat([frame, frame * 3 - 1])  # beyond the training range: infinite ends
    assert_parity(model, spark, scoring, exact=["b0", "b1"])


def test_bucketizer_invalid_values(spark: Any) -> None:
    from pyspark.ml.feature import Bucketizer

    frame = pd.DataFrame({"x": [0.5, 2.5]})
    strict = Bucketizer(inputCol="x", outputCol="b", splits=[0.0, 1.0, 2.0])
    scorer = saved_scorer(strict)
    with pytest.raises(InvalidInputError, match=r"'x' holds 2.5 in row 1.*bounds \[0.0, 2.0\]"):
        scorer.transform({"x": frame["x"].to_numpy()}, 2)
    with pytest.raises(Exception, match="out of Bucketizer bounds"):
        strict.transform(spark.createDataFrame(frame)).collect()
    # Missing values: Spark gives a null for a null, the extra bucket (keep) or an error
    # for NaN; the frame holds both as NaN, so Spark decides.
    keep = saved_scorer(strict.copy().setHandleInvalid("keep"))
    with pytest.raises(LocalScoringUnsupported, match="missing value"):
        keep.transform({"x": np.array([0.5, np.nan])}, 2)
    with pytest.raises(InvalidInputError, match="'x' as a number, but it holds strings"):
        scorer.transform({"x": np.array(["0.5"], dtype=object)}, 1)


@pytest.mark.parametrize(
    ("splits", "values"),
    [
        ([-1.0, 0.0, 1.0], [-0.0, 0.0, 1.0, -1.0]),  # -0.0 sorts below 0.0: bucket 0
        ([-1.0, -0.0, 1.0], [0.0, -0.0]),
        ([0.0, 1.0, 2.0], [0.0, 2.0]),
    ],
)
def test_bucketizer_signed_zeros_and_bounds(
    spark: Any, splits: list[float], values: list[float]
) -> None:
    from pyspark.ml.feature import Bucketizer

    bucketizer = Bucketizer(inputCol="x", outputCol="b", splits=splits)
    assert_parity(bucketizer, spark, pd.DataFrame({"x": values}), exact=["b"])


def test_bucketizer_negative_zero_below_a_zero_split(spark: Any) -> None:
    from pyspark.ml.feature import Bucketizer

    bucketizer = Bucketizer(inputCol="x", outputCol="b", splits=[0.0, 1.0, 2.0])
    frame = pd.DataFrame({"x": [-0.0]})
    with pytest.raises(Exception, match=r"Feature value -0.0 out of Bucketizer bounds"):
        bucketizer.transform(spark.createDataFrame(frame)).collect()
    with pytest.raises(InvalidInputError, match=r"holds -0.0 in row 0.*bounds \[0.0, 2.0\]"):
        saved_scorer(bucketizer).transform({"x": frame["x"].to_numpy()}, 1)


def test_bucketizer_skip_falls_back_to_spark(spark: Any) -> None:
    from pyspark.ml.feature import Bucketizer

    skip = Bucketizer(inputCol="x", outputCol="b", splits=[0.0, 1.0, 2.0], handleInvalid="skip")
    with pytest.raises(LocalScoringUnsupported, match="handleInvalid='skip'"):
        saved_scorer(skip)


# -- StringIndexer, OneHotEncoder, Interaction ----------------------------------------------
_WORDS = ["b", "a", "B", "é", "a b", "10", "9"]


def _labels(seed: int, rows: int, count: int) -> list[str]:
    """Labels with skewed and tied frequencies (frequency orders break ties by label)."""
    rng = np.random.default_rng(seed)
    words = _WORDS[:count]
    weights = rng.choice([1.0, 1.0, 2.0, 5.0], size=count)
    drawn = list(rng.choice(words, size=rows, p=weights / weights.sum()))
    return words + drawn[count:]  # every label at least once


@EXAMPLES
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(20, 200),
    count=st.integers(2, len(_WORDS)),
    order=st.sampled_from(["frequencyDesc", "frequencyAsc", "alphabetDesc", "alphabetAsc"]),
    keep=st.booleans(),
    drop_last=st.booleans(),
    encoder_keep=st.booleans(),
    two_columns=st.booleans(),
)
def test_categorical_stages_match_spark(
    spark: Any,
    seed: int,
    rows: int,
    count: int,
    order: str,
    keep: bool,
    drop_last: bool,
    encoder_keep: bool,
    two_columns: bool,
) -> None:
    from pyspark.ml.feature import Interaction, OneHotEncoder, StringIndexer, VectorAssembler

    frame = _numbers(seed, rows, 2)
    frame["s0"] = _labels(seed, rows, count)
    frame["s1"] = _labels(seed + 1, rows, max(2, count - 2))
    strings = ["s0", "s1"] if two_columns else ["s0"]
    indexes = [f"{c}_index" for c in strings]
    vectors = [f"{c}_vector" for c in strings]
    indexer = (
        StringIndexer(inputCols=strings, outputCols=indexes)
        if two_columns
        else StringIndexer(inputCol="s0", outputCol=indexes[0])
    )
    model = _fit(
        spark,
        [
            indexer.setStringOrderType(order).setHandleInvalid("keep" if keep else "error"),
            OneHotEncoder(
                inputCols=indexes,
                outputCols=vectors,
                dropLast=drop_last,
                handleInvalid="keep" if encoder_keep else "error",
            ),
            VectorAssembler(inputCols=["x0", indexes[0], vectors[0]], outputCol="v"),
            # A nominal number, a plain one, a vector with a nominal slot (stored dense or
            # sparse row by row) and a one-hot vector (always sparse).
            Interaction(inputCols=[indexes[-1], "x1", "v", vectors[-1]], outputCol="crossed"),
        ],
        frame,
    )
    scoring = frame
    if keep:  # unseen labels and nulls get the extra index
        unseen = frame.head(3).copy()
        unseen["s0"] = ["unseen", None, "A"]
        scoring = pd.concat([frame, unseen], ignore_index=True)
    assert_parity(model, spark, scoring, exact=[*indexes, *vectors, "v", "crossed"])


def test_string_indexer_invalid_and_numeric_inputs(spark: Any) -> None:
    from pyspark.ml.feature import StringIndexer

    training = spark.createDataFrame(pd.DataFrame({"s": ["a", "b", "b"], "n": [1.0, 2.0, 2.0]}))
    model = StringIndexer(inputCols=["s", "n"], outputCols=["si", "ni"]).fit(training)
    scorer = saved_scorer(model)
    with pytest.raises(InvalidInputError, match=r"'s' holds the unseen label 'c' in row 1"):
        scorer.transform({"s": np.array(["a", "c"], dtype=object)}, 2)
    with pytest.raises(InvalidInputError, match=r"'s' holds null in row 0"):
        scorer.transform({"s": np.array([None], dtype=object)}, 1)
    with pytest.raises(Exception, match="Unseen label: c"):
        model.transform(spark.createDataFrame(pd.DataFrame({"s": ["c"], "n": [1.0]}))).collect()
    # Spark indexes a number by its string form ("2.0" for a double, "2" for an int): the
    # frame keeps neither the column's type nor the JVM's digits, so Spark indexes it.
    with pytest.raises(LocalScoringUnsupported, match="non-string column 'n'"):
        scorer.transform({"s": np.array(["a"], dtype=object), "n": np.array([2.0])}, 1)
    skip = StringIndexer(inputCol="s", outputCol="si", handleInvalid="skip").fit(training)
    with pytest.raises(LocalScoringUnsupported, match="handleInvalid='skip'"):
        saved_scorer(skip)


def test_one_hot_encoder_invalid_values(spark: Any) -> None:
    from pyspark.ml.feature import OneHotEncoder

    training = spark.createDataFrame(pd.DataFrame({"c": [0.0, 1.0, 2.0]}))
    strict = OneHotEncoder(inputCols=["c"], outputCols=["v"]).fit(training)
    scorer = saved_scorer(strict)
    for value, kind in ((3.0, "an unseen category"), (-1.0, "a negative value")):
        with pytest.raises(InvalidInputError, match=f"'c' holds {kind} \\({value}\\) in row 0"):
            scorer.transform({"c": np.array([value])}, 1)
        with pytest.raises(Exception, match=r"Unseen value: 3.0|Negative value: -1.0"):
            strict.transform(spark.createDataFrame(pd.DataFrame({"c": [value]}))).collect()
    for drop_last in (True, False):
        keep = strict.copy().setHandleInvalid("keep").setDropLast(drop_last)
        # The kept invalid slot adds one to the size (and is the one dropped by dropLast).
        frame = pd.DataFrame({"c": [0.0, 2.0, 1.7, 3.0, -1.0]})
        assert_parity(keep, spark, frame, exact=["v"])
    with pytest.raises(LocalScoringUnsupported, match="missing value in 'c'"):
        scorer.transform({"c": np.array([np.nan])}, 1)


def test_interaction_needs_attributes_spark_has(spark: Any) -> None:
    from pyspark.ml.feature import Interaction, MaxAbsScaler, VectorAssembler

    frame = pd.DataFrame({"a": [1.0, 0.0, 2.0], "b": [3.0, 4.0, 0.0]})
    numbers = Interaction(inputCols=["a", "b"], outputCol="ab")
    assert_parity(numbers, spark, frame, exact=["ab"])
    # A scaler's output vector carries no attributes: Spark fails, the scorer defers.
    model = _fit(
        spark,
        [
            VectorAssembler(inputCols=["a", "b"], outputCol="v"),
            MaxAbsScaler(inputCol="v", outputCol="scaled"),
            Interaction(inputCols=["a", "scaled"], outputCol="crossed"),
        ],
        frame,
    )
    with pytest.raises(Exception, match="Vector attributes must be defined"):
        model.transform(spark.createDataFrame(frame)).collect()
    scorer = saved_scorer(model)
    with pytest.raises(LocalScoringUnsupported, match="without ML attributes"):
        scorer.transform({c: frame[c].to_numpy() for c in frame.columns}, 3)
    with pytest.raises(LocalScoringUnsupported, match="missing value in 'a'"):
        saved_scorer(numbers).transform({"a": np.array([np.nan]), "b": np.array([1.0])}, 1)


# -- SQLTransformer -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("statement", "outputs"),
    [
        ("SELECT *, x0 AS copy FROM __THIS__", ["copy"]),
        ("select x1 as `renamed col`, x0 from __THIS__", ["renamed col"]),
        ("SELECT\n  `x0` AS a,\n  *\nFROM __THIS__  ", ["a"]),
    ],
)
def test_sql_selections_match_spark(spark: Any, statement: str, outputs: list[str]) -> None:
    from pyspark.ml.feature import SQLTransformer, VectorAssembler

    frame = _numbers(3, 20, 2)
    model = _fit(
        spark,
        [
            SQLTransformer(statement=statement),
            VectorAssembler(inputCols=["x0", "x1"] if "*" in statement else ["x0"], outputCol="v"),
        ],
        frame,
    )
    scorer = assert_parity(model, spark, frame, exact=["v", *outputs])
    if "*" not in statement:  # the selection drops every other column, as Spark's does
        assert "x1" not in scorer.transform({c: frame[c].to_numpy() for c in frame}, 20)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT *, x0 * 2 AS doubled FROM __THIS__",
        "SELECT x0 FROM __THIS__ WHERE x0 > 0",
        "SELECT abs(x0) AS a FROM __THIS__",
        "SELECT t.x0 FROM __THIS__ t",
        "SELECT x0 a FROM __THIS__",
        "SELECT 1 AS one FROM __THIS__",
        "SELECT null AS nothing FROM __THIS__",
        "SELECT current_date AS today FROM __THIS__",
        "SELECT DISTINCT x0 FROM __THIS__",
        "SELECT x0 FROM __THIS__;",
        "SELECT x0 FROM other",
        "SELECT x0, FROM __THIS__",
    ],
)
def test_other_sql_is_left_to_spark(statement: str) -> None:
    with pytest.raises(LocalScoringUnsupported, match="only column selections and renames"):
        parse_selection(statement)


def test_sql_names_matched_ignoring_case_are_left_to_spark(spark: Any) -> None:
    from pyspark.ml.feature import SQLTransformer

    scorer = saved_scorer(SQLTransformer(statement="SELECT X0 AS y FROM __THIS__"))
    with pytest.raises(LocalScoringUnsupported, match="matched ignoring case"):
        scorer.transform({"x0": np.array([1.0])}, 1)


# -- wrong input types ----------------------------------------------------------------------
def _wrong_type_stage(name: str) -> Any:
    from pyspark.ml.feature import Bucketizer, Normalizer

    if name == "Bucketizer":
        return Bucketizer(inputCol="x", outputCol="b", splits=[0.0, 1.0, 2.0])
    return Normalizer(inputCol="x", outputCol="n")


@pytest.mark.parametrize(
    ("name", "expected", "spark_message"),
    [
        ("Bucketizer", "as a number", "must be of type numeric"),
        ("Normalizer", "as a vector", "Input type must be struct"),
    ],
)
def test_strings_where_numbers_are_read_fail_as_in_spark(
    spark: Any, name: str, expected: str, spark_message: str
) -> None:
    stage = _wrong_type_stage(name)
    frame = pd.DataFrame({"x": ["1.5", "0.5"]})
    with pytest.raises(Exception, match=spark_message):
        stage.transform(spark.createDataFrame(frame)).collect()
    with pytest.raises(InvalidInputError, match=f"reads column 'x' {expected}"):
        saved_scorer(stage).transform({"x": frame["x"].to_numpy(dtype=object)}, 2)


# -- through load_model's predict -----------------------------------------------------------
def test_feature_pipeline_scores_locally_through_predict(spark: Any) -> None:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import (
        Bucketizer,
        Imputer,
        Interaction,
        SQLTransformer,
        StringIndexer,
        VectorAssembler,
    )

    from sparktrack.models import LoadedModel, Model, signature_for_spark_model

    rng = np.random.default_rng(5)
    rows = [
        (
            float(rng.normal()) if i % 7 else None,
            int(rng.integers(0, 5)) if i % 5 else None,
            str(rng.choice(["red", "green", "blue"])),
            float(i % 2),
        )
        for i in range(120)
    ]
    training = spark.createDataFrame(rows, "x double, n int, color string, label double")
    model = Pipeline(
        stages=[
            Imputer(inputCols=["x", "n"], outputCols=["x_filled", "n_filled"]),
            Bucketizer(inputCol="x_filled", outputCol="x_bucket", splits=[-math.inf, 0, math.inf]),
            StringIndexer(inputCol="color", outputCol="color_index", handleInvalid="keep"),
            SQLTransformer(statement="SELECT *, n_filled AS count FROM __THIS__"),
            Interaction(inputCols=["color_index", "x_bucket", "count"], outputCol="crossed"),
            VectorAssembler(inputCols=["x_filled", "count", "crossed"], outputCol="features"),
            LogisticRegression(maxIter=5),
        ]
    ).fit(training)
    signature = signature_for_spark_model(model, training.schema, ["label"])
    loaded = LoadedModel(Model(signature=signature), model, "test")
    assert loaded.local_scorer is not None, loaded.local_scoring_unsupported

    frame = pd.DataFrame(
        {
            "x": [0.1, np.nan, -1.3, 2.7],  # no float could hold them: a double column
            "n": [1, 3, 0, 4],
            "color": ["red", "blue", "purple", None],
        }
    )
    expected = loaded.predict(frame, engine="spark").tolist()
    assert loaded.predict(frame, engine="local").tolist() == expected
    # A missing integer: Spark fills in the mean cast to int, which only Spark knows the
    # column to need; predict scores that input with Spark.
    gap = frame.astype({"n": "Int64"})
    gap.loc[1, "n"] = pd.NA
    with pytest.raises(InvalidInputError, match="integer or float column"):
        loaded.predict(gap, engine="local")
    assert loaded.predict(gap).tolist() == loaded.predict(gap, engine="spark").tolist()
