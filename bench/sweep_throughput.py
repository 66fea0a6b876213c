"""Sweep throughput: sparktrack.sweep against pyspark's CrossValidator, and scaling of
function sweeps with executors.

(a) The same MLlib grid, two ways, same parallelism, same folds count, local[2]:
    CrossValidator (tracks nothing) and sparktrack.sweep(strategy="grid", num_folds=k),
    which also writes the sweep run, a child run per param map with its params and
    scores, and the best model (refitted on all the data, like CrossValidator's
    bestModel). VectorAssembler -> StandardScaler -> LogisticRegression, 4 param maps
    (regParam x elasticNetParam), 3 folds, 20,000 rows x 10 features, parallelism 2.
    Repeats interleaved after an untimed warm-up of each; the ratio is
    median(sweep) / median(CrossValidator); target <= 1.05.
(b) 64 scikit-learn trials (GradientBoostingClassifier on the breast-cancer data set,
    random depth / learning rate / trees) as a function sweep on
    local-cluster[1,1,1024] and local-cluster[2,1,1024], parallelism = executors, each
    in its own process (a fresh application; start-up not timed). The ratio of wall
    times shows the scaling; 2.0 would be perfect.

Usage (from the repo root):

  .venv-bench/bin/python bench/sweep_throughput.py            # both parts, ~10 minutes
  .venv-bench/bin/python bench/sweep_throughput.py --part a --repeats 3
  .venv-bench/bin/python bench/sweep_throughput.py --quick    # smaller: a smoke run

Results: a markdown table on stdout, JSON in bench/out/sweep_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    machine_description,
    machine_line,
    markdown_table,
    median,
    write_results,
)

ROOT = Path(__file__).resolve().parent.parent


# -- (a) CrossValidator vs sweep -------------------------------------------------------
def _frame(spark: Any, rows: int, features: int) -> Any:
    import numpy as np

    rng = np.random.default_rng(7)
    x = rng.normal(size=(rows, features))
    y = (x @ rng.normal(size=features) + rng.normal(scale=0.5, size=rows) > 0).astype(float)
    data = [(*map(float, r), float(label)) for r, label in zip(x, y, strict=True)]
    columns = [f"f{i}" for i in range(features)]
    frame = spark.createDataFrame(data, [*columns, "label"]).repartition(2).cache()
    frame.count()
    return frame, columns


def part_a(rows: int, repeats: int, folds: int) -> dict[str, Any]:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.feature import StandardScaler, VectorAssembler
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    import sparktrack

    spark = sparktrack.spark_session("bench-sweep", "local[2]")
    spark.sparkContext.setLogLevel("ERROR")
    frame, columns = _frame(spark, rows, 10)
    lr = LogisticRegression(maxIter=20)
    pipeline = Pipeline(
        stages=[
            VectorAssembler(inputCols=columns, outputCol="raw"),
            StandardScaler(inputCol="raw", outputCol="features"),
            lr,
        ]
    )
    reg, enet = [0.01, 0.1], [0.0, 0.5]
    grid = ParamGridBuilder().addGrid(lr.regParam, reg).addGrid(lr.elasticNetParam, enet).build()
    evaluator = BinaryClassificationEvaluator()

    def cross_validator() -> float:
        cv = CrossValidator(estimator=pipeline, estimatorParamMaps=grid, evaluator=evaluator,
                            numFolds=folds, parallelism=2, seed=1)  # fmt: skip
        model = cv.fit(frame)
        return max(model.avgMetrics)

    def sweep() -> float:
        store = tempfile.mkdtemp(prefix="bench-sweep-")
        sparktrack.set_store(store)
        result = sparktrack.sweep(
            pipeline,
            {lr.regParam: reg, lr.elasticNetParam: enet},
            train=frame,
            num_folds=folds,
            evaluator=evaluator,
            strategy="grid",
            parallelism=2,
            seed=1,
            progress=False,
        )
        assert len(result.trials) == len(grid)
        assert result.best_metric is not None
        return result.best_metric

    timings: dict[str, list[float]] = {"CrossValidator": [], "sparktrack.sweep": []}
    variants = {"CrossValidator": cross_validator, "sparktrack.sweep": sweep}
    for warm_up in variants.values():  # JIT, caches, Python workers
        warm_up()
    sparktrack.flush()
    best: dict[str, float] = {}
    for repeat in range(repeats):
        order = list(variants) if repeat % 2 == 0 else list(reversed(variants))
        for name in order:
            started = time.perf_counter()
            best[name] = variants[name]()
            timings[name].append(time.perf_counter() - started)
            print(f"  (a) {name:18} repeat {repeat + 1}: {timings[name][-1]:.2f} s", flush=True)
        sparktrack.flush()  # the sweep's model folder is written in the background
    cv, st = median(timings["CrossValidator"]), median(timings["sparktrack.sweep"])
    return {
        "rows": rows,
        "folds": folds,
        "param_maps": len(grid),
        "parallelism": 2,
        "repeats": repeats,
        "seconds": timings,
        "median_seconds": {"CrossValidator": cv, "sparktrack.sweep": st},
        "ratio": st / cv,
        "best_metric": best,
    }


# -- (b) function sweeps on 1 and 2 executors ----------------------------------------------
def gbm_trial(params: dict[str, Any]) -> dict[str, float]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, random_state=0)
    model = GradientBoostingClassifier(random_state=0, **params).fit(x_train, y_train)
    return {"auc": float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))}


def run_function_sweep(executors: int, trials: int) -> dict[str, Any]:
    """In a child process: one application on local-cluster[executors,1,1024]."""
    import sparktrack
    from sparktrack.sweeps import int_range, loguniform

    spark = sparktrack.spark_session("bench-sweep-fn", f"local-cluster[{executors},1,1024]")
    spark.sparkContext.setLogLevel("ERROR")
    # Wait for every executor, then warm each one's Python worker, untimed.
    deadline = time.monotonic() + 120
    while spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1 < executors:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only some of {executors} executors came up")
        time.sleep(0.5)
    spark.sparkContext.parallelize(range(executors * 4), executors * 4).map(
        lambda _: __import__("sklearn.ensemble").__name__
    ).collect()
    sparktrack.set_store(tempfile.mkdtemp(prefix="bench-sweep-fn-"))
    started = time.perf_counter()
    result = sparktrack.sweep(
        gbm_trial,
        {
            "max_depth": int_range(1, 4),
            "learning_rate": loguniform(0.01, 0.5),
            "n_estimators": int_range(20, 80, step=20),
        },
        metric="auc",
        mode="max",
        strategy="random",
        max_trials=trials,
        parallelism=executors,
        seed=3,
        progress=False,
    )
    seconds = time.perf_counter() - started
    sparktrack.flush()
    workers = result.trials["state"].value_counts().to_dict()
    return {"executors": executors, "seconds": seconds, "states": workers,
            "best_auc": result.best_metric}  # fmt: skip


def part_b(trials: int) -> dict[str, Any]:
    outcomes = {}
    for executors in (1, 2):
        env = {**os.environ, "PYTHONPATH": str(ROOT / "bench") + os.pathsep + str(ROOT)}
        done = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                str(executors),
                "--trials",
                str(trials),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the {executors}-executor run failed:\n{done.stderr[-3000:]}")
        line = next(x for x in done.stdout.splitlines() if x.startswith("CHILD "))
        outcomes[executors] = json.loads(line[len("CHILD ") :])
        print(f"  (b) {executors} executor(s): {outcomes[executors]['seconds']:.1f} s", flush=True)
    return {
        "trials": trials,
        "seconds": {str(k): v["seconds"] for k, v in outcomes.items()},
        "states": {str(k): v["states"] for k, v in outcomes.items()},
        "speedup": outcomes[1]["seconds"] / outcomes[2]["seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["a", "b", "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="small data, one repeat")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    trials = args.trials or (16 if args.quick else 64)
    if args.child is not None:
        print("CHILD " + json.dumps(run_function_sweep(args.child, trials)), flush=True)
        return
    machine = machine_description()
    print(machine_line(machine))
    payload: dict[str, Any] = {"machine": machine, "quick": args.quick}
    rows = []
    if args.part in ("a", "all"):
        a = part_a(4_000 if args.quick else 20_000, args.repeats or (1 if args.quick else 3), 3)
        payload["a"] = a
        rows.append(["(a) CrossValidator, 4 maps x 3 folds, parallelism 2",
                     f"{a['median_seconds']['CrossValidator']:.2f} s", "", ""])  # fmt: skip
        rows.append(["(a) sparktrack.sweep, same grid, every trial tracked",
                     f"{a['median_seconds']['sparktrack.sweep']:.2f} s",
                     f"{a['ratio']:.2f}x CrossValidator", "<= 1.05x"])  # fmt: skip
    if args.part in ("b", "all"):
        b = part_b(trials)
        payload["b"] = b
        rows.append(
            [f"(b) {trials} sklearn trials, 1 executor", f"{b['seconds']['1']:.1f} s", "", ""]
        )
        rows.append([f"(b) {trials} sklearn trials, 2 executors", f"{b['seconds']['2']:.1f} s",
                     f"{b['speedup']:.2f}x faster", "scaling"])  # fmt: skip
    print()
    print(markdown_table(["workload", "wall time", "ratio", "target"], rows))
    path = write_results("sweep_throughput" + ("_quick" if args.quick else ""), payload)
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
