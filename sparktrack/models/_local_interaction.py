"""Interaction for the local scorer: products of features, as Spark 3.5 forms them.

Spark's Interaction reads the ML attributes of its input columns at transform time: a
column with a nominal attribute of n > 1 values (a StringIndexer's or a Bucketizer's
output) is one-hot encoded into n slots; any other number is one slot; a vector needs
attributes for every slot (Spark fails with "Vector attributes must be defined for
interaction" otherwise), and its nominal slots are one-hot encoded the same way, but
only the elements the vector stores are visited: a category 0 counts in a vector
stored dense and not in one stored sparse (which VectorAssembler decides row by row,
and is reproduced here). The output is the flattened outer product, the first input
varying slowest.

Those attributes are not in the Interaction's save; the compiler reads them off the
stages before it in the same save (StringIndexer, Bucketizer, OneHotEncoder,
VectorAssembler and the stages whose outputs carry no nominal attribute), and raises
LocalScoringUnsupported where it cannot know them: a vector input straight from the
request, a column written by a stage it does not model (a model's prediction...).
Columns from the request are taken to carry no attributes, as every request does.

Each output value is the product Spark computes, in Spark's order, so outputs are
bit-equal to Spark's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sparktrack.errors import InvalidInputError
from sparktrack.models import _local_categorical
from sparktrack.models._local_categorical import (
    OneHotEncoder,
    bucketizer_splits,
    string_indexer_labels,
)
from sparktrack.models._local_frame import (
    Frame,
    LocalScoringUnsupported,
    Stage,
    columns_of,
    read_column,
    read_scalars,
)
from sparktrack.models._local_projections import parse_selection
from sparktrack.models._sparkml_reader import SavedStage, read_saved_model

__all__ = ["COMPILERS", "Interaction"]

_FEATURE = "org.apache.spark.ml.feature."


@dataclass(frozen=True)
class _Scalar:
    """A number column: ``values`` categories when nominal with more than one, else 1."""

    values: int


@dataclass(frozen=True)
class _Vector:
    """A vector column's slot attributes, in order.

    Each segment is the categories of one slot, or a column's name for as many numeric
    slots as that column holds (1 for a number). ``segments`` is None when the vector
    has no attributes (Spark refuses it).
    """

    segments: tuple[int | str, ...] | None
    compressed: bool = False  # stored as Vector.compressed picks, else sparse


@dataclass(frozen=True)
class _Raw:
    """A column from the request: a number is numeric; a vector has no attributes."""


_Attribute = _Scalar | _Vector | _Raw

# Stages whose vector output carries a size but no per-slot attributes.
_UNATTRIBUTED_VECTORS = {
    _FEATURE + name
    for name in (
        "StandardScalerModel",
        "MinMaxScalerModel",
        "MaxAbsScalerModel",
        "Normalizer",
        "ElementwiseProduct",
        "PCAModel",
    )
}


def _attribute(before: Sequence[SavedStage], column: str) -> _Attribute:
    """The ML attribute ``column`` has after the stages ``before`` ran."""
    for position in range(len(before) - 1, -1, -1):
        stage = before[position]
        if stage.class_name == _FEATURE + "SQLTransformer":
            # A selection keeps a column's attributes under its new name.
            items = parse_selection(str(stage.param("statement")))
            sources = [item.source for item in items if item.alias == column]
            if len(sources) > 1 or (not sources and not any(item.every for item in items)):
                raise LocalScoringUnsupported(f"an Interaction reading {stage.label}'s output")
            if sources:
                return _attribute(before[:position], sources[0])
            continue
        outputs = columns_of(stage, "outputCol", "outputCols")
        if column not in outputs:
            if _FEATURE not in stage.class_name and f'"{column}"' in json.dumps(
                dict(stage.params), default=str
            ):
                # A model's prediction, probability... columns: attributes not modelled.
                raise LocalScoringUnsupported(f"an Interaction reading {stage.label}'s output")
            continue
        return _written(before[:position], stage, outputs.index(column))
    return _Raw()


def _written(before: Sequence[SavedStage], stage: SavedStage, index: int) -> _Attribute:
    kind = stage.class_name
    if kind == _FEATURE + "StringIndexerModel":
        keep = stage.param("handleInvalid") == "keep"  # adds the "__unknown" value
        return _Scalar(max(1, len(string_indexer_labels(stage)[index]) + int(keep)))
    if kind == _FEATURE + "Bucketizer":
        return _Scalar(max(1, len(bucketizer_splits(stage)[index]) - 1))
    if kind == _FEATURE + "ImputerModel":
        return _Scalar(1)  # Spark's when(...) expression drops the input's metadata
    if kind == _FEATURE + "OneHotEncoderModel":
        encoder = _local_categorical.COMPILERS[kind](stage)
        assert isinstance(encoder, OneHotEncoder)
        return _Vector((1,) * encoder.output_sizes[index])  # binary attributes
    if kind == _FEATURE + "VectorAssembler":
        segments: list[int | str] = []
        for column in stage.param("inputCols") or ():
            attribute = _attribute(before, column)
            if isinstance(attribute, _Scalar):
                segments.append(attribute.values)
            elif isinstance(attribute, _Vector) and attribute.segments is not None:
                segments.extend(attribute.segments)
            else:
                segments.append(column)  # numeric slots, as many as the input holds
        return _Vector(tuple(segments), compressed=True)
    if kind == _FEATURE + "Interaction":
        # Numeric attributes, one per slot.
        return _Vector((stage.param("outputCol"),), compressed=True)
    if kind in _UNATTRIBUTED_VECTORS:
        return _Vector(None)
    raise LocalScoringUnsupported(f"an Interaction reading {stage.label}'s output")


def _slots(segments: tuple[int | str, ...], frame: Frame, column: str, stage: str) -> list[int]:
    """Categories per slot of the vector in ``column``, the widths read off the frame."""
    slots: list[int] = []
    for segment in segments:
        if isinstance(segment, int):
            slots.append(segment)
            continue
        if segment not in frame:  # dropped by a SQL selection since: Spark decides
            raise LocalScoringUnsupported(f"{stage} on column {column!r} of unknown layout")
        source = frame[segment]
        slots.extend([1] * (1 if source.ndim == 1 else source.shape[1]))
    width = frame[column].shape[1]
    if len(slots) != width:
        raise InvalidInputError(
            f"{stage} reads vectors of {len(slots)} values from column {column!r}, got "
            f"{width}; the input does not fit the model"
        )
    return slots


def _check_indices(values: np.ndarray, categories: int, column: str, stage: str) -> None:
    valid = (values >= 0) & (values == np.trunc(values)) & (values < categories)
    if not valid.all():
        row = int(np.argmax(~valid))
        raise InvalidInputError(
            f"{stage} reads column {column!r} as category indices 0 to {categories - 1}, "
            f"but row {row} (counting from 0) holds {float(values[row])!r}"
        )


@dataclass(frozen=True)
class Interaction:
    name: str
    inputs: tuple[str, ...]
    output: str
    attributes: tuple[_Attribute, ...]

    @property
    def reads(self) -> tuple[str, ...]:
        return self.inputs

    @property
    def writes(self) -> tuple[str, ...]:
        return (self.output,)

    def _encode(
        self, frame: Frame, column: str, attribute: _Attribute
    ) -> tuple[np.ndarray, np.ndarray]:
        """One input's encoded values and which of them Spark emits (rows x slots)."""
        values = read_column(frame, column, self.name)
        if values.ndim == 1:
            if isinstance(attribute, _Vector):
                raise InvalidInputError(f"{self.name} reads column {column!r} as a vector")
            values = read_scalars(frame, column, self.name)
            if np.isnan(values).any():
                # Spark fails on a null ("Values to interact cannot be null") but
                # multiplies a NaN: the frame does not tell them apart.
                raise LocalScoringUnsupported(f"{self.name} on a missing value in {column!r}")
            categories = attribute.values if isinstance(attribute, _Scalar) else 1
            if categories <= 1:  # a number: one slot, emitted even when 0
                return values.reshape(-1, 1), np.ones((values.shape[0], 1), dtype=bool)
            _check_indices(values, categories, column, self.name)
            encoded = np.zeros((values.shape[0], categories))
            encoded[np.arange(values.shape[0]), values.astype(np.int64)] = 1.0
            return encoded, encoded != 0
        if not isinstance(attribute, _Vector) or attribute.segments is None:
            raise LocalScoringUnsupported(
                f"{self.name} on vector column {column!r} without ML attributes"
            )
        slots = _slots(attribute.segments, frame, column, self.name)
        # Spark visits a vector's stored elements: a sparse one's non-zeros (NaN is one),
        # a dense one's all. VectorAssembler and Interaction store a row dense unless
        # sparse is smaller (Vector.compressed); OneHotEncoder stores it sparse.
        visited = values != 0
        if attribute.compressed:
            stored = visited.sum(axis=1)
            visited |= (1.5 * (stored + 1.0) >= values.shape[1])[:, None]
        parts, emitted = [], []
        for j, categories in enumerate(slots):
            value, seen = values[:, j], visited[:, j]
            if categories <= 1:
                parts.append(np.where(seen, value, 0.0).reshape(-1, 1))
                emitted.append(seen.reshape(-1, 1))
                continue
            _check_indices(np.where(seen, value, 0.0), categories, column, self.name)
            hot = np.zeros((value.shape[0], categories))
            rows = np.flatnonzero(seen)
            hot[rows, value[rows].astype(np.int64)] = 1.0
            parts.append(hot)
            emitted.append(hot != 0)
        rows = values.shape[0]
        return (
            np.hstack(parts) if parts else np.zeros((rows, 0)),
            np.hstack(emitted) if emitted else np.zeros((rows, 0), dtype=bool),
        )

    def apply(self, frame: Frame, rows: int) -> None:
        product = np.ones((rows, 1))
        emitted = np.ones((rows, 1), dtype=bool)
        # Spark starts from the last input and multiplies each earlier one in, so the
        # first input varies slowest and each value is ((1 * a_last) * ...) * a_first.
        for column, attribute in reversed(list(zip(self.inputs, self.attributes, strict=True))):
            values, present = self._encode(frame, column, attribute)
            product = (product[:, None, :] * values[:, :, None]).reshape(rows, -1)
            emitted = (emitted[:, None, :] & present[:, :, None]).reshape(rows, -1)
        # Slots Spark never visits are zeros, whatever a NaN elsewhere would make them.
        frame[self.output] = np.where(emitted, product, 0.0)


def _interaction(saved: SavedStage) -> Stage:
    inputs = tuple(saved.param("inputCols") or ())
    before: list[SavedStage] = []
    if "/stages/" in saved.folder:
        # A stage of a pipeline: the stages before it decide its inputs' attributes.
        root = saved.folder.split("/stages/", 1)[0]
        stages = read_saved_model(saved.location, root)
        position = next(i for i, s in enumerate(stages) if s.folder == saved.folder)
        before = stages[:position]
    return Interaction(
        name=saved.label,
        inputs=inputs,
        output=saved.param("outputCol"),
        attributes=tuple(_attribute(before, column) for column in inputs),
    )


COMPILERS: dict[str, Callable[[SavedStage], Stage]] = {
    _FEATURE + "Interaction": _interaction,
}
"""The Interaction, by the JVM class Spark ML saves it under."""
