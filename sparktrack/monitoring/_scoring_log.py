"""Monitoring a scoring log: the rows one model version scored, as the model reads them.

A scoring log (``spark_udf(log_to=...)``, ``sparktrack serve --log-to``) holds the
inputs, the prediction and ``sparktrack_*`` columns. Monitoring re-scores the inputs,
so it drops the logged outputs (a stage refuses to write a column that exists) and
the log's own columns, keeping the timestamp column when it is the window's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparktrack.errors import NotFoundError
from sparktrack.models import (
    MODEL_NAME_COLUMN,
    MODEL_VERSION_COLUMN,
    SCORED_AT_COLUMN,
    SCORING_LOG_PREFIX,
    model_stages,
    output_column,
    written_columns,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["default_timestamp_col", "scored_by"]


def default_timestamp_col(
    df: DataFrame, timestamp_col: str | None, window: str | None
) -> str | None:
    """The timestamp column: as given, else the log's scoring time when a window is asked."""
    if timestamp_col is None and window is not None and SCORED_AT_COLUMN in df.columns:
        return SCORED_AT_COLUMN
    return timestamp_col


def scored_by(
    df: DataFrame,
    model: Any,
    name: str | None,
    version: int | None,
    timestamp_col: str | None,
) -> DataFrame:
    """The rows of ``df`` that ``name``'s ``version`` scored, without logged outputs.

    Args:
        df: New data; a scoring log or any other DataFrame.
        model: The fitted pyspark.ml model to monitor.
        name: The registered model's name (None for runs:/ URIs and folders).
        version: Its version; rows of other versions are left out when ``df`` has the
            log's version column.
        timestamp_col: Kept even if it is one of the log's columns.

    Raises:
        NotFoundError: ``df`` is a scoring log without a row of that version.
    """
    from pyspark.sql import functions as F  # pyspark: only for a monitoring pass

    if version is not None and {MODEL_NAME_COLUMN, MODEL_VERSION_COLUMN} <= set(df.columns):
        mine = (F.col(MODEL_VERSION_COLUMN) == F.lit(version)) & (
            F.col(MODEL_NAME_COLUMN) == F.lit(name)
        )
        logged, df = df, df.filter(mine)
        if df.isEmpty():  # one short job: a wrong version would otherwise judge no rows
            found = logged.select(MODEL_NAME_COLUMN, MODEL_VERSION_COLUMN).distinct().collect()
            raise NotFoundError(
                f"the scoring log has no rows scored by version {version} of {name!r}; it "
                f"has rows of {sorted((str(n), v) for n, v in found)} (name, version)"
            )
    written = {output_column(model), *(c for s in model_stages(model) for c in written_columns(s))}
    dropped = [
        c
        for c in df.columns
        if c != timestamp_col and (c.startswith(SCORING_LOG_PREFIX) or c in written)
    ]
    return df.drop(*dropped) if dropped else df
