"""Categorical feature stages for the local scorer: indexing, one-hot, buckets.

StringIndexer, OneHotEncoder and Bucketizer (QuantileDiscretizer's model too), each
mirroring Spark 3.5's transform, including its invalid-value handling. Their outputs
are labels and indexes, so they equal Spark's exactly.

A numeric input holds NaN for a null (see ``_local_frame``); where Spark treats a null
and a NaN differently (OneHotEncoder and Bucketizer give a null for a null, but an
error or the invalid slot for NaN), a missing value raises LocalScoringUnsupported and
Spark decides.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sparktrack.errors import InvalidInputError
from sparktrack.models._local_frame import (
    ColumnsStage,
    Frame,
    LocalScoringUnsupported,
    Stage,
    columns_of,
    first_row,
    handle_invalid,
    read_scalars,
)
from sparktrack.models._sparkml_reader import SavedStage

__all__ = [
    "COMPILERS",
    "Bucketizer",
    "OneHotEncoder",
    "StringIndexer",
    "bucketizer_splits",
    "java_order",
    "string_indexer_labels",
]


@dataclass(frozen=True)
class StringIndexer(ColumnsStage):
    indexes: tuple[dict[str, float], ...]
    keep_invalid: bool

    def apply(self, frame: Frame, rows: int) -> None:
        for column, output, index in zip(self.inputs, self.outputs, self.indexes, strict=True):
            if column not in frame:
                # Spark skips an indexer whose input is absent (e.g. the label at scoring).
                continue
            values = frame[column]
            if values.ndim != 1 or values.dtype != object:
                # Spark casts numbers to strings before the lookup: an integer column's 3
                # is "3", a double column's 3.0 is "3.0" (Java's Double.toString, whose
                # digits vary with the JVM's version). The frame keeps neither the type
                # nor the JVM, so Spark indexes numbers.
                raise LocalScoringUnsupported(f"{self.name} on non-string column {column!r}")
            # A hash lookup of the whole column at once (pandas' object hash table: the
            # same equality as the dict's); -1 for a null or an unseen label.
            labels = pd.Index(list(index), dtype=object)
            positions = labels.get_indexer(pd.Index(values, dtype=object))
            invalid = positions < 0
            if invalid.any() and not self.keep_invalid:
                row = first_row(invalid)
                label = values[row]
                what = "null" if label is None else f"the unseen label {label!r}"
                raise InvalidInputError(
                    f"input column {column!r} holds {what} in row {row} (counting "
                    f"from 0); the model's {self.name} knows only the labels it was "
                    f"fitted on ({_some(index)}) and rejects others "
                    "(handleInvalid='error')"
                )
            # Invalid values go to the extra index after the labels (handleInvalid='keep').
            frame[output] = np.where(invalid, float(len(index)), positions.astype(np.float64))


def _some(index: dict[str, float], limit: int = 10) -> str:
    labels = list(index)
    shown = ", ".join(repr(label) for label in labels[:limit])
    return shown + (f", ... {len(labels)} in all" if len(labels) > limit else "")


def _missing_is_ambiguous(values: np.ndarray, stage: str, column: str) -> None:
    if np.isnan(values).any():
        # A missing input is a null or a NaN for Spark, which treat them differently
        # (null gives a null output; NaN an error or the invalid slot): let Spark decide.
        raise LocalScoringUnsupported(f"{stage} on a missing value in {column!r}")


@dataclass(frozen=True)
class OneHotEncoder(ColumnsStage):
    category_sizes: tuple[int, ...]
    output_sizes: tuple[int, ...]
    keep_invalid: bool

    def apply(self, frame: Frame, rows: int) -> None:
        for i, (column, output) in enumerate(zip(self.inputs, self.outputs, strict=True)):
            values = read_scalars(frame, column, self.name)
            _missing_is_ambiguous(values, self.name, column)
            categories = self.category_sizes[i]
            valid = (values >= 0) & (values < categories)
            if not valid.all() and not self.keep_invalid:
                row = first_row(~valid)
                kind = "a negative value" if values[row] < 0 else "an unseen category"
                raise InvalidInputError(
                    f"input column {column!r} holds {kind} ({float(values[row])!r}) in row {row} "
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


def java_order(values: np.ndarray) -> np.ndarray:
    """Integer keys ordering doubles as Java's ``Double.compare`` does (-0.0 < 0.0).

    NaN excluded: callers deal with it first.
    """
    bits = np.asarray(values, dtype=np.float64).view(np.int64)
    return np.where(bits < 0, bits ^ np.int64(0x7FFF_FFFF_FFFF_FFFF), bits)


@dataclass(frozen=True)
class Bucketizer(ColumnsStage):
    splits: tuple[np.ndarray, ...]

    def apply(self, frame: Frame, rows: int) -> None:
        for column, output, splits in zip(self.inputs, self.outputs, self.splits, strict=True):
            values = read_scalars(frame, column, self.name)
            _missing_is_ambiguous(values, self.name, column)
            frame[output] = self._buckets(values, splits, column)

    def _buckets(self, values: np.ndarray, splits: np.ndarray, column: str) -> np.ndarray:
        # Spark's binarySearchForBuckets: the last split closes the last bucket (compared
        # with ==), otherwise java.util.Arrays.binarySearch, which orders -0.0 below 0.0.
        keys, split_keys = java_order(values), java_order(splits)
        position = np.searchsorted(split_keys, keys, side="left")
        exact = split_keys[np.minimum(position, len(splits) - 1)] == keys
        buckets = np.where(exact, position, position - 1).astype(np.float64)
        last = values == splits[-1]
        buckets[last] = len(splits) - 2
        outside = ~exact & ~last & ((position == 0) | (position == len(splits)))
        if outside.any():
            row = first_row(outside)
            raise InvalidInputError(
                f"input column {column!r} holds {float(values[row])!r} in row {row} (counting "
                f"from 0), outside the model's {self.name} bounds [{float(splits[0])!r}, "
                f"{float(splits[-1])!r}] "
                "(Spark rejects it whatever handleInvalid says); send a value within them"
            )
        return buckets


# -- compiling saved stages ----------------------------------------------------------------
def string_indexer_labels(saved: SavedStage) -> list[list[str]]:
    """The fitted labels of a saved StringIndexerModel, one list per input column."""
    data = saved.rows()[0]
    # Spark 3 saves labelsArray (one list per input column); Spark 2 saved labels.
    return list(data["labelsArray"]) if "labelsArray" in data else [data["labels"]]


def _string_indexer(saved: SavedStage) -> Stage:
    # The labels are saved in the order stringOrderType gave them: index = position.
    return StringIndexer(
        name=saved.label,
        inputs=columns_of(saved, "inputCol", "inputCols"),
        outputs=columns_of(saved, "outputCol", "outputCols"),
        indexes=tuple(
            {label: float(i) for i, label in enumerate(ls)} for ls in string_indexer_labels(saved)
        ),
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


def _doubles(values: Sequence[float | str]) -> np.ndarray:
    # Spark writes infinities in params as the strings "Inf" and "-Inf".
    return np.array([float(v) for v in values], dtype=np.float64)


def bucketizer_splits(saved: SavedStage) -> tuple[np.ndarray, ...]:
    """The splits of a saved Bucketizer, one array per input column."""
    if saved.param("inputCols"):
        return tuple(_doubles(s) for s in saved.param("splitsArray"))
    return (_doubles(saved.param("splits")),)


def _bucketizer(saved: SavedStage) -> Stage:
    # keep differs from error only for NaN, which is left to Spark (see apply).
    handle_invalid(saved, ("error", "keep"))
    splits = bucketizer_splits(saved)
    if any(math.isnan(v) for s in splits for v in s):
        raise LocalScoringUnsupported(f"{saved.label} with NaN among its splits")
    return Bucketizer(
        name=saved.label,
        inputs=columns_of(saved, "inputCol", "inputCols"),
        outputs=columns_of(saved, "outputCol", "outputCols"),
        splits=splits,
    )


_FEATURE = "org.apache.spark.ml.feature."

COMPILERS: dict[str, Callable[[SavedStage], Stage]] = {
    _FEATURE + "StringIndexerModel": _string_indexer,
    _FEATURE + "OneHotEncoderModel": _one_hot_encoder,
    _FEATURE + "Bucketizer": _bucketizer,
}
"""The categorical stages compiled here, by the JVM class Spark ML saves them under."""
