"""The frame of columns the local scorer works on, and what every stage shares.

A frame is a dict of columns: numeric columns are 1-D float64 arrays (NaN for a
missing value, as Spark sees a null once the input is converted), string columns 1-D
object arrays (None for null), vector columns 2-D float64 arrays (rows x size).

The helpers read a stage's input columns with the checks Spark would make, and do
arithmetic the way Spark does it (the order of sums, how its argmax treats NaN), so
the stages built on them give Spark's results.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from sparktrack.errors import InvalidInputError

if TYPE_CHECKING:
    from sparktrack.models._sparkml_reader import SavedStage

__all__ = [
    "ColumnsStage",
    "Frame",
    "LocalScoringUnsupported",
    "OneColumnStage",
    "Stage",
    "columns_of",
    "dot",
    "first_row",
    "handle_invalid",
    "probability_to_prediction",
    "read_column",
    "read_scalars",
    "read_vectors",
    "spark_argmax",
]

Frame = dict[str, np.ndarray]


class LocalScoringUnsupported(Exception):
    """This model or this input needs Spark; the message says why.

    Not a SparktrackError: it never reaches users. Whoever scores locally catches it
    and scores with Spark instead, which then accepts or rejects the input itself.
    """


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


@dataclass(frozen=True)
class OneColumnStage:
    """The base of stages that read one column and write one (``inputCol``/``outputCol``)."""

    name: str
    input: str
    output: str

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.input,)

    @property
    def writes(self) -> tuple[str, ...]:
        return (self.output,)


@dataclass(frozen=True)
class ColumnsStage:
    """The base of stages that map input columns to output columns one to one."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @property
    def reads(self) -> tuple[str, ...]:
        return self.inputs

    @property
    def writes(self) -> tuple[str, ...]:
        return self.outputs


def read_column(frame: Frame, name: str, stage: str) -> np.ndarray:
    try:
        return frame[name]
    except KeyError:
        raise InvalidInputError(
            f"{stage} reads column {name!r}, which the input does not have; send it"
        ) from None


_KINDS = {"str": "strings", "bool": "booleans", "bytes": "bytes"}


def read_scalars(frame: Frame, name: str, stage: str) -> np.ndarray:
    values = read_column(frame, name, stage)
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


def read_vectors(frame: Frame, name: str, stage: str, size: int | None) -> np.ndarray:
    values = read_column(frame, name, stage)
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


def first_row(mask: np.ndarray) -> int:
    return int(np.argmax(mask))


def spark_argmax(values: np.ndarray, *, from_minus_infinity: bool = False) -> np.ndarray:
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
    """Compute ``features @ coefficients`` the way Spark does.

    Small vectors are summed term by term in feature order, as Spark does for sparse
    vectors, which matches transform to the last bit there. For dense vectors on Java
    11+ Spark's BLAS keeps four running sums of fused multiply-adds, so results agree
    to within rounding (1e-9 relative in the tests); wide vectors use numpy's matrix
    product (also within rounding).
    """
    if coefficients.shape[0] > 64:
        return features @ coefficients
    total = np.zeros(features.shape[0])
    for j in range(coefficients.shape[0]):
        total += features[:, j] * coefficients[j]
    return total


def columns_of(saved: SavedStage, single: str, multi: str) -> tuple[str, ...]:
    """The columns a stage names through a single-column param or a multi-column one."""
    many = saved.param(multi)
    if many:
        return tuple(many)
    one = saved.param(single)
    return (one,) if one else ()


def handle_invalid(saved: SavedStage, supported: Sequence[str]) -> bool:
    """Whether invalid values are kept; LocalScoringUnsupported for other modes (skip)."""
    mode = saved.param("handleInvalid") or "error"
    if mode not in supported:
        # "skip" drops rows: the output would no longer line up with the request.
        raise LocalScoringUnsupported(f"{saved.label} with handleInvalid={mode!r}")
    return bool(mode == "keep")


def probability_to_prediction(probability: np.ndarray, thresholds: np.ndarray | None) -> np.ndarray:
    """ProbabilisticClassificationModel.probability2prediction."""
    if thresholds is None:
        return spark_argmax(probability).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = probability / thresholds  # a 0 threshold: +inf, or NaN (never wins) at p=0
    return spark_argmax(scaled, from_minus_infinity=True).astype(np.float64)
