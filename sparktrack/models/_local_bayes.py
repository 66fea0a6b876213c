"""NaiveBayes for the local scorer: multinomial, complement, Bernoulli and Gaussian.

The raw prediction follows NaiveBayesModel.predictRaw of each model type, the
probability Spark's softmax (ml.impl.Utils.softmax: shifted by the largest finite
raw value, scaled by the reciprocal of the sum, one-hot on a +inf), the prediction
ProbabilisticClassificationModel's choice (from the raw prediction when that column is
on, else from the probability; ``thresholds`` through the scaled probabilities).

Spark fails the job on a row its model type rejects: multinomial and complement need
non-negative features (NaN included in the rejected), Bernoulli needs 0 or 1. Those
rows raise InvalidInputError here, naming the column and the row.

Exactness (tests/test_local_predictors.py): ``prediction`` equal; ``rawPrediction``
and ``probability`` within 1e-9. The sums run in feature order, Spark's order for a
sparse vector (a dense one goes through Spark's BLAS, which may round differently);
exp and log may differ from the JVM's in the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sparktrack.errors import InvalidInputError
from sparktrack.models._local_frame import (
    Frame,
    LocalScoringUnsupported,
    Stage,
    first_row,
    probability_to_prediction,
    read_vectors,
    spark_argmax,
)
from sparktrack.models._sparkml_reader import SavedStage, matrix, vector

__all__ = ["COMPILERS", "NaiveBayes"]

_MODEL_TYPES = ("multinomial", "complement", "bernoulli", "gaussian")


def _weighted_sums(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``values @ weights.T`` summed in feature order, starting from 0 (Spark's gemv)."""
    total = np.zeros((values.shape[0], weights.shape[0]))
    for j in range(weights.shape[1]):
        total += values[:, [j]] * weights[:, j]
    return total


def softmax(raw: np.ndarray) -> np.ndarray:
    """Spark's ml.impl.Utils.softmax, row by row."""
    rows, classes = raw.shape
    largest = np.full(rows, -np.finfo(np.float64).max)  # Double.MinValue
    for k in range(classes):
        largest = np.where(raw[:, k] > largest, raw[:, k], largest)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        exp = np.exp(raw - largest[:, None])
        total = np.zeros(rows)
        for k in range(classes):
            total += exp[:, k]
        probability = exp * (1.0 / total)[:, None]
    infinite = largest == math.inf
    if infinite.any():  # the first +inf class gets everything
        first = np.argmax(raw[infinite] == math.inf, axis=1)
        one_hot = np.zeros((int(infinite.sum()), classes))
        one_hot[np.arange(one_hot.shape[0]), first] = 1.0
        probability[infinite] = one_hot
    return probability


@dataclass(frozen=True)
class NaiveBayes:
    name: str
    features: str
    prediction: str
    probability: str
    raw_prediction: str
    model_type: str
    pi: np.ndarray  # log priors, one per class
    theta: np.ndarray  # classes x features
    sigma: np.ndarray  # classes x features (Gaussian), else empty
    thresholds: np.ndarray | None

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.features,)

    @property
    def writes(self) -> tuple[str, ...]:
        return tuple(c for c in (self.raw_prediction, self.probability, self.prediction) if c)

    def _check(self, values: np.ndarray) -> None:
        if self.model_type == "bernoulli":
            bad = (values != 0.0) & (values != 1.0)
            need = "0 or 1"
        elif self.model_type in ("multinomial", "complement"):
            bad = ~(values >= 0.0)  # NaN is rejected too, as Spark's check rejects it
            need = "non-negative values"
        else:
            return
        rows = bad.any(axis=1)
        if rows.any():
            row = first_row(rows)
            value = float(values[row, first_row(bad[row])])
            raise InvalidInputError(
                f"{self.name} (modelType={self.model_type!r}) needs {need} in column "
                f"{self.features!r}, but row {row} (counting from 0) holds {value!r}; Spark "
                "fails the whole job on such a row: fix or drop it before scoring"
            )

    def _raw(self, values: np.ndarray) -> np.ndarray:
        if self.model_type == "multinomial":
            return _weighted_sums(values, self.theta) + self.pi
        if self.model_type == "complement":
            sums = _weighted_sums(values, self.theta)
            largest = sums.max(axis=1)
            total = np.zeros(values.shape[0])
            for k in range(sums.shape[1]):
                total += np.exp(sums[:, k] - largest)
            return sums - (np.log(total) + largest)[:, None]
        if self.model_type == "bernoulli":
            with np.errstate(divide="ignore"):
                negative = np.log1p(-np.exp(self.theta))
            base = _weighted_sums(np.ones((1, self.theta.shape[1])), negative)[0] + self.pi
            return _weighted_sums(values, self.theta - negative) + base
        # Gaussian: pi - (sum of (x - mean)^2 / variance + sum of log variance) / 2.
        log_variance = np.zeros(self.theta.shape[0])
        for j in range(self.theta.shape[1]):
            log_variance += np.log(self.sigma[:, j])
        total = np.zeros((values.shape[0], self.theta.shape[0]))
        for j in range(self.theta.shape[1]):
            d = values[:, [j]] - self.theta[:, j]
            total += d * d / self.sigma[:, j]
        return self.pi - (total + log_variance) / 2

    def apply(self, frame: Frame, rows: int) -> None:
        if not self.writes:
            return
        values = read_vectors(frame, self.features, self.name, self.theta.shape[1])
        self._check(values)
        raw = self._raw(values)
        probability = None
        if self.raw_prediction:
            frame[self.raw_prediction] = raw
        if self.probability:
            probability = softmax(raw)
            frame[self.probability] = probability
        if not self.prediction:
            return
        # ProbabilisticClassificationModel.transform: from the raw prediction if that
        # column is on, else from the probability, else predict (the same two rules).
        if self.raw_prediction or probability is None:
            if self.thresholds is None:
                prediction = spark_argmax(raw).astype(np.float64)
            else:
                prediction = probability_to_prediction(softmax(raw), self.thresholds)
        else:
            prediction = probability_to_prediction(probability, self.thresholds)
        frame[self.prediction] = prediction


def _naive_bayes(saved: SavedStage) -> Stage:
    data = saved.rows()[0]
    model_type = str(saved.param("modelType", "multinomial"))
    if model_type not in _MODEL_TYPES:
        raise LocalScoringUnsupported(f"{saved.label} with modelType {model_type!r}")
    pi = vector(data["pi"])
    theta = matrix(data["theta"])
    sigma = matrix(data["sigma"]) if data.get("sigma") is not None else np.zeros((0, 0))
    if model_type == "gaussian" and sigma.shape != theta.shape:
        raise LocalScoringUnsupported(f"{saved.label}: a Gaussian model without variances")
    thresholds = saved.param("thresholds")
    if thresholds is not None and len(thresholds) != pi.shape[0]:
        # Spark's transform fails on this model; let it say so.
        raise LocalScoringUnsupported(f"{saved.label} with {len(thresholds)} thresholds")
    return NaiveBayes(
        name=saved.label,
        features=saved.param("featuresCol"),
        prediction=saved.param("predictionCol") or "",
        probability=saved.param("probabilityCol") or "",
        raw_prediction=saved.param("rawPredictionCol") or "",
        model_type=model_type,
        pi=pi,
        theta=theta,
        sigma=sigma,
        thresholds=None if thresholds is None else np.asarray(thresholds, dtype=np.float64),
    )


COMPILERS: dict[str, Callable[[SavedStage], Stage]] = {
    "org.apache.spark.ml.classification.NaiveBayesModel": _naive_bayes,
}
"""The stages compiled here, by the JVM class Spark ML saves them under."""
