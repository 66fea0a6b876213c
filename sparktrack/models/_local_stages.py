"""The feature stages the local scorer evaluates, as numpy over a frame of columns.

VectorAssembler, StandardScaler, MinMaxScaler, StringIndexer and OneHotEncoder, each
mirroring the arithmetic and the invalid-value handling of Spark's own transform. The
frame and the helpers are in ``_local_frame``; the predictors in ``_local_predictors``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sparktrack.errors import InvalidInputError
from sparktrack.models._local_frame import (
    Frame,
    LocalScoringUnsupported,
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
    "MinMaxScaler",
    "OneHotEncoder",
    "StandardScaler",
    "StringIndexer",
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
        values = read_vectors(frame, self.input, self.name, self.size)
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
        values = read_vectors(frame, self.input, self.name, self.original_min.shape[0])
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
            values = read_scalars(frame, column, self.name)
            if np.isnan(values).any():
                # A missing input is a null for Spark, which encodes it as a null vector
                # whose fate is the next stage's: let Spark decide.
                raise LocalScoringUnsupported(f"{self.name} on a missing value in {column!r}")
            categories = self.category_sizes[i]
            valid = (values >= 0) & (values < categories)
            if not valid.all() and not self.keep_invalid:
                row = first_row(~valid)
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


def _string_indexer(saved: SavedStage) -> Stage:
    data = saved.rows()[0]
    # Spark 3 saves labelsArray (one list per input column); Spark 2 saved labels.
    labels = data["labelsArray"] if "labelsArray" in data else [data["labels"]]
    return StringIndexer(
        name=saved.label,
        inputs=columns_of(saved, "inputCol", "inputCols"),
        outputs=columns_of(saved, "outputCol", "outputCols"),
        indexes=tuple({label: float(i) for i, label in enumerate(ls)} for ls in labels),
        keep_invalid=handle_invalid(saved, ("error", "keep")),
    )


def _one_hot_encoder(saved: SavedStage) -> Stage:
    keep = handle_invalid(saved, ("error", "keep"))
    drop_last = bool(saved.param("dropLast"))
    sizes = tuple(int(s) for s in saved.rows()[0]["categorySizes"])
    # Spark's configured sizes: an extra slot for invalid values when kept, minus the
    # last slot when dropLast.
    output_sizes = tuple(s + (1 if keep else 0) - (1 if drop_last else 0) for s in sizes)
    return OneHotEncoder(
        name=saved.label,
        inputs=columns_of(saved, "inputCol", "inputCols"),
        outputs=columns_of(saved, "outputCol", "outputCols"),
        category_sizes=sizes,
        output_sizes=output_sizes,
        keep_invalid=keep,
    )


_FEATURE = "org.apache.spark.ml.feature."

COMPILERS: dict[str, Callable[[SavedStage], Stage]] = {
    _FEATURE + "VectorAssembler": _assembler,
    _FEATURE + "StandardScalerModel": _standard_scaler,
    _FEATURE + "MinMaxScalerModel": _min_max_scaler,
    _FEATURE + "StringIndexerModel": _string_indexer,
    _FEATURE + "OneHotEncoderModel": _one_hot_encoder,
}
"""The feature stages compiled here, by the JVM class Spark ML saves them under."""
