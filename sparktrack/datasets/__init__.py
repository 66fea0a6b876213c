"""Describing a Spark DataFrame as a ``DatasetInput`` for lineage, without running a job.

    from sparktrack.datasets import describe_dataframe

    dataset = describe_dataframe(train_df, context="training")
    client.log_input(run_id, dataset)

The source (Delta table and version, files with a fingerprint of their listing, catalog
table, local data) is read off the analyzed plan; the digest combines the normalised
plan with the identity of the data each source holds, so it changes when the data does
and matches across runs that read the same data the same way. Importing this module
does not import pyspark.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sparktrack.datasets import _spark
from sparktrack.datasets._digest import dataset_digest, opaque_identity
from sparktrack.datasets._source import SourceInfo
from sparktrack.tracking import DatasetInput

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["DatasetInput", "describe_dataframe"]

_UNKNOWN_SCHEMA = "{}"


def describe_dataframe(
    df: DataFrame, *, name: str | None = None, context: str = "training"
) -> DatasetInput:
    """Describe a DataFrame as a dataset input of a run, without running a Spark job.

    The source (a Delta table and its version, files with a fingerprint of their
    listing, a catalog table, local data) is read off the analyzed plan; the digest
    combines the normalised plan with the identity of the data each source holds, so
    it changes when the data does and matches across runs that read the same data
    the same way. Never raises: a plan it cannot read gives source_type "unknown"
    with a digest unique to this DataFrame object.

    Args:
        df: The DataFrame, from any SparkSession (Delta confs are not needed).
        name: The dataset's name; default: the table or last path component of a
            single source, else "dataframe".
        context: What the run used the data for, e.g. "training" or "validation".

    Returns:
        The description, ready for ``TrackingClient.log_input``. ``num_rows`` is set
        only when it is free: one source, no filter, join, aggregate or limit above
        it, and a count the source keeps (Delta statistics, local rows, a range).
    """
    schema = _schema_json(df)
    try:
        info = _spark.inspect_dataframe(df)
    except Exception as exc:
        return _unknown(df, name, context, schema, exc)
    sources = info.sources
    return DatasetInput(
        name=name or _default_name(sources),
        digest=dataset_digest(info.plan, schema, [s.identity for s in sources]),
        source_type=_source_type(sources),
        source=json.dumps(_source_json(sources), sort_keys=True),
        schema=schema,
        num_rows=_num_rows(info),
        context=context,
    )


def _schema_json(df: Any) -> str:
    try:
        return str(df.schema.json())
    except Exception:
        return _UNKNOWN_SCHEMA


def _source_type(sources: list[SourceInfo]) -> str:
    kinds = {s.source_type for s in sources}
    if not kinds:
        return "unknown"
    return kinds.pop() if len(kinds) == 1 else "mixed"


def _source_json(sources: list[SourceInfo]) -> dict[str, Any]:
    if len(sources) == 1:
        return sources[0].source
    return {"sources": [{"type": s.source_type, **s.source} for s in sources]}


def _default_name(sources: list[SourceInfo]) -> str:
    if len(sources) == 1 and sources[0].name:
        return sources[0].name
    return "dataframe"


def _num_rows(info: _spark.PlanInfo) -> int | None:
    # The source's rows are the DataFrame's only when no filter, join, aggregate or limit
    # sits in between; counting anything else would take a job.
    if not info.row_preserving or len(info.sources) != 1:
        return None
    count = info.sources[0].count
    if count is None:
        return None
    try:
        return count()
    except Exception:
        return None  # e.g. delta-rs cannot open the table (credentials, reader features)


def _unknown(df: Any, name: str | None, context: str, schema: str, exc: Exception) -> DatasetInput:
    first_line = (str(exc).strip().splitlines() or [""])[0]
    source = {"error": f"{type(exc).__name__}: {first_line}"[:300]}
    # Stable for this DataFrame object in this process (logging it twice is a no-op),
    # equal to nothing else: nothing is known about its data.
    digest = dataset_digest("unknown", schema, [opaque_identity("dataframe", str(id(df)))])
    return DatasetInput(
        name=name or "dataframe",
        digest=digest,
        source_type="unknown",
        source=json.dumps(source, sort_keys=True),
        schema=schema,
        num_rows=None,
        context=context,
    )
