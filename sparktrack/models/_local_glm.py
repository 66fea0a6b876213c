"""GeneralizedLinearRegression for the local scorer: Spark's families and links.

Spark's model computes the linear predictor ``eta = features . coefficients +
intercept + offset`` and the prediction ``family.project(link.unlink(eta))``; both are
reproduced here with Spark's formulas (GeneralizedLinearRegression.scala): the same
clipping by family (binomial into [1e-16, 1 - 1e-16], poisson/gamma/tweedie at least
1e-16, infinities to Double.MaxValue), the same special links for tweedie's
``linkPower`` 0, 1, -1 and 0.5, the same ``0.5 * (1 + erf(x / sqrt 2))`` for probit.

Exactness: ``linkPrediction`` sums the terms in feature order, which is Spark's own
order for a sparse vector and equal within rounding for a dense one (Spark's dense dot
uses fused multiply-adds in four lanes), so it and ``prediction`` are compared within
1e-9. Links without transcendental functions (identity, inverse, sqrt) add no rounding
of their own; exp, log, pow and erf may differ from the JVM's in the last bit.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sparktrack.models._local_frame import (
    Frame,
    LocalScoringUnsupported,
    Stage,
    dot,
    read_scalars,
    read_vectors,
)
from sparktrack.models._sparkml_reader import SavedStage, vector

__all__ = ["COMPILERS", "GeneralizedLinearRegression"]

_EPSILON = 1e-16  # GeneralizedLinearRegression.epsilon
_MAX = sys.float_info.max
_FAMILIES = ("gaussian", "binomial", "poisson", "gamma", "tweedie")
_LINKS = ("identity", "log", "inverse", "logit", "probit", "cloglog", "sqrt")
# Spark's Family.fromParams: tweedie with these variance powers is that family.
_TWEEDIE_AS = {0.0: "gaussian", 1.0: "poisson", 2.0: "gamma"}
_DEFAULT_LINK = {"gaussian": "identity", "binomial": "logit", "poisson": "log", "gamma": "inverse"}
# Spark's Link.fromParams for tweedie: these link powers are the named links.
_POWER_AS = {0.0: "log", 1.0: "identity", -1.0: "inverse", 0.5: "sqrt"}
_erf = np.frompyfunc(math.erf, 1, 1)  # numpy has no erf; probit is rare enough for this


def _unlink(link: str, power: float, eta: np.ndarray) -> np.ndarray:
    """Spark's ``link.unlink(eta)``; ``power`` is the link power of a ``power`` link."""
    with np.errstate(all="ignore"):
        if link == "identity":
            return eta
        if link == "log":
            return np.exp(eta)
        if link == "inverse":
            return 1.0 / eta
        if link == "sqrt":
            return eta * eta
        if link == "logit":
            return 1.0 / (1.0 + np.exp(-1.0 * eta))
        if link == "probit":  # breeze's Gaussian(0, 1).cdf
            return 0.5 * (1.0 + np.asarray(_erf(eta / math.sqrt(2.0)), dtype=np.float64))
        if link == "cloglog":
            return 1.0 - np.exp(-1.0 * np.exp(eta))
        # Spark's Power link: log at 0, else eta ** (1 / power).
        return np.exp(eta) if power == 0.0 else np.power(eta, 1.0 / power)


def _project(family: str, mu: np.ndarray) -> np.ndarray:
    """Spark's ``family.project(mu)``: the fitted value trimmed into the family's range."""
    if family == "gaussian":
        return np.where(mu == -math.inf, -_MAX, np.where(mu == math.inf, _MAX, mu))
    if family == "binomial":
        return np.where(mu < _EPSILON, _EPSILON, np.where(mu > 1.0 - _EPSILON, 1.0 - _EPSILON, mu))
    # Tweedie and its special cases poisson and gamma (NaN passes through, as in Spark).
    return np.where(mu < _EPSILON, _EPSILON, np.where(np.isinf(mu), _MAX, mu))


@dataclass(frozen=True)
class GeneralizedLinearRegression:
    name: str
    features: str
    offset: str  # "" when the model has no offset column
    prediction: str
    link_prediction: str
    coefficients: np.ndarray
    intercept: float
    family: str  # gaussian, binomial, poisson, gamma or tweedie (another variance power)
    link: str  # one of _LINKS, or "power"
    link_power: float  # for the power link

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.features, self.offset) if self.offset else (self.features,)

    @property
    def writes(self) -> tuple[str, ...]:
        return tuple(c for c in (self.link_prediction, self.prediction) if c)

    def apply(self, frame: Frame, rows: int) -> None:
        if not self.writes:
            return
        values = read_vectors(frame, self.features, self.name, self.coefficients.shape[0])
        eta = dot(values, self.coefficients) + self.intercept
        if self.offset:
            offset = read_scalars(frame, self.offset, self.name)
            if np.isnan(offset).any():
                # Spark's UDF takes the offset as a primitive double: a null makes both
                # outputs null, which a float column cannot say. Let Spark answer.
                raise LocalScoringUnsupported(f"{self.name} on a missing offset")
            eta = eta + offset
        if self.link_prediction:
            frame[self.link_prediction] = eta
        if self.prediction:
            frame[self.prediction] = _project(self.family, _unlink(self.link, self.link_power, eta))


def _family_and_link(saved: SavedStage) -> tuple[str, str, float]:
    """Spark's FamilyAndLink(model): the family, the link and the link's power."""
    family = str(saved.param("family", "gaussian")).lower()
    if family not in _FAMILIES:
        raise LocalScoringUnsupported(f"{saved.label} with family {family!r}")
    if family == "tweedie":
        variance_power = float(saved.param("variancePower", 0.0))
        family = _TWEEDIE_AS.get(variance_power, "tweedie")
        if "linkPower" in saved.set_params:
            power = float(saved.param("linkPower"))
            return family, _POWER_AS.get(power, "power"), power
        if family == "tweedie":
            return family, "power", 1.0 - variance_power
        return family, _DEFAULT_LINK[family], 0.0
    if "link" in saved.set_params:
        link = str(saved.param("link")).lower()
        if link not in _LINKS:
            raise LocalScoringUnsupported(f"{saved.label} with link {link!r}")
        return family, link, 0.0
    return family, _DEFAULT_LINK[family], 0.0


def _generalized_linear_regression(saved: SavedStage) -> Stage:
    data = saved.rows()[0]
    family, link, power = _family_and_link(saved)
    return GeneralizedLinearRegression(
        name=saved.label,
        features=saved.param("featuresCol"),
        offset=saved.param("offsetCol") or "" if "offsetCol" in saved.set_params else "",
        prediction=saved.param("predictionCol") or "",
        link_prediction=saved.param("linkPredictionCol") or "",
        coefficients=vector(data["coefficients"]),
        intercept=float(data["intercept"]),
        family=family,
        link=link,
        link_power=power,
    )


COMPILERS: dict[str, Callable[[SavedStage], Stage]] = {
    "org.apache.spark.ml.regression.GeneralizedLinearRegressionModel": (
        _generalized_linear_regression
    ),
}
"""The stages compiled here, by the JVM class Spark ML saves them under."""
