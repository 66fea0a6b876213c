"""Numeric feature stages for the local scorer, as numpy over a frame of columns.

VectorAssembler, StandardScaler, MinMaxScaler, MaxAbsScaler, Normalizer and Imputer,
each mirroring the arithmetic and the invalid-value handling of Spark 3.5's transform:
the same operations in the same order (Spark multiplies by precomputed reciprocals,
sums a norm element by element), so outputs are bit-equal to Spark's, except a
Normalizer whose p is not 1, 2 or infinity (Java's Math.pow and the C library's pow
may differ in the last bit: within 1e-9). Categorical stages are in
``_local_categorical``; the frame and the helpers in ``_local_frame``.

Where Spark's result depends on what the frame does not keep (a null or a NaN, both
NaN here; a vector stored dense or sparse; an integer or a double column), the stage
raises LocalScoringUnsupported and Spark decides.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sparktrack.errors import InvalidInputError
from sparktrack.models._local_frame import (
    ColumnsStage,
    Frame,
    LocalScoringUnsupported,
    OneColumnStage,
    Stage,
    columns_of,
    first_row,
    handle_invalid,
    read_column,
    read_scalars,
    read_vectors,
)
from sparktrack.models._sparkml_reader import SavedStage, vector

__all__ = [
    "COMPILERS",
    "Assembler",
    "Imputer",
    "MinMaxScaler",
    "Normalizer",
    "StandardScaler",
    "VectorScaling",
    "zeros_meet",
]


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
            values = read_column(frame, column, self.name)
            if values.ndim == 2:  # Spark does not check the elements of vectors
                parts.append(values)
                continue
            values = read_scalars(frame, column, self.name)
            if not self.keep_invalid:
                missing = np.isnan(values)
                if missing.any():
                    raise InvalidInputError(
                        f"input column {column!r} is null or NaN in row {first_row(missing)} "
                        f"(counting from 0), and the model's {self.name} rejects missing "
                        "values (handleInvalid='error'): send a number"
                    )
            parts.append(values.reshape(-1, 1))
        frame[self.output] = np.hstack(parts) if parts else np.zeros((rows, 0))


@dataclass(frozen=True)
class StandardScaler(OneColumnStage):
    shift: np.ndarray | None  # the mean, when withMean
    scale: np.ndarray | None  # 1/std (0 where std is 0), when withStd
    size: int

    def apply(self, frame: Frame, rows: int) -> None:
        values = read_vectors(frame, self.input, self.name, self.size)
        # Spark multiplies by the precomputed reciprocal rather than dividing: same here.
        if self.shift is not None:
            values = values - self.shift
        frame[self.output] = values * self.scale if self.scale is not None else values.copy()


@dataclass(frozen=True)
class MinMaxScaler(OneColumnStage):
    original_min: np.ndarray
    scale: np.ndarray  # (max - min) / range, 0 for constant features
    low: float
    constant: float  # the output of a constant feature: (min + max) / 2

    def apply(self, frame: Frame, rows: int) -> None:
        values = read_vectors(frame, self.input, self.name, self.original_min.shape[0])
        scaled = (values - self.original_min) * self.scale + self.low
        scaled = np.where(self.scale != 0, scaled, self.constant)
        frame[self.output] = np.where(np.isnan(values), values, scaled)  # NaN stays NaN


def zeros_meet(values: np.ndarray, factors: np.ndarray) -> bool:
    """Whether a 0 of ``values`` meets a non-finite factor (0 * inf is NaN).

    Spark multiplies only the stored values of a sparse vector, leaving its zeros 0,
    but every value of a dense one: the result then depends on a storage choice the
    frame does not keep.
    """
    return bool(((values == 0) & ~np.isfinite(factors)).any())


@dataclass(frozen=True)
class VectorScaling(OneColumnStage):
    """MaxAbsScaler and ElementwiseProduct: each vector times fixed ``factors``."""

    factors: np.ndarray  # MaxAbsScaler: 1 / max |x|, 1 where the max is 0

    def apply(self, frame: Frame, rows: int) -> None:
        values = read_vectors(frame, self.input, self.name, self.factors.shape[0])
        if zeros_meet(values, self.factors):
            raise LocalScoringUnsupported(f"{self.name} on a zero scaled by {self.factors!r}")
        # MaxAbsScaler: Spark multiplies by the precomputed reciprocal rather than
        # dividing: same here.
        frame[self.output] = values * self.factors


def _norms(values: np.ndarray, p: float) -> np.ndarray:
    """Each row's p-norm, summed in element order as Spark's Vectors.norm sums it."""
    total = np.zeros(values.shape[0])
    magnitudes = np.abs(values)
    for j in range(values.shape[1]):
        column = magnitudes[:, j]
        if p == 1:
            total += column
        elif p == 2:
            total += values[:, j] * values[:, j]
        elif p == math.inf:
            greater = column > total  # NaN never is: Spark's max skips it
            total[greater] = column[greater]
        else:
            total += np.power(column, p)
    if p == 2:
        return np.sqrt(total)
    if p in (1, math.inf):
        return total
    return np.power(total, 1.0 / p)


@dataclass(frozen=True)
class Normalizer(OneColumnStage):
    p: float

    def apply(self, frame: Frame, rows: int) -> None:
        values = read_vectors(frame, self.input, self.name, None)
        norms = _norms(values, self.p)
        if (np.isnan(norms)[:, None] & (values == 0)).any():
            # A NaN norm turns a dense vector's zeros into NaN but leaves a sparse one's.
            raise LocalScoringUnsupported(f"{self.name} on a vector holding NaN and zeros")
        # Spark returns a vector of norm 0 unchanged and divides every other one.
        divide = norms != 0.0
        normalized = values.copy()
        normalized[divide] = values[divide] / norms[divide, None]
        frame[self.output] = normalized


@dataclass(frozen=True)
class Imputer(ColumnsStage):
    surrogates: tuple[float, ...]
    missing_value: float

    def apply(self, frame: Frame, rows: int) -> None:
        for column, output, surrogate in zip(
            self.inputs, self.outputs, self.surrogates, strict=True
        ):
            values = read_scalars(frame, column, self.name)
            frame[output] = self._impute(values, surrogate, column)

    def _impute(self, values: np.ndarray, surrogate: float, column: str) -> np.ndarray:
        if math.isnan(self.missing_value):
            replace = np.isnan(values)  # Spark replaces nulls, and NaN equals NaN in SQL
        elif np.isnan(values).any():
            # Spark replaces a null but keeps a NaN: the frame does not tell them apart.
            raise LocalScoringUnsupported(f"{self.name} on a missing value in {column!r}")
        else:
            replace = values == self.missing_value
        if values.dtype.kind in "iu" or values.dtype == np.float32:
            # Spark casts the result to the input's type: an integer truncates, a float
            # rounds to single precision.
            filler = np.trunc(surrogate) if values.dtype.kind in "iu" else surrogate
            return np.where(replace, filler, values).astype(values.dtype)
        if replace.any() and _narrowed(values[~replace], surrogate):
            raise LocalScoringUnsupported(
                f"{self.name} on column {column!r}, which may be an integer or float column "
                f"(Spark would cast the surrogate {surrogate!r} to its type)"
            )
        return np.where(replace, surrogate, values)


def _narrowed(present: np.ndarray, surrogate: float) -> bool:
    """Whether Spark's cast to the input's type may change the surrogate.

    The frame holds every number as a double; a column whose values all fit an
    integer (or a float) may be one, and Spark casts the surrogate to it.
    """
    integral = bool((present == np.trunc(present)).all())
    single = bool((present.astype(np.float32) == present).all())
    return (integral and surrogate != math.trunc(surrogate)) or (
        single and float(np.float32(surrogate)) != surrogate
    )


# -- compiling saved stages ----------------------------------------------------------------
def _assembler(saved: SavedStage) -> Stage:
    return Assembler(
        name=saved.label,
        inputs=tuple(saved.param("inputCols") or ()),
        output=saved.param("outputCol"),
        keep_invalid=handle_invalid(saved, ("error", "keep")),
    )


def _standard_scaler(saved: SavedStage) -> Stage:
    data = saved.rows()[0]
    std = vector(data["std"])
    return StandardScaler(
        name=saved.label,
        input=saved.param("inputCol"),
        output=saved.param("outputCol"),
        shift=vector(data["mean"]) if saved.param("withMean") else None,
        scale=np.array([0.0 if v == 0 else 1.0 / v for v in std])
        if saved.param("withStd")
        else None,
        size=std.shape[0],
    )


def _min_max_scaler(saved: SavedStage) -> Stage:
    data = saved.rows()[0]
    low, high = float(saved.param("min")), float(saved.param("max"))
    original_min, original_max = vector(data["originalMin"]), vector(data["originalMax"])
    spread = original_max - original_min
    scale = np.array([(high - low) / r if r != 0 else 0.0 for r in spread])
    return MinMaxScaler(
        name=saved.label,
        input=saved.param("inputCol"),
        output=saved.param("outputCol"),
        original_min=original_min,
        scale=scale,
        low=low,
        constant=(low + high) / 2,
    )


def _max_abs_scaler(saved: SavedStage) -> Stage:
    max_abs = vector(saved.rows()[0]["maxAbs"])
    return VectorScaling(
        name=saved.label,
        input=saved.param("inputCol"),
        output=saved.param("outputCol"),
        factors=np.array([1.0 if v == 0 else 1.0 / v for v in max_abs]),
    )


def _normalizer(saved: SavedStage) -> Stage:
    return Normalizer(
        name=saved.label,
        input=saved.param("inputCol"),
        output=saved.param("outputCol"),
        p=float(saved.param("p")),  # Spark writes infinity as "Inf"
    )


def _imputer(saved: SavedStage) -> Stage:
    inputs = columns_of(saved, "inputCol", "inputCols")
    data = saved.rows()[0]  # one surrogate per input column, under its name
    return Imputer(
        name=saved.label,
        inputs=inputs,
        outputs=columns_of(saved, "outputCol", "outputCols"),
        surrogates=tuple(float(data[column]) for column in inputs),
        missing_value=float(saved.param("missingValue")),
    )


_FEATURE = "org.apache.spark.ml.feature."

COMPILERS: dict[str, Callable[[SavedStage], Stage]] = {
    _FEATURE + "VectorAssembler": _assembler,
    _FEATURE + "StandardScalerModel": _standard_scaler,
    _FEATURE + "MinMaxScalerModel": _min_max_scaler,
    _FEATURE + "MaxAbsScalerModel": _max_abs_scaler,
    _FEATURE + "Normalizer": _normalizer,
    _FEATURE + "ImputerModel": _imputer,
}
"""The feature stages compiled here, by the JVM class Spark ML saves them under."""
