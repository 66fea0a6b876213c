"""A store of real monitoring passes for the UI's drift tests, made by ``sparktrack.monitor``.

One small model (a logistic regression on 2,000 rows of ``x1``, ``x2`` and a category
``cat``), logged with its training data (its baseline) and registered twice as
"drift-model". Version 1 is monitored on three days of new data, the third with
``x1`` shifted by 1.5 standard deviations (three passes, the last one ALERT on ``x1``);
version 2 once, on fresh data without a time column (one pass, window "all").
"quiet-model" is registered but never monitored. Built once per test process: the API
and browser tests read the same store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

import sparktrack
from sparktrack.monitoring import MonitorResult, monitor
from sparktrack.registry import RegistryClient
from sparktrack.tracking import RunStatus, TrackingClient

MODEL, QUIET = "drift-model", "quiet-model"
FEATURES = ["x1", "x2", "cat"]
ROWS = 2_000
DAY = 86_400
TAGS = ("model", "version", "window", "status")


@dataclass
class DriftStore:
    uri: str
    windowed: MonitorResult  # version 1: three daily windows, the last one shifted
    whole: MonitorResult  # version 2: one pass over everything


def _data(spark: Any, seed: int, *, day: int = 0, shift: float = 0.0) -> Any:
    from pyspark.sql import functions as F

    u = F.rand(seed + 3)
    frame = spark.range(ROWS).select(
        (F.randn(seed + 1) + shift).alias("x1"),
        F.randn(seed + 2).alias("x2"),
        F.when(u < 0.5, "a").when(u < 0.8, "b").otherwise("c").alias("cat"),
        F.randn(seed + 4).alias("noise"),
    )
    label = (F.col("x1") + F.col("x2") + 0.3 * F.col("noise") > 0).cast("double")
    return (
        frame.withColumn("label", label)
        .drop("noise")
        .withColumn("ts", F.timestamp_seconds(F.lit(day * DAY + 60)))
    )


_built: dict[str, DriftStore] = {}


def drift_store(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> DriftStore:
    """The store, built on first use in this process."""
    if "store" not in _built:
        root = tmp_path_factory.mktemp("ui-drift")
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SPARKTRACK_JOURNAL_DIR", str(root / "journal"))
            _built["store"] = _build(spark, str(root / "store"))
    return _built["store"]


def _build(spark: Any, uri: str) -> DriftStore:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import StringIndexer, VectorAssembler

    client = TrackingClient(store=uri)
    train = _data(spark, 0).drop("ts").cache()
    model = Pipeline(
        stages=[
            StringIndexer(inputCol="cat", outputCol="cat_index", handleInvalid="keep"),
            VectorAssembler(inputCols=["x1", "x2", "cat_index"], outputCol="features"),
            LogisticRegression(maxIter=10),
        ]
    ).fit(train)
    run = client.create_run(client.get_or_create_experiment("train").experiment_id)
    info = sparktrack.log_model(
        model,
        "model",
        run_id=run.info.run_id,
        client=client,
        input_example=train.limit(3).toPandas()[FEATURES],
        training_data=train,
    )
    client.set_terminated(run.info.run_id, RunStatus.FINISHED)
    train.unpersist()
    registry = RegistryClient(client)
    for name in (MODEL, MODEL, QUIET):
        registry.register_model(info.model_uri, name)
    days = [_data(spark, 10 + day, day=day, shift=1.5 if day == 2 else 0.0) for day in range(3)]
    new = days[0].unionByName(days[1]).unionByName(days[2])
    windowed = monitor(
        f"models:/{MODEL}/1", new, label_col="label", timestamp_col="ts", client=client
    )
    whole = monitor(f"models:/{MODEL}/2", _data(spark, 50).drop("ts"), client=client)
    client.flush()
    return DriftStore(uri, windowed, whole)


def log_pass(
    client: TrackingClient,
    experiment_id: str,
    model: str,
    version: str,
    *,
    start_time: int,
    status: str,
    psi: dict[str, float],
    window: str = "all",
) -> str:
    """A monitoring pass logged by hand, with the tags and metric names ``monitor`` uses
    (no report: as a pass whose artifacts were lost, or logged by another tool)."""
    tags = dict(zip(TAGS, (model, version, window, status), strict=True))
    run_id = client.create_run(
        experiment_id,
        run_name=f"monitor {window}",
        start_time=start_time,
        tags={f"sparktrack.monitor.{k}": v for k, v in tags.items()},
    ).info.run_id
    metrics = {f"drift.psi.{column}": value for column, value in psi.items()}
    metrics |= {"drift.prediction.psi": 0.01, "decay.accuracy": 0.02, "current.accuracy": 0.9}
    client.log_metrics(run_id, metrics)
    client.set_terminated(run_id, RunStatus.FINISHED, end_time=start_time + 10)
    return run_id
