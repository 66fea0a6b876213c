"""Spark-side access to the store with delta-spark: DataFrames, Spark SQL, maintenance.

The tracking path never needs any of this (it writes Delta without a JVM). These
helpers are for users who want the tables in Spark: to query runs with Spark SQL,
join metrics with their data, or run compaction where the data lives.

    import sparktrack.spark as sts
    sts.register_views(spark)          # sparktrack_runs, sparktrack_metrics, ...
    spark.sql("SELECT * FROM sparktrack_runs WHERE status = 'FINISHED'")
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from sparktrack.config import Settings, load_settings
from sparktrack.errors import ConfigurationError, InvalidInputError, NotFoundError
from sparktrack.session import store_session
from sparktrack.store import (
    TABLE_NAMES,
    TABLES,
    StoreLocation,
    commit_written_files,
    parse_store_uri,
    table_lock,
)
from sparktrack.tracking import get_client, runs_view_sql, to_spark_dataframe

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "append_rows",
    "optimize",
    "read_table",
    "register_views",
    "to_spark_dataframe",
]


# Registry changes commit without a lock file: Delta's commit protocol refuses one
# decided on an old version (see store/_optimistic). delta-spark's commit on a local
# disk checks for the next log entry, then renames over it, so it could replace a
# registry change landing in between: delta-spark never commits to these tables.
_COMMITTED_BY_SPARKTRACK_ONLY = frozenset({"registry"})


def _location(store: str | None) -> StoreLocation:
    if store is None:
        return parse_store_uri(get_client().store.uri)
    return parse_store_uri(store)


def _settings(store: str | None) -> Settings:
    return get_client().settings if store is None else load_settings(store=store)


def _on_s3(location: StoreLocation) -> bool:
    return location.scheme == "s3"


def _session(spark: SparkSession | None, location: StoreLocation) -> SparkSession:
    """The session to use, checked for what the store needs (Delta; s3a on S3)."""
    return store_session(spark, s3a=_on_s3(location))


def _check_table(table: str) -> None:
    if table not in TABLES:
        raise NotFoundError(f"store has no table {table!r}; tables are {list(TABLE_NAMES)}")


def read_table(
    table: str, spark: SparkSession | None = None, *, store: str | None = None
) -> DataFrame:
    """One store table as a Spark DataFrame (through delta-spark).

    Args:
        table: A table of the store: ``runs``, ``params``, ``metrics``, ``tags``,
            ``inputs``, ``experiments``, ``registry``...
        spark: The session to read with (it needs Delta's confs); by default the running
            one.
        store: The store's URI; by default the fluent API's.

    Returns:
        The table's rows, as delta-spark reads them (raw events for ``runs``).

    Raises:
        NotFoundError: The store has no such table.
        ConfigurationError: The session lacks Delta's confs, or on an S3 store s3a
            (the message names what to add).
    """
    _check_table(table)
    location = _location(store)
    return _session(spark, location).read.format("delta").load(location.for_spark(table))


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
    """Temp views of the store for Spark SQL.

        sts.register_views(spark)
        spark.sql("SELECT * FROM sparktrack_runs WHERE status = 'FINISHED'")

    ``<prefix>runs`` folds the runs events by the same rules as ``get_run`` and
    ``search_runs`` (its SQL is generated from their description), heartbeat rule
    included: a RUNNING run whose heartbeat stopped reads KILLED, judged at each query.

    Args:
        spark: The session to register them in (it needs Delta's confs, and s3a for a
            store on S3); by default the running one, else a new local one with both.
        store: The store's URI; by default the fluent API's.
        prefix: The views' name prefix.
        heartbeat_timeout_seconds: How long a RUNNING run may show no sign of life
            before ``<prefix>runs`` reads it KILLED; by default the setting.

    Returns:
        The names of the views: ``<prefix><table>`` for every table (the raw runs
        events as ``<prefix>run_events``), ``<prefix>runs`` with each run's current
        state, and ``<prefix>model_versions`` (live registered versions, their stage).

    Raises:
        ConfigurationError: The session lacks Delta's confs, or on an S3 store s3a
            (the message names what to add).
    """
    session = _session(spark, _location(store))
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


def append_rows(table: str, rows: DataFrame, *, store: str | None = None) -> None:
    """Append a Spark DataFrame of rows to a table (bulk writes from a Spark job).

    Columns are aligned to the table's schema; missing nullable columns become null.
    On local stores the same inter-process lock as the Python writer is held. On S3,
    where delta-spark's commit could replace another writer's, Spark writes the data
    files and sparktrack commits them with delta-rs under ``object_store_commits``,
    as every other writer of the store commits (``store.commit_written_files``).

    Args:
        table: The store table to append to.
        rows: The rows, with the table's column names (others are dropped).
        store: The store's URI; by default the fluent API's.

    Raises:
        NotFoundError: The store has no such table.
        InvalidInputError: The table is ``registry`` (its changes follow rules: make
            them with ``RegistryClient``).
        ConfigurationError: The rows' session lacks Delta's confs (or s3a, on S3), or
            the S3 store's ``object_store_commits`` is unset.
        StoreError: The table's lock could not be taken, or the commit failed.
    """
    _check_table(table)
    if table in _COMMITTED_BY_SPARKTRACK_ONLY:
        raise InvalidInputError(
            f"rows cannot be appended to the {table!r} table from Spark: its changes must "
            "follow the registry's rules; make them with RegistryClient (register_model, "
            "transition_model_version_stage, ...)"
        )
    from pyspark.sql import functions as F  # pyspark loads only when Spark is used

    location = _location(store)
    _session(rows.sparkSession, location)
    schema = TABLES[table]
    aligned = rows.select(
        *[
            (F.col(field.name) if field.name in rows.columns else F.lit(None))
            .cast(_spark_type(field.type))
            .alias(field.name)
            for field in schema
        ]
    )
    if _on_s3(location):
        # A folder of its own, not hidden: VACUUM must see (and may remove) its files.
        folder = f"spark-append-{uuid.uuid4().hex}"
        aligned.write.mode("errorifexists").parquet(location.for_spark(table, folder))
        commit_written_files(location, _settings(store), table, folder)
        return
    with table_lock(location, table):
        aligned.write.format("delta").mode("append").save(location.for_spark(table))


def optimize(spark: SparkSession | None = None, *, store: str | None = None) -> dict[str, Any]:
    """Compact every table with delta-spark's OPTIMIZE (for stores on a cluster).

    All but the small ``registry`` table, which only sparktrack commits to (``sparktrack
    gc`` compacts it). Not on S3: delta-spark commits there with a check-then-write
    that can replace another writer's commit; ``sparktrack gc`` compacts an S3 store
    with delta-rs's safe commit.

    Args:
        spark: The session to run it in (it needs Delta's confs); by default the running
            one.
        store: The store's URI; by default the fluent API's.

    Returns:
        OPTIMIZE's metrics per table compacted (``numFilesAdded``, ``numFilesRemoved``...).

    Raises:
        ConfigurationError: The session lacks Delta's confs, or the store is on S3.
        StoreError: A table's lock could not be taken.
    """
    from delta.tables import DeltaTable  # delta-spark imports pyspark: only when used

    location = _location(store)
    if _on_s3(location):
        raise ConfigurationError(
            f"optimize() cannot compact the store {location.uri!r} on S3: delta-spark "
            "commits there by checking that the next log file is absent and then writing "
            "it, which can replace a commit another process makes in between and lose its "
            "rows. Compact it with `sparktrack gc` (or TrackingClient(store).store.maintain()), "
            "which commits with delta-rs under the store's object_store_commits."
        )
    session = _session(spark, location)
    report: dict[str, Any] = {}
    for table in TABLE_NAMES:
        if table in _COMMITTED_BY_SPARKTRACK_ONLY:
            continue  # small; `sparktrack gc` compacts it
        with table_lock(location, table):
            metrics = DeltaTable.forPath(session, location.for_spark(table)).optimize()
            result = metrics.executeCompaction().collect()
        # OPTIMIZE answers one row: (path, metrics struct with numFilesAdded/Removed, ...).
        report[table] = result[0].asDict(recursive=True)["metrics"] if result else {}
    return report


def _spark_type(arrow_type: Any) -> str:
    if pa.types.is_string(arrow_type):
        return "string"
    if pa.types.is_int64(arrow_type):
        return "bigint"
    if pa.types.is_float64(arrow_type):
        return "double"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    raise TypeError(f"no Spark type for {arrow_type}")
