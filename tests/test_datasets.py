"""describe_dataframe: sources, row counts and digests read off the plan, without a job."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sparktrack.datasets import DatasetInput, _delta, _spark, describe_dataframe
from sparktrack.datasets._digest import (
    FileEntry,
    files_fingerprint,
    normalize_plan_string,
    parse_file_statuses,
)
from tests._processes import python, run_child


def _source(dataset: DatasetInput) -> dict[str, Any]:
    source: dict[str, Any] = json.loads(dataset.source)
    return source


def _uri(path: Path) -> str:
    return f"file:{path}"  # how Hadoop prints a local path


# -- pure helpers (no Spark) -------------------------------------------------------------
def test_importing_datasets_does_not_import_pyspark() -> None:
    code = "import sys, sparktrack.datasets; print('pyspark' in sys.modules)"
    assert run_child(python("-c", code)).stdout.strip() == "False"


def test_file_statuses_parse_and_fingerprint_ignores_listing_order() -> None:
    listing = "\n".join(
        f"LocatedFileStatus{{path=file:/d/a; b/{name}; isDirectory=false; length={size}; "
        f"replication=1; blocksize=33554432; modification_time={mtime}; access_time=0; "
        "owner=; group=; permission=rw-rw-rw-; isSymlink=false; hasAcl=false}"
        for name, size, mtime in [("p0.parquet", 472, 1700), ("p1.parquet", 480, 1701)]
    )
    entries = parse_file_statuses(listing)
    assert entries == [
        FileEntry("file:/d/a; b/p0.parquet", 472, 1700),
        FileEntry("file:/d/a; b/p1.parquet", 480, 1701),
    ]
    assert files_fingerprint(entries) == files_fingerprint(reversed(entries))
    touched = [entries[0], FileEntry(entries[1].path, 480, 1702)]
    assert files_fingerprint(touched) != files_fingerprint(entries)


def test_plan_text_loses_jvm_instance_noise() -> None:
    a = "MapElements org.Foo$$Lambda$1234/0x00007f0a1c2b3d48@5e3a8624, obj#3: int"
    b = "MapElements org.Foo$$Lambda$987/0x00007f0a1c2b9999@1b2c3d4e, obj#3: int"
    assert normalize_plan_string(a) == normalize_plan_string(b)


# -- on Spark ----------------------------------------------------------------------------
@pytest.fixture
def delta_path(spark: Any, tmp_path: Path) -> Path:
    path = tmp_path / "events"
    spark.range(5).write.format("delta").save(str(path))
    return path


def _write_parquet(folder: Path, name: str, ids: list[int]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    pq.write_table(pa.table({"id": pa.array(ids, pa.int64())}), path)
    return path


@contextmanager
def _arrow(spark: Any, enabled: bool) -> Iterator[None]:
    key = "spark.sql.execution.arrow.pyspark.enabled"
    before = spark.conf.get(key)
    spark.conf.set(key, str(enabled).lower())
    try:
        yield
    finally:
        spark.conf.set(key, before)


@pytest.mark.spark
def test_delta_table_read_by_path(spark: Any, delta_path: Path) -> None:
    df = spark.read.format("delta").load(str(delta_path))
    dataset = describe_dataframe(df, context="validation")
    assert dataset.source_type == "delta"
    assert _source(dataset) == {"path": _uri(delta_path), "version": 0, "table": None}
    assert dataset.num_rows == 5
    assert dataset.name == "events"
    assert dataset.context == "validation"
    assert dataset.schema == df.schema.json()
    assert len(dataset.digest) == 16 and int(dataset.digest, 16) >= 0
    assert describe_dataframe(df, name="clicks").name == "clicks"


@pytest.mark.spark
def test_delta_digest_follows_the_version_read(spark: Any, delta_path: Path) -> None:
    read = spark.read.format("delta")
    before = read.load(str(delta_path))
    first = describe_dataframe(before)
    assert describe_dataframe(read.load(str(delta_path))).digest == first.digest

    spark.range(5, 8).write.format("delta").mode("append").save(str(delta_path))
    latest = describe_dataframe(read.load(str(delta_path)))
    assert _source(latest)["version"] == 1
    assert latest.num_rows == 8
    assert latest.digest != first.digest
    # Delta resolves a latest-version read again each time it runs: the DataFrame made
    # before the append now reads version 1, and says so.
    assert describe_dataframe(before).digest == latest.digest

    old = describe_dataframe(read.option("versionAsOf", 0).load(str(delta_path)))
    assert _source(old)["version"] == 0
    assert old.num_rows == 5
    assert old.digest == first.digest


@pytest.mark.spark
def test_delta_row_count_only_for_the_whole_table(spark: Any, delta_path: Path) -> None:
    df = spark.read.format("delta").load(str(delta_path))
    assert describe_dataframe(df.selectExpr("id * 2 AS twice").orderBy("twice")).num_rows == 5
    for narrowed in (df.filter("id > 2"), df.limit(2), df.groupBy("id").count(), df.distinct()):
        dataset = describe_dataframe(narrowed)
        assert dataset.num_rows is None
        assert dataset.source_type == "delta"
    assert describe_dataframe(df.filter("id > 2")).digest != describe_dataframe(df).digest


@pytest.mark.spark
def test_delta_row_count_minus_rows_hidden_by_deletion_vectors(spark: Any, tmp_path: Path) -> None:
    path = str(tmp_path / "dv")
    writer = spark.range(10).coalesce(1).write.format("delta")
    writer.option("delta.enableDeletionVectors", "true").save(path)
    # The table can hide rows behind deletion vectors: the count subtracts what the
    # version's checksum says is deleted (none yet; a real DELETE costs ~10 s of test time).
    assert describe_dataframe(spark.read.format("delta").load(path)).num_rows == 10
    assert _delta.delta_log_rows(_uri(Path(path)), 0, lambda: 3) == 7
    assert _delta.delta_log_rows(_uri(Path(path)), 0, lambda: None) is None


@pytest.mark.spark
def test_delta_and_parquet_tables_read_by_name(
    spark: Any, delta_path: Path, tmp_path: Path
) -> None:
    delta_table = f"st_ds_{uuid.uuid4().hex[:8]}"
    parquet_table = f"st_ds_{uuid.uuid4().hex[:8]}"
    _write_parquet(tmp_path / "pq_table", "part-0.parquet", [1, 2])
    spark.sql(f"CREATE TABLE {delta_table} USING delta LOCATION '{delta_path}'")
    spark.sql(f"CREATE TABLE {parquet_table} USING parquet LOCATION '{tmp_path / 'pq_table'}'")
    try:
        delta = describe_dataframe(spark.table(delta_table))
        assert delta.source_type == "delta"
        assert _source(delta)["table"] == f"spark_catalog.default.{delta_table}"
        assert _source(delta)["version"] == 0 and delta.num_rows == 5
        assert delta.name == delta_table

        table = describe_dataframe(spark.table(parquet_table))
        assert table.source_type == "table"
        source = _source(table)
        assert source["table"] == f"spark_catalog.default.{parquet_table}"
        assert source["location"].rstrip("/").endswith("pq_table")
        assert (source["format"], source["files"]) == ("parquet", 1)
    finally:
        spark.sql(f"DROP TABLE IF EXISTS {delta_table}")
        spark.sql(f"DROP TABLE IF EXISTS {parquet_table}")


@pytest.mark.spark
def test_parquet_files_digest_follows_the_files(spark: Any, tmp_path: Path) -> None:
    folder = tmp_path / "features"
    first = _write_parquet(folder, "part-0.parquet", [1, 2, 3])
    _write_parquet(folder, "part-1.parquet", [4, 5])
    dataset = describe_dataframe(spark.read.parquet(str(folder)))
    assert dataset.source_type == "files"
    source = _source(dataset)
    assert source["format"] == "parquet"
    assert source["paths"] == [_uri(folder)]
    assert source["files"] == 2
    assert source["bytes"] == sum(p.stat().st_size for p in folder.glob("*.parquet"))
    assert dataset.name == "features"
    assert dataset.num_rows is None  # counting parquet rows is not free
    # The same data read again: the same digest.
    assert describe_dataframe(spark.read.parquet(str(folder))).digest == dataset.digest

    # Other data under the same paths. The fingerprint sees size and modification time
    # (not contents), so make sure the rewrite lands on another millisecond.
    mtime = first.stat().st_mtime_ns
    _write_parquet(folder, "part-0.parquet", [7, 8, 9])
    os.utime(first, ns=(mtime, mtime + 2_000_000_000))
    rewritten = describe_dataframe(spark.read.parquet(str(folder)))
    assert _source(rewritten)["paths"] == source["paths"]
    assert _source(rewritten)["fingerprint"] != source["fingerprint"]
    assert rewritten.digest != dataset.digest


@pytest.mark.spark
@pytest.mark.parametrize("arrow", [False, True], ids=["pickled-rdd", "arrow-local-relation"])
def test_local_pandas_data(spark: Any, arrow: bool) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "label": ["a", "b", "c"]})
    with _arrow(spark, arrow):
        dataset = describe_dataframe(spark.createDataFrame(frame))
        again = describe_dataframe(spark.createDataFrame(frame.copy()))
        changed = describe_dataframe(spark.createDataFrame(frame.assign(x=[1.0, 2.0, 4.0])))
    assert dataset.source_type == "memory"
    assert _source(dataset)["kind"] == ("local" if arrow else "rdd")
    assert dataset.num_rows == 3
    assert dataset.name == "dataframe"
    assert again.digest == dataset.digest
    assert changed.digest != dataset.digest


@pytest.mark.spark
def test_rdd_built_by_user_code_counts_nothing(spark: Any) -> None:
    rdd = spark.sparkContext.parallelize([(1,), (2,)])
    # With a schema given, making these DataFrames runs no job (no inference).
    doubled = describe_dataframe(spark.createDataFrame(rdd.map(lambda r: (r[0] * 2,)), "x long"))
    tripled = describe_dataframe(spark.createDataFrame(rdd.map(lambda r: (r[0] * 3,)), "x long"))
    assert doubled.source_type == "memory"
    assert doubled.num_rows is None  # the function may drop or add rows
    assert doubled.digest != tripled.digest


@pytest.mark.spark
def test_generated_and_sql_local_data(spark: Any) -> None:
    ranged = describe_dataframe(spark.range(4).selectExpr("id * 3 AS x"))
    assert (ranged.source_type, ranged.num_rows) == ("memory", 4)
    assert describe_dataframe(spark.range(5).selectExpr("id * 3 AS x")).digest != ranged.digest
    values = describe_dataframe(spark.sql("SELECT * FROM VALUES (1, 'a'), (2, 'b') AS t(k, v)"))
    assert (values.source_type, values.num_rows) == ("memory", 2)


@pytest.mark.spark
def test_join_lists_every_source(spark: Any, delta_path: Path, tmp_path: Path) -> None:
    _write_parquet(tmp_path / "labels", "part-0.parquet", [1, 2])
    events = spark.read.format("delta").load(str(delta_path))
    labels = spark.read.parquet(str(tmp_path / "labels"))
    dataset = describe_dataframe(events.join(labels, "id"))
    assert dataset.source_type == "mixed"
    assert dataset.num_rows is None
    assert dataset.name == "dataframe"
    sources = _source(dataset)["sources"]
    assert [s["type"] for s in sources] == ["delta", "files"]
    assert sources[0]["path"] == _uri(delta_path)
    assert sources[1]["paths"] == [_uri(tmp_path / "labels")]
    # A self-join reads one table once; a subquery's table is a source too.
    self_join = events.alias("a").join(events.alias("b"), "id")
    assert _source(describe_dataframe(self_join))["version"] == 0
    labels.createOrReplaceTempView("st_ds_labels")
    try:
        semi = events.where("id IN (SELECT id FROM st_ds_labels)")
        semi_sources = _source(describe_dataframe(semi))["sources"]
    finally:
        spark.catalog.dropTempView("st_ds_labels")
    assert [s["type"] for s in semi_sources] == ["delta", "files"]


@pytest.mark.spark
def test_describing_runs_no_spark_job(spark: Any, delta_path: Path, tmp_path: Path) -> None:
    _write_parquet(tmp_path / "p", "part-0.parquet", [1, 2])
    delta = spark.read.format("delta").load(str(delta_path))
    files = spark.read.parquet(str(tmp_path / "p"))
    frames = [
        delta,
        delta.filter("id > 1"),
        files,
        delta.join(files, "id"),
        spark.createDataFrame(pd.DataFrame({"id": [1, 2]})),
        spark.range(3),
    ]
    context = spark.sparkContext
    group = f"describe-{uuid.uuid4().hex}"
    context.setJobGroup(group, "describe_dataframe must not run jobs")
    try:
        for df in frames:
            describe_dataframe(df)
        assert list(context.statusTracker().getJobIdsForGroup(group)) == []
        files.count()  # the check itself works: a real action shows up
        assert list(context.statusTracker().getJobIdsForGroup(group))
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)
        context.setLocalProperty("spark.job.description", None)


@pytest.mark.spark
def test_unreadable_plans_degrade_to_unknown(
    spark: Any, delta_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    df = spark.read.format("delta").load(str(delta_path))

    def broken(_: Any) -> Any:
        raise RuntimeError("plan from the future")

    monkeypatch.setitem(_spark._LEAF_HANDLERS, "LogicalRelation", broken)
    leaf_failed = describe_dataframe(df)
    assert leaf_failed.source_type == "unknown"
    assert leaf_failed.num_rows is None
    assert leaf_failed.schema == df.schema.json()

    monkeypatch.setattr(_spark, "inspect_dataframe", broken)
    dataset = describe_dataframe(df, name="events")
    assert (dataset.source_type, dataset.name, dataset.num_rows) == ("unknown", "events", None)
    assert "plan from the future" in _source(dataset)["error"]
    assert dataset.schema == df.schema.json()
    assert describe_dataframe(df).digest == dataset.digest  # same object, same digest
    other = spark.read.format("delta").load(str(delta_path))
    assert describe_dataframe(other).digest != dataset.digest  # nothing known: never equal

    not_a_dataframe = describe_dataframe(object())  # type: ignore[arg-type]
    assert (not_a_dataframe.source_type, not_a_dataframe.schema) == ("unknown", "{}")
