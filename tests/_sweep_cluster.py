"""Sweeps on real executor JVMs (``local-cluster[2,1,1024]``), run as a child process.

    python tests/_sweep_cluster.py spread STORE        # function + Pipeline sweeps
    python tests/_sweep_cluster.py slow STORE NAME     # a slow named sweep (to be killed)
    python tests/_sweep_cluster.py bare STORE          # executors whose Python lacks sparktrack

Prints one JSON line (``RESULT {...}``) for the test to read. Functions here travel to
the executors by value: this module runs as ``__main__``.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

MASTER = "local-cluster[2,1,1024]"


def _session(master: str = MASTER) -> Any:
    import sparktrack

    return sparktrack.spark_session("sparktrack-sweep-cluster", master)


def busy(params: dict[str, Any]) -> dict[str, float]:
    time.sleep(params["seconds"])
    return {"score": float(params["x"])}


def fragile(params: dict[str, Any]) -> dict[str, float]:
    if params["fail"]:
        raise RuntimeError(f"trial with x={params['x']} failed on purpose")
    return {"score": float(params["x"])}


def curve(params: dict[str, Any], trial: Any) -> dict[str, float]:
    level = params["level"]
    for step in range(6):
        trial.report(level + 1.0 / (step + 1), step)
        if trial.should_prune():
            import optuna

            raise optuna.TrialPruned()
    return {"loss": level}


def spread(store: str) -> dict[str, Any]:
    import sparktrack
    from sparktrack.sweeps import sweep

    spark = _session()
    sparktrack.set_store(store)
    sparktrack.set_experiment("cluster")
    result = sweep(busy, {"x": [1, 2, 3, 4], "seconds": [2.0]}, metric="score", mode="max",
                   strategy="grid", parallelism=2, progress=False)  # fmt: skip
    client = sparktrack.get_client()
    client.flush()
    children = client.search_runs(
        None, filter_string=f"tags.`mlflow.parentRunId` = '{result.run_id}'"
    )
    workers = sorted(set(children["tags.sparktrack.sweep.worker"]))

    from pyspark.ml import Pipeline
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.regression import LinearRegression

    rows = [(float(i), float(i % 5), 2.0 * i + (i % 5)) for i in range(60)]
    data = spark.createDataFrame(rows, "a double, b double, label double")
    pipeline = Pipeline(
        stages=[
            VectorAssembler(inputCols=["a", "b"], outputCol="features"),
            LinearRegression(maxIter=5),
        ]
    )
    fitted = sweep(pipeline, {"regParam": [0.0, 10.0]}, train=data, num_folds=2,
                   evaluator=RegressionEvaluator(metricName="rmse"), strategy="grid",
                   parallelism=2, progress=False)  # fmt: skip
    failing = sweep(fragile, {"x": [1, 2], "fail": [False, True]}, metric="score",
                    mode="max", strategy="grid", parallelism=2, progress=False)  # fmt: skip
    import optuna

    levels = [0.0, 0.1, 5.0, 6.0, 7.0, 8.0]
    seed = next(  # a grid order that starts with the two good levels
        s
        for s in range(1000)
        if {g[0] for g in optuna.samplers.GridSampler({"level": levels}, seed=s)._all_grids[:2]}
        == {0.0, 0.1}
    )
    pruned = sweep(curve, {"level": levels}, metric="loss", mode="min", strategy="grid",
                   seed=seed, parallelism=1, progress=False,
                   early_stopping=optuna.pruners.MedianPruner(n_startup_trials=2,
                                                              n_warmup_steps=1))  # fmt: skip
    pruned_states = dict(zip(pruned.trials["params.level"], pruned.trials["state"], strict=True))
    return {
        "failing_states": sorted(failing.trials["state"]),
        "pruned_states": {str(k): v for k, v in pruned_states.items()},
        "executors": spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1,
        "workers": workers,
        "function_states": sorted(result.trials["state"]),
        "best_x": result.best_params["x"],
        "pipeline_best": fitted.best_params,
        "pipeline_mode": fitted.mode,
        "pipeline_states": sorted(fitted.trials["state"]),
        "pipeline_metric": fitted.best_metric,
    }


def slow(store: str, name: str) -> dict[str, Any]:
    import sparktrack
    from sparktrack.sweeps import sweep

    _session()
    sparktrack.set_store(store)
    sparktrack.set_experiment("cluster")
    print("STARTED", flush=True)
    result = sweep(busy, {"x": [1, 2, 3, 4, 5, 6], "seconds": [4.0]}, name=name,
                   metric="score", mode="max", strategy="grid", parallelism=2,
                   progress=False)  # fmt: skip
    return {
        "run_id": result.run_id,
        "trials": result.trials[["number", "state", "params.x", "resumed", "run_id"]].to_dict(
            "records"
        ),
    }


def h2o(store: str) -> dict[str, Any]:
    """An H2O GBM sweep: H2O runs inside the executors (Sparkling Water's internal backend)."""
    from pyspark.ml.evaluation import RegressionEvaluator
    from pysparkling.ml import H2OGBM

    import sparktrack
    from sparktrack.h2o import h2o_context
    from sparktrack.sweeps import sweep

    spark = _session()
    h2o_context(spark)
    sparktrack.set_store(store)
    sparktrack.set_experiment("cluster")
    rows = [(float(i % 9), float((i * 7) % 4), 3.0 * (i % 9) - (i * 7) % 4) for i in range(120)]
    data = spark.createDataFrame(rows, "a double, b double, y double")
    train, valid = data.randomSplit([0.75, 0.25], seed=5)
    result = sweep(H2OGBM(labelCol="y", seed=1), {"ntrees": [2, 8], "maxDepth": [2, 4]},
                   train=train, valid=valid,
                   evaluator=RegressionEvaluator(labelCol="y", metricName="rmse"),
                   strategy="grid", parallelism=1, progress=False)  # fmt: skip
    return {
        "states": sorted(result.trials["state"]),
        "model": type(result.best_model).__name__,
        "best": result.best_metric,
    }


def stdlib_only(params: dict[str, Any], trial: Any) -> dict[str, float]:
    """Needs nothing but the standard library, the sweep's task code and its data."""
    for step in range(3):
        trial.report(math.sqrt(params["x"]) * step, step)
    return {"score": float(params["x"] * trial.data["scale"])}


def imports_driver_only(params: dict[str, Any]) -> dict[str, float]:
    import sweep_helpers  # on the driver's sys.path only

    return {"score": sweep_helpers.double(params["x"])}


def always_fails(params: dict[str, Any]) -> dict[str, float]:
    raise ValueError(f"trial with x={params['x']} failed on purpose")


_HELPERS = """
def double(x):
    return 2.0 * x


def train(params):
    return {"score": double(params["x"])}
"""


def bare(store: str) -> dict[str, Any]:
    """Function sweeps on executors whose Python has neither sparktrack nor its
    dependencies (the test points PYSPARK_PYTHON at a bare interpreter)."""
    from pyspark.sql import SparkSession

    import sparktrack
    from sparktrack.sweeps import sweep

    # Built as a user would: no sparktrack confs, no Delta.
    spark = SparkSession.builder.master(MASTER).appName("sweep-bare-executors").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    sparktrack.set_store(store)
    sparktrack.set_experiment("bare")
    probe = spark.sparkContext.parallelize([0], 1).map(
        lambda _: __import__("importlib.util").util.find_spec("sparktrack") is None
    )
    outcome: dict[str, Any] = {"executors_lack_sparktrack": probe.collect() == [True]}
    shipped = sweep(stdlib_only, {"x": [1, 2, 3, 4]}, train={"scale": 10}, metric="score",
                    mode="max", strategy="grid", parallelism=2, progress=False)  # fmt: skip
    outcome["shipped"] = {
        "states": sorted(shipped.trials["state"]),
        "best_params": shipped.best_params,
        "best_metric": shipped.best_metric,
    }

    helpers = Path(store).parent / "driver-only"
    helpers.mkdir(parents=True, exist_ok=True)
    (helpers / "sweep_helpers.py").write_text(_HELPERS)
    sys.path.insert(0, str(helpers))
    import sweep_helpers

    grid = {"x": list(range(12))}
    options: dict[str, Any] = {
        "metric": "score",
        "mode": "max",
        "strategy": "grid",
        "parallelism": 2,
        "progress": False,
    }
    cases = {
        "imports_missing": lambda: sweep(
            imports_driver_only, grid, name="imports_missing", **options
        ),
        "defined_in_missing": lambda: sweep(
            sweep_helpers.train, grid, name="defined_in_missing", **options
        ),
        "pruning_without_optuna": lambda: sweep(
            stdlib_only,
            grid,
            name="pruning_without_optuna",
            train={"scale": 1},
            early_stopping="median",
            **options,
        ),
        "all_fail": lambda: sweep(always_fails, {"x": [1, 2, 3, 4]}, name="all_fail", **options),
    }
    client = sparktrack.get_client()
    for case, run in cases.items():
        started = time.monotonic()
        try:
            run()
            raised: dict[str, Any] = {"type": None}
        except Exception as exc:
            raised = {"type": type(exc).__name__, "message": str(exc)}
        raised["seconds"] = time.monotonic() - started
        client.flush()
        parent = client.search_runs(None, filter_string=f"tags.`sparktrack.sweep.name` = '{case}'")
        parent_id = str(parent["run_id"].iloc[0])
        trials = client.search_runs(
            None, filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'"
        )
        raised["sweep_status"] = str(parent["status"].iloc[0])
        raised["trial_statuses"] = sorted(trials["status"]) if len(trials) else []
        outcome[case] = raised
    return outcome


def interrupted(store: str) -> dict[str, Any]:
    """A sweep of long trials on local[2], to be stopped with Ctrl-C (SIGINT)."""
    import sparktrack
    from sparktrack.sweeps import sweep

    _session("local[2]")
    sparktrack.set_store(store)
    sparktrack.set_experiment("cluster")
    print("STARTED", flush=True)
    try:
        sweep(busy, {"x": [1, 2, 3], "seconds": [120.0]}, metric="score", mode="max",
              strategy="grid", parallelism=2, progress=False)  # fmt: skip
    except KeyboardInterrupt:
        return {"interrupted": True}
    return {"interrupted": False}


if __name__ == "__main__":
    # Run as a script: the worktree's package, not an installed one, on the driver only
    # (PYTHONPATH would reach the executors' Python too).
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    command, *arguments = sys.argv[1:]
    commands = {
        "spread": spread,
        "slow": slow,
        "interrupted": interrupted,
        "h2o": h2o,
        "bare": bare,
    }
    outcome = commands[command](*arguments)
    print("RESULT " + json.dumps(outcome, default=str), flush=True)
