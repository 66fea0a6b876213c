"""The work behind each page of the web UI, at 10,000 and 100,000 runs, against MLflow.

A store of 100,000 runs (20 params, 10 metrics of 100 steps, tags, 20% nested, 4
experiments; run 0 also has a metric ``curve`` of 100,000 points) is built in bulk
(bench/_bulk_store.py), and the same first 10,000 runs as a second sparktrack store and
in MLflow 3.17's SQLite store. Both sparktrack stores are maintained once as
``sparktrack gc`` does (compacted, clustered by run_id), as untimed setup. For each
page, the work its server does:

  runs page   search one experiment, filter ``metrics.m0 > 0.5 and params.p1 = 'x3'``,
              order by ``metrics.m1 DESC``, first 100 rows
  run page    one run: params, latest metrics, tags
  chart       run 0's 100,000-point ``curve`` (``get_metric_history_frame``),
              downsampled to 2,000 points
  compare     10 runs by id (filter ``attributes.run_id IN (...)``) and the history of
              ``m0`` of each
  memory      peak resident memory of the serving process

sparktrack is measured twice: through a ``sparktrack ui`` server over HTTP, with the
JSON API calls its pages make (/api/runs, /api/runs/<id>, /api/metric-history,
/api/compare), and through its API (the TrackingClient calls behind those pages) in a
process of its own, answers turned into JSON, as a breakdown. MLflow is measured
through ``mlflow server`` (SQLite, one worker) over HTTP, with the REST calls its UI
makes (runs/search, runs/get, metrics/get-history-bulk-interval, which samples on the
server). Cold: the first call in a new process or after the server started; warm:
``warm`` more calls of each page, interleaved. Each variant runs ``repeats`` times
(fresh processes), in a balanced order. The targets are judged on the UI server.

The two sides must agree or the script exits 1: the same runs, in the same order, for
the runs page and compare at 10,000 runs; the same params and latest metrics on the
run page; every point of the long curve stored.

In a browser (Debian's Chromium headless, driven by Playwright; the same browser for
both tools), each page from navigation to what it is for visible: the runs page's
first row (filter and order in its address), the run page's params, run 0's
100,000-point chart's trace, compare's curves; cold (a fresh browser context on a
freshly started server) and warm. MLflow's runs table is measured the same way (its
other pages are not). The runs page must show first the run its API returns first, or
the script exits 1. The issue's targets are judged on these rows at 100,000 runs.

Usage (from the repo root; the whole run takes about 10 minutes on 2 cores):

  PYTHONPATH=$PWD .venv-bench/bin/python bench/ui_latency.py
  PYTHONPATH=$PWD .venv-bench/bin/python bench/ui_latency.py --store /data/bench-100k
  PYTHONPATH=$PWD .venv/bin/python bench/ui_latency.py --quick --skip-mlflow

``--store`` keeps the 100,000-run store (and its 10,000-run and MLflow siblings) at
that path and reuses them when they are there. Results: a markdown table on stdout
and the raw results in bench/results/ui_latency-<date>-<commit>.json (--quick:
bench/out/).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

# Run as a script, so this folder is on sys.path and the shared helpers import directly.
from _bulk_store import LONG_HISTORY_KEY, BulkShape, experiment_names, run_id
from _common import (
    add_run_arguments,
    balanced_order,
    choose_mlflow,
    format_seconds,
    format_spread,
    load_average,
    machine_description,
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
from _mlflow_pages import mlflow_page_addresses

REPO = Path(__file__).resolve().parent.parent
BENCH_NAME = "ui_latency"
PAGES = ("runs", "run", "chart", "compare")
SEARCH_EXPERIMENT = "bench-0"
SEARCH_FILTER = "metrics.m0 > 0.5 and params.p1 = 'x3'"
SEARCH_ORDER = ["metrics.m1 DESC"]
PAGE_ROWS = 100
CHART_POINTS = 2_000
COMPARE_RUNS = 10
COMPARE_METRIC = "m0"
# The targets at 100,000 runs (the runs page's is a p95).
TARGETS = {"runs": 0.5, "run": 0.3, "chart": 0.5, "compare": 0.5}
TARGET_MEMORY_BYTES = 1 << 30
WORKER_TIMEOUT_SECONDS = 1800
SERVER_START_SECONDS = 180


@dataclass(frozen=True)
class Sizes:
    large_runs: int
    small_runs: int
    long_history: int
    repeats: int  # fresh processes per variant, in a balanced order (even)
    warm: int  # warm calls of each page per process


FULL = Sizes(large_runs=100_000, small_runs=10_000, long_history=100_000, repeats=2, warm=10)
QUICK = Sizes(large_runs=2_000, small_runs=1_000, long_history=10_000, repeats=2, warm=3)


def shape_of(runs: int, sizes: Sizes) -> BulkShape:
    # Batches of 10,000 runs (one commit each): the small store is the large one's
    # first batch, run for run.
    return BulkShape(runs=runs, long_history=sizes.long_history, long_history_run=0)


def compare_ids(shape: BulkShape) -> list[str]:
    """Ten runs spread over the first 10,000 (every variant holds them)."""
    last = min(shape.runs, 10_000)
    return [run_id(shape, (i * 997 + 13) % last) for i in range(COMPARE_RUNS)]


def run_page_id(shape: BulkShape) -> str:
    return run_id(shape, min(shape.runs, 10_000) // 2 + 1)


def downsample(steps: list[int], values: list[float], points: int) -> tuple[list[int], list[float]]:
    """Min/max buckets: the smallest and largest value of each of ``points / 2`` buckets,
    in step order (what the UI draws for a long series)."""
    if len(values) <= points:
        return steps, values
    buckets = points // 2
    edges = np.linspace(0, len(values), buckets + 1).astype(np.int64)
    array = np.asarray(values, dtype=np.float64)
    out_steps: list[int] = []
    out_values: list[float] = []
    for low, high in itertools.pairwise(edges):
        if high <= low:
            continue
        part = array[low:high]
        pair = sorted({int(low + np.nanargmin(part)), int(low + np.nanargmax(part))})
        out_steps += [steps[i] for i in pair]
        out_values += [values[i] for i in pair]
    return out_steps, out_values


# =====================================================================================
# Children: build a store, maintain it, measure one variant
# =====================================================================================


def _worker_main(spec: dict[str, Any]) -> None:
    handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
        "build_sparktrack": _build_sparktrack,
        "build_mlflow": _build_mlflow,
        "measure_sparktrack": _measure_sparktrack,
    }
    result = handlers[spec["task"]](spec)
    Path(spec["result_path"]).write_text(json.dumps(result))


def _build_sparktrack(spec: dict[str, Any]) -> dict[str, Any]:
    from _bulk_store import build_store

    import sparktrack

    shape = BulkShape(**spec["shape"])
    started = time.perf_counter()
    build_store(spec["store"], shape, say=say)
    built = time.perf_counter() - started
    client = sparktrack.TrackingClient(spec["store"])
    started = time.perf_counter()
    report = client.maintain()  # what `sparktrack gc` runs (without vacuum)
    ids = {}
    for name in experiment_names(shape):
        experiment = client.get_experiment_by_name(name)
        assert experiment is not None, f"the bulk store has no experiment {name}"
        ids[name] = experiment.experiment_id
    return {
        "build_s": built,
        "maintain_s": time.perf_counter() - started,
        "report": report,
        "experiment_ids": ids,
    }


def _build_mlflow(spec: dict[str, Any]) -> dict[str, Any]:
    import logging
    import warnings

    warnings.simplefilter("ignore")
    from _bulk_store import build_mlflow_store

    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    shape = BulkShape(**spec["shape"])
    started = time.perf_counter()
    ids = build_mlflow_store(spec["uri"], spec["artifacts"], shape, say=say)
    return {"build_s": time.perf_counter() - started, "experiment_ids": ids}


def _memory_of(pid: int | str = "self") -> dict[str, int]:
    """Resident memory now and at its peak (bytes), from /proc."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) * 1024
    return {"rss": found.get("VmRSS", 0), "peak": found.get("VmHWM", 0)}


class _SparktrackPages:
    """The work behind each page, as the UI's server does it, answers as JSON."""

    def __init__(self, store: str, shape: BulkShape) -> None:
        import sparktrack

        self.sparktrack = sparktrack
        self.client = sparktrack.TrackingClient(store)
        self.shape = shape
        experiment = self.client.get_experiment_by_name(SEARCH_EXPERIMENT)
        assert experiment is not None, "the bulk store has no experiment " + SEARCH_EXPERIMENT
        self.experiment_id = experiment.experiment_id

    def runs(self) -> dict[str, Any]:
        frame = self.client.search_runs(
            [self.experiment_id], SEARCH_FILTER, "ACTIVE_ONLY", PAGE_ROWS, SEARCH_ORDER
        )
        body = frame.to_json(orient="records", date_format="epoch")
        return {"run_ids": list(frame["run_id"]), "bytes": len(body)}

    def run(self) -> dict[str, Any]:
        run = self.client.get_run(run_page_id(self.shape))
        body = json.dumps(
            {"info": asdict(run.info), "data": asdict(run.data)}, default=str, allow_nan=True
        )
        return {
            "params": run.data.params,
            "metrics": run.data.metrics,
            "bytes": len(body),
        }

    def chart(self) -> dict[str, Any]:
        history = self.client.get_metric_history_frame(run_id(self.shape, 0), LONG_HISTORY_KEY)
        steps, values = downsample(
            history["step"].tolist(), history["value"].tolist(), CHART_POINTS
        )
        body = json.dumps({"steps": steps, "values": values})
        return {"points": len(history), "drawn": len(steps), "bytes": len(body)}

    def compare(self) -> dict[str, Any]:
        ids = compare_ids(self.shape)
        quoted = ", ".join(f"'{rid}'" for rid in ids)
        frame = self.client.search_runs(
            None, f"attributes.run_id IN ({quoted})", "ACTIVE_ONLY", COMPARE_RUNS
        )
        curves = {rid: self.client.get_metric_history_frame(rid, COMPARE_METRIC) for rid in ids}
        body = frame.to_json(orient="records") + json.dumps(
            {
                rid: [points["step"].tolist(), points["value"].tolist()]
                for rid, points in curves.items()
            }
        )
        return {
            "run_ids": sorted(frame["run_id"]),
            "latest": {
                rid: float(points["value"].iloc[-1])
                for rid, points in curves.items()
                if len(points)
            },
            "bytes": len(body),
        }


def _measure(pages: Any, warm: int) -> dict[str, Any]:
    """Cold (first) then ``warm`` interleaved calls of each page; answers of the first."""
    timings: dict[str, dict[str, Any]] = {}
    answers: dict[str, Any] = {}
    for page in PAGES:
        started = time.perf_counter()
        answers[page] = getattr(pages, page)()
        timings[page] = {"cold_s": time.perf_counter() - started, "warm_s": []}
    for _ in range(warm):
        for page in PAGES:
            started = time.perf_counter()
            getattr(pages, page)()
            timings[page]["warm_s"].append(time.perf_counter() - started)
    return {"timings": timings, "answers": answers}


def _measure_sparktrack(spec: dict[str, Any]) -> dict[str, Any]:
    import sparktrack  # imports are not part of any page's time

    del sparktrack
    shape = BulkShape(**spec["shape"])
    started = time.perf_counter()
    pages = _SparktrackPages(spec["store"], shape)
    opened = time.perf_counter() - started
    result = _measure(pages, spec["warm"])
    result["open_s"] = opened
    result["memory"] = _memory_of()
    return result


# -- MLflow through its server ---------------------------------------------------------


class _MlflowPages:
    """The REST calls MLflow's UI makes for each page, on one kept-alive connection."""

    def __init__(self, port: int, shape: BulkShape, experiment_ids: dict[str, str]) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.shape = shape
        self.experiment_id = experiment_ids[SEARCH_EXPERIMENT]
        self.all_experiments = [experiment_ids[name] for name in experiment_names(shape)]

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        payload = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"} if payload else {}
        self.connection.request(method, path, body=payload, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"MLflow {method} {path} answered {response.status}: {data[:500]!r}")
        return json.loads(data)

    def _search(
        self, experiment_ids: list[str], filter_string: str, order: list[str], rows: int
    ) -> list[dict[str, Any]]:
        found = self._call(
            "POST",
            "/ajax-api/2.0/mlflow/runs/search",
            {
                "experiment_ids": experiment_ids,
                "filter": filter_string,
                "order_by": order,
                "max_results": rows,
                "run_view_type": "ACTIVE_ONLY",
            },
        )
        runs: list[dict[str, Any]] = found.get("runs", [])
        return runs

    def _history(self, run_ids: list[str], key: str, points: int) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode(
            [("run_ids", rid) for rid in run_ids] + [("metric_key", key), ("max_results", points)]
        )
        found = self._call("GET", f"/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?{query}")
        metrics: list[dict[str, Any]] = found.get("metrics", [])
        return metrics

    def runs(self) -> dict[str, Any]:
        runs = self._search([self.experiment_id], SEARCH_FILTER, SEARCH_ORDER, PAGE_ROWS)
        return {"run_ids": [r["info"]["run_id"] for r in runs]}

    def run(self) -> dict[str, Any]:
        query = urllib.parse.urlencode({"run_id": run_page_id(self.shape)})
        run = self._call("GET", f"/ajax-api/2.0/mlflow/runs/get?{query}")["run"]
        data = run.get("data", {})
        return {
            "params": {p["key"]: p["value"] for p in data.get("params", [])},
            "metrics": {m["key"]: float(m["value"]) for m in data.get("metrics", [])},
        }

    def chart(self) -> dict[str, Any]:
        # The UI's charts ask the server for a sample (at most 2,500 points per run).
        points = self._history([run_id(self.shape, 0)], LONG_HISTORY_KEY, min(CHART_POINTS, 2500))
        return {"drawn": len(points)}

    def compare(self) -> dict[str, Any]:
        ids = compare_ids(self.shape)
        quoted = ", ".join(f"'{rid}'" for rid in ids)
        runs = self._search(
            self.all_experiments, f"attributes.run_id IN ({quoted})", [], COMPARE_RUNS
        )
        curves = self._history(ids, COMPARE_METRIC, 2500)
        latest: dict[str, tuple[int, float]] = {}
        for point in curves:
            step = int(point.get("step", 0))
            if point["run_id"] not in latest or step >= latest[point["run_id"]][0]:
                latest[point["run_id"]] = (step, float(point["value"]))
        return {
            "run_ids": sorted(r["info"]["run_id"] for r in runs),
            "latest": {rid: value for rid, (_, value) in latest.items()},
        }

    def full_history_length(self, run: str, key: str) -> int:
        """Every point MLflow stored for the metric (paged get-history; untimed check)."""
        count, token = 0, None
        while True:
            params = {"run_id": run, "metric_key": key, "max_results": 25000}
            if token:
                params["page_token"] = token
            page = self._call(
                "GET", "/ajax-api/2.0/mlflow/metrics/get-history?" + urllib.parse.urlencode(params)
            )
            count += len(page.get("metrics", []))
            token = page.get("next_page_token")
            if not token:
                return count


def _free_port() -> int:
    # The OS picks the port; the server binds it a moment later.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _process_tree_memory(pid: int) -> int:
    """Resident memory of a process and its descendants (bytes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError):  # it exited meanwhile
            total += _memory_of(current)["rss"]
        todo += children.get(current, [])
    return total


@contextlib.contextmanager
def _server(
    command: list[str], health: str, port: int, workdir: Path, env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """A server process started, up (``health`` answers 200), and stopped after.

    Yields the process and how long it took to come up.
    """
    log = (workdir / f"server-{port}.log").open("w")
    server = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env, start_new_session=True
    )
    try:
        started = time.perf_counter()
        deadline = started + SERVER_START_SECONDS
        while True:
            if server.poll() is not None:
                tail = Path(log.name).read_text(errors="replace")[-3000:]
                raise WorkerFailed(f"{command[:4]} exited with {server.returncode}:\n{tail}")
            with contextlib.suppress(OSError):
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", health)
                if connection.getresponse().status == 200:
                    break
            if time.perf_counter() > deadline:
                raise WorkerFailed(
                    f"{command[:4]} not up after {SERVER_START_SECONDS} s: {log.name}"
                )
            time.sleep(0.2)  # polling a condition with a deadline
        yield server, time.perf_counter() - started
    finally:
        # The server's whole session (MLflow starts workers), unless it is gone already.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, 15)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, 9)
            server.wait()
        log.close()


def _mlflow_server_command(uri: str, artifacts: str, port: int) -> list[str]:
    """``mlflow server`` on loopback with one worker, over the SQLite store at ``uri``."""
    return [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--backend-store-uri",
        uri,
        "--default-artifact-root",
        artifacts,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]


def measure_mlflow(
    workdir: Path, uri: str, artifacts: str, shape: BulkShape, ids: dict[str, str], warm: int
) -> dict[str, Any]:
    port = _free_port()
    command = _mlflow_server_command(uri, artifacts, port)
    with _server(command, "/health", port, workdir, _child_env()) as (server, start_s):
        pages = _MlflowPages(port, shape, ids)
        result = _measure(pages, warm)
        result["start_s"] = start_s
        result["memory"] = {"rss": _process_tree_memory(server.pid), "peak": None}
        result["long_history_points"] = pages.full_history_length(
            run_id(shape, 0), LONG_HISTORY_KEY
        )
        return result


class _UiPages:
    """The JSON API calls ``sparktrack ui``'s pages make, on one kept-alive connection."""

    def __init__(self, port: int, shape: BulkShape, experiment_id: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.shape = shape
        self.experiment_id = experiment_id

    def _get(self, path: str, query: list[tuple[str, Any]]) -> Any:
        self.connection.request("GET", f"{path}?{urllib.parse.urlencode(query)}")
        response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(
                f"sparktrack ui GET {path} answered {response.status}: {data[:500]!r}"
            )
        return json.loads(data)

    def _curves(self, run_ids: list[str], key: str) -> list[dict[str, Any]]:
        query = [("run_id", rid) for rid in run_ids] + [("key", key), ("max_points", CHART_POINTS)]
        series: list[dict[str, Any]] = self._get("/api/metric-history", query)["series"]
        return series

    def runs(self) -> dict[str, Any]:
        # Flat (nested=false), as MLflow's search returns them, so both can be compared;
        # the columns the runs table shows for this query.
        query = [
            ("experiment_id", self.experiment_id),
            ("filter", SEARCH_FILTER),
            *[("order_by", order) for order in SEARCH_ORDER],
            ("limit", PAGE_ROWS),
            ("nested", "false"),
            ("metrics", "m0"),
            ("metrics", "m1"),
            ("params", "p1"),
        ]
        page = self._get("/api/runs", query)
        return {"run_ids": [row["run_id"] for row in page["rows"]]}

    def run(self) -> dict[str, Any]:
        run = self._get(f"/api/runs/{run_page_id(self.shape)}", [])
        return {
            "params": run["params"],
            "metrics": {k: float(v) for k, v in run["metrics"].items()},
        }

    def chart(self) -> dict[str, Any]:
        [curve] = self._curves([run_id(self.shape, 0)], LONG_HISTORY_KEY)
        return {"points": curve["total_points"], "drawn": len(curve["x"])}

    def compare(self) -> dict[str, Any]:
        ids = compare_ids(self.shape)
        compared = self._get("/api/compare", [("run_id", rid) for rid in ids])
        curves = self._curves(ids, COMPARE_METRIC)
        return {
            "run_ids": sorted(run["run_id"] for run in compared["runs"]),
            "latest": {curve["run_id"]: float(curve["y"][-1]) for curve in curves if curve["y"]},
        }


def measure_ui(
    workdir: Path, store: str, shape: BulkShape, experiment_id: str, warm: int
) -> dict[str, Any]:
    """The pages through a ``sparktrack ui`` server on ``store``, cold then warm."""
    port = _free_port()
    command = [sys.executable, "-m", "sparktrack.cli", "--store", store, "ui", "--port", str(port)]
    env = {**_child_env(), "SPARKTRACK_JOURNAL_DIR": str(workdir / "journal")}
    with _server(command, "/api/info", port, workdir, env) as (server, start_s):
        result = _measure(_UiPages(port, shape, experiment_id), warm)
        result["start_s"] = start_s
        result["memory"] = _memory_of(server.pid)
        return result


# =====================================================================================
# The parent
# =====================================================================================


class WorkerFailed(RuntimeError):
    pass


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARKTRACK_", "MLFLOW_"))}
    # This checkout's sparktrack, whatever the venv has installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONWARNINGS"] = "ignore"
    env["MLFLOW_LOGGING_LEVEL"] = "ERROR"
    return env


def run_worker(task: str, workdir: Path, **spec: Any) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    stamp = f"{task}-{time.monotonic_ns()}"
    result_path = workdir / f"{stamp}.json"
    log_path = workdir / f"{stamp}.log"
    spec = {"task": task, "result_path": str(result_path), **spec}
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    env = {**_child_env(), "SPARKTRACK_JOURNAL_DIR": str(workdir / "journal")}
    with log_path.open("w") as log:
        completed = subprocess.run(
            command,
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=WORKER_TIMEOUT_SECONDS,
            check=False,
        )
    if completed.returncode != 0 or not result_path.exists():
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
        raise WorkerFailed(f"{task} exited with {completed.returncode}:\n{tail}")
    result: dict[str, Any] = json.loads(result_path.read_text())
    return result


@dataclass(frozen=True)
class Stores:
    large: Path
    small: Path
    mlflow_uri: str
    mlflow_artifacts: str
    mlflow_marker: Path


def prepare_stores(
    root: Path, sizes: Sizes, with_mlflow: bool, workdir: Path
) -> tuple[Stores, dict[str, Any]]:
    """Build what is missing (a marker file beside each store says it is complete)."""
    stores = Stores(
        large=root,
        small=root.with_name(root.name + "-small"),
        mlflow_uri=f"sqlite:///{root.with_name(root.name + '-mlflow.db')}",
        mlflow_artifacts=str(root.with_name(root.name + "-mlartifacts")),
        mlflow_marker=root.with_name(root.name + "-mlflow.json"),
    )
    setup: dict[str, Any] = {}
    for label, path, runs in (
        ("large", stores.large, sizes.large_runs),
        ("small", stores.small, sizes.small_runs),
    ):
        shape = shape_of(runs, sizes)
        marker = path.with_name(path.name + ".bulk.json")
        known = json.loads(marker.read_text()) if marker.exists() else {}
        if known.get("shape") == asdict(shape) and "experiment_ids" in known:
            say(f"  reusing the {runs:,}-run sparktrack store at {path}")
            setup[label] = json.loads(marker.read_text())
            continue
        shutil.rmtree(path, ignore_errors=True)
        say(f"  building the {runs:,}-run sparktrack store at {path} (then `gc`) ...")
        built = run_worker("build_sparktrack", workdir, store=str(path), shape=asdict(shape))
        built["shape"] = asdict(shape)
        marker.write_text(json.dumps(built))
        say(
            f"  built in {format_seconds(built['build_s'])}, "
            f"maintained in {format_seconds(built['maintain_s'])}"
        )
        setup[label] = built
    if with_mlflow:
        shape = shape_of(sizes.small_runs, sizes)
        marker = stores.mlflow_marker
        if marker.exists() and json.loads(marker.read_text()).get("shape") == asdict(shape):
            say(f"  reusing the {sizes.small_runs:,}-run MLflow store ({stores.mlflow_uri})")
            setup["mlflow"] = json.loads(marker.read_text())
        else:
            database = Path(stores.mlflow_uri.removeprefix("sqlite:///"))
            database.unlink(missing_ok=True)
            say(f"  inserting the {sizes.small_runs:,}-run MLflow store ({stores.mlflow_uri}) ...")
            built = run_worker(
                "build_mlflow",
                workdir,
                uri=stores.mlflow_uri,
                artifacts=stores.mlflow_artifacts,
                shape=asdict(shape),
            )
            built["shape"] = asdict(shape)
            marker.write_text(json.dumps(built))
            say(f"  inserted in {format_seconds(built['build_s'])}")
            setup["mlflow"] = built
    return stores, setup


# -- In a browser -------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"  # Debian's; a test tool's own browser download fails here
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]
BROWSER_TIMEOUT_MS = 300_000


@dataclass(frozen=True)
class BrowserPage:
    """A page as the browser opens it: its address (after the server's root) and the
    CSS selector of what it shows once drawn; ``first_row`` reads the first row's run id."""

    address: str
    drawn: str
    first_row: Callable[[Any], str | None] | None = None


def _sparktrack_first_row(page: Any) -> str | None:
    value: str | None = page.locator("[data-testid=run-row]").first.get_attribute("data-run-id")
    return value


def _mlflow_first_row(page: Any) -> str | None:
    # ag-grid's row id is MLflow's row uuid: the run id, after its group's when grouped.
    row_id: str | None = page.locator(".ag-row[row-index='0']").first.get_attribute("row-id")
    return row_id.rsplit(".", 1)[-1] if row_id else None


def sparktrack_browser_pages(shape: BulkShape, experiment_id: str) -> dict[str, BrowserPage]:
    """The UI's pages at the addresses its router reads (the runs page's filter and order
    in the address, as its filter box and headers leave them)."""
    runs = urllib.parse.urlencode({"e": experiment_id, "f": SEARCH_FILTER, "o": SEARCH_ORDER[0]})
    return {
        "runs": BrowserPage(f"#/runs?{runs}", "[data-testid=run-row]", _sparktrack_first_row),
        "run": BrowserPage(f"#/run/{run_page_id(shape)}", "[data-testid=params]"),
        "chart": BrowserPage(
            f"#/run/{run_id(shape, 0)}",
            f"[data-testid=chart][data-metric={LONG_HISTORY_KEY}][data-drawn=true] canvas",
        ),
        "compare": BrowserPage(
            "#/compare?" + urllib.parse.urlencode({"r": ",".join(compare_ids(shape))}),
            "[data-testid=compare-curves][data-drawn=true] canvas",
        ),
    }


def mlflow_browser_pages(shape: BulkShape, ids: dict[str, str]) -> dict[str, BrowserPage]:
    """MLflow's pages as its users open them (bench/_mlflow_pages.py says how each is
    found and what it waits for). The runs table takes the filter and order in its
    address, as its search box and sort menu leave them (``searchFilter``,
    ``orderByKey``, ``orderByAsc``); they are read on ``#/experiments/<id>/runs``, where
    ``#/experiments/<id>`` leads; on the latter they are ignored (the table opens
    unfiltered, newest first)."""
    experiment_id = ids[SEARCH_EXPERIMENT]
    key, direction = SEARCH_ORDER[0].rsplit(" ", 1)
    kind, name = key.split(".", 1)
    query = urllib.parse.urlencode(
        {
            "workflowType": "machine_learning",
            "searchFilter": SEARCH_FILTER,
            "orderByKey": f"{kind}.`{name}`",
            "orderByAsc": "true" if direction == "ASC" else "false",
        }
    )
    others = mlflow_page_addresses(
        experiment_id,
        run_page_id(shape),
        run_id(shape, 0),
        compare_ids(shape),
        [ids[name] for name in experiment_names(shape)],
        chart_key=LONG_HISTORY_KEY,
        compare_key=COMPARE_METRIC,
    )
    return {
        "runs": BrowserPage(
            f"#/experiments/{experiment_id}/runs?{query}",
            ".ag-center-cols-container .ag-row[row-index='0']",
            _mlflow_first_row,
        ),
        **{page: BrowserPage(address, drawn) for page, (address, drawn) in others.items()},
    }


# Runs in every document before its own scripts: notes, per page, when what the page is
# for first became visible, in the page's own clock (milliseconds since the navigation
# began). Read inside the page because Playwright's selector polling backs off (to 500 ms
# between checks), which would round the times up by as much.
_MARKS = """
(() => {
  const wanted = %s;
  const marks = {};
  window.__benchMarks = marks;
  const check = () => {
    for (const [name, selector] of Object.entries(wanted)) {
      if (name in marks) continue;
      const el = document.querySelector(selector);
      if (!el || !el.checkVisibility()) continue;
      marks[name] = null;
      // The frame that paints it starts with this callback.
      requestAnimationFrame(() => { marks[name] = performance.now(); });
    }
  };
  const everything = { subtree: true, childList: true, attributes: true };
  new MutationObserver(check).observe(document, everything);
})();
"""


def _open_timed(page: Any, url: str, name: str, drawn: str) -> float:
    """Seconds from navigation to ``drawn`` visible, by the page's clock; a whole
    document load each time (a blank page first, else a change of the address's fragment
    would not reload)."""
    page.goto("about:blank")
    page.goto(url, wait_until="commit")
    page.wait_for_selector(drawn, state="visible", timeout=BROWSER_TIMEOUT_MS)
    mark = f"window.__benchMarks && window.__benchMarks[{json.dumps(name)}]"
    deadline = time.monotonic() + 10
    while (ms := page.evaluate(mark)) is None and time.monotonic() < deadline:
        page.wait_for_timeout(5)
    if not isinstance(ms, int | float):
        raise RuntimeError(f"{url}: {drawn!r} showed, but the page did not note when")
    return float(ms) / 1000


def _new_context(browser: Any, pages: dict[str, BrowserPage] | None = None) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    if pages:
        context.add_init_script(
            _MARKS % json.dumps({name: page.drawn for name, page in pages.items()})
        )

    def keep_local(route: Any) -> None:  # nothing may leave the machine (as in the tests)
        if urllib.parse.urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            route.abort()

    context.route("**/*", keep_local)
    return context


def browser_timings(
    browser: Any, base_url: str, pages: dict[str, BrowserPage], warm: int
) -> dict[str, Any]:
    """Navigation to the first row (or trace) visible, per page, in Chromium.

    Cold: each page's first navigation, in a browser context of its own (empty cache
    and storage), on a server whose only earlier work is the pages before it. Warm:
    one untimed pass over the pages in one context, then ``warm`` timed passes,
    interleaved. Also what the runs page showed first, for the agreement check.
    """
    timings: dict[str, dict[str, Any]] = {}
    first_rows: dict[str, str | None] = {}
    for name, target in pages.items():
        context = _new_context(browser, pages)
        page = context.new_page()
        try:
            seconds = _open_timed(page, base_url + target.address, name, target.drawn)
            if target.first_row:
                first_rows[name] = target.first_row(page)
        finally:
            context.close()
        timings[name] = {"cold_s": seconds, "warm_s": []}
    context = _new_context(browser, pages)
    try:
        page = context.new_page()
        for name, target in pages.items():
            _open_timed(page, base_url + target.address, name, target.drawn)
        for _ in range(warm):
            for name, target in pages.items():
                seconds = _open_timed(page, base_url + target.address, name, target.drawn)
                timings[name]["warm_s"].append(seconds)
                if target.first_row and target.first_row(page) != first_rows[name]:
                    first_rows[name] = None  # a row that changes between loads disagrees
    finally:
        context.close()
    return {"timings": timings, "first_rows": first_rows}


def measure_ui_browser(
    browser: Any, workdir: Path, store: str, shape: BulkShape, experiment_id: str, warm: int
) -> dict[str, Any]:
    """The pages in the browser from a freshly started ``sparktrack ui``; with the first
    row the runs API returns for the runs page's query."""
    port = _free_port()
    command = [sys.executable, "-m", "sparktrack.cli", "--store", store, "ui", "--port", str(port)]
    env = {**_child_env(), "SPARKTRACK_JOURNAL_DIR": str(workdir / "journal")}
    with _server(command, "/api/info", port, workdir, env) as (_, start_s):
        result = browser_timings(
            browser,
            f"http://127.0.0.1:{port}/",
            sparktrack_browser_pages(shape, experiment_id),
            warm,
        )
        pages = _UiPages(port, shape, experiment_id)
        query = [
            ("experiment_id", experiment_id),
            ("filter", SEARCH_FILTER),
            *[("order_by", order) for order in SEARCH_ORDER],
            ("limit", PAGE_ROWS),
        ]
        rows = pages._get("/api/runs", query)["rows"]
        result["api_first_rows"] = {"runs": rows[0]["run_id"] if rows else None}
        result["start_s"] = start_s
        return result


def measure_mlflow_browser(
    browser: Any,
    workdir: Path,
    uri: str,
    artifacts: str,
    shape: BulkShape,
    ids: dict[str, str],
    warm: int,
) -> dict[str, Any]:
    """MLflow's pages in the browser from a freshly started ``mlflow server``."""
    port = _free_port()
    command = _mlflow_server_command(uri, artifacts, port)
    with _server(command, "/health", port, workdir, _child_env()) as (_, start_s):
        result = browser_timings(
            browser, f"http://127.0.0.1:{port}/", mlflow_browser_pages(shape, ids), warm
        )
        runs = _MlflowPages(port, shape, ids).runs()["run_ids"]
        result["api_first_rows"] = {"runs": runs[0] if runs else None}
        result["start_s"] = start_s
        return result


@contextlib.contextmanager
def _chromium() -> Iterator[tuple[Any, type[Exception]]]:
    """Debian's Chromium driven by Playwright and Playwright's error type, or None when
    either is missing."""
    try:
        # Optional: only this part of the benchmark needs it (bench/requirements.txt).
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        say("  no playwright: the browser rows are left out")
        yield None, RuntimeError
        return
    if not Path(CHROMIUM).exists():
        say(f"  no {CHROMIUM}: the browser rows are left out")
        yield None, RuntimeError
        return
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser, Error
        finally:
            browser.close()


def measure_browser(
    browser: Any,
    browser_error: type[Exception],
    names: Variants,
    stores: Stores,
    setup: dict[str, Any],
    sizes: Sizes,
    scratch: Path,
    results: dict[str, list[dict[str, Any]]],
    errors: dict[str, str],
) -> None:
    """Each server's pages in the one browser, ``repeats`` fresh servers each, in a
    balanced order; results and errors go into ``results`` and ``errors``."""
    small, large = shape_of(sizes.small_runs, sizes), shape_of(sizes.large_runs, sizes)
    plan: dict[str, Callable[[], dict[str, Any]]] = {
        names.browser[names.ui_small]: lambda: measure_ui_browser(
            browser,
            scratch,
            str(stores.small),
            small,
            setup["small"]["experiment_ids"][SEARCH_EXPERIMENT],
            sizes.warm,
        ),
        names.browser[names.ui_large]: lambda: measure_ui_browser(
            browser,
            scratch,
            str(stores.large),
            large,
            setup["large"]["experiment_ids"][SEARCH_EXPERIMENT],
            sizes.warm,
        ),
    }
    if "mlflow" in setup:
        plan[names.browser[names.mlflow]] = lambda: measure_mlflow_browser(
            browser,
            scratch,
            stores.mlflow_uri,
            stores.mlflow_artifacts,
            small,
            setup["mlflow"]["experiment_ids"],
            sizes.warm,
        )
    for repeat in range(sizes.repeats):
        for variant in balanced_order(list(plan), repeat):
            try:
                result = plan[variant]()
            except (
                WorkerFailed,
                subprocess.TimeoutExpired,
                OSError,
                RuntimeError,
                browser_error,
            ) as exc:
                errors[f"{variant} repeat {repeat + 1}"] = str(exc)
                say(f"  {variant} repeat {repeat + 1} FAILED: {exc}")
                continue
            results.setdefault(variant, []).append(result)
            timings = result["timings"]
            say(
                f"  {variant:<28} repeat {repeat + 1}/{sizes.repeats}: "
                + _cold_and_warm(timings, list(timings))
                + f"; first row {result['first_rows'].get('runs')}"
            )


def _cold_and_warm(timings: dict[str, Any], pages: Sequence[str]) -> str:
    """One repeat's progress line: each page's cold time and median warm time."""
    return ", ".join(
        f"{page} {format_seconds(timings[page]['cold_s'])} cold / "
        f"{format_seconds(median(timings[page]['warm_s']))} warm"
        for page in pages
    )


def _browser_figures(results: list[dict[str, Any]]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for page in results[0]["timings"]:
        colds = [r["timings"][page]["cold_s"] for r in results]
        warms = [w for r in results for w in r["timings"][page]["warm_s"]]
        figures[page] = {
            "cold": spread(colds),
            "warm": spread(warms),
            "warm_p95_s": percentile(warms, 95),
        }
    return figures


def _browser_agreement(variant: str, results: list[dict[str, Any]]) -> list[str]:
    """The first row the browser showed is the first the API returned, in every repeat."""
    problems = []
    for number, result in enumerate(results, 1):
        for page, expected in result["api_first_rows"].items():
            shown = result["first_rows"].get(page)
            if shown != expected:
                problems.append(
                    f"{variant} repeat {number}: the {page} page showed {shown} first, "
                    f"the API returned {expected}"
                )
    return problems


def _variant_figures(results: list[dict[str, Any]]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for page in PAGES:
        colds = [r["timings"][page]["cold_s"] for r in results]
        warms = [w for r in results for w in r["timings"][page]["warm_s"]]
        figures[page] = {
            "cold": spread(colds),
            "warm": spread(warms),
            "warm_p95_s": percentile(warms, 95),
        }
    peaks = [r["memory"]["peak"] or r["memory"]["rss"] for r in results]
    figures["memory_bytes"] = max(peaks)
    return figures


def _agreement(spark: dict[str, Any], mlflow: dict[str, Any], long_history: int) -> list[str]:
    problems = []
    a, b = spark["answers"], mlflow["answers"]
    if a["runs"]["run_ids"] != b["runs"]["run_ids"]:
        problems.append("runs page: sparktrack and MLflow return different runs or orders")
    if a["compare"]["run_ids"] != b["compare"]["run_ids"]:
        problems.append("compare: sparktrack and MLflow return different runs")
    if a["run"]["params"] != b["run"]["params"]:
        problems.append("run page: different params")
    if set(a["run"]["metrics"]) != set(b["run"]["metrics"]) or any(
        abs(a["run"]["metrics"][k] - b["run"]["metrics"][k]) > 1e-12 for k in a["run"]["metrics"]
    ):
        problems.append("run page: different latest metrics")
    if any(abs(a["compare"]["latest"][k] - v) > 1e-12 for k, v in b["compare"]["latest"].items()):
        problems.append("compare: different latest points of " + COMPARE_METRIC)
    if a["chart"]["points"] != long_history or mlflow.get("long_history_points") != long_history:
        problems.append(
            f"chart: {a['chart']['points']} points in sparktrack, "
            f"{mlflow.get('long_history_points')} in MLflow, {long_history} logged"
        )
    return problems


def _gib(value: int) -> str:
    return f"{value / 2**30:.2f} GiB" if value >= 2**30 else f"{value / 2**20:.0f} MiB"


@dataclass(frozen=True)
class Variants:
    """The labels of what is measured: sparktrack's UI server and API at both sizes,
    MLflow's server at the smaller one."""

    ui_small: str
    ui_large: str
    api_small: str
    api_large: str
    mlflow: str

    @property
    def browser(self) -> dict[str, str]:
        """The browser's variant of each server's column: column -> label."""
        return {
            column: f"browser: {column}" for column in (self.ui_small, self.ui_large, self.mlflow)
        }

    @staticmethod
    def of(sizes: Sizes) -> Variants:
        small, large = f"{sizes.small_runs // 1000}k", f"{sizes.large_runs // 1000}k"
        return Variants(
            ui_small=f"sparktrack ui {small}",
            ui_large=f"sparktrack ui {large}",
            api_small=f"sparktrack API {small}",
            api_large=f"sparktrack API {large}",
            mlflow=f"MLflow {small}",
        )

    @property
    def columns(self) -> list[str]:
        return [self.ui_small, self.ui_large, self.api_small, self.api_large, self.mlflow]


def summary(
    figures: dict[str, Any], browser_figures: dict[str, Any], sizes: Sizes
) -> tuple[str, list[str]]:
    labels = {
        "runs": f"runs page: filter + sort by metric, first {PAGE_ROWS} rows",
        "run": "run page: params, latest metrics, tags",
        "chart": f"chart: {sizes.long_history:,}-point curve → {CHART_POINTS:,} points",
        "compare": f"compare {COMPARE_RUNS} runs (+ their {COMPARE_METRIC} curves)",
    }
    names = Variants.of(sizes)
    # The UI server when measured, else the API: what the targets are judged on.
    ours_small = names.ui_small if names.ui_small in figures else names.api_small
    ours_large = names.ui_large if names.ui_large in figures else names.api_large
    rows = []
    for page in PAGES:
        for kind in ("warm", "cold"):
            cells = [f"{labels[page]}, {kind}"]
            for variant in names.columns:
                entry = figures.get(variant)
                cells.append(format_spread(entry[page][kind]) if entry else "—")
            ours, theirs = figures.get(ours_small), figures.get(names.mlflow)
            ratio = (
                f"{theirs[page][kind]['median'] / ours[page][kind]['median']:.1f}x"
                if ours and theirs
                else "—"
            )
            cells.append(ratio)
            target = TARGETS[page]
            big = figures.get(ours_large)
            if kind == "warm" and big:
                measured = big[page]["warm_p95_s"]
                cells += [
                    f"p95 ≤ {format_seconds(target)}",
                    "yes" if measured <= target else "**no**",
                ]
            else:
                cells += ["—", "—"]
            rows.append(cells)
    memory_cells = ["memory of the server (peak RSS)"]
    for variant in names.columns:
        entry = figures.get(variant)
        memory_cells.append(_gib(entry["memory_bytes"]) if entry else "—")
    big = figures.get(ours_large)
    memory_cells += [
        "—",
        f"≤ {_gib(TARGET_MEMORY_BYTES)}",
        ("yes" if big["memory_bytes"] <= TARGET_MEMORY_BYTES else "**no**") if big else "—",
    ]
    rows.append(memory_cells)
    browser_labels = {
        "runs": f"in the browser: runs page, first row visible (filter + sort, {PAGE_ROWS} rows)",
        "run": "in the browser: run page, params visible",
        "chart": f"in the browser: {sizes.long_history:,}-point chart drawn",
        "compare": f"in the browser: compare {COMPARE_RUNS} runs, curves drawn",
    }
    for page in PAGES if browser_figures else ():
        for kind in ("warm", "cold"):
            cells = [f"{browser_labels[page]}, {kind}"]
            for variant in names.columns:
                entry = browser_figures.get(names.browser.get(variant, ""), {}).get(page)
                cells.append(format_spread(entry[kind]) if entry else "—")
            ours = browser_figures.get(names.browser[names.ui_small], {}).get(page)
            theirs = browser_figures.get(names.browser[names.mlflow], {}).get(page)
            cells.append(
                f"{theirs[kind]['median'] / ours[kind]['median']:.1f}x" if ours and theirs else "—"
            )
            big = browser_figures.get(names.browser[names.ui_large], {}).get(page)
            if kind == "warm" and big:
                cells += [
                    f"p95 ≤ {format_seconds(TARGETS[page])}",
                    "yes" if big["warm_p95_s"] <= TARGETS[page] else "**no**",
                ]
            else:
                cells += ["—", "—"]
            rows.append(cells)
    headers = [
        "page (work behind it)",
        *names.columns,
        f"ratio MLflow / {ours_small}",
        f"target ({ours_large})",
        "met?",
    ]
    notes = [
        "sparktrack ui: the JSON API calls of its pages, over HTTP to a `sparktrack ui` "
        "server (the runs table flat, as MLflow returns it); sparktrack API: the "
        "TrackingClient calls behind them in a process of their own, answers turned "
        "into JSON; MLflow: `mlflow server` (SQLite, 1 worker) over HTTP with the REST "
        "calls its UI makes.",
        "In the browser (rows so named): Debian's Chromium headless, driven by Playwright, "
        "the same browser for both tools, from navigation (a whole document load) to the "
        "frame that first shows the page's first run row, its params, or its chart drawn, "
        "by the page's own clock; cold = each "
        "page's first load in a fresh browser context on a freshly started server, warm = "
        f"{sizes.warm} more loads of each page, interleaved, after one untimed pass. "
        "MLflow's runs table takes the filter and order from its address "
        "(`#/experiments/<id>/runs?searchFilter=…&orderByKey=…&orderByAsc=…`); its run "
        "page is the run's Overview (params), its chart run 0's `curve` card on the run's "
        "Model metrics tab (a 320-point sample, MLflow's choice), its compare the metric "
        'page MLflow\'s compare page links to (`#/metric?runs=…&metric="m0"`), with the '
        "10 curves drawn. The benchmark fails if a runs page shows a different first row "
        "than its API returns.",
        f"Median [min, max]; cold = first call in a new process (or after the server "
        f"started), {sizes.repeats} processes per variant; warm = {sizes.warm} more calls "
        "of each page in each; targets are judged on the warm p95 at "
        f"{sizes.large_runs:,} runs.",
        "Stores built in bulk, then maintained as `sparktrack gc` does (compaction that "
        "clusters run-keyed tables by run_id), untimed; MLflow's by bulk insert through "
        "its SQLAlchemy models.",
        "Charts are downsampled on the server: MLflow's samples (get-history-bulk-interval, "
        "≤ 2,500 points), sparktrack ui's reads every point (LTTB), the API variant uses "
        "min/max buckets.",
        "MLflow's memory is its server's process tree (job workers included), sampled "
        "after the calls; sparktrack's is the peak of its server (or measuring) process.",
    ]
    return markdown_table(headers, rows), notes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_arguments(
        parser,
        quick=f"{QUICK.large_runs:,} and {QUICK.small_runs:,} runs (a smoke run)",
        keep_tmp="keep the stores (unless --store) and the children's logs",
    )
    parser.add_argument(
        "--store",
        type=Path,
        help="build (or reuse) the large store here; its 10k and MLflow siblings beside it",
    )
    parser.add_argument("--repeats", type=int, help="processes per variant (even)")
    parser.add_argument("--warm", type=int, help="warm calls of each page per process")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    subsets = {"--repeats": args.repeats is not None, "--warm": args.warm is not None}
    refuse_partial_readme_run(parser, args, subsets)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        _worker_main(json.loads(args.worker))
        return 0
    sizes = QUICK if args.quick else FULL
    if args.repeats is not None or args.warm is not None:
        sizes = Sizes(
            **{
                **asdict(sizes),
                **{
                    k: v
                    for k, v in (("repeats", args.repeats), ("warm", args.warm))
                    if v is not None
                },
            }
        )
    mlflow_choice = choose_mlflow(args)
    machine = machine_description()
    mode = "quick" if args.quick else "full"
    say(f"UI latency benchmark ({mode}: {sizes.large_runs:,} and {sizes.small_runs:,} runs)")
    scratch = Path(tempfile.mkdtemp(prefix="sparktrack-ui-bench-"))
    root = args.store.resolve() if args.store else scratch / "store"
    started = time.perf_counter()
    problems: list[str] = []
    errors: dict[str, str] = {}
    results: dict[str, list[dict[str, Any]]] = {}
    browser_results: dict[str, list[dict[str, Any]]] = {}
    setup: dict[str, Any] = {}
    names = Variants.of(sizes)
    variants = names.columns if mlflow_choice.used else names.columns[:-1]
    try:
        stores, setup = prepare_stores(root, sizes, mlflow_choice.used, scratch)
        small, large = shape_of(sizes.small_runs, sizes), shape_of(sizes.large_runs, sizes)
        plan = {
            names.ui_small: ("ui", stores.small, small, setup["small"]),
            names.ui_large: ("ui", stores.large, large, setup["large"]),
            names.api_small: ("api", stores.small, small, setup["small"]),
            names.api_large: ("api", stores.large, large, setup["large"]),
        }
        for repeat in range(sizes.repeats):
            for variant in balanced_order(variants, repeat):
                try:
                    if variant == names.mlflow:
                        result = measure_mlflow(
                            scratch,
                            stores.mlflow_uri,
                            stores.mlflow_artifacts,
                            small,
                            setup["mlflow"]["experiment_ids"],
                            sizes.warm,
                        )
                    elif plan[variant][0] == "ui":
                        _, path, shape, built = plan[variant]
                        experiment_id = built["experiment_ids"][SEARCH_EXPERIMENT]
                        result = measure_ui(scratch, str(path), shape, experiment_id, sizes.warm)
                    else:
                        _, path, shape, _ = plan[variant]
                        result = run_worker(
                            "measure_sparktrack",
                            scratch,
                            store=str(path),
                            shape=asdict(shape),
                            warm=sizes.warm,
                        )
                except (WorkerFailed, subprocess.TimeoutExpired, OSError, RuntimeError) as exc:
                    errors[f"{variant} repeat {repeat + 1}"] = str(exc)
                    say(f"  {variant} repeat {repeat + 1} FAILED: {exc}")
                    continue
                results.setdefault(variant, []).append(result)
                timings = result["timings"]
                say(
                    f"  {variant:<20} repeat {repeat + 1}/{sizes.repeats}: "
                    + _cold_and_warm(timings, PAGES)
                    + f", memory {_gib(result['memory']['peak'] or result['memory']['rss'])}"
                )
        for ours_name in (names.ui_small, names.api_small):
            if ours_name in results and names.mlflow in results:
                for ours, theirs in zip(results[ours_name], results[names.mlflow], strict=False):
                    problems += [
                        f"{ours_name}: {problem}"
                        for problem in _agreement(ours, theirs, sizes.long_history)
                    ]
        for variant, measured in results.items():
            first = measured[0]["answers"]
            if any(r["answers"]["runs"]["run_ids"] != first["runs"]["run_ids"] for r in measured):
                problems.append(
                    f"{variant}: the runs page returned different runs in different repeats"
                )
            if variant != names.mlflow and first["chart"]["points"] != sizes.long_history:
                problems.append(
                    f"{variant}: the chart read {first['chart']['points']} points, "
                    f"{sizes.long_history} logged"
                )
        with _chromium() as (browser, browser_error):
            if browser is not None:
                measure_browser(
                    browser,
                    browser_error,
                    names,
                    stores,
                    setup,
                    sizes,
                    scratch,
                    browser_results,
                    errors,
                )
        for variant, measured in browser_results.items():
            problems += _browser_agreement(variant, measured)
        problems = sorted(set(problems))
    finally:
        if args.keep_tmp or args.store:
            say(f"stores and logs kept: {root} and siblings, logs in {scratch}")
        if not args.keep_tmp:
            shutil.rmtree(scratch, ignore_errors=True)
    elapsed = time.perf_counter() - started
    machine["load_avg_end"] = load_average()
    figures = {variant: _variant_figures(measured) for variant, measured in results.items()}
    browser_figures = {
        variant: _browser_figures(measured) for variant, measured in browser_results.items()
    }
    table, notes = summary(figures, browser_figures, sizes)
    print_summary(table, notes, machine)
    say(f"benchmark took {format_seconds(elapsed)}")
    versions = package_versions(("sparktrack", "deltalake", "pyarrow", "pandas", "numpy", "mlflow"))
    partial = partial_reasons(
        ("no MLflow", not mlflow_choice.used),
        ("no browser", not browser_results),
        (f"failed: {', '.join(errors)}", bool(errors)),
        ("tools disagree", bool(problems)),
        ("repeats or warm calls changed", args.repeats is not None or args.warm is not None),
    )
    fields = {
        "sizes": asdict(sizes),
        "versions": versions,
        "source_tree": source_tree(),
        "machine": machine,
        "queries": {
            "experiment": SEARCH_EXPERIMENT,
            "filter_string": SEARCH_FILTER,
            "order_by": SEARCH_ORDER,
            "page_rows": PAGE_ROWS,
            "chart_points": CHART_POINTS,
            "compare_runs": COMPARE_RUNS,
        },
        "targets": {**TARGETS, "memory_bytes": TARGET_MEMORY_BYTES},
        "setup": setup,
        "figures": figures,
        "browser_figures": browser_figures,
        "browser_results": browser_results,
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
        problems=[f"the tools disagree: {p}" for p in problems],
    )


if __name__ == "__main__":
    run_main(main)
