"""Spark-side access to the store with delta-spark: DataFrames, Spark SQL, maintenance.

The tracking path never needs any of this (it writes Delta without a JVM). These
helpers are for users who want the tables in Spark: to query runs with Spark SQL,
join metrics with their data, or run compaction where the data lives.

    import sparktrack.spark as sts
    sts.register_views(spark)          # sparktrack_runs, sparktrack_metrics, ...
    spark.sql("SELECT * FROM sparktrack_runs WHERE status = 'FINISHED'")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from sparktrack.config import Settings, load_settings
from sparktrack.errors import NotFoundError
from sparktrack.session import check_delta_configured, spark_session
from sparktrack.store import TABLE_NAMES, TABLES, parse_store_uri
from sparktrack.store._locks import table_lock
from sparktrack.store._uri import StoreLocation
from sparktrack.tracking import get_client, runs_view_sql

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "append_rows",
    "optimize",
    "read_table",
    "register_views",
    "to_spark_dataframe",
]


def _location(store: str | None) -> StoreLocation:
    if store is None:
        return parse_store_uri(get_client().store.uri)
    return parse_store_uri(store)


def _settings(store: str | None) -> Settings:
    if store is None:
        return get_client().settings
    return load_settings(store=store)


def _session(spark: SparkSession | None) -> SparkSession:
    return spark if spark is not None else spark_session()


def _check_table(table: str) -> None:
    if table not in TABLES:
        raise NotFoundError(f"store has no table {table!r}; tables are {list(TABLE_NAMES)}")


def read_table(
    table: str, spark: SparkSession | None = None, *, store: str | None = None
) -> DataFrame:
    """One store table as a Spark DataFrame (through delta-spark)."""
    _check_table(table)
    session = _session(spark)
    check_delta_configured(session)
    return session.read.format("delta").load(_location(store).for_spark(table))


# Live versions with their current stage, folded from the registry's events.
_MODEL_VERSIONS_SQL = """
SELECT c.name, c.version, COALESCE(s.current_stage, 'None') AS current_stage,
  c.source, c.run_id, c.user_id, c.timestamp AS creation_timestamp
FROM (SELECT * FROM {registry} WHERE event = 'version_created') c
LEFT JOIN (
  SELECT name, version, max_by(value, seq) AS current_stage
  FROM {registry} WHERE event = 'stage_changed' GROUP BY name, version
) s ON c.name = s.name AND c.version = s.version
LEFT ANTI JOIN (
  SELECT name, version FROM {registry} WHERE event = 'version_deleted'
) d ON c.name = d.name AND c.version = d.version
"""


def register_views(
    spark: SparkSession | None = None,
    *,
    store: str | None = None,
    prefix: str = "sparktrack_",
    heartbeat_timeout_seconds: float | None = None,
) -> list[str]:
    """Register the store's tables as Spark SQL temporary views.

    Every table gets a view ``<prefix><table>``, except that the raw ``runs`` events
    are ``<prefix>run_events``: ``<prefix>runs`` holds one row per run in its current
    state, folded from those events by the same rules as ``get_run`` and
    ``search_runs`` (a RUNNING run whose heartbeat stopped reads KILLED, judged at
    each query). ``<prefix>model_versions`` holds the live registered model versions
    with their stage.

    Args:
        spark: The session to register the views in (default: the active one).
        store: The store (default: the fluent API's current store).
        prefix: The views' name prefix.
        heartbeat_timeout_seconds: How long a RUNNING run may show no sign of life
            before ``<prefix>runs`` reads it KILLED (default: the setting).

    Returns:
        The names of the views registered.

    Raises:
        ConfigurationError: The session cannot read Delta tables (it says which confs
            to add).
    """
    session = _session(spark)
    names = []
    for table in TABLE_NAMES:
        view = f"{prefix}run_events" if table == "runs" else f"{prefix}{table}"
        read_table(table, session, store=store).createOrReplaceTempView(view)
        names.append(view)
    if heartbeat_timeout_seconds is None:
        heartbeat_timeout_seconds = _settings(store).heartbeat_timeout_seconds
    current = session.sql(
        runs_view_sql(
            f"{prefix}run_events",
            f"{prefix}heartbeats",
            heartbeat_timeout_ms=int(heartbeat_timeout_seconds * 1000),
        )
    )
    current.createOrReplaceTempView(f"{prefix}runs")
    names.append(f"{prefix}runs")
    versions = session.sql(_MODEL_VERSIONS_SQL.format(registry=f"{prefix}registry"))
    versions.createOrReplaceTempView(f"{prefix}model_versions")
    names.append(f"{prefix}model_versions")
    return names


def to_spark_dataframe(frame: pd.DataFrame, spark: SparkSession | None = None) -> DataFrame:
    """A search_runs result as a Spark DataFrame (column names keep their dots: quote
    them with backticks in Spark SQL, e.g. ```metrics.auc```)."""
    session = _session(spark)
    if frame.empty:
        from pyspark.sql.types import StringType, StructField, StructType

        return session.createDataFrame(
            [], StructType([StructField(c, StringType()) for c in frame.columns])
        )
    return session.createDataFrame(frame)


def append_rows(table: str, rows: DataFrame, *, store: str | None = None) -> None:
    """Append a Spark DataFrame of rows to a table (bulk writes from a Spark job).

    Columns are aligned to the table's schema; missing nullable columns become null.
    On local stores the same inter-process lock as the Python writer is held.
    """
    _check_table(table)
    from pyspark.sql import functions as F

    check_delta_configured(rows.sparkSession)
    location = _location(store)
    schema = TABLES[table]
    aligned = rows.select(
        *[
            (F.col(field.name) if field.name in rows.columns else F.lit(None))
            .cast(_spark_type(field.type))
            .alias(field.name)
            for field in schema
        ]
    )
    with table_lock(location, table):
        aligned.write.format("delta").mode("append").save(location.for_spark(table))


def optimize(spark: SparkSession | None = None, *, store: str | None = None) -> dict[str, Any]:
    """Compact every table with delta-spark's OPTIMIZE (for stores on a cluster)."""
    from delta.tables import DeltaTable

    session = _session(spark)
    check_delta_configured(session)
    location = _location(store)
    report: dict[str, Any] = {}
    for table in TABLE_NAMES:
        with table_lock(location, table):
            metrics = DeltaTable.forPath(session, location.for_spark(table)).optimize()
            result = metrics.executeCompaction().collect()
        # OPTIMIZE answers one row: (path, metrics struct with numFilesAdded/Removed, ...).
        report[table] = result[0].asDict(recursive=True)["metrics"] if result else {}
    return report


def _spark_type(arrow_type: Any) -> str:
    import pyarrow as pa

    if pa.types.is_string(arrow_type):
        return "string"
    if pa.types.is_int64(arrow_type):
        return "bigint"
    if pa.types.is_float64(arrow_type):
        return "double"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    raise TypeError(f"no Spark type for {arrow_type}")
