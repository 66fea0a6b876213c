"""Model signatures in MLflow's column-spec JSON, and their Spark types.

A signature is what a model reads and writes: ``[{"type": "double", "name": "x",
"required": true}, ...]``. MLflow keeps both lists as JSON *strings* inside the
MLmodel YAML; so do we, so MLflow's ``Model.load`` parses ours. Inferring one from
data or from a fitted model is in ``_inference``.

pyspark is imported inside the functions that need it: importing sparktrack must not
load it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparktrack.errors import InvalidInputError

if TYPE_CHECKING:
    from pyspark.sql.types import DataType

__all__ = [
    "ARRAY",
    "SCALAR_TYPES",
    "SPARKML_VECTOR",
    "ColSpec",
    "ModelSignature",
    "col_spec",
    "spark_type_for",
]

# MLflow's DataType names (mlflow/types/schema.py), and its name for pyspark's VectorUDT.
SCALAR_TYPES = ("boolean", "integer", "long", "float", "double", "string", "binary", "datetime")
SPARKML_VECTOR = "sparkml_vector"
ARRAY = "array"


@dataclass(frozen=True)
class ColSpec:
    """One column of a signature, in MLflow's terms.

    Attributes:
        name: The column's name (None in unnamed signatures, which sparktrack cannot
            score).
        type: MLflow's type name: ``double``, ``long``, ``string``, ``sparkml_vector``,
            ``array``...
        required: Whether input must have the column.
        items: The element spec of an ``array`` column (MLflow's JSON, e.g.
            ``{"type": "double"}``); None for every other type.
    """

    name: str | None
    type: str
    required: bool = True
    items: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Give the column as MLflow writes it in a signature.

        Returns:
            ``{"type": ..., "items": ..., "name": ..., "required": ...}``, without
            ``items`` or ``name`` when they are None.
        """
        spec: dict[str, Any] = {"type": self.type}
        if self.items is not None:
            spec["items"] = self.items
        if self.name is not None:
            spec["name"] = self.name
        spec["required"] = self.required
        return spec

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> ColSpec:
        """Read a column from MLflow's JSON of it (the reverse of ``to_dict``).

        Args:
            spec: One column of a signature, e.g. ``{"type": "double", "name": "x"}``;
                ``required`` defaults to true.

        Returns:
            The column.

        Raises:
            InvalidInputError: ``spec`` is not a mapping with a ``type``, or its type
                is not one of MLflow's.
        """
        if not isinstance(spec, dict) or "type" not in spec:
            raise InvalidInputError(
                f"signature column {spec!r} has no 'type'; each column needs one"
            )
        kind = str(spec["type"])
        if kind not in (*SCALAR_TYPES, SPARKML_VECTOR, ARRAY, "object", "map", "any"):
            raise InvalidInputError(
                f"signature column {spec.get('name')!r} has unknown type {kind!r}; "
                f"known: {[*SCALAR_TYPES, SPARKML_VECTOR, ARRAY]}"
            )
        return cls(
            name=spec.get("name"),
            type=kind,
            required=bool(spec.get("required", True)),
            items=spec.get("items"),
        )

    def describe(self) -> str:
        """Spell the column's type as a user reads it in an error message.

        Returns:
            The type name; ``array<element type>`` for an array column.
        """
        if self.type == ARRAY and self.items is not None:
            return f"array<{self.items.get('type')}>"
        return self.type


def _specs_to_json(specs: Sequence[ColSpec] | None) -> str | None:
    return None if not specs else json.dumps([s.to_dict() for s in specs])


def _specs_from_json(text: str | None) -> list[ColSpec] | None:
    if not text:
        return None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"signature JSON {text[:200]!r} is not valid JSON: {exc}") from exc
    if not isinstance(parsed, list):
        raise InvalidInputError(
            f"signature JSON {text[:200]!r} must be a list of columns; tensor signatures "
            "are not supported for Spark models"
        )
    return [ColSpec.from_dict(spec) for spec in parsed]


@dataclass(frozen=True)
class ModelSignature:
    """What a model reads and writes (see ``infer_signature``).

    Attributes:
        inputs: The columns the model reads, in order.
        outputs: The columns it writes, if known.
    """

    inputs: list[ColSpec]
    outputs: list[ColSpec] | None = None

    def to_dict(self) -> dict[str, str | None]:
        """Give the signature in the form MLflow keeps in an ``MLmodel`` file.

        Returns:
            ``{"inputs": ..., "outputs": ..., "params": None}``: each list of columns
            as a JSON string (None when absent or empty); no params schema.
        """
        return {
            "inputs": _specs_to_json(self.inputs),
            "outputs": _specs_to_json(self.outputs),
            "params": None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSignature:
        """Read a signature from an ``MLmodel`` file's ``signature`` mapping.

        Args:
            data: ``{"inputs": "<JSON>", "outputs": "<JSON>"}`` as ``to_dict`` gives
                it (MLflow's form); other keys, such as ``params``, are ignored.

        Returns:
            The signature; no inputs when ``inputs`` is absent, no outputs when
            ``outputs`` is.

        Raises:
            InvalidInputError: A list is not valid JSON, is not a list of columns
                (tensor signatures are not supported), or holds a column without a
                known type.
        """
        return cls(
            inputs=_specs_from_json(data.get("inputs")) or [],
            outputs=_specs_from_json(data.get("outputs")),
        )

    @property
    def input_names(self) -> list[str]:
        """The names of the input columns, in order."""
        return [s.name for s in self.inputs if s.name is not None]

    @property
    def output_names(self) -> list[str]:
        """The names of the output columns, in order (empty without outputs)."""
        return [s.name for s in self.outputs or [] if s.name is not None]


def _type_spec(data_type: DataType, column: str) -> dict[str, Any]:
    """MLflow's type JSON for a Spark data type (mirrors MLflow's _infer_spark_type)."""
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql import types as T

    if isinstance(data_type, VectorUDT):
        return {"type": SPARKML_VECTOR}
    if isinstance(data_type, T.LongType):
        return {"type": "long"}
    if isinstance(data_type, T.IntegralType):  # byte, short, int
        return {"type": "integer"}
    if isinstance(data_type, T.FloatType):
        return {"type": "float"}
    if isinstance(data_type, T.DoubleType | T.DecimalType):
        return {"type": "double"}
    if isinstance(data_type, T.BooleanType):
        return {"type": "boolean"}
    if isinstance(data_type, T.StringType):
        return {"type": "string"}
    if isinstance(data_type, T.BinaryType):
        return {"type": "binary"}
    if isinstance(data_type, T.DateType | T.TimestampType | T.TimestampNTZType):
        return {"type": "datetime"}
    if isinstance(data_type, T.ArrayType):
        return {"type": ARRAY, "items": _type_spec(data_type.elementType, column)}
    raise InvalidInputError(
        f"column {column!r} has Spark type {data_type.simpleString()}, which a model "
        "signature cannot describe (supported: numbers, boolean, string, binary, "
        "date/timestamp, arrays and ML vectors); leave it out with input_cols=/output_cols="
    )


def col_spec(name: str, data_type: DataType) -> ColSpec:
    """The column spec of a Spark column.

    Raises:
        InvalidInputError: The Spark type has no signature type (maps, structs...).
    """
    spec = _type_spec(data_type, name)
    # Like MLflow for Spark schemas: every column is required (nullability is not intent).
    return ColSpec(name=name, type=spec["type"], required=True, items=spec.get("items"))


def spark_type_for(spec: ColSpec) -> DataType:
    """The Spark type a column of this spec is created with before scoring."""
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql import types as T

    simple: dict[str, DataType] = {
        "boolean": T.BooleanType(),
        "integer": T.IntegerType(),
        "long": T.LongType(),
        "float": T.FloatType(),
        "double": T.DoubleType(),
        "string": T.StringType(),
        "binary": T.BinaryType(),
        "datetime": T.TimestampType(),
        SPARKML_VECTOR: VectorUDT(),
    }
    if spec.type in simple:
        return simple[spec.type]
    if spec.type == ARRAY and spec.items is not None:
        return T.ArrayType(spark_type_for(ColSpec.from_dict(spec.items)))
    raise InvalidInputError(
        f"column {spec.name!r} has signature type {spec.describe()!r}, which sparktrack "
        "cannot turn into a Spark column"
    )
