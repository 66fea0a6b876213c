"""Search results as Spark DataFrames (``search_runs(output_format="spark")``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from sparktrack.session import spark_session
from sparktrack.tracking._entities import Run
from sparktrack.tracking._search import TIME_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["runs_to_spark_dataframe", "to_spark_dataframe"]


def to_spark_dataframe(frame: pd.DataFrame, spark: SparkSession | None = None) -> DataFrame:
    """A ``search_runs`` result as a Spark DataFrame.

    Column names keep their dots: quote them with backticks in Spark SQL, e.g.
    ```metrics.auc```.

    Args:
        frame: The pandas result of ``search_runs``.
        spark: The session to create the DataFrame in; by default the running one (see
            ``sparktrack.session.spark_session``).

    Returns:
        The rows of ``frame`` in a Spark DataFrame; an empty frame gives an empty
        DataFrame whose columns are all strings.
    """
    session = spark if spark is not None else spark_session()
    if frame.empty:
        # pyspark is imported only here: searching never needs a JVM otherwise.
        from pyspark.sql.types import StringType, StructField, StructType

        return session.createDataFrame(
            [], StructType([StructField(c, StringType()) for c in frame.columns])
        )
    return session.createDataFrame(frame)


def runs_to_spark_dataframe(runs: list[Run], columns: list[str], spark: SparkSession) -> DataFrame:
    """Runs of a search as the DataFrame Spark's own search gives (``_spark_search``).

    The same columns and types: run columns as strings, ``start_time`` and ``end_time``
    as timestamps, ``metrics.*`` doubles (a logged NaN stays NaN, a missing metric is
    null), ``params.*`` and ``tags.*`` strings (null where a run has none). Built from
    ``Run`` records, which tell a missing value from a NaN, unlike a pandas frame.

    Args:
        runs: The runs, in the search's order.
        columns: The columns, in the search's order (those of its pandas frame).
        spark: The session to create the DataFrame in.

    Returns:
        One row per run.
    """
    # pyspark is imported only here: searching never needs a JVM otherwise.
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

    def kind_of(name: str) -> Any:
        if name in TIME_COLUMNS:
            return LongType()  # epoch milliseconds, made timestamps below
        return DoubleType() if name.startswith("metrics.") else StringType()

    def value(run: Run, name: str) -> Any:
        kind, _, key = name.partition(".")
        if kind in ("metrics", "params", "tags") and key:
            return getattr(run.data, kind).get(key)
        found = getattr(run.info, name, None)
        if found is None or name in TIME_COLUMNS:
            return found
        return str(found)

    schema = StructType([StructField(name, kind_of(name)) for name in columns])
    rows = [tuple(value(run, name) for name in columns) for run in runs]
    frame = spark.createDataFrame(rows, schema)
    return frame.select(
        *[
            F.timestamp_millis(F.col(name)).alias(name)
            if name in TIME_COLUMNS
            else F.col(f"`{name}`")
            for name in columns
        ]
    )
