"""Trees and tree ensembles scored with numpy give what Spark's transform gives.

Every comparison saves the Spark model, compiles the saved folder (no JVM involved) and
scores the same rows both ways. Bit-equal: every output of DecisionTree and RandomForest
models, GBT predictions, rawPrediction and leaf indices. GBT probability goes through
``exp``: within 1e-9 relative (see sparktrack/models/_local_trees.py).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import (
    DecisionTreeClassifier,
    GBTClassifier,
    RandomForestClassifier,
)
from pyspark.ml.feature import StringIndexer, VectorAssembler
from pyspark.ml.regression import DecisionTreeRegressor, GBTRegressor, RandomForestRegressor

import sparktrack.models._local_forest as local_forest
from sparktrack.errors import InvalidInputError
from sparktrack.models import LoadedModel, Model, signature_for_spark_model
from sparktrack.models._local_forest import _fma, read_forest
from tests._spark_parity import SPARK_EXAMPLES, assert_parity

EXAMPLES = settings(SPARK_EXAMPLES, max_examples=3)
SUBSET_STRATEGIES = ["auto", "all", "sqrt", "log2", "onethird", "0.5"]


# -- data ----------------------------------------------------------------------------------
@st.composite
def datasets(draw: Any, classes: int | None) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Rows with continuous and categorical features and a label (``classes`` None:
    a regression target); also whether rows carry weights (``weight``)."""
    continuous = [f"x{i}" for i in range(draw(st.integers(1, 2)))]
    categorical = [f"c{i}" for i in range(draw(st.integers(0, 2)))]
    rows = draw(st.integers(16, 40))
    # Coin flips come from the seed: hypothesis would start every test at the simplest
    # (constant label, no weights), which the single-node tests below already cover.
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    frame = pd.DataFrame(index=range(rows))
    signal = np.zeros(rows)
    for column in continuous:
        values = rng.normal(size=rows) * 3
        if rng.random() < 0.5:  # repeated values: ties at the split points
            values = values.round(0)
        frame[column] = values
        signal += values
    for column in categorical:
        levels = draw(st.integers(2, 6))
        codes = rng.integers(0, levels, size=rows)
        frame[column] = [f"v{c}" for c in codes]
        signal += rng.normal(size=levels)[codes] * 3
    noise = rng.normal(size=rows)
    constant = rng.random() < 0.1  # a single-leaf tree now and then
    if classes is None:
        frame["label"] = 0.5 if constant else signal + noise
    else:
        cuts = np.quantile(signal + noise, np.linspace(0, 1, classes + 1)[1:-1])
        frame["label"] = 0.0 if constant else np.digitize(signal + noise, cuts).astype(float)
    frame["weight"] = rng.uniform(0.5, 2.0, size=rows) if rng.random() < 0.5 else 1.0
    return frame, continuous, categorical


def _scored_rows(frame: pd.DataFrame, continuous: list[str], categorical: list[str]) -> Any:
    """The training rows plus rows Spark has to judge: NaN, unseen and null categories."""
    features = frame[continuous + categorical]
    odd = features.iloc[[0] * (len(continuous) + 2 * len(categorical))].reset_index(drop=True)
    for i, column in enumerate(continuous):
        odd.loc[i, column] = np.nan
    for i, column in enumerate(categorical):
        odd.loc[len(continuous) + 2 * i, column] = "never seen"
        odd.loc[len(continuous) + 2 * i + 1, column] = None
    return pd.concat([features, odd], ignore_index=True)


def _fit(
    estimator: Any, frame: pd.DataFrame, continuous: list[str], categorical: list[str], spark: Any
) -> Any:
    indexed = [f"{c}_index" for c in categorical]
    stages = []
    if categorical:  # keep: unseen and null categories get an index of their own
        stages.append(
            StringIndexer(inputCols=categorical, outputCols=indexed, handleInvalid="keep")
        )
    # keep: NaN reaches the trees
    stages.append(
        VectorAssembler(inputCols=continuous + indexed, outputCol="features", handleInvalid="keep")
    )
    return Pipeline(stages=[*stages, estimator]).fit(spark.createDataFrame(frame))


def _with_params(pipeline: Any, **params: Any) -> Any:
    """The fitted pipeline with params of its last stage changed (no refit)."""
    *head, last = pipeline.stages
    return PipelineModel([*head, last.copy({last.getParam(k): v for k, v in params.items()})])


@st.composite
def classifier_outputs(draw: Any, classes: int) -> dict[str, Any]:
    """Which output columns are on, thresholds and leafCol: the paths of transform."""
    params: dict[str, Any] = {
        "rawPredictionCol": draw(st.sampled_from(["rawPrediction", ""])),
        "probabilityCol": draw(st.sampled_from(["probability", ""])),
        "leafCol": draw(st.sampled_from(["leaf", ""])),
    }
    if draw(st.booleans()):
        thresholds = draw(st.lists(st.floats(0.05, 1.0), min_size=classes, max_size=classes))
        if draw(st.booleans()):
            thresholds[draw(st.integers(0, classes - 1))] = 0.0  # Spark allows one zero
        params["thresholds"] = thresholds
    return params


def _classes(model: Any) -> int:
    return int(model.stages[-1].numClasses)


def _assert_classifier(
    model: Any, spark: Any, rows: pd.DataFrame, params: dict[str, Any], *, boosted: bool = False
) -> None:
    model = _with_params(model, **params)
    outputs = ["prediction"] + [params[c] for c in ("rawPredictionCol", "leafCol") if params[c]]
    probability = [params["probabilityCol"]] if params["probabilityCol"] else []
    exact, close = (outputs, probability) if boosted else (outputs + probability, [])
    assert_parity(model, spark, rows, exact=exact, close=close)


# -- property tests, one per estimator -----------------------------------------------------
@pytest.mark.spark
@EXAMPLES
@given(
    data=st.integers(2, 4).flatmap(lambda k: datasets(k)),
    depth=st.integers(1, 5),
    impurity=st.sampled_from(["gini", "entropy"]),
    min_instances=st.integers(1, 3),
    outputs=st.data(),
)
def test_decision_tree_classifier_matches_spark(
    spark: Any, data: Any, depth: int, impurity: str, min_instances: int, outputs: Any
) -> None:
    frame, continuous, categorical = data
    estimator = DecisionTreeClassifier(
        maxDepth=depth, impurity=impurity, minInstancesPerNode=min_instances, weightCol="weight"
    )
    model = _fit(estimator, frame, continuous, categorical, spark)
    params = outputs.draw(classifier_outputs(_classes(model)))
    _assert_classifier(model, spark, _scored_rows(frame, continuous, categorical), params)


@pytest.mark.spark
@EXAMPLES
@given(
    data=st.integers(2, 4).flatmap(lambda k: datasets(k)),
    trees=st.integers(1, 8),
    depth=st.integers(1, 4),
    impurity=st.sampled_from(["gini", "entropy"]),
    subset=st.sampled_from(SUBSET_STRATEGIES),
    bootstrap=st.booleans(),
    outputs=st.data(),
)
def test_random_forest_classifier_matches_spark(
    spark: Any,
    data: Any,
    trees: int,
    depth: int,
    impurity: str,
    subset: str,
    bootstrap: bool,
    outputs: Any,
) -> None:
    frame, continuous, categorical = data
    estimator = RandomForestClassifier(
        numTrees=trees,
        maxDepth=depth,
        impurity=impurity,
        featureSubsetStrategy=subset,
        bootstrap=bootstrap,
        weightCol="weight",
        seed=11,
    )
    model = _fit(estimator, frame, continuous, categorical, spark)
    params = outputs.draw(classifier_outputs(_classes(model)))
    _assert_classifier(model, spark, _scored_rows(frame, continuous, categorical), params)


@pytest.mark.spark
@EXAMPLES
@given(
    data=datasets(2),
    iterations=st.integers(1, 9),
    depth=st.integers(1, 3),
    step=st.sampled_from([0.1, 0.3, 1.0]),
    subset=st.sampled_from(SUBSET_STRATEGIES),
    outputs=st.data(),
)
def test_gbt_classifier_matches_spark(
    spark: Any, data: Any, iterations: int, depth: int, step: float, subset: str, outputs: Any
) -> None:
    frame, continuous, categorical = data
    estimator = GBTClassifier(
        maxIter=iterations, maxDepth=depth, stepSize=step, featureSubsetStrategy=subset, seed=5
    )
    model = _fit(estimator, frame, continuous, categorical, spark)
    params = outputs.draw(classifier_outputs(_classes(model)))
    _assert_classifier(
        model, spark, _scored_rows(frame, continuous, categorical), params, boosted=True
    )


@pytest.mark.spark
@EXAMPLES
@given(data=datasets(None), depth=st.integers(1, 5), leaf=st.sampled_from(["leaf", ""]))
def test_decision_tree_regressor_matches_spark(
    spark: Any, data: Any, depth: int, leaf: str
) -> None:
    frame, continuous, categorical = data
    estimator = DecisionTreeRegressor(maxDepth=depth, varianceCol="variance", weightCol="weight")
    model = _with_params(_fit(estimator, frame, continuous, categorical, spark), leafCol=leaf)
    exact = ["prediction", "variance", *([leaf] if leaf else [])]
    assert_parity(model, spark, _scored_rows(frame, continuous, categorical), exact=exact)


@pytest.mark.spark
@EXAMPLES
@given(
    data=datasets(None),
    trees=st.integers(1, 8),
    depth=st.integers(1, 4),
    subset=st.sampled_from(SUBSET_STRATEGIES),
    leaf=st.sampled_from(["leaf", ""]),
)
def test_random_forest_regressor_matches_spark(
    spark: Any, data: Any, trees: int, depth: int, subset: str, leaf: str
) -> None:
    frame, continuous, categorical = data
    estimator = RandomForestRegressor(
        numTrees=trees, maxDepth=depth, featureSubsetStrategy=subset, seed=3
    )
    model = _with_params(_fit(estimator, frame, continuous, categorical, spark), leafCol=leaf)
    exact = ["prediction", *([leaf] if leaf else [])]
    assert_parity(model, spark, _scored_rows(frame, continuous, categorical), exact=exact)


@pytest.mark.spark
@EXAMPLES
@given(
    data=datasets(None),
    iterations=st.integers(1, 9),
    depth=st.integers(1, 3),
    loss=st.sampled_from(["squared", "absolute"]),
    step=st.sampled_from([0.1, 0.3, 1.0]),
)
def test_gbt_regressor_matches_spark(
    spark: Any, data: Any, iterations: int, depth: int, loss: str, step: float
) -> None:
    frame, continuous, categorical = data
    estimator = GBTRegressor(
        maxIter=iterations, maxDepth=depth, lossType=loss, stepSize=step, seed=2
    )
    model = _fit(estimator, frame, continuous, categorical, spark)
    assert_parity(model, spark, _scored_rows(frame, continuous, categorical), exact=["prediction"])


# -- edge cases ----------------------------------------------------------------------------
@pytest.fixture(params=["one-table", "thresholds-and-categories"])
def walk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both walks: the split table, and the separate tests a forest too large for a
    table takes."""
    if request.param != "one-table":
        monkeypatch.setattr(local_forest, "_TABLE_LIMIT", 0)
    return str(request.param)


def _walks_as_asked(forest: Any, walk: str) -> None:
    assert (forest.split_table is not None) == (walk == "one-table")


@pytest.fixture(scope="module")
def categorical_frame() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    rows = 120
    codes = rng.integers(0, 6, size=rows)
    frame = pd.DataFrame({"x": rng.normal(size=rows), "c": [f"v{c}" for c in codes]})
    effect = np.array([2.0, -1.0, 0.5, -2.0, 1.0, 0.0])[codes]
    frame["label"] = (effect + frame["x"] + rng.normal(size=rows) * 0.3 > 0).astype(float)
    frame["target"] = effect * 3 + frame["x"]
    return frame


@pytest.mark.spark
@pytest.mark.parametrize(
    "estimator",
    [
        lambda: RandomForestClassifier(
            numTrees=20, maxDepth=3, featureSubsetStrategy="all", seed=1, leafCol="leaf"
        ),
        lambda: GBTRegressor(maxIter=12, maxDepth=3, leafCol="leaf"),
    ],
    ids=["random-forest-classifier", "gbt-regressor"],
)
def test_values_that_are_no_category_go_where_spark_sends_them(
    spark: Any, categorical_frame: pd.DataFrame, estimator: Any, walk: str
) -> None:
    estimator = estimator()
    indexer = StringIndexer(inputCol="c", outputCol="c_index")
    assembler = VectorAssembler(
        inputCols=["x", "c_index"], outputCol="features", handleInvalid="keep"
    )
    label = "label" if isinstance(estimator, RandomForestClassifier) else "target"
    fitted = Pipeline(stages=[indexer, assembler, estimator.setLabelCol(label)]).fit(
        spark.createDataFrame(categorical_frame)
    )
    # Scored without the indexer: the trees get category numbers Spark never produced.
    model = PipelineModel(fitted.stages[1:])
    odd = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 1.5, -1.0, -0.0, 100.0, np.nan, np.inf]
    rows = pd.DataFrame({"x": np.tile([-1.0, 0.3, 2.0], len(odd)), "c_index": np.repeat(odd, 3)})
    exact = ["prediction", "leaf"]
    if label == "label":
        exact += ["rawPrediction", "probability"]
    scorer = assert_parity(model, spark, rows, exact=exact)
    # Both of Spark's ways of storing a categorical split were met: values that are no
    # category go left under one and right under the other.
    forest = scorer.stages[-1].forest
    _walks_as_asked(forest, walk)
    table = forest.category_table.reshape(-1, forest.category_width)
    assert table[1:, -1].any() and not table[1:, -1].all()


@pytest.mark.spark
@pytest.mark.parametrize(
    ("estimator", "params", "label", "outputs"),
    [
        (DecisionTreeClassifier, {}, "constant", ["prediction", "rawPrediction", "probability"]),
        (RandomForestRegressor, {"maxDepth": 0, "numTrees": 3}, "target", ["prediction"]),
        (GBTClassifier, {"maxDepth": 0, "maxIter": 5}, "label", ["prediction", "rawPrediction"]),
    ],
    ids=["constant-label-tree", "depth-0-forest", "depth-0-gbt"],
)
def test_single_node_trees_match_spark(
    spark: Any,
    categorical_frame: pd.DataFrame,
    estimator: Any,
    params: dict[str, Any],
    label: str,
    outputs: list[str],
) -> None:
    frame = categorical_frame.assign(constant=0.0)
    model = _fit(estimator(labelCol=label, **params), frame, ["x"], ["c"], spark)
    scorer = assert_parity(model, spark, _scored_rows(frame, ["x"], ["c"]), exact=outputs)
    assert scorer.stages[-1].forest.depth == 0


@pytest.mark.spark
def test_a_loaded_forest_pipeline_predicts_with_numpy(
    spark: Any, categorical_frame: pd.DataFrame
) -> None:
    frame = categorical_frame.assign(weight=1.0)
    model = _fit(
        RandomForestClassifier(numTrees=10, maxDepth=4, seed=2), frame, ["x"], ["c"], spark
    )
    schema = spark.createDataFrame(frame).schema
    signature = signature_for_spark_model(model, schema, ["label", "target", "weight"])
    loaded = LoadedModel(Model(signature=signature), model, "test")
    assert loaded.local_scorer is not None, loaded.local_scoring_unsupported
    rows = frame[["x", "c"]]
    local = loaded.predict(rows, engine="local")
    assert local.tolist() == loaded.predict(rows, engine="spark").tolist()


# -- without Spark: a hand-written tree, the saved layout, fused multiply-add -----------------
_SPLIT = pa.struct(
    [
        ("featureIndex", pa.int32()),
        ("leftCategoriesOrThreshold", pa.list_(pa.float64())),
        ("numCategories", pa.int32()),
    ]
)


def _node(id_: int, left: int, right: int, split: tuple[int, list[float], int]) -> dict[str, Any]:
    feature, cut, categories = split
    return {
        "id": id_,
        "prediction": float(id_),
        "impurity": 0.0,
        "impurityStats": [1.0, 2.0],
        "rawCount": 3,
        "gain": 0.0,
        "leftChild": left,
        "rightChild": right,
        "split": {
            "featureIndex": feature,
            "leftCategoriesOrThreshold": cut,
            "numCategories": categories,
        },
    }


def _hand_written_tree(shuffle: bool = False, threshold: float = 0.5) -> pa.Table:
    """x0 <= 0.5 ? leaf 1 : (x1 in {0, 1, 2} of 4 categories ? leaf 3 : leaf 4)."""
    leaf = (-1, [], -1)
    nodes = [
        _node(0, 1, 2, (0, [threshold], -1)),
        _node(1, -1, -1, leaf),
        _node(2, 3, 4, (1, [0.0, 1.0, 2.0], 4)),
        _node(3, -1, -1, leaf),
        _node(4, -1, -1, leaf),
    ]
    if shuffle:
        nodes = nodes[::-1]
    schema = pa.schema(
        [
            ("id", pa.int32()),
            ("prediction", pa.float64()),
            ("impurity", pa.float64()),
            ("impurityStats", pa.list_(pa.float64())),
            ("rawCount", pa.int64()),
            ("gain", pa.float64()),
            ("leftChild", pa.int32()),
            ("rightChild", pa.int32()),
            ("split", _SPLIT),
        ]
    )
    return pa.Table.from_pylist(nodes, schema=schema)


@pytest.mark.parametrize("shuffle", [False, True], ids=["in-order", "rows-shuffled"])
def test_a_hand_written_tree_sends_rows_as_spark_splits_do(shuffle: bool, walk: str) -> None:
    forest = read_forest(_hand_written_tree(shuffle), 2, "tree")
    _walks_as_asked(forest, walk)
    nan = np.nan
    rows = np.array(
        [
            [0.5, 9.0],  # threshold itself: left
            [nan, 0.0],  # NaN <= t is false: right, then category 0: left
            [1.0, 3.5],  # no category (not 3): Spark stored the right set {3}, so left
            [1.0, 3.0],  # category 3: right
            [1.0, -0.0],  # -0.0 is category 0
            [1.0, 4.0],  # beyond the categories: left
            [1.0, nan],  # NaN is no category: left
        ]
    )
    leaves = forest.leaves(rows)[0]
    assert forest.prediction[leaves].tolist() == [1.0, 3.0, 3.0, 4.0, 3.0, 3.0, 3.0]
    assert forest.leaf_rank[leaves].tolist() == [0.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0]


def _spark_leaf(x0: float, x1: float, threshold: float) -> int:
    """The hand-written tree's leaf for one row, by Spark's rules written out per row."""
    if x0 <= threshold:
        return 1
    stored_right = {3.0}  # Spark stores {3} (the smaller side) and tests membership
    return 4 if x1 in stored_right else 3


def test_an_ensemble_larger_than_a_walk_block_reaches_the_leaves_row_by_row_rules_give(
    walk: str,
) -> None:
    thresholds = [0.5, -1.0, 2.0]
    trees = [_hand_written_tree(threshold=t) for t in thresholds]
    ensemble = pa.table(
        {
            "treeID": pa.array(np.repeat(np.arange(3), 5), pa.int32()),
            "nodeData": pa.concat_tables(trees).to_struct_array().combine_chunks(),
        }
    )
    forest = read_forest(ensemble, 2, "ensemble")
    _walks_as_asked(forest, walk)
    rng = np.random.default_rng(1)
    rows = local_forest._BLOCK + 3_000  # more than one block of rows, one tree per block
    x0 = rng.choice([-2.0, -1.0, 0.5, 1.0, 2.0, 3.0, np.nan], size=rows)
    x1 = rng.choice([0.0, 1.0, 2.0, 3.0, 3.5, 4.0, -1.0, np.nan], size=rows)
    leaves = forest.leaves(np.column_stack([x0, x1]))
    for tree, threshold in enumerate(thresholds):
        expected = [_spark_leaf(a, b, threshold) for a, b in zip(x0, x1, strict=True)]
        assert (forest.prediction[leaves[tree]] == expected).all()


def test_a_save_whose_node_ids_have_gaps_is_damaged() -> None:
    table = _hand_written_tree().filter(pa.compute.not_equal(pa.compute.field("id"), 3))
    with pytest.raises(InvalidInputError, match="damaged"):
        read_forest(table, 2, "tree")


@settings(max_examples=300, derandomize=True)
@given(
    a=st.floats(-1e6, 1e6, allow_nan=False),
    b=st.floats(-1e3, 1e3, allow_nan=False),
    c=st.floats(-1e9, 1e9, allow_nan=False),
)
def test_fused_multiply_add_rounds_once(a: float, b: float, c: float) -> None:
    exact = float(Fraction(a) * Fraction(b) + Fraction(c))  # correctly rounded
    got = _fma(np.array([a]), np.array([b]), np.array([c]))[0]
    assert got == exact or (got == 0 and exact == 0)
