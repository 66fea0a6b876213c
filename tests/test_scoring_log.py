"""The scoring log of ``spark_udf(log_to=...)`` on real Spark, and monitoring it.

One small model for the module (a logistic regression on ``x1``, ``x2`` and a
category), registered twice: version 1 scores fresh rows, version 2 (Production) a
batch whose ``x1`` moved by one standard deviation; monitoring the log per version is
OK for the first and ALERTs on ``x1`` for the second.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable

import sparktrack
from sparktrack.cli import app
from sparktrack.errors import InvalidInputError, NotFoundError, ScoringLogSchemaError
from sparktrack.models import (
    MODEL_NAME_COLUMN,
    MODEL_URI_COLUMN,
    MODEL_VERSION_COLUMN,
    SCORED_AT_COLUMN,
    read_scoring_log,
    spark_udf,
)
from sparktrack.models import _scoring_log as scoring_log_module
from sparktrack.models._scoring_log import append_scoring_rows, sampled
from sparktrack.models._scoring_log_staging import STAGING
from sparktrack.monitoring import monitor
from sparktrack.registry import RegistryClient
from tests._processes import child_env, python, readable, result_line, run_child

pytestmark = pytest.mark.spark

FEATURES = ["x1", "x2", "cat"]
NAME = "churn"


def _data(spark: Any, seed: int, rows: int, *, shift: float = 0.0, partitions: int = 3) -> Any:
    from pyspark.sql import functions as F

    u = F.rand(seed + 3)
    frame = spark.range(0, rows, 1, partitions).select(
        (F.randn(seed + 1) + shift).alias("x1"),
        F.randn(seed + 2).alias("x2"),
        F.when(u < 0.5, "a").when(u < 0.8, "b").otherwise("c").alias("cat"),
    )
    effect = F.when(F.col("cat") == "a", 0.5).otherwise(-0.3)
    return frame.withColumn("label", (F.col("x1") + F.col("x2") + effect > 0).cast("double"))


@pytest.fixture(scope="module")
def model(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import StringIndexer, VectorAssembler

    train = _data(spark, 0, 4_000).cache()
    fitted = Pipeline(
        stages=[
            StringIndexer(inputCol="cat", outputCol="cat_index", handleInvalid="keep"),
            VectorAssembler(inputCols=["x1", "x2", "cat_index"], outputCol="features"),
            LogisticRegression(maxIter=10),
        ]
    ).fit(train)
    store = str(tmp_path_factory.mktemp("log") / "store")
    client = sparktrack.TrackingClient(store=store)
    run = client.create_run(client.get_or_create_experiment("train").experiment_id)
    info = sparktrack.log_model(
        fitted,
        "model",
        run_id=run.info.run_id,
        client=client,
        input_example=train.limit(3).toPandas()[FEATURES],
        training_data=train,
    )
    registry = RegistryClient(client)
    for _ in range(3):  # 1 scores fresh rows, 2 (Production) shifted ones, 3 nothing
        registry.register_model(info.model_uri, NAME)
    registry.transition_model_version_stage(NAME, 2, "Production")
    train.unpersist()
    return {"client": client, "model": fitted, "store": store}


def _scored(spark: Any, model: dict[str, Any], uri: str, table: Path, data: Any, **kw: Any) -> Any:
    predict = spark_udf(spark, uri, client=model["client"], log_to=str(table), **kw)
    return data.drop("label").withColumn("prediction", predict())


@pytest.fixture(scope="module")
def log_table(spark: Any, model: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Fresh rows scored by version 1, shifted rows by Production (version 2): one action
    each, the log read back afterwards."""
    table = tmp_path_factory.mktemp("scoring") / "log"
    fresh = _scored(spark, model, f"models:/{NAME}/1", table, _data(spark, 10, 1_500), log_sample=1)
    shifted = _data(spark, 20, 1_500, shift=1.0)
    moved = _scored(spark, model, f"models:/{NAME}/Production", table, shifted, log_sample=1)
    fresh_rows, moved_rows = fresh.collect(), moved.collect()
    return {
        "table": table,
        "fresh": spark.createDataFrame(fresh_rows, fresh.schema),
        "moved": spark.createDataFrame(moved_rows, moved.schema),
    }


def test_spark_udf_logs_the_rows_it_scores_with_the_version(spark: Any, log_table: Any) -> None:
    from pyspark.sql import functions as F

    logged = read_scoring_log(spark, str(log_table["table"]))
    columns = [*FEATURES, "prediction"]
    for version, scored in ((1, log_table["fresh"]), (2, log_table["moved"])):
        mine = logged.filter(F.col(MODEL_VERSION_COLUMN) == version)
        assert_df_equality(
            mine.select(*columns),
            scored.select(*columns),
            ignore_row_order=True,
            ignore_nullable=True,
        )
    meta = {
        (r[MODEL_URI_COLUMN], r[MODEL_NAME_COLUMN], r[MODEL_VERSION_COLUMN])
        for r in logged.select(MODEL_URI_COLUMN, MODEL_NAME_COLUMN, MODEL_VERSION_COLUMN)
        .distinct()
        .collect()
    }
    assert meta == {(f"models:/{NAME}/1", NAME, 1), (f"models:/{NAME}/Production", NAME, 2)}
    types = dict(logged.dtypes)
    assert types[SCORED_AT_COLUMN] == "timestamp" and types["prediction"] == "double"
    assert types["x1"] == "double" and types["cat"] == "string"
    # Everything staged was committed: the staging folder holds no rows.
    assert not list((log_table["table"] / STAGING).glob("*.parquet"))


def test_sampling_keeps_the_same_rows_however_often_they_are_scored(
    spark: Any, model: dict[str, Any], tmp_path: Path
) -> None:
    data = _data(spark, 30, 2_000).drop("label")
    scored = _scored(spark, model, f"models:/{NAME}/1", tmp_path / "log", data, log_sample=0.3)
    scored.collect()
    scored.repartition(5).collect()  # other tasks, other batches: the same rows
    logged = read_scoring_log(spark, str(tmp_path / "log")).toPandas()
    expected = data.toPandas()
    kept = expected[sampled(expected[FEATURES], 0.3)]
    assert 0.25 < len(kept) / len(expected) < 0.35
    counts = logged.groupby(FEATURES).size()
    assert len(counts) == len(kept) and set(counts) == {2}
    merged = kept.merge(logged[FEATURES].drop_duplicates(), on=FEATURES)
    assert len(merged) == len(kept)


def test_a_failed_commit_is_a_warning_and_the_rows_are_committed_later(
    spark: Any,
    model: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("the disk is full")

    monkeypatch.setattr(scoring_log_module, "_warned", {})
    monkeypatch.setattr(scoring_log_module, "write_deltalake", broken)
    table = tmp_path / "log"
    data = _data(spark, 40, 300).drop("label")
    scored = _scored(spark, model, f"models:/{NAME}/1", table, data, log_sample=1)
    plain = data.withColumn(
        "prediction", spark_udf(spark, f"models:/{NAME}/1", client=model["client"])()
    )
    with caplog.at_level(logging.WARNING, logger="sparktrack.models"):
        once = spark.createDataFrame(scored.collect(), scored.schema)  # one action
        assert_df_equality(once, plain, ignore_row_order=True, ignore_nullable=True)
        with pytest.raises(NotFoundError, match="no Delta table"):
            read_scoring_log(spark, str(table))  # the commit it tries first fails
    warnings = [r.getMessage() for r in caplog.records if "the disk is full" in r.getMessage()]
    assert len(warnings) == 1 and "stay staged" in warnings[0]
    assert list((table / STAGING).glob("*.parquet"))

    monkeypatch.undo()
    assert read_scoring_log(spark, str(table)).count() == 300
    assert not list((table / STAGING).glob("*.parquet"))


def test_a_task_that_cannot_stage_still_returns_its_scores(
    spark: Any, model: dict[str, Any], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    data = _data(spark, 50, 200).drop("label")
    scored = _scored(spark, model, f"models:/{NAME}/1", blocker / "log", data, log_sample=1)
    plain = data.withColumn(
        "prediction", spark_udf(spark, f"models:/{NAME}/1", client=model["client"])()
    )
    assert_df_equality(scored, plain, ignore_row_order=True, ignore_nullable=True)
    assert not (blocker / "log").exists()


def test_bad_sample_fractions_are_refused(spark: Any, model: dict[str, Any]) -> None:
    for bad in (0, 1.5, -0.1):
        with pytest.raises(InvalidInputError, match="sample fraction"):
            spark_udf(
                spark, f"models:/{NAME}/1", client=model["client"], log_to="x", log_sample=bad
            )


def test_monitor_judges_each_version_on_its_own_rows(
    spark: Any, model: dict[str, Any], log_table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    logged = read_scoring_log(spark, str(log_table["table"]))
    fresh = monitor(f"models:/{NAME}/1", logged, client=model["client"])
    assert fresh.status == "OK", fresh.columns
    assert set(fresh.columns["column"]) == {*FEATURES, "prediction"}
    assert fresh.reports[0]["rows"] == 1_500

    moved = monitor(f"models:/{NAME}/Production", logged, window="1d", client=model["client"])
    assert moved.status == "ALERT"
    assert "x1" in set(moved.alerts()["column"]) and "x2" not in set(moved.alerts()["column"])
    assert moved.reports[0]["rows"] == 1_500
    assert moved.reports[0]["window"] != "all"  # windows of sparktrack_scored_at

    with pytest.raises(NotFoundError, match=r"no rows scored by version 3 of 'churn'"):
        monitor(f"models:/{NAME}/3", logged, client=model["client"])

    command = ["--store", model["store"], "monitor", f"models:/{NAME}/2"]
    command += ["--path", str(log_table["table"]), "--window", "1d", "--fail-on", "alert"]
    with pytest.raises(SystemExit) as exited:
        app(command, prog_name="sparktrack")
    printed = capsys.readouterr().out
    assert exited.value.code == 1, printed
    assert any(line.startswith("ALERT") and "\tx1\t" in line for line in printed.splitlines())


def test_new_columns_merge_and_a_type_conflict_names_the_column(tmp_path: Path) -> None:
    table = str(tmp_path / "log")
    first = pa.table({"x1": [1.0, 2.0], "prediction": [0.0, 1.0]})
    second = pa.table({"x1": [3, 4], "x3": ["a", "b"], "prediction": [1.0, 1.0]})
    assert append_scoring_rows(table, [first]) == 2
    assert append_scoring_rows(table, [second]) == 2  # ints fit the double column
    rows = DeltaTable(table).to_pandas().sort_values("x1").reset_index(drop=True)
    expected = pd.DataFrame(
        {
            "x1": [1.0, 2.0, 3.0, 4.0],
            "prediction": [0.0, 1.0, 1.0, 1.0],
            "x3": [None, None, "a", "b"],
        }
    )
    pd.testing.assert_frame_equal(rows[expected.columns], expected, check_dtype=False)

    conflict = pa.table({"x1": ["high", "low"], "prediction": [0.0, 0.0]})
    with pytest.raises(ScoringLogSchemaError, match="'x1'") as raised:
        append_scoring_rows(table, [conflict])
    assert raised.value.column == "x1"
    assert len(DeltaTable(table).to_pandas()) == 4  # nothing of the refused rows


@pytest.mark.slow
def test_executor_jvms_stage_and_a_plain_session_reads_and_monitors(tmp_path: Path) -> None:
    """``local-cluster``: tasks stage in separate executor processes, the driver commits;
    a user's session without Delta reads the log; what is staged at exit is committed."""
    import sys

    env = child_env(
        sparktrack_settings=False,
        SPARKTRACK_JOURNAL_DIR=str(tmp_path / "journal"),
        PYSPARK_PYTHON=sys.executable,
    )
    done = run_child(
        python("-m", "tests._scoring_log_cluster", str(tmp_path)),
        cwd=tmp_path,
        env=env,
        timeout=900,
    )
    result = result_line(done.stdout)
    assert result is not None, done.explain("the child printed no RESULT line")
    why = f"{json.dumps(result, indent=1)}\n--- child stderr ---\n{readable(done.stderr)}"
    assert result["delta_in_session"] is None, why
    assert result["executor_pids"] >= 2, why
    assert result["logged"] == result["scored"] == 2_000, why
    assert result["versions"] == [1], why
    assert result["cli_code"] == 1 and "x1" in result["alerts"], why
    assert result["retried_logged"] == result["retried_rows"] == 400, why
    at_exit = DeltaTable(str(tmp_path / "at-exit")).to_pandas()
    assert len(at_exit) == 500, why
