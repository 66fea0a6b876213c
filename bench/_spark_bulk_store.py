"""Build a sparktrack store of a million runs (or any number) in bulk, with Spark.

``_bulk_store.build_store`` writes its rows from Python with delta-rs, which is right
for 100,000 runs; a million runs hold 20 million params and tens of millions of metric
points, which a Spark job generates and writes in a few minutes, the way a team would
backfill a store. Every row is computed by Spark SQL from the run's number, so the
store is the same whatever the partitioning, and written with
``sparktrack.spark.append_rows`` (delta-spark, under the store's commit lock) into the
tables sparktrack itself created (``TrackingClient`` opens the store first).

The shape follows ``_bulk_store``: the same run ids (md5 of ``<seed>-<index>``), names,
params ``p0..p<n>`` (``p0`` = ``a<i % 7>``, ``p1`` = ``x<i % 10>``, ``p2`` = ``<i>``,
the rest ``v<(i * (j + 1)) % 17>``), tags (``idx``, ``group``, ``mlflow.runName``,
``mlflow.user``, ``mlflow.source.name``, ``mlflow.parentRunId`` for every fifth run),
experiments in blocks of five runs. Metrics differ: ``m<k>`` has ``steps`` points whose
last value is uniform in [0, 1) from a hash of (seed, run, key), not numpy's generator.

Files are written in the order runs were logged (a file holds a range of runs, and
run ids are random within it), as a store looks before ``sparktrack gc`` clusters it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from _bulk_store import BASE_MS, BulkShape, experiment_names
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

import sparktrack
from sparktrack.config import load_settings
from sparktrack.spark import append_rows
from sparktrack.store import open_store

__all__ = ["build_store_with_spark", "table_partitions"]

_RUN_MS = 1_000  # runs start a second apart, as in _bulk_store
_STEP_MS = 5
_USER = "bench"
_SOURCE = "train.py"
# Rows per data file Spark writes: a few million, as compaction leaves them.
_ROWS_PER_FILE = 2_500_000


def table_partitions(rows: int) -> int:
    """How many files Spark writes for ``rows`` rows."""
    return max(1, -(-rows // _ROWS_PER_FILE))


def build_store_with_spark(
    path: str | Path, shape: BulkShape, spark: SparkSession, *, say: Any = None
) -> dict[str, float]:
    """Write ``shape``'s runs into a new sparktrack store at ``path`` with ``spark``
    (a session with Delta's confs); returns the seconds each table took."""
    uri = str(Path(path).resolve())
    store = open_store(uri, load_settings(store=uri))
    client = sparktrack.TrackingClient(store)
    experiments = [client.get_or_create_experiment(name) for name in experiment_names(shape)]
    roots = [store.artifacts.experiment_root(e.experiment_id) for e in experiments]
    ids = [e.experiment_id for e in experiments]
    client.flush()
    client.close()
    store.close()
    frames = {
        "runs": _runs(spark, shape, ids, roots),
        "params": _params(spark, shape),
        "tags": _tags(spark, shape),
        "metrics": _metrics(spark, shape),
    }
    seconds: dict[str, float] = {}
    for name, frame in frames.items():
        started = time.perf_counter()
        append_rows(name, frame, store=uri)
        seconds[name] = time.perf_counter() - started
        if say is not None:
            say(f"  {name}: written in {seconds[name]:.0f} s")
    return seconds


def _numbered(spark: SparkSession, rows: int) -> DataFrame:
    return spark.range(0, rows, 1, table_partitions(rows))


def _run_id(shape: BulkShape, index: Column) -> Column:
    return F.md5(F.concat(F.lit(f"{shape.seed}-"), index.cast("string")))


def _experiment(shape: BulkShape, index: Column, values: list[str]) -> Column:
    """``values[experiment of run index]``: blocks of five runs share an experiment."""
    return F.element_at(
        F.array(*[F.lit(v) for v in values]),
        ((index / 5).cast("long") % shape.experiments + 1).cast("int"),
    )


def _parent(shape: BulkShape, index: Column) -> Column:
    return F.when(index % 5 == 4, _run_id(shape, index - 4))


def _start_ms(index: Column) -> Column:
    return index * _RUN_MS + BASE_MS


def _runs(spark: SparkSession, shape: BulkShape, ids: list[str], roots: list[str]) -> DataFrame:
    runs = _numbered(spark, shape.runs).select(F.col("id").alias("i"))
    i = F.col("i")
    rid = _run_id(shape, i)
    clock = BASE_MS * 1000 + i * 2  # a run's start event, then its end event
    start = runs.select(
        rid.alias("run_id"),
        _experiment(shape, i, ids).alias("experiment_id"),
        F.lit("start").alias("event"),
        F.lit("RUNNING").alias("status"),
        F.format_string("run-%06d", i).alias("run_name"),
        F.lit(_USER).alias("user_id"),
        _parent(shape, i).alias("parent_run_id"),
        _start_ms(i).alias("start_time"),
        F.concat(_experiment(shape, i, roots), F.lit("/"), rid, F.lit("/artifacts")).alias(
            "artifact_uri"
        ),
        clock.alias("event_time"),
    )
    end = runs.select(
        rid.alias("run_id"),
        F.lit("end").alias("event"),
        F.lit("FINISHED").alias("status"),
        (_start_ms(i) + shape.steps * _STEP_MS + 1).alias("end_time"),
        (clock + 1).alias("event_time"),
    )
    return start.unionByName(end, allowMissingColumns=True)


def _params(spark: SparkSession, shape: BulkShape) -> DataFrame:
    rows = _numbered(spark, shape.runs * shape.params)
    i = (F.col("id") / shape.params).cast("long")
    j = F.col("id") % shape.params
    value = (
        F.when(j == 0, F.concat(F.lit("a"), (i % 7).cast("string")))
        .when(j == 1, F.concat(F.lit("x"), (i % 10).cast("string")))
        .when(j == 2, i.cast("string"))
        .otherwise(F.concat(F.lit("v"), ((i * (j + 1)) % 17).cast("string")))
    )
    return rows.select(
        _run_id(shape, i).alias("run_id"),
        F.concat(F.lit("p"), j.cast("string")).alias("key"),
        value.alias("value"),
        (F.col("id") + BASE_MS * 1000).alias("event_time"),
    )


def _tags(spark: SparkSession, shape: BulkShape) -> DataFrame:
    runs = _numbered(spark, shape.runs).select(F.col("id").alias("i"))
    i = F.col("i")
    pairs = [
        ("idx", i.cast("string")),
        ("group", F.concat(F.lit("g"), (i % 3).cast("string"))),
        ("mlflow.runName", F.format_string("run-%06d", i)),
        ("mlflow.user", F.lit(_USER)),
        ("mlflow.source.name", F.lit(_SOURCE)),
        ("mlflow.parentRunId", _parent(shape, i)),
    ]
    entries = F.array(*[F.struct(F.lit(k).alias("key"), v.alias("value")) for k, v in pairs])
    exploded = runs.select(
        _run_id(shape, i).alias("run_id"), i, F.posexplode(entries).alias("n", "tag")
    )
    return exploded.where(F.col("tag.value").isNotNull()).select(
        "run_id",
        F.col("tag.key").alias("key"),
        F.col("tag.value").alias("value"),
        F.lit(False).alias("deleted"),
        (i * len(pairs) + F.col("n") + BASE_MS * 1000).alias("event_time"),
    )


def _unit(*parts: Column) -> Column:
    """A number in [0, 1) from a hash of ``parts``: the same on every partitioning."""
    return F.xxhash64(*parts).bitwiseAND(F.lit(0xFFFFFFFFFFFF)) / float(1 << 48)


def _metrics(spark: SparkSession, shape: BulkShape) -> DataFrame:
    per_run = shape.metrics * shape.steps
    rows = _numbered(spark, shape.runs * per_run)
    i = (F.col("id") / per_run).cast("long")
    k = ((F.col("id") / shape.steps).cast("long") % shape.metrics).cast("int")
    s = F.col("id") % shape.steps
    seed = F.lit(shape.seed)
    final = _unit(seed, i, k)
    progress = s / max(shape.steps - 1, 1)
    noise = (_unit(seed, i, k, s) - 0.5) * 0.04
    value = F.when(s == shape.steps - 1, final).otherwise(final * progress + noise * (1 - progress))
    return rows.select(
        _run_id(shape, i).alias("run_id"),
        F.concat(F.lit("m"), k.cast("string")).alias("key"),
        value.alias("value"),
        s.alias("step"),
        (_start_ms(i) + s * _STEP_MS).alias("timestamp"),
    )
