"""Monitoring cost: one ``sparktrack.monitor`` pass against one ``df.summary()`` pass.

Synthetic data, fixed seeds: ``--rows`` rows (default 10 million) of ``--columns``
columns (default 50: all numeric but 5 string columns of 8 values) and a 0/1 label,
written once to Parquet in a temporary folder, so every timed pass reads the same
files. A ``StringIndexer -> VectorAssembler -> LogisticRegression(maxIter=5)`` pipeline
is fitted on 100,000 rows of the training distribution and logged with
``log_model(training_data=...)`` (the profile's time is reported, not the target). The
new data has 5 numeric columns shifted by 0.5 standard deviation and one string column
with a value the baseline never saw.

Timed, on ``local[2]``, in a balanced order (summary first in even repeats, monitor
first in odd ones):

  summary   ``new.summary().collect()``: count, mean, stddev, min, quartiles, max of
            every column, one Spark pass (the reference for "one pass over the data")
  monitor   ``sparktrack.monitor(uri, new, label_col="label")``: scoring, one
            aggregation over every column (histograms on the baseline's bins, quantile
            sketches, missing values, categories, the label metrics), the statistics,
            the run and its two reports

The target: monitor <= 2x summary (medians). The benchmark checks that the shifted
columns, and only they, ALERT, or exits 1.

Evidently (the peer, only in the benchmark environment: ``bench/requirements.txt``)
runs its ``DataDriftPreset`` on a pandas sample of ``--evidently-rows`` rows (default 1
million) against 100,000 training rows, for scale: it runs on one core, in memory.
Skipped with a note when it is not installed. Its statistics are not compared with
ours: it bins and tests differently (its own bins per column, and a test chosen by
column type and size), so equal values are not expected.

Usage (from the repo root):

  .venv-bench/bin/python bench/monitoring.py            # full
  .venv-bench/bin/python bench/monitoring.py --quick    # 200,000 rows x 12 columns
  .venv/bin/python bench/monitoring.py --quick --skip-evidently

Results: a markdown table on stdout, the raw results in
bench/results/monitoring-<date>-<commit>.json (--quick: the git-ignored bench/out/).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import tempfile
from pathlib import Path
from typing import Any

# Run as a script, so this folder is on sys.path and the shared helpers import directly.
from _common import (
    format_seconds,
    load_average,
    machine_description,
    markdown_table,
    median,
    print_summary,
    run_main,
    say,
    time_call,
    write_results,
)

TRAIN_ROWS = 100_000
SHIFTED = 5  # numeric columns shifted in the new data
CATEGORICAL = 5


def _frame(spark: Any, rows: int, columns: int, seed: int, *, shifted: bool) -> Any:
    from pyspark.sql import functions as F

    numeric = columns - CATEGORICAL
    cols = []
    for i in range(numeric):
        value = F.randn(seed + i)
        if shifted and i < SHIFTED:
            value = value + 0.5
        cols.append(value.alias(f"n{i}"))
    for j in range(CATEGORICAL):
        bucket = F.floor(F.rand(seed + 1000 + j) * 8).cast("int")
        text = F.concat(F.lit("v"), bucket.cast("string"))
        if shifted and j == 0:
            text = F.when(F.rand(seed + 2000) < 0.1, F.lit("new")).otherwise(text)
        cols.append(text.alias(f"c{j}"))
    frame = spark.range(rows).select(*cols)
    score = sum((F.col(f"n{i}") for i in range(min(numeric, 5))), F.lit(0.0))
    return frame.withColumn("label", (score > 0).cast("double"))


def _fit_and_log(spark: Any, train: Any, columns: int, store: Path) -> tuple[str, float]:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import StringIndexer, VectorAssembler

    import sparktrack

    numeric = [f"n{i}" for i in range(columns - CATEGORICAL)]
    strings = [f"c{j}" for j in range(CATEGORICAL)]
    pipeline = Pipeline(
        stages=[
            StringIndexer(
                inputCols=strings, outputCols=[f"{c}_i" for c in strings], handleInvalid="keep"
            ),
            VectorAssembler(inputCols=numeric + [f"{c}_i" for c in strings], outputCol="features"),
            LogisticRegression(maxIter=5),
        ]
    )
    model = pipeline.fit(train)
    client = sparktrack.TrackingClient(store=str(store))
    run_id = client.create_run(client.get_or_create_experiment("bench").experiment_id).info.run_id
    seconds, info = time_call(
        lambda: sparktrack.log_model(
            model, "model", run_id=run_id, client=client, training_data=train
        )
    )
    return info.model_uri, seconds


def _evidently(reference: Any, current: Any) -> float:
    # Imported here: the peer exists only in the benchmark environment.
    from evidently import Report
    from evidently.presets import DataDriftPreset

    report = Report([DataDriftPreset()])
    seconds, _ = time_call(lambda: report.run(reference_data=reference, current_data=current))
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="200,000 rows x 12 columns, 1 repeat")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--columns", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--evidently-rows", type=int, default=None)
    parser.add_argument("--skip-evidently", action="store_true")
    args = parser.parse_args()
    rows = args.rows or (200_000 if args.quick else 10_000_000)
    columns = args.columns or (12 if args.quick else 50)
    repeats = args.repeats or (1 if args.quick else 4)
    evidently_rows = args.evidently_rows or (20_000 if args.quick else 1_000_000)
    run_evidently = not args.skip_evidently and importlib.util.find_spec("evidently") is not None

    import sparktrack
    from sparktrack.session import spark_session

    machine = machine_description()
    tmp = Path(tempfile.mkdtemp(prefix="bench-monitoring-"))
    notes: list[str] = []
    try:
        spark = spark_session("bench-monitoring", "local[2]")
        spark.sparkContext.setLogLevel("ERROR")
        say(f"writing {rows:,} x {columns} rows of new data and {TRAIN_ROWS:,} training rows")
        _frame(spark, rows, columns, 1, shifted=True).write.parquet(str(tmp / "new"))
        _frame(spark, TRAIN_ROWS, columns, 99, shifted=False).write.parquet(str(tmp / "train"))
        new = spark.read.parquet(str(tmp / "new"))
        train = spark.read.parquet(str(tmp / "train")).cache()
        train.count()
        uri, profile_seconds = _fit_and_log(spark, train, columns, tmp / "store")
        say(f"model logged with its profile ({format_seconds(profile_seconds)})")
        client = sparktrack.TrackingClient(store=str(tmp / "store"))
        new.summary().collect()  # untimed warm-up of both
        sparktrack.monitor(uri, new.limit(10_000), label_col="label", client=client)
        timings: dict[str, list[float]] = {"summary": [], "monitor": []}
        result = None
        for repeat in range(repeats):
            order = ["summary", "monitor"] if repeat % 2 == 0 else ["monitor", "summary"]
            for variant in order:
                if variant == "summary":
                    seconds, _ = time_call(lambda: new.summary().collect())
                else:
                    seconds, result = time_call(
                        lambda: sparktrack.monitor(uri, new, label_col="label", client=client)
                    )
                timings[variant].append(seconds)
                say(f"repeat {repeat + 1}/{repeats} {variant}: {format_seconds(seconds)}")
        assert result is not None
        alerted = sorted(result.alerts()["column"])
        expected = sorted([f"n{i}" for i in range(SHIFTED)] + ["c0"])
        features = [c for c in alerted if c != "prediction"]
        ratio = median(timings["monitor"]) / median(timings["summary"])
        evidently_seconds = None
        if run_evidently:
            say(f"Evidently DataDriftPreset on {evidently_rows:,} rows")
            fraction = min(1.0, evidently_rows / rows)
            current = new.sample(fraction=fraction, seed=5).limit(evidently_rows).toPandas()
            evidently_seconds = _evidently(train.toPandas(), current)
        else:
            notes.append("Evidently not measured (not installed, or --skip-evidently)")
        table = markdown_table(
            ["pass", "median", "runs", "vs summary"],
            [
                ["df.summary()", format_seconds(median(timings["summary"])), str(repeats), "1.00x"],
                [
                    "sparktrack.monitor",
                    format_seconds(median(timings["monitor"])),
                    str(repeats),
                    f"{ratio:.2f}x (target <= 2x)",
                ],
                ["profile at log_model (100,000 rows)", format_seconds(profile_seconds), "1", ""],
                *(
                    [
                        [
                            f"Evidently DataDriftPreset ({evidently_rows:,} rows, pandas)",
                            format_seconds(evidently_seconds),
                            "1",
                            "",
                        ]
                    ]
                    if evidently_seconds is not None
                    else []
                ),
            ],
        )
        notes.append(
            f"{rows:,} rows x {columns} columns on local[2], Parquet in a temporary folder"
        )
        notes.append(f"ALERT on {alerted}; expected the shifted {expected}")
        machine["load_avg_end"] = load_average()
        print_summary(table, notes, machine)
        write_results(
            "monitoring",
            {
                "benchmark": "monitoring",
                "rows": rows,
                "columns": columns,
                "timings": timings,
                "profile_seconds": profile_seconds,
                "evidently_rows": evidently_rows if evidently_seconds is not None else None,
                "evidently_seconds": evidently_seconds,
                "alerted": alerted,
                "notes": notes,
                "machine": machine,
            },
            scratch=args.quick,
        )
        if features != expected:
            say(f"wrong columns flagged: {features} instead of {expected}")
            return 1
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
