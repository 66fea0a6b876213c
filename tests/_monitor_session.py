"""Monitoring in the session a user builds, run as a child process (one JVM per process).

    python -m tests._monitor_session STORE

A plain ``SparkSession.builder.master("local[2]").getOrCreate()`` without Delta, autolog
on its real background thread (``SPARKTRACK_AUTOLOG_TESTING`` unset): the fit's model
gets its ``profile.json`` there; ``sparktrack.monitor`` and ``sparktrack monitor`` then
judge a shifted copy of the data. Prints one JSON line (``RESULT {...}``).
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any


def main(store: str) -> dict[str, Any]:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    import sparktrack
    from sparktrack.cli import app
    from sparktrack.monitoring import read_profile

    spark = SparkSession.builder.master("local[2]").appName("user-job").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    frame = spark.range(5_000).select(F.randn(1).alias("a"), F.randn(2).alias("b"))
    df = frame.withColumn("label", (F.col("a") + F.col("b") > 0).cast("double"))
    sparktrack.set_store(store)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sparktrack.autolog(log_profiles=True)
        Pipeline(
            stages=[
                VectorAssembler(inputCols=["a", "b"], outputCol="features"),
                LogisticRegression(),
            ]
        ).fit(df)
        sparktrack.flush()  # waits for autolog's worker: the model and its profile
    run = sparktrack.last_active_run()
    assert run is not None
    uri = f"runs:/{run.info.run_id}/model"
    baseline = read_profile(uri)
    shifted = df.withColumn("a", F.col("a") + 2.0)
    result = sparktrack.monitor(uri, shifted, label_col="label")
    path = f"{store}-shifted"
    shifted.write.parquet(path)
    codes = {}
    for fail_on in ("alert", "never"):
        try:
            app(
                [
                    "--store",
                    store,
                    "monitor",
                    uri,
                    "--path",
                    path,
                    "--format",
                    "parquet",
                    "--fail-on",
                    fail_on,
                ],
                prog_name="sparktrack",
            )
        except SystemExit as exc:
            codes[fail_on] = exc.code
    try:
        app(["--store", store, "monitor", uri], prog_name="sparktrack")
    except SystemExit as exc:
        codes["usage"] = exc.code
    return {
        "warnings": [str(w.message) for w in caught if "sparktrack" in w.category.__module__],
        "baseline_rows": baseline.row_count,
        "baseline_metrics": sorted(baseline.metrics),
        "status": result.status,
        "alerts": sorted(result.alerts().column),
        "decay": dict(zip(result.decay.metric, result.decay.status, strict=True)),
        "codes": codes,
        "delta_in_session": spark.conf.get("spark.sql.extensions", None),
    }


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(sys.argv[1])), flush=True)
