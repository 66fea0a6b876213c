"""Search results as Spark DataFrames (``search_runs(output_format="spark")``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from sparktrack.session import spark_session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["to_spark_dataframe"]


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
