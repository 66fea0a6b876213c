"""The stages the local scorer evaluates, as numpy over a frame of columns.

Each stage mirrors the arithmetic of Spark's own transform (the order of sums, the
reciprocals Spark multiplies by, how its argmax treats NaN), so predictions equal
Spark's and probabilities agree with them to within rounding.

A frame is a dict of columns: numeric columns are 1-D float64 arrays (NaN for a
missing value, as Spark sees a null once the input is converted), string columns 1-D
object arrays (None for null), vector columns 2-D float64 arrays (rows x size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sparktrack.errors import InvalidInputError

__all__ = [
    "Assembler",
    "Frame",
    "LinearRegression",
    "LocalScoringUnsupported",
    "LogisticRegression",
    "MinMaxScaler",
    "OneHotEncoder",
    "Stage",
    "StandardScaler",
    "StringIndexer",
]

Frame = dict[str, np.ndarray]


class LocalScoringUnsupported(Exception):
    """This model or this input needs Spark; the message says why."""


class Stage(Protocol):
    """One fitted stage: the columns it reads and writes, and applying it to a frame."""

    @property
    def name(self) -> str:
        """The stage's class and uid, for messages."""

    @property
    def reads(self) -> tuple[str, ...]: ...

    @property
    def writes(self) -> tuple[str, ...]: ...

    def apply(self, frame: Frame, rows: int) -> None: ...


# -- helpers ----------------------------------------------------------------------------
def _column(frame: Frame, name: str, stage: str) -> np.ndarray:
    try:
        return frame[name]
    except KeyError:
        raise InvalidInputError(
            f"{stage} reads column {name!r}, which the input does not have; send it"
        ) from None


_KINDS = {"str": "strings", "bool": "booleans", "bytes": "bytes"}


def _scalar(frame: Frame, name: str, stage: str) -> np.ndarray:
    values = _column(frame, name, stage)
    if values.ndim != 1:
        raise InvalidInputError(f"{stage} reads column {name!r} as a number, but it is a vector")
    if values.dtype == bool:
        # true/false are not numbers in a request: scoring them as 1/0 would hide a
        # column sent in the wrong place. A signature may declare the column boolean.
        raise InvalidInputError(
            f"{stage} reads column {name!r} as a number, but it holds booleans "
            f"(true/false); send numbers, or log the model with a signature that declares "
            f"{name!r} boolean"
        )
    if values.dtype == object:
        present = [v for v in values if v is not None]
        if not present:  # nothing but nulls: missing numbers, which the stage judges
            return np.full(values.shape[0], np.nan)
        kinds = sorted({_KINDS.get(type(v).__name__, type(v).__name__) for v in present})
        raise InvalidInputError(
            f"{stage} reads column {name!r} as a number, but it holds {' and '.join(kinds)}; "
            "send numbers"
        )
    return values


def _vectors(frame: Frame, name: str, stage: str, size: int | None) -> np.ndarray:
    values = _column(frame, name, stage)
    if values.ndim != 2:
        raise InvalidInputError(
            f"{stage} reads column {name!r} as a vector, but it holds single values; send a "
            "list of numbers per row"
        )
    if size is not None and values.shape[1] != size:
        raise InvalidInputError(
            f"{stage} reads vectors of {size} values from column {name!r}, got "
            f"{values.shape[1]}; the input does not fit the model"
        )
    return values


def _first_row(mask: np.ndarray) -> int:
    return int(np.argmax(mask))


def _spark_argmax(values: np.ndarray, *, from_minus_infinity: bool = False) -> np.ndarray:
    """Row-wise index of the first maximum, found the way Spark finds it.

    Spark moves only on a strictly greater value, so NaNs never win (numpy's argmax
    picks the first NaN). Vector.argmax starts from element 0; the thresholds loop of
    probability2prediction starts from -inf (``from_minus_infinity``).
    """
    first = 0 if from_minus_infinity else 1
    best = np.full(values.shape[0], -math.inf) if from_minus_infinity else values[:, 0].copy()
    index = np.zeros(values.shape[0], dtype=np.int64)
    for k in range(first, values.shape[1]):
        greater = values[:, k] > best
        index[greater] = k
        best[greater] = values[greater, k]
    return index


def dot(features: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """features @ coefficients, summed term by term in feature order as Spark's Java BLAS
    does for small vectors, so results match transform to the last bit; wide vectors use
    numpy's matrix product (same values up to rounding)."""
    if coefficients.shape[0] > 64:
        return features @ coefficients
    total = np.zeros(features.shape[0])
    for j in range(coefficients.shape[0]):
        total += features[:, j] * coefficients[j]
    return total


# -- stages -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Assembler:
    name: str
    inputs: tuple[str, ...]
    output: str
    keep_invalid: bool

    @property
    def reads(self) -> tuple[str, ...]:
        return self.inputs

    @property
    def writes(self) -> tuple[str, ...]:
        return (self.output,)

    def apply(self, frame: Frame, rows: int) -> None:
        parts = []
        for column in self.inputs:
            values = _column(frame, column, self.name)
            if values.ndim == 2:  # Spark does not check the elements of vectors
                parts.append(values)
                continue
            values = _scalar(frame, column, self.name)
            if not self.keep_invalid:
                missing = np.isnan(values)
                if missing.any():
                    raise InvalidInputError(
                        f"input column {column!r} is null or NaN in row {_first_row(missing)} "
                        f"(counting from 0), and the model's {self.name} rejects missing "
                        "values (handleInvalid='error'): send a number"
                    )
            parts.append(values.reshape(-1, 1))
        frame[self.output] = np.hstack(parts) if parts else np.zeros((rows, 0))


@dataclass(frozen=True)
class StandardScaler:
    name: str
    input: str
    output: str
    shift: np.ndarray | None  # the mean, when withMean
    scale: np.ndarray | None  # 1/std (0 where std is 0), when withStd
    size: int

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.input,)

    @property
    def writes(self) -> tuple[str, ...]:
        return (self.output,)

    def apply(self, frame: Frame, rows: int) -> None:
        values = _vectors(frame, self.input, self.name, self.size)
        # Spark multiplies by the precomputed reciprocal rather than dividing: same here.
        if self.shift is not None:
            values = values - self.shift
        frame[self.output] = values * self.scale if self.scale is not None else values.copy()


@dataclass(frozen=True)
class MinMaxScaler:
    name: str
    input: str
    output: str
    original_min: np.ndarray
    scale: np.ndarray  # (max - min) / range, 0 for constant features
    low: float
    constant: float  # the output of a constant feature: (min + max) / 2

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.input,)

    @property
    def writes(self) -> tuple[str, ...]:
        return (self.output,)

    def apply(self, frame: Frame, rows: int) -> None:
        values = _vectors(frame, self.input, self.name, self.original_min.shape[0])
        scaled = (values - self.original_min) * self.scale + self.low
        scaled = np.where(self.scale != 0, scaled, self.constant)
        frame[self.output] = np.where(np.isnan(values), values, scaled)  # NaN stays NaN


@dataclass(frozen=True)
class StringIndexer:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    indexes: tuple[dict[str, float], ...]
    keep_invalid: bool

    @property
    def reads(self) -> tuple[str, ...]:
        return self.inputs

    @property
    def writes(self) -> tuple[str, ...]:
        return self.outputs

    def apply(self, frame: Frame, rows: int) -> None:
        for column, output, index in zip(self.inputs, self.outputs, self.indexes, strict=True):
            if column not in frame:
                # Spark skips an indexer whose input is absent (e.g. the label at scoring).
                continue
            values = frame[column]
            if values.ndim != 1 or values.dtype != object:
                # Spark casts numbers and booleans to strings first; leave that to Spark.
                raise LocalScoringUnsupported(f"{self.name} on non-string column {column!r}")
            unknown = float(len(index))
            out = np.empty(rows)
            for row, label in enumerate(values):
                found = index.get(label) if label is not None else None
                if found is None:
                    if not self.keep_invalid:
                        what = "null" if label is None else f"the unseen label {label!r}"
                        raise InvalidInputError(
                            f"input column {column!r} holds {what} in row {row} (counting "
                            f"from 0); the model's {self.name} knows only the labels it was "
                            f"fitted on ({_some(index)}) and rejects others "
                            "(handleInvalid='error')"
                        )
                    found = unknown
                out[row] = found
            frame[output] = out


def _some(index: dict[str, float], limit: int = 10) -> str:
    labels = list(index)
    shown = ", ".join(repr(label) for label in labels[:limit])
    return shown + (f", ... {len(labels)} in all" if len(labels) > limit else "")


@dataclass(frozen=True)
class OneHotEncoder:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    category_sizes: tuple[int, ...]
    output_sizes: tuple[int, ...]
    keep_invalid: bool

    @property
    def reads(self) -> tuple[str, ...]:
        return self.inputs

    @property
    def writes(self) -> tuple[str, ...]:
        return self.outputs

    def apply(self, frame: Frame, rows: int) -> None:
        for i, (column, output) in enumerate(zip(self.inputs, self.outputs, strict=True)):
            values = _scalar(frame, column, self.name)
            if np.isnan(values).any():
                # A missing input is a null for Spark, which encodes it as a null vector
                # whose fate is the next stage's: let Spark decide.
                raise LocalScoringUnsupported(f"{self.name} on a missing value in {column!r}")
            categories = self.category_sizes[i]
            valid = (values >= 0) & (values < categories)
            if not valid.all() and not self.keep_invalid:
                row = _first_row(~valid)
                kind = "a negative value" if values[row] < 0 else "an unseen category"
                raise InvalidInputError(
                    f"input column {column!r} holds {kind} ({values[row]!r}) in row {row} "
                    f"(counting from 0); the model's {self.name} knows categories 0 to "
                    f"{categories - 1} and rejects others (handleInvalid='error')"
                )
            # Spark truncates the category to an int (1.7 -> slot 1).
            slot = np.trunc(np.where(valid, values, categories)).astype(np.int64)
            size = self.output_sizes[i]
            encoded = np.zeros((rows, size))
            hit = slot < size  # the last category is dropped when dropLast
            encoded[np.flatnonzero(hit), slot[hit]] = 1.0
            frame[output] = encoded


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
        values = _vectors(frame, self.features, self.name, self.coefficients.shape[0])
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
        largest = raw[np.arange(raw.shape[0]), _spark_argmax(raw)]
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
            one_hot[np.flatnonzero(infinite), _spark_argmax(raw[infinite])] = 1.0
            probability[infinite] = one_hot[infinite]
        return probability

    def _predict_from_probability(self, probability: np.ndarray) -> np.ndarray:
        if not self.multinomial:
            return (probability[:, 1] > self.threshold).astype(np.float64)
        if self.thresholds is None:
            return _spark_argmax(probability).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = probability / self.thresholds
        return _spark_argmax(scaled, from_minus_infinity=True).astype(np.float64)

    def _predict_from_raw(self, raw: np.ndarray) -> np.ndarray:
        if not self.multinomial:
            t = self.threshold
            cut = -math.inf if t == 0.0 else math.inf if t == 1.0 else math.log(t / (1.0 - t))
            return (raw[:, 1] > cut).astype(np.float64)
        if self.thresholds is None:
            return _spark_argmax(raw).astype(np.float64)
        return self._predict_from_probability(self._probability(raw))

    def apply(self, frame: Frame, rows: int) -> None:
        values = _vectors(frame, self.features, self.name, self.coefficients.shape[1])
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
