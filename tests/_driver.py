"""One driver among many logging to one store at once: a child process of
tests/test_many_drivers.py.

    python -m tests._driver KIND STORE GATE INDEX

``KIND`` is what the driver is:

* ``plain``: plain Python with the fluent API, ``RUNS`` runs with params, a metric
  history, tags and a text artifact each;
* ``autolog``: a Spark application (``local[1]``, a session built without our confs)
  fitting a small Pipeline under autolog, on autolog's real background thread;
* ``sweep``: a Spark application running a function sweep of ``SWEEP_XS``;
* ``doomed``: plain Python logging one run's metric forever, printing ``RUN <id>``
  then ``ACK <step>`` after each log call returned; the test kills it.

Every driver gets ready (Spark started, store opened), writes ``GATE/ready-INDEX`` and
waits for ``GATE/go``, so all of them log at the same moment. Each prints one last
``RESULT {json}`` line: ``{"runs": {run_id: expected}}`` where ``expected`` holds the
run's ``params``, ``metrics`` (key -> values by step) and ``tags`` when the driver
knows them, else the ``param_count``/``metric_count`` its own client read back.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import sparktrack
from sparktrack import TrackingClient

RUNS = 3
STEPS = 15
METRIC_KEYS = ("loss", "acc")
SWEEP_XS = (0, 1, 2, 3)
# The test starts every driver before opening the gate: Spark may take minutes to start
# on a loaded machine, so the wait is generous (a driver left waiting is a test failure).
GATE_TIMEOUT_S = 600


def _wait_at_the_gate(gate: Path, index: int) -> None:
    (gate / f"ready-{index}").touch()
    deadline = time.monotonic() + GATE_TIMEOUT_S
    while not (gate / "go").exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"driver {index}: the gate did not open in {GATE_TIMEOUT_S} s")
        time.sleep(0.02)


def _result(runs: dict[str, dict[str, Any]]) -> None:
    print("RESULT " + json.dumps({"runs": runs}), flush=True)


def metric_value(index: int, run: int, key: str, step: int) -> float:
    """The value a plain driver logs: distinct per driver, run, key and step."""
    return index * 1000 + run * 100 + step + (0.5 if key == "acc" else 0.25)


def plain(store: str, gate: Path, index: int) -> None:
    sparktrack.set_store(store)
    sparktrack.set_experiment("many-drivers")
    _wait_at_the_gate(gate, index)
    runs: dict[str, dict[str, Any]] = {}
    for run in range(RUNS):
        params = {"driver": str(index), "run": str(run), **{f"p{j}": f"v{j}" for j in range(6)}}
        tags = {"kind": "plain", "driver": str(index)}
        with sparktrack.start_run(run_name=f"plain-{index}-{run}") as active:
            sparktrack.log_params(params)
            sparktrack.set_tags(tags)
            metrics: dict[str, list[float]] = {key: [] for key in METRIC_KEYS}
            for step in range(STEPS):
                for key in METRIC_KEYS:
                    value = metric_value(index, run, key, step)
                    sparktrack.log_metric(key, value, step=step)
                    metrics[key].append(value)
            sparktrack.log_text(f"driver {index} run {run}", "notes.txt")
        runs[active.info.run_id] = {"params": params, "metrics": metrics, "tags": tags}
    sparktrack.flush()
    _result(runs)


def _spark() -> Any:
    # pyspark is imported by the Spark drivers only: a plain Python job never loads it.
    from pyspark.sql import SparkSession

    # The user's session: no Delta, no sparktrack confs; one core, the machine is shared.
    spark = (
        SparkSession.builder.master("local[1]")
        .appName("many-drivers")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def autolog(store: str, gate: Path, index: int) -> None:
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.regression import LinearRegression

    spark = _spark()
    frame = spark.createDataFrame([(float(i), 2.0 * i + 1.0) for i in range(30)], ["x", "y"])
    frame.count()  # Spark's own lazy set-up, before the gate
    sparktrack.set_store(store)
    sparktrack.set_experiment("many-drivers")
    sparktrack.autolog()
    pipeline = Pipeline(
        stages=[
            VectorAssembler(inputCols=["x"], outputCol="features"),
            LinearRegression(labelCol="y", maxIter=5),
        ]
    )
    _wait_at_the_gate(gate, index)
    pipeline.fit(frame)
    fitted = sparktrack.last_active_run()
    assert fitted is not None, "autolog started no run"
    sparktrack.flush()
    # What this driver's client reads back once its own logging is committed; the test
    # reads the same run from another process after every driver is done.
    _result({fitted.info.run_id: _read_back(fitted.info.run_id)})
    spark.stop()


def _read_back(run_id: str) -> dict[str, Any]:
    """What a run logged by Spark code holds, as this driver's own client reads it."""
    run = sparktrack.get_run(run_id)
    return {"param_count": len(run.data.params), "metric_count": len(run.data.metrics)}


def quadratic(params: dict[str, Any]) -> dict[str, float]:
    return {"loss": float((params["x"] - 2) ** 2)}


def sweep(store: str, gate: Path, index: int) -> None:
    spark = _spark()
    spark.range(1).count()
    sparktrack.set_store(store)
    sparktrack.set_experiment("many-drivers")
    _wait_at_the_gate(gate, index)
    result = sparktrack.sweep(
        quadratic,
        {"x": list(SWEEP_XS)},
        metric="loss",
        mode="min",
        strategy="grid",
        parallelism=1,
        progress=False,
    )
    sparktrack.flush()
    client = sparktrack.get_client()
    children = client.search_runs(
        None, filter_string=f"tags.`mlflow.parentRunId` = '{result.run_id}'"
    )
    runs = {result.run_id: _read_back(result.run_id)}
    for run_id, x in zip(children["run_id"], children["params.x"], strict=True):
        expected = quadratic({"x": int(x)})
        runs[run_id] = {
            "params": {"x": x},
            "metrics": {"loss": [expected["loss"]]},
            "tags": {"mlflow.parentRunId": result.run_id},
        }
    assert len(runs) == len(SWEEP_XS) + 1, f"the sweep recorded {len(children)} trials"
    _result(runs)
    spark.stop()


def doomed(store: str, gate: Path, index: int) -> None:
    client = TrackingClient(store)
    experiment_id = client.get_or_create_experiment("many-drivers").experiment_id
    _wait_at_the_gate(gate, index)
    run_id = client.create_run(experiment_id, run_name=f"doomed-{index}").info.run_id
    client.log_param(run_id, "driver", str(index))
    print(f"RUN {run_id}", flush=True)
    step = 0
    while True:
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
        print(f"ACK {step}", flush=True)
        step += 1


DRIVERS = {"plain": plain, "autolog": autolog, "sweep": sweep, "doomed": doomed}

if __name__ == "__main__":
    kind, store, gate, index = sys.argv[1:5]
    DRIVERS[kind](store, Path(gate), int(index))
