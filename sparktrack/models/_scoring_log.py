"""The scoring log: what ``spark_udf`` and ``sparktrack serve`` scored, as a Delta table.

One row per sampled scored row: the model's input columns as scored, its output
(the prediction, named and typed as the scorer returns it) and columns whose
``sparktrack_`` prefix keeps them apart from any feature::

    sparktrack_model_uri      string     the URI scored with (models:/churn/Production)
    sparktrack_model_name     string     the registered model (null for other URIs)
    sparktrack_model_version  long       its version then (null for runs:/ and folders)
    sparktrack_scored_at      timestamp  when the row was scored (UTC)
    sparktrack_request_id     string     the server's request (serve only)

The table is appended to with delta-rs (no JVM): a new input column is added with a
schema merge; values that the table's column cannot take without loss (text where
numbers were) raise :class:`ScoringLogSchemaError` naming the column.

Sampling keeps a row when a hash of its input values falls below the fraction: the
same row is kept or dropped whichever task, retry or request scores it, so retried
tasks log the rows their first attempt did.

``spark_udf``'s tasks stage their rows as Parquet files that the driver commits
(:mod:`sparktrack.models._scoring_log_staging`); the server appends from a background
thread (:mod:`sparktrack.models._scoring_log_writer`). ``sparktrack.monitor`` reads
the table (``read_scoring_log``) and, given a ``models:/`` URI, keeps the rows of that
version.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from sparktrack.errors import InvalidInputError, ScoringLogSchemaError
from sparktrack.models._signature import ARRAY, SPARKML_VECTOR, ModelSignature

__all__ = [
    "MODEL_NAME_COLUMN",
    "MODEL_URI_COLUMN",
    "MODEL_VERSION_COLUMN",
    "REQUEST_ID_COLUMN",
    "SCORED_AT_COLUMN",
    "SCORING_LOG_COLUMNS",
    "SCORING_LOG_PREFIX",
    "ScoringContext",
    "append_scoring_rows",
    "check_fraction",
    "sampled",
    "scoring_context",
    "scoring_rows",
    "table_path",
    "warn_once",
]

log = logging.getLogger("sparktrack.models")

SCORING_LOG_PREFIX = "sparktrack_"
MODEL_URI_COLUMN = "sparktrack_model_uri"
MODEL_NAME_COLUMN = "sparktrack_model_name"
MODEL_VERSION_COLUMN = "sparktrack_model_version"
SCORED_AT_COLUMN = "sparktrack_scored_at"
REQUEST_ID_COLUMN = "sparktrack_request_id"
SCORING_LOG_COLUMNS = (
    MODEL_URI_COLUMN,
    MODEL_NAME_COLUMN,
    MODEL_VERSION_COLUMN,
    SCORED_AT_COLUMN,
    REQUEST_ID_COLUMN,
)

_PINNED = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")
_ARROW_TYPES: dict[str, pa.DataType] = {
    "boolean": pa.bool_(),
    "integer": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "string": pa.string(),
    "binary": pa.binary(),
    "datetime": pa.timestamp("us", tz="UTC"),
    SPARKML_VECTOR: pa.list_(pa.float64()),
}


# Kinds warned about. No lock: dict.setdefault is atomic, and this module travels to
# executors by value with spark_udf's tasks, where a lock could not be pickled.
_warned: dict[str, object] = {}


def warn_once(kind: str, message: str) -> None:
    """Log a warning the first time this process meets this kind of failure.

    A log that cannot be written fails the same way for every batch: one warning says
    so without flooding a server's or an executor's log.
    """
    first = object()
    if _warned.setdefault(kind, first) is not first:
        return
    log.warning("%s (further failures of this kind are not logged)", message)


@dataclass(frozen=True)
class ScoringContext:
    """Which model scored: the values of the ``sparktrack_model_*`` columns."""

    model_uri: str
    model_name: str | None
    model_version: int | None


def scoring_context(model_uri: str, target: str | None = None) -> ScoringContext:
    """The context of rows scored with ``model_uri``.

    Args:
        model_uri: What the user asked to score with.
        target: The pinned ``models:/<name>/<version>`` it resolved to, if it is a
            registry reference; name and version are read from it.

    Returns:
        The context; name and version are None for ``runs:/`` URIs and folders.
    """
    match = _PINNED.match(target or model_uri)
    if match is None:
        return ScoringContext(model_uri, None, None)
    return ScoringContext(model_uri, match["name"], int(match["version"]))


def check_fraction(fraction: float) -> float:
    """``fraction`` if it is a sampling fraction (above 0, at most 1).

    Raises:
        InvalidInputError: It is not.
    """
    if not isinstance(fraction, int | float) or not 0.0 < float(fraction) <= 1.0:
        raise InvalidInputError(
            f"the scoring log's sample fraction must be above 0 and at most 1, got {fraction!r}"
        )
    return float(fraction)


def table_path(path: str | os.PathLike[str]) -> str:
    """The table's location as every process reads it: local paths made absolute.

    Executors run elsewhere than the driver's working folder, so a relative path would
    land in each executor's own folder.
    """
    text = os.fspath(path)
    if not text:
        raise InvalidInputError("the scoring log's path is empty; give a folder or a URI")
    return text if "://" in text else os.path.abspath(text)


def _hashable(series: pd.Series) -> pd.Series:
    if series.dtype != object:
        return series
    return series.map(lambda v: v if v is None or isinstance(v, str) else repr(v))


def sampled(inputs: pd.DataFrame, fraction: float) -> np.ndarray:
    """Which rows to keep: a boolean mask, the same for the same input values.

    The hash of a row's values (pandas' fixed-key hash, the same in every process)
    is read as a number in [0, 1); the row is kept when it is below ``fraction``.
    """
    if fraction >= 1.0:
        return np.ones(len(inputs.index), dtype=bool)
    hashable = inputs.apply(_hashable) if len(inputs.columns) else inputs
    hashes = pd.util.hash_pandas_object(hashable, index=False).to_numpy(dtype=np.uint64)
    return np.asarray(hashes / float(2**64) < fraction)


def _dense(value: Any) -> Any:
    if hasattr(value, "toArray"):  # a pyspark.ml vector
        return [float(x) for x in value.toArray()]
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _arrow_column(series: pd.Series, wanted: pa.DataType | None) -> pa.Array:
    if series.dtype == object:
        series = series.map(_dense)
    array = pa.array(series, from_pandas=True)
    if wanted is not None and array.type != wanted:
        # On failure kept as it came: appending says which column does not fit.
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            array = pc.cast(array, wanted, safe=True)
    return array


def _signature_types(signature: ModelSignature | None) -> dict[str, pa.DataType]:
    types: dict[str, pa.DataType] = {}
    specs = signature.inputs if signature is not None else None
    for spec in specs or []:
        if spec.name is None:
            continue
        if spec.type in _ARROW_TYPES:
            types[spec.name] = _ARROW_TYPES[spec.type]
        elif spec.type == ARRAY and spec.items and spec.items.get("type") in _ARROW_TYPES:
            types[spec.name] = pa.list_(_ARROW_TYPES[spec.items["type"]])
    return types


def scoring_rows(
    inputs: pd.DataFrame,
    predictions: pd.Series | pd.DataFrame,
    context: ScoringContext,
    *,
    fraction: float,
    signature: ModelSignature | None = None,
    request_id: str | None = None,
    scored_at: dt.datetime | None = None,
) -> pa.Table | None:
    """The scoring log's rows for one scored batch, sampled; None when none is kept.

    Args:
        inputs: The rows as the model read them (its input columns only).
        predictions: The scorer's output, one value per row: a Series named after the
            output column, or a DataFrame of several outputs.
        context: The model that scored.
        fraction: The share of rows to keep (see ``sampled``).
        signature: The model's signature: inputs are logged with its types (a request's
            ``1`` for a ``double`` column is logged as ``1.0``).
        request_id: The server's request id (serve only).
        scored_at: When the batch was scored (default: now, UTC).

    Returns:
        The rows as an Arrow table.
    """
    keep = sampled(inputs, fraction)
    if not keep.any():
        return None
    kept = inputs.loc[keep]
    outputs = predictions.to_frame() if isinstance(predictions, pd.Series) else predictions
    outputs = outputs.loc[keep]
    wanted = _signature_types(signature)
    columns: dict[str, pa.Array] = {}
    for name in kept.columns:
        columns[str(name)] = _arrow_column(kept[name], wanted.get(str(name)))
    for name in outputs.columns:
        columns[str(name)] = _arrow_column(outputs[name], None)
    rows = len(kept.index)
    when = scored_at or dt.datetime.now(dt.UTC)
    columns[MODEL_URI_COLUMN] = pa.array([context.model_uri] * rows, pa.string())
    columns[MODEL_NAME_COLUMN] = pa.array([context.model_name] * rows, pa.string())
    columns[MODEL_VERSION_COLUMN] = pa.array([context.model_version] * rows, pa.int64())
    columns[SCORED_AT_COLUMN] = pa.array([when] * rows, pa.timestamp("us", tz="UTC"))
    if request_id is not None:
        columns[REQUEST_ID_COLUMN] = pa.array([request_id] * rows, pa.string())
    return pa.table(columns)


def _table_schema(path: str, storage_options: dict[str, str] | None) -> pa.Schema | None:
    try:
        table = DeltaTable(path, storage_options=storage_options)
    except TableNotFoundError:
        return None
    # deltalake returns an arro3 schema; pyarrow takes it through the Arrow C interface.
    return pa.schema(table.schema().to_arrow())


def _combined(tables: Sequence[pa.Table]) -> pa.Table:
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        seen: dict[str, pa.DataType] = {}
        for table in tables:
            for field in table.schema:
                if seen.setdefault(field.name, field.type) != field.type:
                    raise ScoringLogSchemaError(
                        f"scored rows give column {field.name!r} values of type "
                        f"{seen[field.name]} and of type {field.type}; score it with one type",
                        column=field.name,
                    ) from None
        raise


def _conform(table: pa.Table, existing: pa.Schema | None, path: str) -> pa.Table:
    """The rows cast to the table's column types, without its all-null new columns.

    Raises:
        ScoringLogSchemaError: A column's values cannot take the table's type.
    """
    for index, field in enumerate(table.schema):
        if existing is None or field.name not in existing.names:
            continue
        wanted = existing.field(field.name).type
        if field.type == wanted:
            continue
        try:
            column = pc.cast(table.column(index), wanted, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            raise ScoringLogSchemaError(
                f"the scoring log at {path} has column {field.name!r} of type {wanted}, "
                f"and these rows give it {field.type} values that do not convert; score it "
                "with the logged type or log to another table",
                column=field.name,
            ) from None
        table = table.set_column(index, field.name, column)
    # A column of nulls only has no Delta type: it joins the table when it has values.
    nulls = [
        f.name
        for f in table.schema
        if pa.types.is_null(f.type) and (existing is None or f.name not in existing.names)
    ]
    return table.drop_columns(nulls) if nulls else table


def append_scoring_rows(
    path: str,
    tables: Sequence[pa.Table],
    *,
    storage_options: dict[str, str] | None = None,
) -> int:
    """Append scored rows to the scoring log at ``path`` in one commit.

    Args:
        path: The Delta table's folder or URI (created on the first append).
        tables: Batches from ``scoring_rows`` (or staged files).
        storage_options: delta-rs's options for object stores.

    Returns:
        The number of rows appended.

    Raises:
        ScoringLogSchemaError: A column's values do not fit its type in the table or
            in another batch; nothing is appended.
    """
    batches = [t for t in tables if t.num_rows]
    if not batches:
        return 0
    table = _conform(_combined(batches), _table_schema(path, storage_options), path)
    write_deltalake(
        path, table, mode="append", schema_mode="merge", storage_options=storage_options
    )
    return table.num_rows
