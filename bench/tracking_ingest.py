"""Tracking ingest and search: sparktrack against MLflow (SQLite store), one invocation.

Workloads, each run with sparktrack and with MLflow:

  (a) 1,000 runs x (start_run, log_params(20), log_metrics(5), end_run)
  (b) 100 runs x 10 metrics x 50 steps, one log_metric call per point (50,000 calls)
  (c) search_runs with a filter and an order over 10,000 runs, cold and warm
  (s) what source snapshots cost: 1,000 runs x (start_run, end_run), with snapshots on
      and off (SPARKTRACK_SNAPSHOTS), sparktrack only

Usage (from the repo root):

  .venv-bench/bin/python bench/tracking_ingest.py            # full, with MLflow
  .venv/bin/python bench/tracking_ingest.py --quick          # smoke run, sparktrack only
  .venv-bench/bin/python bench/tracking_ingest.py --only a,c --skip-mlflow

Every measurement runs in its own child process with its own temporary directory,
so neither tool sees the other's threads, caches or imports, and a "cold" search
really starts from a fresh process. Imports are never timed. sparktrack's timings
end with ``sparktrack.flush()``, so everything logged is committed to Delta; MLflow
logs synchronously to SQLite. Each workload is repeated (4 times for (a) and for (c)'s
searches, twice for (b); --repeats overrides) with the tools in a balanced order
(sparktrack then MLflow, then MLflow then sparktrack), and every figure is the median
with the range of the repeats.

The two tools must agree, or the benchmark exits 1: (a) both stored every run with all
its params and metrics, (b) both return the full history of a metric, (c) both return
the same runs in the same order.

  .venv-bench/bin/python bench/tracking_ingest.py --update-readme   # full, then docs/benchmarks.md

Results: a markdown table on stdout, and the raw results (every repeat) in
bench/results/tracking_ingest-<date>-<commit>.json (--quick: the git-ignored bench/out/).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Run as a script, so this folder is on sys.path and the shared helpers import directly.
from _common import (
    add_run_arguments,
    balanced_order,
    choose_mlflow,
    format_rate,
    format_seconds,
    format_spread,
    load_average,
    machine_description,
    machine_line,
    markdown_table,
    median,
    package_versions,
    partial_reasons,
    percentile,
    print_summary,
    publish,
    refuse_partial_readme_run,
    run_main,
    say,
    source_tree,
    spread,
)

BENCH_NAME = "tracking_ingest"
WORKLOADS = ("a", "b", "c", "s")
TOOLS = ("sparktrack", "mlflow")
EXPERIMENT_NAME = "bench"

# Targets from the benchmark brief.
TARGET_A_SPEEDUP = 20.0
TARGET_B_SPEEDUP = 100.0
TARGET_C_SECONDS = 0.3

SEARCH_FILTER = "metrics.m0 > 0.5 and params.p1 = 'x3'"
SEARCH_ORDER = ["metrics.m1 DESC"]
SEARCH_MAX_RESULTS = 100
SEARCH_WARM_REPEATS = 5
# A child that runs longer than this is stuck, not slow (MLflow's (b) takes ~15 min).
WORKER_TIMEOUT_SECONDS = 3600


@dataclass(frozen=True)
class Sizes:
    a_runs: int
    a_params: int
    a_metrics: int
    b_runs: int
    b_metrics: int
    b_steps: int
    c_runs: int
    # Repeats per tool, in a balanced order (see _common.balanced_order): even numbers.
    a_repeats: int
    b_repeats: int  # MLflow's (b) takes ~10 minutes a repeat
    c_repeats: int  # cold searches, each in a fresh process, on the same store
    s_runs: int
    s_repeats: int  # per setting (snapshots on, off)

    @property
    def b_calls(self) -> int:
        return self.b_runs * self.b_metrics * self.b_steps


FULL = Sizes(
    a_runs=1000,
    a_params=20,
    a_metrics=5,
    b_runs=100,
    b_metrics=10,
    b_steps=50,
    c_runs=10_000,
    a_repeats=4,
    b_repeats=2,
    c_repeats=4,
    s_runs=1000,
    s_repeats=4,
)
# --quick scales the number of runs down, keeping the shape of each run: 10x for (a)
# and (c), 50x for (b), where MLflow's ~18 ms per log_metric call would otherwise take
# ~90 s of the two minutes a smoke run may last.
QUICK = Sizes(
    a_runs=100,
    a_params=20,
    a_metrics=5,
    b_runs=2,
    b_metrics=10,
    b_steps=50,
    c_runs=1_000,
    a_repeats=2,
    b_repeats=1,
    c_repeats=2,
    s_runs=100,
    s_repeats=2,
)


# =====================================================================================
# Child processes: one measurement each, result written as JSON to spec["result_path"]
# =====================================================================================


def _worker_main(spec: dict[str, Any]) -> None:
    # Settings another benchmark runs these workloads with (bench/object_store.py: the
    # S3 server's endpoint and credentials), before sparktrack is imported.
    os.environ.update(spec.get("env", {}))
    tool, task = spec["tool"], spec["task"]
    handlers: dict[tuple[str, str], Callable[[dict[str, Any]], dict[str, Any]]] = {
        ("sparktrack", "a"): _sparktrack_a,
        ("mlflow", "a"): _mlflow_a,
        ("sparktrack", "b"): _sparktrack_b,
        ("mlflow", "b"): _mlflow_b,
        ("sparktrack", "c_populate"): _sparktrack_c_populate,
        ("mlflow", "c_populate"): _mlflow_c_populate,
        ("sparktrack", "c_compact"): _sparktrack_c_compact,
        ("sparktrack", "c_search"): _sparktrack_c_search,
        ("mlflow", "c_search"): _mlflow_c_search,
        ("sparktrack", "s"): _sparktrack_s,
    }
    result = handlers[(tool, task)](spec)
    Path(spec["result_path"]).write_text(json.dumps(result))


def _a_params(run: int, count: int) -> dict[str, str]:
    return {f"param_{j}": f"value_{run}_{j}" for j in range(count)}


def _a_metrics(run: int, count: int) -> dict[str, float]:
    return {f"metric_{j}": run * 0.001 + j for j in range(count)}


def _stored_counts(frame: Any) -> dict[str, int]:
    """Runs, and param and metric values, in a search_runs frame (either tool's)."""

    def cells(prefix: str) -> int:
        columns = [c for c in frame.columns if c.startswith(prefix)]
        return int(frame[columns].notna().sum().sum()) if columns else 0

    return {"runs": len(frame), "params": cells("params."), "metrics": cells("metrics.")}


def _latency_summary(latencies_ns: list[int]) -> dict[str, float]:
    seconds = [ns / 1e9 for ns in latencies_ns]
    return {
        "p50_s": percentile(seconds, 50),
        "p90_s": percentile(seconds, 90),
        "p99_s": percentile(seconds, 99),
        "max_s": max(seconds),
        "mean_s": sum(seconds) / len(seconds),
    }


# -- sparktrack -----------------------------------------------------------------------


def _sparktrack_store(spec: dict[str, Any]) -> str:
    """The store a workload logs to: the one given (an object store), else a folder."""
    return str(spec.get("store") or Path(spec["dir"]) / "store")


def _wait_for_gate(spec: dict[str, Any]) -> None:
    """With a ``gate`` folder in the spec, say this worker is ready and wait until the
    parent opens the gate: workers sharing one store then start logging together."""
    if "gate" not in spec:
        return
    gate = Path(spec["gate"])
    (gate / f"ready-{spec['worker_index']}").touch()
    deadline = time.monotonic() + WORKER_TIMEOUT_SECONDS
    while not (gate / "go").exists():
        if time.monotonic() > deadline:
            raise SystemExit("the gate never opened")
        time.sleep(0.01)


def _sparktrack_a(spec: dict[str, Any]) -> dict[str, Any]:
    import sparktrack

    sizes = Sizes(**spec["sizes"])
    sparktrack.set_store(_sparktrack_store(spec))
    sparktrack.set_experiment(EXPERIMENT_NAME)
    # Build the inputs first: the benchmark times logging, not dict comprehensions.
    params = [_a_params(i, sizes.a_params) for i in range(sizes.a_runs)]
    metrics = [_a_metrics(i, sizes.a_metrics) for i in range(sizes.a_runs)]
    _wait_for_gate(spec)
    # Also as time.monotonic(): on Linux one clock for every process, so the parent can
    # tell the span from the first start to the last end of workers run together.
    window = [time.monotonic()]
    started = time.perf_counter()
    for i in range(sizes.a_runs):
        sparktrack.start_run()
        sparktrack.log_params(params[i])
        sparktrack.log_metrics(metrics[i])
        sparktrack.end_run()
    sparktrack.flush()  # everything committed to Delta is part of the cost
    seconds = time.perf_counter() - started
    window.append(time.monotonic())
    stored = _stored_counts(sparktrack.search_runs(experiment_names=[EXPERIMENT_NAME]))
    return {"seconds": seconds, "runs": sizes.a_runs, "stored": stored, "window": window}


def _sparktrack_b(spec: dict[str, Any]) -> dict[str, Any]:
    import sparktrack

    sizes = Sizes(**spec["sizes"])
    sparktrack.set_store(_sparktrack_store(spec))
    sparktrack.set_experiment(EXPERIMENT_NAME)
    keys = [f"metric_{k}" for k in range(sizes.b_metrics)]
    latencies_ns: list[int] = []
    clock = time.perf_counter_ns
    log_metric = sparktrack.log_metric
    last_run_id = ""
    started = time.perf_counter()
    for _ in range(sizes.b_runs):
        last_run_id = sparktrack.start_run().info.run_id
        for step in range(sizes.b_steps):
            for k, key in enumerate(keys):
                before = clock()
                log_metric(key, step * 0.01 + k, step=step)
                latencies_ns.append(clock() - before)
        sparktrack.end_run()
    sparktrack.flush()
    seconds = time.perf_counter() - started
    history = len(sparktrack.get_metric_history(last_run_id, keys[0]))
    return {
        "seconds": seconds,
        "calls": len(latencies_ns),
        "points_per_s": len(latencies_ns) / seconds,
        "latency": _latency_summary(latencies_ns),
        "history_points_checked": history,
    }


def _sparktrack_s(spec: dict[str, Any]) -> dict[str, Any]:
    # Before sparktrack opens its store, which reads the setting.
    os.environ["SPARKTRACK_SNAPSHOTS"] = "true" if spec["snapshots"] else "false"
    import sparktrack

    sizes = Sizes(**spec["sizes"])
    store = _sparktrack_store(spec)
    sparktrack.set_store(store)
    sparktrack.set_experiment(EXPERIMENT_NAME)
    latencies_ns: list[int] = []
    clock = time.perf_counter_ns
    started = time.perf_counter()
    for _ in range(sizes.s_runs):
        before = clock()
        sparktrack.start_run()
        latencies_ns.append(clock() - before)
        sparktrack.end_run()
    sparktrack.flush()  # waits for the snapshots too: their whole cost is counted
    seconds = time.perf_counter() - started
    runs = sparktrack.search_runs(experiment_names=[EXPERIMENT_NAME])
    column = "tags.sparktrack.source.snapshot"
    tagged = int(runs[column].notna().sum()) if column in runs else 0
    folders = Path(store) / "artifacts" / "snapshots"
    return {
        "seconds": seconds,
        "runs": len(runs),
        "start_run": _latency_summary(latencies_ns),
        "tagged": tagged,
        "snapshot_folders": len(list(folders.iterdir())) if folders.is_dir() else 0,
    }


def _search_dataset(runs: int) -> list[dict[str, Any]]:
    """The same runs for both stores: a few params, metrics and tags each."""
    rng = random.Random(20240611)
    dataset = []
    for i in range(runs):
        dataset.append(
            {
                "name": f"run-{i:05d}",
                "params": {"p0": f"a{i % 7}", "p1": f"x{i % 10}", "p2": str(i)},
                "metrics": {"m0": rng.random(), "m1": rng.random(), "m2": rng.random()},
                "tags": {"idx": str(i), "group": f"g{i % 3}"},
            }
        )
    return dataset


def _sparktrack_c_populate(spec: dict[str, Any]) -> dict[str, Any]:
    import sparktrack
    from sparktrack import Metric

    sizes = Sizes(**spec["sizes"])
    client = sparktrack.set_store(_sparktrack_store(spec))
    experiment = client.get_or_create_experiment(EXPERIMENT_NAME)
    started = time.perf_counter()
    base_ms = 1_700_000_000_000
    # The client API with explicit run ids: one create_run + log_batch + set_terminated
    # per run, like MLflow's log_batch path, without the fluent API's run stack.
    for i, run in enumerate(_search_dataset(sizes.c_runs)):
        created = client.create_run(
            experiment.experiment_id, run_name=run["name"], tags=run["tags"], start_time=base_ms + i
        )
        run_id = created.info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, base_ms + i, 0) for k, v in run["metrics"].items()],
            params=run["params"],
        )
        client.set_terminated(run_id, end_time=base_ms + i + 1)
    client.flush()
    return {
        "seconds": time.perf_counter() - started,
        "experiment_id": experiment.experiment_id,
        "files": _delta_file_counts(_sparktrack_store(spec)),
    }


def _delta_file_counts(store: str) -> dict[str, int]:
    """Live data files per Delta table (what a scan has to open), in a local folder or
    an object store."""
    from deltalake import DeltaTable

    from sparktrack.store import TABLE_NAMES, parse_store_uri

    location = parse_store_uri(store)
    options = location.delta_rs_options()
    return {
        table: len(DeltaTable(location.for_delta_rs(table), storage_options=options).file_uris())
        for table in sorted(TABLE_NAMES)
    }


def _sparktrack_c_compact(spec: dict[str, Any]) -> dict[str, Any]:
    import sparktrack

    client = sparktrack.set_store(_sparktrack_store(spec))
    # The same call `sparktrack gc` makes (minus vacuum): compact each table's small
    # files and write a checkpoint.
    maintain = getattr(client.store, "maintain", None)
    if maintain is None:
        return {"seconds": 0.0, "skipped": "this store has no maintain()/gc"}
    started = time.perf_counter()
    maintain()
    return {
        "seconds": time.perf_counter() - started,
        "files": _delta_file_counts(_sparktrack_store(spec)),
    }


def _sparktrack_c_search(spec: dict[str, Any]) -> dict[str, Any]:
    import sparktrack

    experiment_ids = [spec["experiment_id"]]

    def search() -> Any:
        return sparktrack.search_runs(
            experiment_ids=experiment_ids,
            filter_string=SEARCH_FILTER,
            order_by=SEARCH_ORDER,
            max_results=SEARCH_MAX_RESULTS,
        )

    # Cold: this process has imported sparktrack and nothing else; opening the store
    # (the client a new notebook would create) is part of the first call's cost.
    started = time.perf_counter()
    sparktrack.set_store(_sparktrack_store(spec))
    opened = time.perf_counter()
    frame = search()
    finished = time.perf_counter()
    return _search_result(
        open_s=opened - started, first_call_s=finished - opened, frame=frame, search=search
    )


# -- MLflow ---------------------------------------------------------------------------


def _import_mlflow(spec: dict[str, Any]) -> Any:
    import logging
    import warnings

    # MLflow and alembic log every schema migration and MLflow warns about many things;
    # none of it is a measurement.
    warnings.simplefilter("ignore")
    import mlflow

    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    mlflow.set_tracking_uri(_mlflow_uri(spec))
    return mlflow


def _mlflow_uri(spec: dict[str, Any]) -> str:
    return f"sqlite:///{Path(spec['dir']) / 'mlflow.db'}"


def _mlflow_experiment(mlflow: Any, spec: dict[str, Any]) -> str:
    artifacts = (Path(spec["dir"]) / "mlartifacts").as_uri()
    experiment_id: str = mlflow.create_experiment(EXPERIMENT_NAME, artifact_location=artifacts)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def _mlflow_a(spec: dict[str, Any]) -> dict[str, Any]:
    mlflow = _import_mlflow(spec)
    sizes = Sizes(**spec["sizes"])
    experiment_id = _mlflow_experiment(mlflow, spec)  # creates the database: untimed
    params = [_a_params(i, sizes.a_params) for i in range(sizes.a_runs)]
    metrics = [_a_metrics(i, sizes.a_metrics) for i in range(sizes.a_runs)]
    started = time.perf_counter()
    for i in range(sizes.a_runs):
        mlflow.start_run()
        mlflow.log_params(params[i])
        mlflow.log_metrics(metrics[i])
        mlflow.end_run()
    seconds = time.perf_counter() - started
    stored = _stored_counts(mlflow.search_runs([experiment_id], max_results=sizes.a_runs + 1))
    return {"seconds": seconds, "runs": sizes.a_runs, "stored": stored}


def _mlflow_b(spec: dict[str, Any]) -> dict[str, Any]:
    mlflow = _import_mlflow(spec)
    sizes = Sizes(**spec["sizes"])
    _mlflow_experiment(mlflow, spec)
    keys = [f"metric_{k}" for k in range(sizes.b_metrics)]
    latencies_ns: list[int] = []
    clock = time.perf_counter_ns
    log_metric = mlflow.log_metric
    last_run_id = ""
    started = time.perf_counter()
    for _ in range(sizes.b_runs):
        last_run_id = mlflow.start_run().info.run_id
        for step in range(sizes.b_steps):
            for k, key in enumerate(keys):
                before = clock()
                log_metric(key, step * 0.01 + k, step=step)
                latencies_ns.append(clock() - before)
        mlflow.end_run()
    seconds = time.perf_counter() - started
    history = len(mlflow.MlflowClient().get_metric_history(last_run_id, keys[0]))
    return {
        "seconds": seconds,
        "calls": len(latencies_ns),
        "points_per_s": len(latencies_ns) / seconds,
        "latency": _latency_summary(latencies_ns),
        "history_points_checked": history,
    }


def _mlflow_c_populate(spec: dict[str, Any]) -> dict[str, Any]:
    mlflow = _import_mlflow(spec)
    sizes = Sizes(**spec["sizes"])
    experiment_id = _mlflow_experiment(mlflow, spec)
    dataset = _search_dataset(sizes.c_runs)
    started = time.perf_counter()
    try:
        method = _mlflow_bulk_insert(mlflow, experiment_id, dataset)
    except ImportError:  # MLflow moved its ORM models: fall back to the public API
        method = _mlflow_log_batch(mlflow, experiment_id, dataset)
    return {
        "seconds": time.perf_counter() - started,
        "experiment_id": experiment_id,
        "method": method,
    }


def _mlflow_bulk_insert(mlflow: Any, experiment_id: str, dataset: list[dict[str, Any]]) -> str:
    """Insert rows exactly as MLflow's log_batch stores them, in one transaction.

    Populating 10,000 runs through the client takes ~10 minutes (three SQLite
    transactions per run); the rows are the same, so setup goes straight to the tables.
    """
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )

    store = mlflow.MlflowClient()._tracking_client.store
    artifact_root = mlflow.get_experiment(experiment_id).artifact_location
    base_ms = 1_700_000_000_000
    runs, params, metrics, tags = [], [], [], []
    for i, run in enumerate(dataset):
        run_id = f"{i:032x}"
        runs.append(
            {
                "run_uuid": run_id,
                "name": run["name"],
                "source_type": "LOCAL",
                "source_name": "",
                "entry_point_name": "",
                "user_id": "bench",
                "status": "FINISHED",
                "start_time": base_ms + i,
                "end_time": base_ms + i + 1,
                "deleted_time": None,
                "source_version": "",
                "lifecycle_stage": "active",
                "artifact_uri": f"{artifact_root}/{run_id}/artifacts",
                "experiment_id": int(experiment_id),
            }
        )
        params += [{"run_uuid": run_id, "key": k, "value": v} for k, v in run["params"].items()]
        metrics += [
            {
                "run_uuid": run_id,
                "key": k,
                "value": v,
                "timestamp": base_ms + i,
                "step": 0,
                "is_nan": False,
            }
            for k, v in run["metrics"].items()
        ]
        tags += [
            {"run_uuid": run_id, "key": k, "value": v}
            for k, v in {**run["tags"], "mlflow.runName": run["name"]}.items()
        ]
    with store.ManagedSessionMaker() as session:
        session.execute(SqlRun.__table__.insert(), runs)
        session.execute(SqlParam.__table__.insert(), params)
        session.execute(SqlMetric.__table__.insert(), metrics)
        # search_runs filters and orders on latest_metrics, which log_batch maintains.
        session.execute(SqlLatestMetric.__table__.insert(), metrics)
        session.execute(SqlTag.__table__.insert(), tags)
    return "bulk insert through MLflow's SQLAlchemy models"


def _mlflow_log_batch(mlflow: Any, experiment_id: str, dataset: list[dict[str, Any]]) -> str:
    from mlflow.entities import Metric, Param, RunTag

    client = mlflow.MlflowClient()
    for i, run in enumerate(dataset):
        run_id = client.create_run(experiment_id, run_name=run["name"]).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, 1_700_000_000_000 + i, 0) for k, v in run["metrics"].items()],
            params=[Param(k, v) for k, v in run["params"].items()],
            tags=[RunTag(k, v) for k, v in run["tags"].items()],
        )
        client.set_terminated(run_id)
    return "MlflowClient.log_batch"


def _mlflow_c_search(spec: dict[str, Any]) -> dict[str, Any]:
    mlflow = _import_mlflow(spec)
    experiment_ids = [spec["experiment_id"]]

    def search() -> Any:
        return mlflow.search_runs(
            experiment_ids=experiment_ids,
            filter_string=SEARCH_FILTER,
            order_by=SEARCH_ORDER,
            max_results=SEARCH_MAX_RESULTS,
        )

    # Cold: MLflow opens its store (SQLAlchemy engine, schema check) on first use.
    started = time.perf_counter()
    client = mlflow.MlflowClient()
    client._tracking_client.store  # noqa: B018 - the property opens the store
    opened = time.perf_counter()
    frame = search()
    finished = time.perf_counter()
    return _search_result(
        open_s=opened - started, first_call_s=finished - opened, frame=frame, search=search
    )


def _search_result(
    *, open_s: float, first_call_s: float, frame: Any, search: Callable[[], Any]
) -> dict[str, Any]:
    warm = []
    for _ in range(SEARCH_WARM_REPEATS):
        started = time.perf_counter()
        search()
        warm.append(time.perf_counter() - started)
    return {
        "open_s": open_s,
        "first_call_s": first_call_s,
        "cold_s": open_s + first_call_s,
        "warm_s": warm,
        "warm_median_s": median(warm),
        "rows": len(frame),
        # Tag "idx" of the runs returned, in order: both tools must agree on them.
        "result_idx": [str(v) for v in frame["tags.idx"]] if len(frame) else [],
    }


# =====================================================================================
# The parent: orchestrates children, prints and saves the comparison
# =====================================================================================


class WorkerFailed(RuntimeError):
    pass


def _child_env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARKTRACK_", "MLFLOW_"))}
    # Each tool keeps all its state in the workload's temporary folder.
    env["SPARKTRACK_JOURNAL_DIR"] = str(workdir / "journal")
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"
    env["MLFLOW_ENABLE_ASYNC_LOGGING"] = "false"  # synchronous, MLflow's default
    env["MLFLOW_LOGGING_LEVEL"] = "ERROR"
    env["PYTHONWARNINGS"] = "ignore"
    return env


def run_worker(tool: str, task: str, workdir: Path, sizes: Sizes, **extra: Any) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    result_path = workdir / f"{task}.{tool}.result.json"
    log_path = workdir / f"{task}.{tool}.log"
    spec = {
        "tool": tool,
        "task": task,
        "dir": str(workdir),
        "sizes": sizes.__dict__,
        "result_path": str(result_path),
        **extra,
    }
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    with log_path.open("w") as log:
        # cwd = the temporary folder: no ./conf/sparktrack.yaml, no ./mlruns left behind.
        completed = subprocess.run(
            command,
            cwd=workdir,
            env=_child_env(workdir),
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=WORKER_TIMEOUT_SECONDS,
            check=False,
        )
    if completed.returncode != 0 or not result_path.exists():
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
        raise WorkerFailed(f"{tool} {task} exited with {completed.returncode}:\n{tail}")
    result: dict[str, Any] = json.loads(result_path.read_text())
    return result


def _a_expected(sizes: Sizes) -> dict[str, int]:
    return {
        "runs": sizes.a_runs,
        "params": sizes.a_runs * sizes.a_params,
        "metrics": sizes.a_runs * sizes.a_metrics,
    }


def bench_a(tools: list[str], root: Path, sizes: Sizes) -> dict[str, Any]:
    repeats: dict[str, list[dict[str, Any]]] = {tool: [] for tool in tools}
    problems: list[str] = []
    for repeat in range(sizes.a_repeats):
        for tool in balanced_order(tools, repeat):
            result = run_worker(tool, "a", root / f"a-{tool}-{repeat}", sizes)
            repeats[tool].append(result)
            say(
                f"  (a) {tool:<10} repeat {repeat + 1}/{sizes.a_repeats} "
                f"{format_seconds(result['seconds']):>9}  "
                f"{format_rate(result['runs'] / result['seconds'], 'runs')}  (stored "
                f"{result['stored']})"
            )
            if result["stored"] != _a_expected(sizes):
                problems.append(
                    f"(a) {tool} repeat {repeat + 1} stored {result['stored']}, expected "
                    f"{_a_expected(sizes)}"
                )
    out: dict[str, Any] = {"problems": problems}
    for tool, results in repeats.items():
        seconds = [r["seconds"] for r in results]
        out[tool] = {"seconds": spread(seconds), "repeats": results}
    return out


def bench_b(tools: list[str], root: Path, sizes: Sizes) -> dict[str, Any]:
    repeats: dict[str, list[dict[str, Any]]] = {tool: [] for tool in tools}
    problems: list[str] = []
    for repeat in range(sizes.b_repeats):
        for tool in balanced_order(tools, repeat):
            result = run_worker(tool, "b", root / f"b-{tool}-{repeat}", sizes)
            repeats[tool].append(result)
            latency = result["latency"]
            say(
                f"  (b) {tool:<10} repeat {repeat + 1}/{sizes.b_repeats} "
                f"{format_seconds(result['seconds']):>9}  "
                f"{format_rate(result['points_per_s'], 'points')}  per call p50 "
                f"{format_seconds(latency['p50_s'])}, p99 {format_seconds(latency['p99_s'])}"
            )
            if result["history_points_checked"] != sizes.b_steps:
                problems.append(
                    f"(b) {tool} repeat {repeat + 1}: a metric's history has "
                    f"{result['history_points_checked']} points, expected {sizes.b_steps}"
                )
    out: dict[str, Any] = {"problems": problems}
    for tool, results in repeats.items():
        out[tool] = {
            "seconds": spread([r["seconds"] for r in results]),
            "points_per_s": median([r["points_per_s"] for r in results]),
            # The median repeat's percentiles (each repeat has b_calls latencies).
            "latency": {
                key: median([r["latency"][key] for r in results])
                for key in ("p50_s", "p90_s", "p99_s")
            },
            "repeats": results,
        }
    return out


def bench_s(tools: list[str], root: Path, sizes: Sizes) -> dict[str, Any]:
    """Snapshots on against off, sparktrack only (MLflow has no such snapshot)."""
    settings = {"on": True, "off": False}
    repeats: dict[str, list[dict[str, Any]]] = {name: [] for name in settings}
    problems: list[str] = []
    for repeat in range(sizes.s_repeats):
        for name in balanced_order(list(settings), repeat):
            workdir = root / f"s-{name}-{repeat}"
            result = run_worker("sparktrack", "s", workdir, sizes, snapshots=settings[name])
            repeats[name].append(result)
            say(
                f"  (s) snapshots {name:<3} repeat {repeat + 1}/{sizes.s_repeats} "
                f"{format_seconds(result['seconds']):>9}  "
                f"{format_rate(result['runs'] / result['seconds'], 'runs')}  start_run p50 "
                f"{format_seconds(result['start_run']['p50_s'])}"
            )
            # On: every run tagged, one folder for them all; off: neither.
            expected = (sizes.s_runs, 1) if settings[name] else (0, 0)
            found = (result["tagged"], result["snapshot_folders"])
            if result["runs"] != sizes.s_runs or found != expected:
                problems.append(
                    f"(s) snapshots {name}, repeat {repeat + 1}: {result['runs']} runs, "
                    f"(tagged, folders) {found}, expected {sizes.s_runs} runs and {expected}"
                )
    out: dict[str, Any] = {"problems": problems}
    for name, results in repeats.items():
        out[name] = {
            "seconds": spread([r["seconds"] for r in results]),
            "start_run_p50_s": median([r["start_run"]["p50_s"] for r in results]),
            "repeats": results,
        }
    return out


def _searches(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Cold and warm figures over repeated searches of one store."""
    colds = [r["cold_s"] for r in results]
    warms = [w for r in results for w in r["warm_s"]]
    return {
        "cold_s": median(colds),
        "cold": spread(colds),
        "warm_median_s": median(warms),
        "warm": spread(warms),
        "rows": results[0]["rows"],
        "result_idx": results[0]["result_idx"],
        "same_runs_every_repeat": all(r["result_idx"] == results[0]["result_idx"] for r in results),
        "repeats": results,
    }


def _search_repeats(
    tools: list[str], workdirs: dict[str, Path], sizes: Sizes, experiments: dict[str, str]
) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {tool: [] for tool in tools}
    for repeat in range(sizes.c_repeats):
        for tool in balanced_order(tools, repeat):
            search = run_worker(
                tool, "c_search", workdirs[tool], sizes, experiment_id=experiments[tool]
            )
            found[tool].append(search)
            say(
                f"  (c) {tool:<10} repeat {repeat + 1}/{sizes.c_repeats} cold "
                f"{format_seconds(search['cold_s'])} (open {format_seconds(search['open_s'])} "
                f"+ first call {format_seconds(search['first_call_s'])}), warm median "
                f"{format_seconds(search['warm_median_s'])}, {search['rows']} rows"
            )
    return found


def bench_c(tools: list[str], root: Path, sizes: Sizes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    workdirs = {tool: root / f"c-{tool}" for tool in tools}
    experiments: dict[str, str] = {}
    for tool in tools:
        populated = run_worker(tool, "c_populate", workdirs[tool], sizes)
        experiments[tool] = populated["experiment_id"]
        out[tool] = {"populate": populated}
        say(
            f"  (c) {tool:<10} populated {sizes.c_runs:,} runs in "
            f"{format_seconds(populated['seconds'])} (untimed setup"
            + (f", {populated['method']})" if "method" in populated else ")")
        )
        if "files" in populated:
            say(f"      data files per table after populate: {populated['files']}")
    for tool, results in _search_repeats(tools, workdirs, sizes, experiments).items():
        out[tool]["search"] = _searches(results)
    if "sparktrack" in tools:
        # Measure after compaction as well, to tell whether `sparktrack gc` is needed
        # after a bulk load; which figure is reported is decided below.
        entry = out["sparktrack"]
        compacted = run_worker("sparktrack", "c_compact", workdirs["sparktrack"], sizes)
        entry["compact"] = compacted
        if "skipped" not in compacted:
            say(
                f"  (c) sparktrack compacted in {format_seconds(compacted['seconds'])} "
                f"(untimed; files {compacted['files']})"
            )
            after = _search_repeats(["sparktrack"], workdirs, sizes, experiments)
            entry["search_after_compaction"] = _searches(after["sparktrack"])
    _choose_sparktrack_search(out)
    problems = [
        f"(c) {tool} returned different runs in different repeats"
        for tool in tools
        if not out[tool]["search"]["same_runs_every_repeat"]
    ]
    if "mlflow" in out and "sparktrack" in out:
        same = out["sparktrack"]["search"]["result_idx"] == out["mlflow"]["search"]["result_idx"]
        out["results_agree"] = same
        say(f"  (c) both tools return the same runs in the same order: {'yes' if same else 'NO'}")
        if not same:
            problems.append("(c) sparktrack and MLflow return different runs or orders")
    out["problems"] = problems
    return out


def _search_meets_target(search: dict[str, Any], mlflow: dict[str, Any] | None) -> bool:
    for key in ("cold_s", "warm_median_s"):
        if search[key] > TARGET_C_SECONDS:
            return False
        if mlflow is not None and search[key] >= mlflow[key]:
            return False
    return True


def _choose_sparktrack_search(out: dict[str, Any]) -> None:
    """Report the store as populated, unless only a compacted store meets the target."""
    entry = out.get("sparktrack")
    if entry is None:
        return
    mlflow_search = out["mlflow"]["search"] if "mlflow" in out else None
    as_loaded = entry["search"]
    compacted = entry.get("search_after_compaction")
    needs_gc = (
        compacted is not None
        and not _search_meets_target(as_loaded, mlflow_search)
        and _search_meets_target(compacted, mlflow_search)
    )
    entry["reported"] = "after_compaction" if needs_gc else "as_populated"
    entry["reported_search"] = compacted if needs_gc else as_loaded
    if needs_gc:
        say(
            "  (c) sparktrack needs compaction (`sparktrack gc`) after the bulk populate to "
            "meet the target: the reported figures are after compaction, run as untimed setup"
        )
    else:
        say("  (c) sparktrack figures reported for the store as populated (no compaction)")


# -- the summary table ------------------------------------------------------------------


def _p50_p99(latency: dict[str, float]) -> str:
    return f"{format_seconds(latency['p50_s'])} / {format_seconds(latency['p99_s'])}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}x"


def _met(ok: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "n/a"}[ok]


def summary_rows(
    results: dict[str, Any], sizes: Sizes, with_mlflow: bool, mlflow_installed: bool
) -> list[list[str]]:
    missing = "mlflow not installed" if not mlflow_installed else "skipped (--skip-mlflow)"
    rows: list[list[str]] = []
    if "a" in results:
        a = results["a"]
        spark = a["sparktrack"]["seconds"]
        ml = a["mlflow"]["seconds"] if with_mlflow else None
        spark_s = spark["median"]
        ml_s = ml["median"] if ml else None
        speedup = ml_s / spark_s if ml_s else None
        rows.append(
            [
                f"(a) {sizes.a_runs:,} runs x {sizes.a_params} params x {sizes.a_metrics} metrics",
                f"{format_spread(spark)} ({format_rate(sizes.a_runs / spark_s, 'runs')})",
                f"{format_spread(ml)} ({format_rate(sizes.a_runs / ml_s, 'runs')})"
                if ml and ml_s
                else missing,
                _ratio(speedup),
                f"≥ {TARGET_A_SPEEDUP:g}x faster",
                _met(None if speedup is None else speedup >= TARGET_A_SPEEDUP),
            ]
        )
    if "b" in results:
        b = results["b"]
        spark_rate = b["sparktrack"]["points_per_s"]
        ml_rate = b["mlflow"]["points_per_s"] if with_mlflow else None
        speedup = spark_rate / ml_rate if ml_rate else None
        rows.append(
            [
                f"(b) {sizes.b_calls:,} single log_metric calls",
                format_rate(spark_rate, "points"),
                format_rate(ml_rate, "points") if ml_rate else missing,
                _ratio(speedup),
                f"≥ {TARGET_B_SPEEDUP:g}x the rate",
                _met(None if speedup is None else speedup >= TARGET_B_SPEEDUP),
            ]
        )
        spark_latency = b["sparktrack"]["latency"]
        ml_latency = b["mlflow"]["latency"] if with_mlflow else None
        rows.append(
            [
                "(b) log_metric latency p50 / p99",
                _p50_p99(spark_latency),
                _p50_p99(ml_latency) if ml_latency else missing,
                _ratio(ml_latency["p50_s"] / spark_latency["p50_s"]) if ml_latency else "—",
                "—",
                "—",
            ]
        )
    if "c" in results:
        c = results["c"]
        spark = c["sparktrack"]["reported_search"]
        ml = c["mlflow"]["search"] if with_mlflow else None
        gc_note = " (after gc)" if c["sparktrack"]["reported"] == "after_compaction" else ""
        for key, spread_key, label in (
            ("cold_s", "cold", "cold, first call in a new process"),
            ("warm_median_s", "warm", "warm"),
        ):
            speedup = ml[key] / spark[key] if ml else None
            within = spark[key] <= TARGET_C_SECONDS
            rows.append(
                [
                    f"(c) search_runs over {sizes.c_runs:,} runs, {label}",
                    format_spread(spark[spread_key]) + gc_note,
                    format_spread(ml[spread_key]) if ml else missing,
                    _ratio(speedup),
                    f"≤ {TARGET_C_SECONDS:g} s and faster",
                    _met(within and (speedup is None or speedup > 1)),
                ]
            )
    if "s" in results:
        s_out = results["s"]
        on_s, off_s = s_out["on"]["seconds"]["median"], s_out["off"]["seconds"]["median"]
        rows.append(
            [
                f"(s) {sizes.s_runs:,} runs, snapshots on / off",
                f"{format_rate(sizes.s_runs / on_s, 'runs')} / "
                f"{format_rate(sizes.s_runs / off_s, 'runs')}",
                "—",
                f"{off_s / on_s:.2f}x the rate",
                "—",
                "—",
            ]
        )
    return rows


def summary_notes(results: dict[str, Any], sizes: Sizes, with_mlflow: bool) -> list[str]:
    """What a reader of the table needs to know about how (c) was set up."""
    notes = []
    c = results.get("c")
    if c and "sparktrack" in c:
        spark = c["sparktrack"]
        if spark["reported"] == "after_compaction":
            notes.append(
                "(c) sparktrack: store compacted (`sparktrack gc`) after the bulk "
                "populate, as untimed setup; it misses the target without it."
            )
        else:
            notes.append("(c) sparktrack: store as populated, no compaction before searching.")
        if "search_after_compaction" in spark:
            after = spark["search_after_compaction"]
            notes.append(
                f"(c) sparktrack after compaction: cold {format_seconds(after['cold_s'])}"
                f", warm {format_seconds(after['warm_median_s'])}."
            )
    if c and with_mlflow and "mlflow" in c:
        notes.append(
            f"(c) MLflow store populated by {c['mlflow']['populate']['method']} "
            "(untimed); both tools returned the same runs in the same order: "
            f"{'yes' if c.get('results_agree') else 'NO'}."
        )
    if "a" in results or "b" in results:
        notes.append(
            "(a), (b): sparktrack timings end with sparktrack.flush(), so everything "
            "is committed to Delta; MLflow logs synchronously to SQLite."
        )
    if "s" in results:
        s_out = results["s"]
        notes.append(
            "(s) start_run + end_run, then flush() (which waits for the snapshots); "
            "start_run p50 with snapshots on "
            f"{format_seconds(s_out['on']['start_run_p50_s'])}, off "
            f"{format_seconds(s_out['off']['start_run_p50_s'])}."
        )
    if c:
        notes.append(
            "(c) cold = open the store + first search_runs in a fresh process (imports "
            f"excluded), {sizes.c_repeats} processes per tool; warm = "
            f"{SEARCH_WARM_REPEATS} more searches in each of them."
        )
    notes.append(
        f"Median [min, max] of the repeats ((a) {sizes.a_repeats}, (b) {sizes.b_repeats}, "
        f"(c) {sizes.c_repeats}), the tools in a balanced order; (b)'s latencies are the "
        "median of each repeat's percentiles. Checked: every run, param and metric stored "
        "by both tools, full metric histories, the same runs in the same order from both "
        "searches."
    )
    return notes


# -- entry point ----------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_arguments(
        parser,
        quick="scale every workload down 10x (a smoke run, < 2 minutes)",
        keep_tmp="keep the temporary stores and the child processes' logs",
    )
    parser.add_argument(
        "--only",
        default=",".join(WORKLOADS),
        help="comma-separated workloads to run, from a,b,c,s (default: all)",
    )
    parser.add_argument(
        "--repeats", type=int, help="repeats per tool for every workload (use even numbers)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one measurement
    args = parser.parse_args(argv)
    chosen = [w.strip().lower() for w in args.only.split(",") if w.strip()]
    unknown = sorted(set(chosen) - set(WORKLOADS))
    if unknown or not chosen:
        parser.error(f"--only takes a comma-separated subset of a,b,c,s; got {args.only!r}")
    args.only = [w for w in WORKLOADS if w in chosen]
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be >= 1")
    refuse_partial_readme_run(parser, args, {"--only": args.only != list(WORKLOADS)})
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        _worker_main(json.loads(args.worker))
        return 0

    sizes = QUICK if args.quick else FULL
    if args.repeats is not None:
        sizes = Sizes(
            **{
                **sizes.__dict__,
                "a_repeats": args.repeats,
                "b_repeats": args.repeats,
                "c_repeats": args.repeats,
                "s_repeats": args.repeats,
            }
        )
    mlflow_choice = choose_mlflow(args)
    with_mlflow, mlflow_installed = mlflow_choice.used, mlflow_choice.installed
    tools = list(TOOLS) if with_mlflow else ["sparktrack"]
    machine = machine_description()
    say(
        f"sparktrack vs MLflow tracking benchmark ({'quick' if args.quick else 'full'}, "
        f"workloads {','.join(args.only)})"
    )
    say(machine_line(machine))
    if not with_mlflow:
        say("mlflow not installed" if not mlflow_installed else "MLflow skipped (--skip-mlflow)")
    else:
        say("MLflow: SQLite store, synchronous logging (MLFLOW_ENABLE_ASYNC_LOGGING=false)")

    root = Path(tempfile.mkdtemp(prefix="sparktrack-bench-"))
    benches = {"a": bench_a, "b": bench_b, "c": bench_c, "s": bench_s}
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    started = time.perf_counter()
    try:
        for workload in args.only:
            say(f"workload ({workload}) ...")
            try:
                results[workload] = benches[workload](tools, root, sizes)
            except (WorkerFailed, subprocess.TimeoutExpired) as exc:
                errors[workload] = str(exc)
                say(f"  ({workload}) FAILED: {exc}")
    finally:
        if args.keep_tmp:
            say(f"temporary stores and logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    elapsed = time.perf_counter() - started
    machine["load_avg_end"] = load_average()
    problems = [problem for result in results.values() for problem in result["problems"]]

    rows = summary_rows(results, sizes, with_mlflow, mlflow_installed)
    table = markdown_table(["workload", "sparktrack", "MLflow", "ratio", "target", "met?"], rows)
    notes = summary_notes(results, sizes, with_mlflow)
    print_summary(table, notes, machine)
    versions = package_versions(("sparktrack", "deltalake", "pyarrow", "pandas", "mlflow"))
    mlflow_version = versions["mlflow"] if with_mlflow else None
    tree = source_tree()
    mlflow_text = (
        f", MLflow {mlflow_version} (SQLite)"
        if mlflow_version
        else ", mlflow not installed"
        if not mlflow_installed
        else ", MLflow skipped"
    )
    say(
        f"sparktrack {versions['sparktrack']} ({tree['describe']}){mlflow_text}; "
        f"benchmark took {format_seconds(elapsed)}"
    )
    partial = partial_reasons(
        (f"workloads {','.join(args.only)} only", args.only != list(WORKLOADS)),
        ("no MLflow", not with_mlflow),
        (f"failed: {', '.join(errors)}", bool(errors)),
        ("tools disagree", bool(problems)),
    )
    fields = {
        "sizes": sizes.__dict__,
        "workloads": args.only,
        "with_mlflow": with_mlflow,
        "mlflow_installed": mlflow_installed,
        "versions": versions,
        "source_tree": tree,
        "machine": machine,
        "search": {
            "filter_string": SEARCH_FILTER,
            "order_by": SEARCH_ORDER,
            "max_results": SEARCH_MAX_RESULTS,
            "warm_repeats": SEARCH_WARM_REPEATS,
        },
        "targets": {
            "a_speedup": TARGET_A_SPEEDUP,
            "b_speedup": TARGET_B_SPEEDUP,
            "c_seconds": TARGET_C_SECONDS,
        },
        "results": results,
        "errors": errors,
        "disagreements": problems,
    }
    return publish(
        BENCH_NAME,
        quick=args.quick,
        partial=partial,
        fields=fields,
        table=table,
        notes=notes,
        elapsed=elapsed,
        update=args.update_readme,
        failed=bool(errors),
        problems=[f"the tools disagree: {problem}" for problem in problems],
    )


if __name__ == "__main__":
    run_main(main)
