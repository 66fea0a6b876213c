"""The linear predictors the local scorer evaluates: linear and logistic regression, LinearSVC.

Each mirrors the arithmetic of Spark's own transform (the order of sums, the
reciprocals Spark multiplies by, how its argmax treats NaN), so predicted classes equal
Spark's and the numbers agree with them to within rounding.

Exactness, per stage (what tests/test_local_predictors.py checks):

* LinearRegression: ``prediction`` within 1e-9. The margin sums the terms in feature
  order: Spark's order for a sparse vector, while for a dense one Spark's BLAS (JDK 11+)
  sums four lanes of fused multiply-adds, which can differ in the last bits.
* LogisticRegression: ``prediction`` equal (binomial threshold, ``thresholds``, the
  multinomial family on two or more classes); ``rawPrediction`` and ``probability``
  within 1e-9 (the margin as above; exp may differ from the JVM's in the last bit).
* LinearSVC: ``prediction`` equal (the raw margin against ``threshold``, as Spark does);
  ``rawPrediction`` ``[-m, m]`` within 1e-9 (the margin as above).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sparktrack.models._local_frame import (
    Frame,
    LocalScoringUnsupported,
    Stage,
    dot,
    probability_to_prediction,
    read_vectors,
    spark_argmax,
)
from sparktrack.models._sparkml_reader import SavedStage, matrix, vector

__all__ = ["COMPILERS", "LinearRegression", "LinearSVC", "LogisticRegression"]


@dataclass(frozen=True)
class LinearRegression:
    name: str
    features: str
    prediction: str
    coefficients: np.ndarray
    intercept: float

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.features,)

    @property
    def writes(self) -> tuple[str, ...]:
        return (self.prediction,) if self.prediction else ()

    def apply(self, frame: Frame, rows: int) -> None:
        if not self.prediction:
            return
        values = read_vectors(frame, self.features, self.name, self.coefficients.shape[0])
        frame[self.prediction] = dot(values, self.coefficients) + self.intercept


@dataclass(frozen=True)
class LogisticRegression:
    name: str
    features: str
    prediction: str
    probability: str
    raw_prediction: str
    coefficients: np.ndarray  # classes x features (one row when binomial)
    intercepts: np.ndarray
    multinomial: bool
    threshold: float  # binomial
    thresholds: np.ndarray | None  # multinomial, when set

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.features,)

    @property
    def writes(self) -> tuple[str, ...]:
        return tuple(c for c in (self.raw_prediction, self.probability, self.prediction) if c)

    def _raw(self, values: np.ndarray) -> np.ndarray:
        if not self.multinomial:
            margin = dot(values, self.coefficients[0]) + self.intercepts[0]
            return np.column_stack([-margin, margin])
        # Spark starts each margin at the intercept and adds the terms in feature order.
        raw = np.tile(self.intercepts, (values.shape[0], 1))
        if self.coefficients.shape[1] > 64:
            return raw + values @ self.coefficients.T
        for j in range(self.coefficients.shape[1]):
            raw += values[:, [j]] * self.coefficients[:, j]
        return raw

    def _probability(self, raw: np.ndarray) -> np.ndarray:
        if not self.multinomial:
            with np.errstate(over="ignore"):
                return 1.0 / (1.0 + np.exp(-raw))
        # Spark's softmax: shift by the largest margin only when it is positive, and
        # scale by the reciprocal of the sum.
        largest = raw[np.arange(raw.shape[0]), spark_argmax(raw)]
        shift = np.where(largest > 0, largest, 0.0)[:, None]
        with np.errstate(over="ignore", invalid="ignore"):
            exp = np.exp(raw - shift)
            total = np.zeros(raw.shape[0])
            for k in range(raw.shape[1]):  # summed in class order, as Spark does
                total += exp[:, k]
            probability = exp * (1.0 / total)[:, None]
        infinite = largest == math.inf
        if infinite.any():
            one_hot = np.zeros_like(raw)
            one_hot[np.flatnonzero(infinite), spark_argmax(raw[infinite])] = 1.0
            probability[infinite] = one_hot[infinite]
        return probability

    def _predict_from_probability(self, probability: np.ndarray) -> np.ndarray:
        if not self.multinomial:
            return (probability[:, 1] > self.threshold).astype(np.float64)
        return probability_to_prediction(probability, self.thresholds)

    def _predict_from_raw(self, raw: np.ndarray) -> np.ndarray:
        if not self.multinomial:
            t = self.threshold
            cut = -math.inf if t == 0.0 else math.inf if t == 1.0 else math.log(t / (1.0 - t))
            return (raw[:, 1] > cut).astype(np.float64)
        if self.thresholds is None:
            return spark_argmax(raw).astype(np.float64)
        return self._predict_from_probability(self._probability(raw))

    def apply(self, frame: Frame, rows: int) -> None:
        values = read_vectors(frame, self.features, self.name, self.coefficients.shape[1])
        raw = self._raw(values)
        probability = None
        if self.raw_prediction:
            frame[self.raw_prediction] = raw
        if self.probability:
            probability = self._probability(raw)
            frame[self.probability] = probability
        if not self.prediction:
            return
        # The order of Spark's ProbabilisticClassificationModel.transform: from the raw
        # prediction if that column is on, else from the probability, else directly.
        if self.raw_prediction:
            prediction = self._predict_from_raw(raw)
        elif probability is not None:
            prediction = self._predict_from_probability(probability)
        elif not self.multinomial:
            score = 1.0 / (1.0 + np.exp(-raw[:, 1]))
            prediction = (score > self.threshold).astype(np.float64)
        else:
            prediction = self._predict_from_raw(raw)
        frame[self.prediction] = prediction


@dataclass(frozen=True)
class LinearSVC:
    name: str
    features: str
    prediction: str
    raw_prediction: str
    coefficients: np.ndarray
    intercept: float
    threshold: float  # on the raw margin, not a probability

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.features,)

    @property
    def writes(self) -> tuple[str, ...]:
        return tuple(c for c in (self.raw_prediction, self.prediction) if c)

    def apply(self, frame: Frame, rows: int) -> None:
        if not self.writes:
            return
        values = read_vectors(frame, self.features, self.name, self.coefficients.shape[0])
        margin = dot(values, self.coefficients) + self.intercept
        if self.raw_prediction:
            frame[self.raw_prediction] = np.column_stack([-margin, margin])
        if self.prediction:
            # Spark's raw2prediction and predict both compare the margin itself (NaN: 0).
            frame[self.prediction] = (margin > self.threshold).astype(np.float64)


# -- compiling saved stages ----------------------------------------------------------------
def _linear_regression(saved: SavedStage) -> Stage:
    data = saved.rows()[0]
    return LinearRegression(
        name=saved.label,
        features=saved.param("featuresCol"),
        prediction=saved.param("predictionCol") or "",
        coefficients=vector(data["coefficients"]),
        intercept=float(data["intercept"]),
    )


def _binomial_threshold(saved: SavedStage) -> float:
    """Spark's getThreshold: from ``thresholds`` when set, else ``threshold``."""
    thresholds = saved.param("thresholds")
    if thresholds:
        return float(1.0 / (1.0 + thresholds[0] / thresholds[1]))
    return float(saved.param("threshold", 0.5))


def _logistic_regression(saved: SavedStage) -> Stage:
    data = saved.rows()[0]
    if "coefficientMatrix" not in data:  # Spark 2.0's layout: binomial only
        coefficients = vector(data["coefficients"]).reshape(1, -1)
        intercepts = np.array([float(data["intercept"])])
    else:
        coefficients = matrix(data["coefficientMatrix"])
        intercepts = vector(data["interceptVector"])
    # A binomial model has one row of coefficients; a multinomial one a row per class
    # (also for two classes when fitted with family="multinomial").
    multinomial = coefficients.shape[0] > 1
    if coefficients.shape[0] != intercepts.shape[0]:
        raise LocalScoringUnsupported(f"{saved.label} with an unexpected coefficient shape")
    thresholds = saved.param("thresholds")
    return LogisticRegression(
        name=saved.label,
        features=saved.param("featuresCol"),
        prediction=saved.param("predictionCol") or "",
        probability=saved.param("probabilityCol") or "",
        raw_prediction=saved.param("rawPredictionCol") or "",
        coefficients=coefficients,
        intercepts=intercepts,
        multinomial=bool(multinomial),
        threshold=_binomial_threshold(saved) if not multinomial else 0.5,
        thresholds=np.asarray(thresholds, dtype=np.float64) if multinomial and thresholds else None,
    )


def _linear_svc(saved: SavedStage) -> Stage:
    data = saved.rows()[0]
    return LinearSVC(
        name=saved.label,
        features=saved.param("featuresCol"),
        prediction=saved.param("predictionCol") or "",
        raw_prediction=saved.param("rawPredictionCol") or "",
        coefficients=vector(data["coefficients"]),
        intercept=float(data["intercept"]),
        threshold=float(saved.param("threshold", 0.0)),
    )


COMPILERS: dict[str, Callable[[SavedStage], Stage]] = {
    "org.apache.spark.ml.classification.LinearSVCModel": _linear_svc,
    "org.apache.spark.ml.regression.LinearRegressionModel": _linear_regression,
    "org.apache.spark.ml.classification.LogisticRegressionModel": _logistic_regression,
}
"""The predictors compiled here, by the JVM class Spark ML saves them under."""
