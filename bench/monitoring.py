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
  monitor   ``sparktrack.monitor(uri, new, label_col="label")`` and the store's flush: scoring, one
            aggregation over every column (histograms on the baseline's bins, quantile
            sketches, missing values, categories, the label metrics), the statistics,
            the run and its two reports

The target: monitor <= 2x summary (medians). The benchmark checks that the shifted
columns, and only they, ALERT, or exits 1.

Evidently (the peer, only in the benchmark environment: ``bench/requirements.txt``
pins 0.7.23) runs its ``DataDriftPreset`` on a pandas sample of ``--evidently-rows``
rows (default 1 million) of the new data against the 100,000 training rows, for scale:
it runs on one core, in memory. Skipped with a note when it is not installed.

Agreement (untimed; the benchmark exits 1 when a value disagrees beyond its
tolerance). Both sides see the same rows: the sample above (written to Parquet once,
so Spark and pandas read the same rows) and the training rows the model's baseline was
profiled on. sparktrack's values are those of ``sparktrack.monitor(uri, sample)``; the
peer's, per input column:

  psi, js   Evidently's ``psi`` and ``jensenshannon`` stattests (the functions its
            ``ValueDrift(method=...)`` calls) on the training rows and the sample as
            the baseline's bins: each value replaced by its bin (decile bins of the
            baseline, its categories and "(other)"), passed as a categorical column so
            Evidently counts those bins instead of making its own (on a numeric column
            it would take Sturges bins of both samples pooled: a different histogram,
            so a different value). Categorical columns: same bins, same counts, the
            values differ only by rounding, tolerance 1e-9. Numeric columns: the
            baseline's bin counts are read off its sketch in its one pass (each off
            by at most 2 * BIN_COUNT_ERROR of the rows) where the peer counts the
            training rows exactly; the tolerance is how far that error can move the
            statistic (the sum over bins of its change when one bin's baseline count
            moves by that much), plus rounding. Its JS distance is in nats (scipy's default
            base), ours in bits: Evidently's is divided by sqrt(ln 2). Its empty bin
            gets 1e-4 as ours does as long as no bin holds a share of 1e-4 or less
            (here none does); below that the two conventions part.
  ks        scipy's ``ks_2samp`` statistic on the two samples: exact, where ours is
            read off two quantile sketches. Each sketch's CDF is off by at most the
            step between its probabilities (0.01) plus percentile_approx's rank error
            (1 / accuracy = 1e-4), so the statistic by at most twice that: tolerance
            0.0202. Evidently's ``ks`` returns the p-value of that same scipy test;
            sparktrack reports the statistic (an effect size) and no p-value, so there
            is no p-value to compare.
  chi2,     scipy's ``chi2_contingency`` (no continuity correction) on the 2 x k table
  chi2_p    of the baseline's and the sample's counts in the baseline's categories and
            "(other)": the same test of homogeneity on the same counts, tolerance 1e-9
            relative on the statistic and 1e-9 on the p-value (ours computes the
            chi-squared survival function itself). Evidently's ``chisquare`` is
            another statistic (a goodness-of-fit test that takes the reference's
            shares as exact: infinite, p-value 0, when the sample has a category the
            reference lacks), so it is not compared.

Without Evidently (not installed, or ``--skip-evidently``) the scipy rows are still
checked; without scipy, nothing is.

Usage (from the repo root):

  .venv-bench/bin/python bench/monitoring.py            # full
  .venv-bench/bin/python bench/monitoring.py --quick    # 200,000 rows x 12 columns
  .venv/bin/python bench/monitoring.py --quick --skip-evidently

Results: markdown tables on stdout (the timings, then the agreement: each column and
statistic, both values, their difference and the tolerance), the raw results (the
agreement rows under ``agreement``) in bench/results/monitoring-<date>-<commit>.json
(--quick: the git-ignored bench/out/). --quick checks the agreement too, on a sample of
20,000 rows.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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

from sparktrack.monitoring._profile import BIN_COUNT_ERROR
from sparktrack.monitoring._statistics import js_distance, psi

TRAIN_ROWS = 100_000
SHIFTED = 5  # numeric columns shifted in the new data
CATEGORICAL = 5

# Tolerances of the agreement check (the module's docstring says why each).
ROUNDING = 1e-9  # same statistic on the same counts: floating-point rounding only
SKETCH_ACCURACY = 10_000  # the percentile_approx accuracy of sparktrack's quantile sketches
OTHER = "(other)"  # the bin of values outside a categorical baseline's categories


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

    def logged() -> Any:
        # Until the model, its profile and the run's records are persisted.
        info = sparktrack.log_model(
            model, "model", run_id=run_id, client=client, training_data=train
        )
        client.flush()
        return info

    seconds, info = time_call(logged)
    return info.model_uri, seconds


def _evidently(reference: Any, current: Any) -> float:
    # Imported here: the peer exists only in the benchmark environment.
    from evidently import Report
    from evidently.presets import DataDriftPreset

    report = Report([DataDriftPreset()])
    seconds, _ = time_call(lambda: report.run(reference_data=reference, current_data=current))
    return seconds


def _bins(values: Any, baseline: Any) -> Any:
    """A column's values (pandas, missing ones dropped) as the baseline's bins."""
    present = values.dropna()
    if baseline.kind == "numeric":
        # Bin i holds edges[i-1] < x <= edges[i], as sparktrack counts them.
        edges = np.asarray(baseline.bin_edges or [], dtype=float)
        found = np.searchsorted(edges, present.to_numpy(dtype=float), side="left")
        return pd.Series(found, dtype="int64")
    text = present.astype(str)
    return text.where(text.isin(baseline.categories or []), OTHER).reset_index(drop=True)


def _check(
    column: str, statistic: str, ours: Any, peer: float, by: str, tolerance: float
) -> dict[str, Any]:
    ours = None if ours is None or pd.isna(ours) else float(ours)
    difference = None if ours is None else abs(ours - float(peer))
    return {
        "column": column,
        "statistic": statistic,
        "sparktrack": ours,
        "peer": float(peer),
        "by": by,
        "difference": difference,
        "tolerance": tolerance,
        "agrees": difference is not None and difference <= tolerance,
    }


def _ks_tolerance(probabilities: list[float]) -> float:
    # Each sketch's CDF is off by at most one step between its probabilities plus the
    # sketch's rank error; the statistic, a difference of two CDFs, by twice that.
    step = max(b - a for a, b in itertools.pairwise(probabilities))
    return 2 * (step + 1 / SKETCH_ACCURACY)


def _sketch_count_tolerance(
    statistic: Any, baseline_counts: Any, current_counts: Any, rows: int
) -> float:
    """How far the baseline's sketch-read bin counts can move ``statistic``: the sum
    over bins of its change when that bin's count moves by the largest error."""
    expected = np.asarray(baseline_counts, dtype=float)
    actual = np.asarray(current_counts, dtype=float)
    error = 2 * BIN_COUNT_ERROR * rows
    at = statistic(expected, actual)
    total = 0.0
    for i in range(len(expected)):
        changes = []
        for step in (-error, error):
            moved = expected.copy()
            moved[i] = max(moved[i] + step, 0.0)
            changes.append(abs(statistic(moved, actual) - at))
        total += max(changes)
    return total


def _agreement(
    ours: Any, baseline: Any, reference: Any, current: Any, *, evidently: bool
) -> list[dict[str, Any]]:
    """sparktrack's statistics (``ours``: a monitor's columns) against the peer's, on the
    same rows (``reference``: the training rows, ``current``: the sample, pandas)."""
    # Imported here: scipy comes with the peer and the dev extra, not with sparktrack.
    from scipy import stats

    if evidently:
        # Imported here: the peer exists only in the benchmark environment.
        from evidently.legacy.calculations.stattests import (
            jensenshannon_stat_test,
            psi_stat_test,
        )
        from evidently.legacy.core import ColumnType

    rows = ours.set_index("column")
    checks = []
    ks_tolerance = _ks_tolerance(baseline.quantile_probabilities)
    for name, column in baseline.features.items():
        mine = rows.loc[name]
        before, after = _bins(reference[name], column), _bins(current[name], column)
        psi_tolerance = js_tolerance = ROUNDING
        if column.kind == "numeric":
            shown = after.value_counts().reindex(range(len(column.bin_counts or [])), fill_value=0)
            psi_tolerance += _sketch_count_tolerance(psi, column.bin_counts, shown, column.count)
            js_tolerance += _sketch_count_tolerance(
                js_distance, column.bin_counts, shown, column.count
            )
        if evidently:
            peer_psi = psi_stat_test(before, after, ColumnType.Categorical, None).drift_score
            # Evidently's JS distance is in nats (scipy's default base), ours in bits.
            peer_js = jensenshannon_stat_test(
                before, after, ColumnType.Categorical, None
            ).drift_score
            checks.append(
                _check(name, "psi", mine["psi"], peer_psi, "Evidently psi", psi_tolerance)
            )
            checks.append(
                _check(
                    name,
                    "js",
                    mine["js"],
                    peer_js / math.sqrt(math.log(2)),
                    "Evidently jensenshannon / sqrt(ln 2)",
                    js_tolerance,
                )
            )
        if column.kind == "numeric":
            exact = stats.ks_2samp(reference[name].dropna(), current[name].dropna()).statistic
            checks.append(_check(name, "ks", mine["ks"], exact, "scipy ks_2samp", ks_tolerance))
            continue
        labels = [*(column.categories or []), OTHER]
        table = np.array(
            [
                before.value_counts().reindex(labels, fill_value=0).to_numpy(),
                after.value_counts().reindex(labels, fill_value=0).to_numpy(),
            ]
        )
        table = table[:, table.sum(axis=0) > 0]  # as ours: empty on both sides says nothing
        if table.shape[1] < 2:
            continue  # no test on one category (ours reports 0 and p = 1)
        test = stats.chi2_contingency(table, correction=False)
        by = "scipy chi2_contingency"
        tolerance = ROUNDING * max(1.0, abs(float(test.statistic)))  # relative
        checks.append(_check(name, "chi2", mine["chi2"], test.statistic, by, tolerance))
        checks.append(_check(name, "chi2_p", mine["chi2_p"], test.pvalue, by, ROUNDING))
    return checks


def _largest_differences(checks: list[dict[str, Any]]) -> str:
    """Per statistic, the largest difference found and its tolerance."""
    largest: dict[str, dict[str, Any]] = {}
    for c in checks:
        known = largest.get(c["statistic"])
        if known is not None and known["difference"] is None:
            continue  # a value sparktrack did not report stays the worst
        if known is None or c["difference"] is None or c["difference"] > known["difference"]:
            largest[c["statistic"]] = c
    return ", ".join(
        f"{name} {c['difference']:.1e} (tolerance {c['tolerance']:.1e})"
        if c["difference"] is not None
        else f"{name} missing"
        for name, c in largest.items()
    )


def _agreement_table(checks: list[dict[str, Any]]) -> str:
    def number(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    return markdown_table(
        ["column", "statistic", "sparktrack", "peer", "by", "difference", "tolerance", "agrees"],
        [
            [
                c["column"],
                c["statistic"],
                number(c["sparktrack"], ".6g"),
                number(c["peer"], ".6g"),
                c["by"],
                number(c["difference"], ".1e"),
                number(c["tolerance"], ".1e"),
                "yes" if c["agrees"] else "NO",
            ]
            for c in checks
        ],
    )


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
    check_agreement = importlib.util.find_spec("scipy") is not None

    import sparktrack
    from sparktrack.monitoring import read_profile
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

        def monitored() -> Any:
            # Until the pass's run and reports are committed, as every figure here is.
            found = sparktrack.monitor(uri, new, label_col="label", client=client)
            client.flush()
            return found

        for repeat in range(repeats):
            order = ["summary", "monitor"] if repeat % 2 == 0 else ["monitor", "summary"]
            for variant in order:
                if variant == "summary":
                    seconds, _ = time_call(lambda: new.summary().collect())
                else:
                    seconds, result = time_call(monitored)
                timings[variant].append(seconds)
                say(f"repeat {repeat + 1}/{repeats} {variant}: {format_seconds(seconds)}")
        assert result is not None
        alerted = sorted(result.alerts()["column"])
        expected = sorted([f"n{i}" for i in range(SHIFTED)] + ["c0"])
        features = [c for c in alerted if c != "prediction"]
        ratio = median(timings["monitor"]) / median(timings["summary"])
        evidently_seconds = None
        checks: list[dict[str, Any]] = []
        if run_evidently or check_agreement:
            # Written once, so that Spark (the monitor) and pandas (the peer) see the
            # same rows: a sample evaluated twice need not be the same sample.
            fraction = min(1.0, evidently_rows / rows)
            new.sample(fraction=fraction, seed=5).limit(evidently_rows).write.parquet(
                str(tmp / "sample")
            )
            sample = spark.read.parquet(str(tmp / "sample"))
            # pandas reads the files itself: collecting a million wide rows through the
            # driver's JVM (toPandas without Arrow) exhausts its default heap.
            current = pd.read_parquet(tmp / "sample")
            reference = pd.read_parquet(tmp / "train")
        if run_evidently:
            say(f"Evidently DataDriftPreset on {len(current):,} rows")
            evidently_seconds = _evidently(reference, current)
        else:
            notes.append("Evidently not measured (not installed, or --skip-evidently)")
        if check_agreement:
            say(f"agreement with the peer on the same {len(current):,} rows")
            on_sample = sparktrack.monitor(uri, sample, client=client)
            client.flush()  # its run is committed before the store's folder goes
            baseline = read_profile(uri, client)
            checks = _agreement(
                on_sample.columns, baseline, reference, current, evidently=run_evidently
            )
        else:
            notes.append("agreement not checked (scipy is not installed)")
        disagreements = [c for c in checks if not c["agrees"]]
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
                            f"Evidently DataDriftPreset ({len(current):,} rows, pandas)",
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
        if checks:
            notes.append(
                f"agreement with {'Evidently and scipy' if run_evidently else 'scipy'} on "
                f"{len(current):,} sampled rows against "
                f"{TRAIN_ROWS:,} training rows: {len(checks) - len(disagreements)} of "
                f"{len(checks)} values within tolerance; largest differences: "
                + _largest_differences(checks)
            )
        machine["load_avg_end"] = load_average()
        print_summary(table, notes, machine)
        if checks:
            say()
            say(_agreement_table(checks))
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
                "agreement_rows": len(current) if checks else None,
                "agreement": checks,
                "notes": notes,
                "machine": machine,
            },
            scratch=args.quick,
        )
        failed = False
        if features != expected:
            say(f"wrong columns flagged: {features} instead of {expected}")
            failed = True
        for c in disagreements:
            say(
                f"disagreement: {c['statistic']} of {c['column']}: sparktrack {c['sparktrack']}, "
                f"{c['by']} {c['peer']} (tolerance {c['tolerance']:.1e})"
            )
            failed = True
        return 1 if failed else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
