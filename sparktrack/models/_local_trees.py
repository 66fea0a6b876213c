"""Decision trees and tree ensembles for the local scorer, read from their Spark ML save.

DecisionTree, RandomForest and GBT classifiers and regressors (Spark 3.5's classes).
Each stage finds every row's leaf in every tree with one vectorised walk over a flat
node array (:mod:`sparktrack.models._local_forest`), then combines the leaves as
Spark's model does:

* DecisionTreeClassificationModel: rawPrediction is the leaf's impurity stats (class
  counts), probability those divided by their sum, prediction the leaf's prediction
  when Spark calls ``predict`` (no raw or probability column), else derived from them.
* RandomForestClassificationModel: rawPrediction adds, tree by tree, each leaf's class
  counts divided by their total (trees whose leaf is empty add nothing); probability
  divides that by its sum.
* GBTClassificationModel: the margin ``m`` is the dot product of the trees'
  predictions with the tree weights, rawPrediction is ``[-m, m]``, probability
  ``[p, 1 - p]`` with ``p = 1 / (1 + exp(2m))`` (Spark's LogLoss of ``-m``).
* Predictions from rawPrediction or probability follow ProbabilisticClassificationModel:
  argmax (the first maximum), or with ``thresholds`` the largest probability divided by
  its threshold.
* Regressors: a tree's leaf prediction (and ``varianceCol``, the leaf's variance), a
  forest's mean of its trees' predictions (summed in tree order), a GBT's weighted sum.
* ``leafCol``: the leaf's index in its tree (pre-order from 0), one per tree for
  ensembles.

Exactness (each checked against Spark's ``transform`` by tests/test_local_trees.py):
predictions, leaf indices and every output of decision trees and random forests are
bit-equal (same leaves, same divisions, sums in Spark's order). GBT margins are summed
as the JVM BLAS Spark uses without a native BLAS on Java 11+ (fused multiply-adds in
four running sums, see ``java_ddot_of_products``), so GBT predictions and rawPrediction are
bit-equal there; GBT probability goes through ``exp``, whose last bit the JVM and numpy
may round differently: equal within 1e-9 relative. With a native BLAS (or Java 8) the
JVM sums the margin in another order: equal within rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sparktrack.models._local_forest import (
    Forest,
    java_ddot_of_products,
    read_forest,
    weighted_leaves,
)
from sparktrack.models._local_frame import (
    Frame,
    LocalScoringUnsupported,
    Stage,
    probability_to_prediction,
    read_vectors,
    spark_argmax,
)
from sparktrack.models._sparkml_reader import SavedStage

__all__ = ["COMPILERS", "TreeClassifier", "TreeRegressor"]


def _sequential_sum(values: np.ndarray) -> np.ndarray:
    """Row sums of a rows x k array, added left to right as a Scala ``sum`` does."""
    total = np.zeros(values.shape[0])
    for k in range(values.shape[1]):
        total += values[:, k]
    return total


def _normalized(counts: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (Spark's normalizeToProbabilitiesInPlace); 0 rows stay 0."""
    total = _sequential_sum(counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total[:, None] != 0, counts / total[:, None], 0.0)


@dataclass(frozen=True)
class TreeClassifier:
    """A DecisionTree, RandomForest or GBT classification model (``kind``)."""

    name: str
    kind: str  # "tree", "forest" or "boosted"
    features: str
    prediction: str
    raw_prediction: str
    probability: str
    leaf: str
    forest: Forest
    weighted: tuple[np.ndarray, np.ndarray]  # boosted: per node, weight x prediction
    leaf_votes: np.ndarray  # forest: per node, its class counts over their total
    thresholds: np.ndarray | None

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.features,)

    @property
    def writes(self) -> tuple[str, ...]:
        columns = (self.raw_prediction, self.probability, self.prediction, self.leaf)
        return tuple(c for c in columns if c)

    def _raw(self, leaves: np.ndarray) -> np.ndarray:
        if self.kind == "tree":
            return self.forest.stats[leaves[0]]
        if self.kind == "forest":
            # Tree after tree, as Spark's loop adds them.
            votes = np.zeros((leaves.shape[1], self.leaf_votes.shape[1]))
            for tree in leaves:
                votes += self.leaf_votes.take(tree, axis=0)
            return votes
        margin = self._margin(leaves)
        return np.column_stack([-margin, margin])

    def _margin(self, leaves: np.ndarray) -> np.ndarray:
        high, low = self.weighted
        return java_ddot_of_products(high.take(leaves), low.take(leaves))

    def _probability(self, raw: np.ndarray) -> np.ndarray:
        if self.kind != "boosted":
            if (_sequential_sum(raw) == 0).any():
                # Spark fails the task ("Can't normalize the 0-vector"): let it say so.
                raise LocalScoringUnsupported(f"{self.name} on a row no tree has counts for")
            return _normalized(raw)
        with np.errstate(over="ignore"):
            negative = 1.0 / (1.0 + np.exp(-2.0 * raw[:, 0]))
        return np.column_stack([negative, 1.0 - negative])

    def _from_raw(self, raw: np.ndarray) -> np.ndarray:
        if self.thresholds is None:
            return spark_argmax(raw).astype(np.float64)
        return probability_to_prediction(self._probability(raw), self.thresholds)

    def _predict(self, leaves: np.ndarray) -> np.ndarray:
        """Spark's ``predict``, used when neither rawPrediction nor probability is on."""
        if self.kind == "tree":
            return self.forest.prediction[leaves[0]]
        if self.kind == "boosted" and self.thresholds is None:
            return (self._margin(leaves) > 0.0).astype(np.float64)
        return self._from_raw(self._raw(leaves))

    def apply(self, frame: Frame, rows: int) -> None:
        values = read_vectors(frame, self.features, self.name, self.forest.num_features)
        leaves = self.forest.leaves(values)
        probability = None
        if self.raw_prediction or self.probability:
            raw = self._raw(leaves)
            if self.raw_prediction:
                frame[self.raw_prediction] = raw
            if self.probability:
                probability = self._probability(raw)
                frame[self.probability] = probability
        if self.prediction:
            # ProbabilisticClassificationModel.transform's order: from the raw prediction
            # when that column is on, else from the probability, else predict.
            if self.raw_prediction:
                frame[self.prediction] = self._from_raw(raw)
            elif probability is not None:
                frame[self.prediction] = probability_to_prediction(probability, self.thresholds)
            else:
                frame[self.prediction] = self._predict(leaves)
        if self.leaf:
            frame[self.leaf] = _leaf_column(self.forest, leaves, self.kind == "tree")


@dataclass(frozen=True)
class TreeRegressor:
    """A DecisionTree, RandomForest or GBT regression model (``kind``)."""

    name: str
    kind: str  # "tree", "forest" or "boosted"
    features: str
    prediction: str
    variance: str
    leaf: str
    forest: Forest
    weighted: tuple[np.ndarray, np.ndarray]  # boosted: per node, weight x prediction
    leaf_variance: np.ndarray  # tree: per node, the variance of its labels

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.features,)

    @property
    def writes(self) -> tuple[str, ...]:
        return tuple(c for c in (self.prediction, self.variance, self.leaf) if c)

    def apply(self, frame: Frame, rows: int) -> None:
        values = read_vectors(frame, self.features, self.name, self.forest.num_features)
        leaves = self.forest.leaves(values)
        if self.prediction and self.kind == "boosted":
            high, low = self.weighted
            frame[self.prediction] = java_ddot_of_products(high.take(leaves), low.take(leaves))
        elif self.prediction:
            predictions = self.forest.prediction.take(leaves)  # trees x rows
            if self.kind == "tree":
                frame[self.prediction] = predictions[0]
            elif self.kind == "forest":
                # Spark: the trees' predictions summed in order, divided by their number.
                total = np.zeros(leaves.shape[1])
                for tree in predictions:
                    total += tree
                frame[self.prediction] = total / self.forest.num_trees
        if self.variance:
            frame[self.variance] = self.leaf_variance[leaves[0]]
        if self.leaf:
            frame[self.leaf] = _leaf_column(self.forest, leaves, self.kind == "tree")


def _leaf_column(forest: Forest, leaves: np.ndarray, single: bool) -> np.ndarray:
    """Spark's ``predictLeaf``: a number for a tree, a vector (one per tree) for ensembles."""
    ranks = forest.leaf_rank.take(leaves)  # trees x rows
    return ranks[0] if single else np.ascontiguousarray(ranks.T)


# -- compiling saved stages ----------------------------------------------------------------
def _weighted(saved: SavedStage, forest: Forest, kind: str) -> tuple[np.ndarray, np.ndarray]:
    if kind != "boosted":
        return np.zeros(0), np.zeros(0)
    return weighted_leaves(forest, _tree_weights(saved, forest))


def _forest(saved: SavedStage) -> Forest:
    num_features = saved.metadata.get("numFeatures")
    if not isinstance(num_features, int) or num_features < 0:
        raise LocalScoringUnsupported(f"{saved.label} saved without its number of features")
    return read_forest(saved.table("data"), num_features, saved.label)


def _tree_weights(saved: SavedStage, forest: Forest) -> np.ndarray:
    table = saved.table("treesMetadata")
    tree_ids = table.column("treeID").to_numpy()
    weights = table.column("weights").to_numpy().astype(np.float64)[np.argsort(tree_ids)]
    if weights.shape[0] != forest.num_trees:
        raise LocalScoringUnsupported(
            f"{saved.label} saved with {weights.shape[0]} tree weights for {forest.num_trees} trees"
        )
    return weights


def _thresholds(saved: SavedStage) -> np.ndarray | None:
    thresholds = saved.param("thresholds") if "thresholds" in saved.set_params else None
    return None if thresholds is None else np.asarray(thresholds, dtype=np.float64)


def _variance(stats: np.ndarray) -> np.ndarray:
    """Spark's Variance.calculate over (count, sum, sum of squares) per node."""
    if stats.shape[1] != 3:
        return np.zeros(stats.shape[0])
    count, total, squares = stats[:, 0], stats[:, 1], stats[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = (squares - (total * total) / count) / count
    return np.where(count == 0, 0.0, variance)


def _classifier(kind: str) -> Callable[[SavedStage], Stage]:
    def compile_classifier(saved: SavedStage) -> Stage:
        forest = _forest(saved)
        num_classes = saved.metadata.get("numClasses", 2)
        if kind != "boosted" and forest.stats.shape[1] != num_classes:
            raise LocalScoringUnsupported(f"{saved.label} with leaf stats unlike its classes")
        return TreeClassifier(
            name=saved.label,
            kind=kind,
            features=saved.param("featuresCol"),
            prediction=saved.param("predictionCol") or "",
            raw_prediction=saved.param("rawPredictionCol") or "",
            probability=saved.param("probabilityCol") or "",
            leaf=saved.param("leafCol") or "",
            forest=forest,
            weighted=_weighted(saved, forest, kind),
            leaf_votes=_normalized(forest.stats) if kind == "forest" else np.zeros((0, 0)),
            thresholds=_thresholds(saved),
        )

    return compile_classifier


def _regressor(kind: str) -> Callable[[SavedStage], Stage]:
    def compile_regressor(saved: SavedStage) -> Stage:
        forest = _forest(saved)
        variance = (saved.param("varianceCol") or "") if kind == "tree" else ""
        return TreeRegressor(
            name=saved.label,
            kind=kind,
            features=saved.param("featuresCol"),
            prediction=saved.param("predictionCol") or "",
            variance=variance,
            leaf=saved.param("leafCol") or "",
            forest=forest,
            weighted=_weighted(saved, forest, kind),
            leaf_variance=_variance(forest.stats) if variance else np.zeros(0),
        )

    return compile_regressor


_CLASSIFICATION = "org.apache.spark.ml.classification."
_REGRESSION = "org.apache.spark.ml.regression."

COMPILERS: dict[str, Callable[[SavedStage], Stage]] = {
    _CLASSIFICATION + "DecisionTreeClassificationModel": _classifier("tree"),
    _CLASSIFICATION + "RandomForestClassificationModel": _classifier("forest"),
    _CLASSIFICATION + "GBTClassificationModel": _classifier("boosted"),
    _REGRESSION + "DecisionTreeRegressionModel": _regressor("tree"),
    _REGRESSION + "RandomForestRegressionModel": _regressor("forest"),
    _REGRESSION + "GBTRegressionModel": _regressor("boosted"),
}
"""The tree models compiled here, by the JVM class Spark ML saves them under."""
