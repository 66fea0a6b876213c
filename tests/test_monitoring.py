"""Monitoring on real Spark: baselines at log time, shifts of known size, false alarms.

One model for the module: a logistic regression on 20,000 rows of two normal features
and a three-valued category, label ``x1 + x2 + effect(cat) + noise > 0``. Shifted data
sets are built from the same generator, each day of a timestamp column holding one
shift, so one monitoring pass (one Spark job, per-day windows) checks them all.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sparktrack
from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.monitoring import MonitorResult, Profile, monitor, profile, read_profile
from tests._processes import child_env, python, readable, result_line, run_child

pytestmark = pytest.mark.spark

ROWS = 20_000
DAY = 86_400
FEATURES = ["x1", "x2", "cat"]


def _data(spark: Any, seed: int, *, day: int = 0, shift: str = "none", rows: int = ROWS) -> Any:
    """Rows of the training distribution, or of it with one shift of known size."""
    from pyspark.sql import functions as F

    u = F.rand(seed + 3)
    x1 = F.randn(seed + 1)
    x2 = F.randn(seed + 2)
    cat = F.when(u < 0.5, "a").when(u < 0.8, "b").otherwise("c")
    if shift == "mean":  # x1's mean moves by one standard deviation
        x1 = x1 + 1.0
    elif shift == "variance":  # x2's standard deviation doubles
        x2 = x2 * 2.0
    elif shift == "category":  # 15 % of the rows carry a category never seen
        cat = F.when(u < 0.15, "d").otherwise(cat)
    elif shift == "nulls":  # x2 goes missing in 20 % of the rows
        x2 = F.when(F.rand(seed + 4) < 0.2, F.lit(None)).otherwise(x2)
    frame = spark.range(rows).select(
        x1.alias("x1"), x2.alias("x2"), cat.alias("cat"), F.randn(seed + 5).alias("noise")
    )
    effect = F.when(F.col("cat") == "a", 0.5).when(F.col("cat") == "b", -0.5).otherwise(0.0)
    label = F.col("x1") + F.coalesce(F.col("x2"), F.lit(0.0)) + effect + 0.3 * F.col("noise")
    labelled = frame.withColumn("label", (label > 0).cast("double"))
    if shift == "concept":  # the relation moves: labels flip where x1 > 0.5 (31 % of rows)
        labelled = labelled.withColumn(
            "label", F.when(F.col("x1") > 0.5, 1.0 - F.col("label")).otherwise(F.col("label"))
        )
    return labelled.drop("noise").withColumn("ts", F.timestamp_seconds(F.lit(day * DAY + 60)))


@pytest.fixture(scope="module")
def logged(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import StringIndexer, VectorAssembler

    train = _data(spark, 0).drop("ts").cache()
    pipeline = Pipeline(
        stages=[
            StringIndexer(inputCol="cat", outputCol="cat_index", handleInvalid="keep"),
            VectorAssembler(
                inputCols=["x1", "x2", "cat_index"], outputCol="features", handleInvalid="keep"
            ),
            LogisticRegression(maxIter=20),
        ]
    )
    model = pipeline.fit(train)
    store = tmp_path_factory.mktemp("monitoring") / "store"
    client = sparktrack.TrackingClient(store=str(store))
    run = client.create_run(client.get_or_create_experiment("train").experiment_id)
    info = sparktrack.log_model(
        model,
        "model",
        run_id=run.info.run_id,
        client=client,
        input_example=train.limit(3).toPandas()[FEATURES],
        training_data=train,
    )
    bare = sparktrack.log_model(model, "bare", run_id=run.info.run_id, client=client)
    train.unpersist()
    return {"client": client, "uri": info.model_uri, "bare": bare.model_uri, "model": model}


@pytest.mark.slow
def test_log_model_with_training_data_writes_the_baseline(logged: dict[str, Any]) -> None:
    found = read_profile(logged["uri"], logged["client"])
    assert found.row_count == ROWS
    assert set(found.features) == set(FEATURES)
    x1 = found.features["x1"]
    assert x1.kind == "numeric" and x1.missing == 0
    assert len(x1.bin_counts or []) == 10
    # Deciles of the profiled data: each bin holds about a tenth of it.
    assert all(abs(c - ROWS / 10) < ROWS * 0.01 for c in x1.bin_counts or [])
    cat = found.features["cat"]
    assert cat.categories == ["a", "b", "c"] and cat.complete and cat.other_count == 0
    assert found.task == "classification" and found.label_column == "label"
    assert found.prediction.kind == "categorical"
    assert 0.85 < found.metrics["accuracy"] < 1.0
    assert Profile.from_json(found.to_json()) == found


@pytest.mark.slow
def test_a_profile_reads_its_data_once_and_counts_within_its_stated_error(
    spark: Any, logged: dict[str, Any]
) -> None:
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType

    from sparktrack.monitoring._profile import BIN_COUNT_ERROR, profile_frame

    reads = spark.sparkContext.accumulator(0)

    def read(x: float) -> float:
        reads.add(1)
        return x

    # Every row of the data passes through this UDF each time Spark reads the data.
    counted = F.udf(read, DoubleType())
    data = _data(spark, 31, rows=5_000).drop("ts").withColumn("x1", counted("x1"))
    # An integer column: atoms at the deciles, where counting from a sketch is hardest.
    data = data.withColumn("x2", F.floor(F.col("x2") * 2))
    found = profile_frame(logged["model"], data, feature_names=FEATURES, label_col="label")
    assert reads.value == 5_000  # one pass: the data and the model's transform, once
    local = data.select("x1", "x2").toPandas()
    for name in ("x1", "x2"):
        column = found.features[name]
        edges = column.bin_edges or []
        exact = np.bincount(
            np.searchsorted(edges, local[name], side="left"), minlength=len(edges) + 1
        )
        off = np.abs(exact - np.asarray(column.bin_counts))
        # Each of a bin's two edges is off by at most BIN_COUNT_ERROR of the rows.
        assert off.max() <= 2 * BIN_COUNT_ERROR * 5_000 + 1, (name, exact, column.bin_counts)
        assert sum(column.bin_counts or []) == 5_000


@pytest.fixture
def driver_in_new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The driver's Python in a time zone other than UTC (pyspark hands back local times)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.slow
def test_each_shift_alerts_on_its_own_column(
    spark: Any, logged: dict[str, Any], driver_in_new_york: None
) -> None:
    shifts = ["none", "mean", "variance", "category", "nulls", "concept"]
    frames = [_data(spark, 100 + 10 * i, day=i, shift=s) for i, s in enumerate(shifts)]
    new = frames[0]
    for frame in frames[1:]:
        new = new.unionByName(frame)
    result = monitor(
        logged["uri"],
        new,
        label_col="label",
        timestamp_col="ts",
        window="1d",
        client=logged["client"],
    )
    assert len(result.run_ids) == len(shifts)
    by_window = _statuses(result)
    windows = sorted(by_window)
    # Day i of the data is the i-th day after the epoch, in UTC whatever the driver's zone.
    assert windows == [
        f"1970-01-{i + 1:02d}T00:00:00+00:00/1970-01-{i + 2:02d}T00:00:00+00:00"
        for i in range(len(shifts))
    ]
    expected_alert = {"none": set(), "mean": {"x1"}, "variance": {"x2"}, "category": {"cat"}}
    expected_alert |= {"nulls": {"x2"}, "concept": set()}
    for window, shift in zip(windows, shifts, strict=True):
        features = {c: s for c, s in by_window[window].items() if c in FEATURES}
        alerted = {c for c, s in features.items() if s == "ALERT"}
        assert alerted == expected_alert[shift], (shift, _table(result, window))
        quiet = set(FEATURES) - expected_alert[shift]
        assert all(features[c] == "OK" for c in quiet), (shift, _table(result, window))
    decay = result.decay.set_index(["window", "metric"])["status"]
    assert decay[(windows[-1], "accuracy")] == "ALERT", result.decay.to_string()
    assert decay[(windows[0], "accuracy")] == "OK", result.decay.to_string()
    nulls = result.columns[(result.columns.window == windows[4]) & (result.columns.column == "x2")]
    assert nulls.null_delta.iloc[0] == pytest.approx(0.2, abs=0.02)
    assert "null_delta" in nulls.reasons.iloc[0]
    category = result.columns[
        (result.columns.window == windows[3]) & (result.columns.column == "cat")
    ]
    assert category.unseen.iloc[0] == pytest.approx(0.15, abs=0.02)
    assert category.unseen_examples.iloc[0] == ["d"]
    assert result.status == "ALERT"
    # The runs: tags, metrics and both reports.
    client = logged["client"]
    run = client.get_run(result.run_ids[1])
    assert run.data.tags["sparktrack.monitor.status"] == "ALERT"
    assert run.data.tags["sparktrack.monitor.window"] == windows[1]
    assert run.data.metrics["drift.psi.x1"] > 0.25
    assert {"drift.ks.x1", "drift.js.cat", "drift.chi2_p.cat", "drift.prediction.psi"} <= set(
        run.data.metrics
    )
    assert "decay.accuracy" in run.data.metrics
    # search_runs finds the alerts, as the README shows.
    experiment = client.get_experiment_by_name("monitoring")
    assert experiment is not None
    found = client.search_runs(
        [experiment.experiment_id],
        filter_string="tags.`sparktrack.monitor.status` = 'ALERT'",
        output_format="list",
    )
    alerting = [
        r
        for r, report in zip(result.run_ids, result.reports, strict=True)
        if report["status"] == "ALERT"
    ]
    assert sorted(r.info.run_id for r in found) == sorted(alerting)
    assert len(alerting) == len(shifts) - 1  # every shifted day, not the unshifted one
    report = json.loads(client.read_artifact(result.run_ids[1], "drift_report.json"))
    assert report["status"] == "ALERT" and report["window"] == windows[1]
    page = client.read_artifact(result.run_ids[1], "drift_report.html").decode()
    assert "<svg" in page and "x1" in page
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )


@pytest.mark.slow
def test_fresh_samples_of_the_training_distribution_raise_no_alert(
    spark: Any, logged: dict[str, Any]
) -> None:
    # 20 samples of 20,000 rows, each one day: one pass, aggregated per sample.
    samples = 20
    new = _data(spark, 1000, day=0)
    for i in range(1, samples):
        new = new.unionByName(_data(spark, 1000 + 10 * i, day=i))
    result = monitor(
        logged["uri"], new, label_col="label", timestamp_col="ts", client=logged["client"]
    )
    assert len(result.run_ids) == samples
    alerts = result.columns[result.columns.status == "ALERT"]
    warnings = result.columns[result.columns.status == "WARN"]
    assert alerts.empty, alerts.to_string()
    # The false-alarm rate: no WARN either, and the statistics far below the thresholds.
    assert warnings.empty, warnings.to_string()
    features = result.columns[result.columns.role == "feature"]
    assert features.psi.max() < 0.02 and features.ks.max() < 0.03, features.to_string()
    assert (result.decay.status == "OK").all(), result.decay.to_string()


@pytest.mark.slow
def test_a_reference_dataframe_stands_in_for_a_missing_profile(
    spark: Any, logged: dict[str, Any]
) -> None:
    new = _data(spark, 7, shift="mean", rows=5_000)
    with pytest.raises(NotFoundError, match=r"sparktrack\.monitoring\.profile\(") as caught:
        monitor(logged["bare"], new, client=logged["client"])
    assert "reference=" in str(caught.value)
    result = monitor(
        logged["bare"],
        new,
        reference=_data(spark, 8, rows=5_000),
        client=logged["client"],
        thresholds={"x1": {"psi": (5.0, 10.0), "ks": None, "js": None}},
    )
    assert isinstance(result, MonitorResult)
    rows = result.columns.set_index("column")
    assert rows.loc["x1", "psi"] > 0.25  # measured, but judged by the override
    assert rows.loc["x1", "status"] == "OK", result.columns.to_string()
    assert result.decay.empty  # no label_col: nothing to judge the model on
    # profile() writes the baseline for a model logged without one.
    made = profile(logged["bare"], _data(spark, 9, rows=5_000).drop("ts"), client=logged["client"])
    assert read_profile(logged["bare"], logged["client"]) == made


@pytest.mark.slow
def test_bad_input_is_named(spark: Any, logged: dict[str, Any]) -> None:
    new = _data(spark, 11, rows=1_000)
    with pytest.raises(InvalidInputError, match="'churned'"):
        monitor(logged["uri"], new, label_col="churned", client=logged["client"])
    with pytest.raises(InvalidInputError, match="'when'"):
        monitor(logged["uri"], new, timestamp_col="when", client=logged["client"])
    with pytest.raises(InvalidInputError, match="'fortnight'"):
        monitor(logged["uri"], new, timestamp_col="ts", window="fortnight", client=logged["client"])
    with pytest.raises(InvalidInputError, match=r"\['x2'\]"):
        monitor(logged["uri"], new.drop("x2"), client=logged["client"])


def _statuses(result: MonitorResult) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for row in result.columns.itertuples():
        found.setdefault(row.window, {})[row.column] = row.status
    return found


def _table(result: MonitorResult, window: str) -> str:
    rows = result.columns[result.columns.window == window]
    return rows[["column", "psi", "js", "ks", "null_delta", "unseen", "status"]].to_string()


@pytest.mark.slow
def test_autolog_profiles_and_monitor_judges_in_a_plain_session(tmp_path: Path) -> None:
    env = child_env(
        sparktrack_settings=False,
        SPARKTRACK_JOURNAL_DIR=str(tmp_path / "journal"),
        PYSPARK_PYTHON=sys.executable,
    )
    done = run_child(
        python("-m", "tests._monitor_session", str(tmp_path / "store")),
        cwd=tmp_path,
        env=env,
        timeout=900,
    )
    result = result_line(done.stdout)
    assert result is not None, done.explain("the child printed no RESULT line")
    why = f"{json.dumps(result, indent=1)}\n--- child stderr ---\n{readable(done.stderr)}"
    assert result["delta_in_session"] is None, why
    assert result["warnings"] == [], why
    assert result["baseline_rows"] == 5_000, why
    assert result["baseline_metrics"] == ["accuracy", "f1", "precision", "recall"], why
    assert (
        result["status"] == "ALERT" and "a" in result["alerts"] and "b" not in result["alerts"]
    ), why
    assert result["codes"] == {"alert": 1, "never": 0, "usage": 2}, why


@pytest.mark.slow
def test_a_failed_profile_warns_once_and_the_model_is_logged_without_it(
    spark: Any, logged: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyspark.sql import GroupedData

    from sparktrack.monitoring import ProfileWarning, _baseline

    monkeypatch.setattr(_baseline, "_warned", False)
    client, model = logged["client"], logged["model"]
    run_id = client.create_run(client.get_or_create_experiment("faults").experiment_id).info.run_id
    train = _data(spark, 21, rows=1_000).drop("ts")

    def lost(self: Any, *exprs: Any) -> Any:
        raise RuntimeError("executor lost")

    with monkeypatch.context() as broken:
        broken.setattr(GroupedData, "agg", lost)  # Spark fails under the profile
        with pytest.warns(ProfileWarning, match="executor lost"):
            first = sparktrack.log_model(
                model, "first", run_id=run_id, client=client, training_data=train
            )
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # once per process: the second is silent
            second = sparktrack.log_model(
                model, "second", run_id=run_id, client=client, training_data=train
            )
    for info in (first, second):
        with pytest.raises(NotFoundError, match=r"has no profile\.json"):
            read_profile(info.model_uri, client)
        assert sparktrack.load_model(info.model_uri, client=client).spark_model is not None
    # profiles: false turns profiling off.
    monkeypatch.setenv("SPARKTRACK_PROFILES", "false")
    off = sparktrack.log_model(model, "off", run_id=run_id, client=client, training_data=train)
    with pytest.raises(NotFoundError):
        read_profile(off.model_uri, client)
    monkeypatch.setenv("SPARKTRACK_PROFILES", "true")
    on = sparktrack.log_model(model, "on", run_id=run_id, client=client, training_data=train)
    assert read_profile(on.model_uri, client).row_count == 1_000
