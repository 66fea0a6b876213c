"""MLflow's own client against `sparktrack server` and against `mlflow server` (SQLite).

Workloads, in one invocation, the two sides alternating:

  (a) ingest: 1,000 runs x (start_run, log_params(20), log_metrics(5), end_run) through
      MLflow's fluent API (bench/tracking_ingest.py's workload (a)), against each server
  (b) search: MlflowClient.search_runs with a filter and an order over 10,000 runs through
      each server, the first page and the next one (page token); both stores hold the
      same runs with the same ids
  (c) import: a 10,000-run MLflow SQLite store into a sparktrack store with
      `sparktrack import-mlflow`, against copying it through MLflow's client into
      `sparktrack server` call by call (a sample of runs, extrapolated to the store)

MLflow's side (its client, `mlflow server`) runs in MLflow's environment: the
interpreter of --mlflow-python, else the `-mlflow` venv beside this one (`make
setup-mlflow`'s .venv-mlflow), else this interpreter when it has MLflow
(`make bench-setup`'s .venv-bench). `sparktrack server` and `sparktrack import-mlflow`
run from this checkout with this interpreter. Every client runs in a child process of
its own; servers are started for the benchmark and stopped at its end; the MLflow
server has one worker and no job runner (MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false).

When the clock stops: (a) after a search through the server returns every run logged
(both servers acknowledge a write once it is on disk: MLflow's SQLite commit,
sparktrack's journal, from which the server commits to Delta in the background);
(c) when `sparktrack import-mlflow` exits (process start and imports included), and
for the copy after its last call returned.

Usage (from the repo root):

  .venv/bin/python bench/mlflow_protocol.py --quick          # smoke run, < 3 minutes
  .venv-bench/bin/python bench/mlflow_protocol.py --update-readme   # full, then docs/benchmarks.md

Checked, or the benchmark exits 1: (a) both servers stored every run with all its params
and metrics, (b) both return the same run ids in the same order on both pages, in every
repeat, (c) the import carried every run and the copy stored every run it copied.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Run as a script, so this folder is on sys.path and the shared helpers import directly.
import tracking_ingest as ingest
from _common import (
    REPO,
    balanced_order,
    format_rate,
    format_seconds,
    format_spread,
    load_average,
    machine_description,
    markdown_table,
    median,
    package_versions,
    partial_reasons,
    print_summary,
    publish,
    refuse_partial_readme_run,
    run_main,
    say,
    source_tree,
    spread,
)

BENCH_NAME = "mlflow_protocol"
WORKLOADS = ("a", "b", "c")
SIDES = ("sparktrack", "mlflow")
TARGET_C_SPEEDUP = 10.0  # the issue: import at least 10x faster than copying call by call
SERVER_START_SECONDS = 180  # MLflow's server takes seconds to start on a busy machine
WORKER_TIMEOUT_SECONDS = 3600


@dataclass(frozen=True)
class Sizes:
    a_runs: int
    a_params: int
    a_metrics: int
    a_repeats: int  # per side, in a balanced order: even numbers
    store_runs: int  # the runs of (b)'s and (c)'s store
    b_repeats: int  # client processes per side
    b_searches: int  # timed first page + next page per client process
    c_repeats: int  # imports and copies, alternating
    c_copy_runs: int  # runs copied call by call per repeat (extrapolated to store_runs)
    b_page: int  # runs a search page: the filter matches about 1 run in 20


FULL = Sizes(
    a_runs=1000,
    a_params=20,
    a_metrics=5,
    a_repeats=4,
    store_runs=10_000,
    b_repeats=4,
    b_searches=5,
    c_repeats=4,
    c_copy_runs=200,
    b_page=100,
)
# --quick: 20x fewer ingested runs, a 1,000-run store, the fewest repeats that still
# alternate the sides.
QUICK = Sizes(
    a_runs=50,
    a_params=20,
    a_metrics=5,
    a_repeats=2,
    store_runs=1_000,
    b_repeats=2,
    b_searches=3,
    c_repeats=2,
    c_copy_runs=20,
    b_page=10,
)


# =====================================================================================
# Child processes in MLflow's environment: one measurement each, result as JSON
# =====================================================================================


def _mlflow_client(uri: str) -> Any:
    import logging
    import warnings

    warnings.simplefilter("ignore")  # MLflow warns about many things; none is a figure
    import mlflow

    for name in ("mlflow", "alembic", "sqlalchemy", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)
    mlflow.set_tracking_uri(uri)
    return mlflow


def _worker_ingest(spec: dict[str, Any]) -> dict[str, Any]:
    mlflow = _mlflow_client(spec["url"])
    sizes = Sizes(**spec["sizes"])
    experiment_id = mlflow.create_experiment(spec["experiment"])  # untimed
    mlflow.set_experiment(experiment_id=experiment_id)
    params = [ingest._a_params(i, sizes.a_params) for i in range(sizes.a_runs)]
    metrics = [ingest._a_metrics(i, sizes.a_metrics) for i in range(sizes.a_runs)]
    started = time.perf_counter()
    for i in range(sizes.a_runs):
        mlflow.start_run()
        mlflow.log_params(params[i])
        mlflow.log_metrics(metrics[i])
        mlflow.end_run()
    logged = time.perf_counter()
    # The clock stops once a search through the server sees every run logged.
    frame = mlflow.search_runs([experiment_id], max_results=sizes.a_runs + 1)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "logging_s": logged - started,
        "runs": sizes.a_runs,
        "stored": ingest._stored_counts(frame),
    }


def _worker_populate(spec: dict[str, Any]) -> dict[str, Any]:
    """MLflow's SQLite store of (b) and (c): bench/tracking_ingest.py's search dataset."""
    mlflow = _mlflow_client(f"sqlite:///{spec['database']}")
    sizes = Sizes(**spec["sizes"])
    artifacts = (Path(spec["database"]).parent / "mlartifacts").as_uri()
    experiment_id = mlflow.create_experiment(ingest.EXPERIMENT_NAME, artifact_location=artifacts)
    started = time.perf_counter()
    method = ingest._mlflow_bulk_insert(
        mlflow, experiment_id, ingest._search_dataset(sizes.store_runs)
    )
    return {
        "seconds": time.perf_counter() - started,
        "experiment_id": experiment_id,
        "method": method,
    }


def _search_pages(client: Any, experiment_id: str, page: int) -> tuple[float, float, list[str]]:
    """(first page seconds, next page seconds, the run ids of both pages)."""
    started = time.perf_counter()
    first = client.search_runs(
        [experiment_id],
        filter_string=ingest.SEARCH_FILTER,
        order_by=ingest.SEARCH_ORDER,
        max_results=page,
    )
    middle = time.perf_counter()
    second = client.search_runs(
        [experiment_id],
        filter_string=ingest.SEARCH_FILTER,
        order_by=ingest.SEARCH_ORDER,
        max_results=page,
        page_token=first.token,
    )
    finished = time.perf_counter()
    ids = [run.info.run_id for run in [*first, *second]]
    return middle - started, finished - middle, ids


def _worker_search(spec: dict[str, Any]) -> dict[str, Any]:
    mlflow = _mlflow_client(spec["url"])
    client = mlflow.MlflowClient()
    sizes = Sizes(**spec["sizes"])
    # The first search of a process opens its HTTP connection: untimed, as in a notebook
    # that has searched once.
    _first, _second, ids = _search_pages(client, spec["experiment_id"], sizes.b_page)
    firsts, nexts, same = [], [], True
    for _ in range(sizes.b_searches):
        first_s, next_s, found = _search_pages(client, spec["experiment_id"], sizes.b_page)
        firsts.append(first_s)
        nexts.append(next_s)
        same = same and found == ids
    return {"first_s": firsts, "next_s": nexts, "ids": ids, "same_every_search": same}


def _worker_copy(spec: dict[str, Any]) -> dict[str, Any]:
    """Copy runs from MLflow's SQLite store into a server, call by call, as a script
    using MLflow's client would: per run its metric histories read, then create_run,
    log_batch (params, metrics, tags) and set_terminated on the target."""
    mlflow = _mlflow_client(spec["url"])
    from mlflow.entities import Metric, Param, RunTag

    sizes = Sizes(**spec["sizes"])
    source = mlflow.MlflowClient(tracking_uri=f"sqlite:///{spec['database']}")
    target = mlflow.MlflowClient(tracking_uri=spec["url"])
    experiment_id = target.create_experiment(spec["experiment"])  # untimed
    started = time.perf_counter()
    runs = source.search_runs(
        [spec["source_experiment_id"]],
        max_results=sizes.c_copy_runs,
        order_by=["attributes.start_time ASC"],
    )
    for run in runs:
        metrics = [
            Metric(m.key, m.value, m.timestamp, m.step)
            for key in run.data.metrics
            for m in source.get_metric_history(run.info.run_id, key)
        ]
        tags = {k: v for k, v in run.data.tags.items() if k != "mlflow.runName"}
        created = target.create_run(
            experiment_id,
            start_time=run.info.start_time,
            run_name=run.info.run_name,
        )
        target.log_batch(
            created.info.run_id,
            metrics=metrics,
            params=[Param(k, v) for k, v in run.data.params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        target.set_terminated(created.info.run_id, run.info.status, end_time=run.info.end_time)
    seconds = time.perf_counter() - started
    stored = target.search_runs([experiment_id], max_results=sizes.c_copy_runs + 1)
    return {
        "seconds": seconds,
        "runs": len(runs),
        "per_run_s": seconds / max(len(runs), 1),
        "stored_runs": len(stored),
        "stored_params": sum(len(r.data.params) for r in stored),
    }


_WORKERS = {
    "ingest": _worker_ingest,
    "populate": _worker_populate,
    "search": _worker_search,
    "copy": _worker_copy,
}


# =====================================================================================
# The parent: servers, children, figures
# =====================================================================================


class WorkerFailed(RuntimeError):
    pass


def mlflow_python(given: str | None) -> Path | None:
    """The interpreter of MLflow's environment, or None when there is none."""
    if given:
        return Path(given)
    for venv in (Path(sys.prefix + "-mlflow"), REPO / ".venv-mlflow"):
        if (venv / "bin" / "python").exists():
            return venv / "bin" / "python"
    # find_spec: whether MLflow is here without paying for its import in this process.
    return Path(sys.executable) if importlib.util.find_spec("mlflow") else None


def _env(workdir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SPARKTRACK_", "MLFLOW_")) and k != "PYTHONPATH"
    }
    env.update(
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        MLFLOW_ENABLE_ASYNC_LOGGING="false",  # synchronous, MLflow's default
        MLFLOW_LOGGING_LEVEL="ERROR",
        PYTHONWARNINGS="ignore",
        SPARKTRACK_JOURNAL_DIR=str(workdir / "journal"),
        **extra,
    )
    return env


def _sparktrack_env(workdir: Path) -> dict[str, str]:
    return _env(workdir, PYTHONPATH=str(REPO), SPARKTRACK_SNAPSHOTS="false")


@dataclass
class Bench:
    """Where everything runs: the temporary root and MLflow's interpreter."""

    root: Path
    mlflow: Path
    sizes: Sizes

    def worker(self, task: str, workdir: Path, **spec: Any) -> dict[str, Any]:
        """Run one measurement in MLflow's environment; its result."""
        workdir.mkdir(parents=True, exist_ok=True)
        stamp = f"{task}-{time.monotonic_ns()}"
        result_path = workdir / f"{stamp}.result.json"
        log_path = workdir / f"{stamp}.log"
        payload = {"task": task, "sizes": self.sizes.__dict__, "result_path": str(result_path)}
        command = [str(self.mlflow), str(Path(__file__).resolve()), "--worker"]
        with log_path.open("w") as log:
            completed = subprocess.run(
                [*command, json.dumps({**payload, **spec})],
                cwd=workdir,
                env=_env(workdir),
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

    @contextmanager
    def server(self, side: str, workdir: Path, store: Path | None = None) -> Iterator[str]:
        """A running server of ``side`` on a store in ``workdir``; its URL."""
        workdir.mkdir(parents=True, exist_ok=True)
        log_path = workdir / f"{side}-server.log"
        if side == "sparktrack":
            store = store or workdir / "store"
            command = [sys.executable, "-m", "sparktrack.cli", "server", "--store", str(store)]
            command += ["--port", "0", "--no-ui"]
            env = _sparktrack_env(workdir)
            announced = re.compile(r"sparktrack server at (http://\S+)")
        else:
            database = workdir / "mlflow.db"
            command = [str(self.mlflow.parent / "mlflow"), "server"]
            command += ["--backend-store-uri", f"sqlite:///{database}", "--host", "127.0.0.1"]
            command += ["--port", "0", "--workers", "1"]
            # The job runner (a handful of processes) serves GenAI jobs, not tracking.
            env = _env(workdir, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
            announced = re.compile(r"(http://127\.0\.0\.1:[1-9]\d*)")
        with log_path.open("w") as log:
            process = subprocess.Popen(
                command,
                cwd=workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: stopping it stops its workers
            )
        try:
            yield self._url(process, log_path, announced, side)
        finally:
            _stop(process)

    @contextmanager
    def both(
        self, workdirs: dict[str, Path], sparktrack_store: Path | None = None
    ) -> Iterator[dict[str, str]]:
        """Both servers running at once: side -> URL."""
        with ExitStack() as stack:
            yield {
                side: stack.enter_context(
                    self.server(
                        side, workdirs[side], sparktrack_store if side == "sparktrack" else None
                    )
                )
                for side in SIDES
            }

    @staticmethod
    def _url(
        process: subprocess.Popen[bytes], log_path: Path, announced: re.Pattern[str], side: str
    ) -> str:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            found = announced.search(log_path.read_text(errors="replace"))
            if found:
                return found.group(1)
            if process.poll() is not None:
                break
            time.sleep(0.1)
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
        raise WorkerFailed(f"the {side} server did not start:\n{tail}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


# -- (a) ingest ---------------------------------------------------------------------------


def bench_a(bench: Bench) -> dict[str, Any]:
    sizes = bench.sizes
    expected = ingest._a_expected(ingest.Sizes(**_ingest_sizes(sizes)))
    found: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    problems: list[str] = []
    workdirs = {side: bench.root / f"a-{side}" for side in SIDES}
    # One server per side for every repeat (a new experiment each): the store grows
    # by the same runs on both sides.
    with bench.both(workdirs) as urls:
        for repeat in range(sizes.a_repeats):
            for side in balanced_order(SIDES, repeat):
                result = bench.worker(
                    "ingest",
                    workdirs[side] / f"client-{repeat}",
                    url=urls[side],
                    experiment=f"ingest-{repeat}",
                )
                found[side].append(result)
                say(
                    f"  (a) {side:<10} repeat {repeat + 1}/{sizes.a_repeats} "
                    f"{format_seconds(result['seconds']):>9}  "
                    f"{format_rate(result['runs'] / result['seconds'], 'runs')}  "
                    f"(stored {result['stored']})"
                )
                if result["stored"] != expected:
                    problems.append(
                        f"(a) {side} repeat {repeat + 1} stored {result['stored']}, "
                        f"expected {expected}"
                    )
    out: dict[str, Any] = {"problems": problems}
    for side, results in found.items():
        out[side] = {"seconds": spread([r["seconds"] for r in results]), "repeats": results}
    return out


def _ingest_sizes(sizes: Sizes) -> dict[str, Any]:
    """bench/tracking_ingest.py's Sizes for its helpers (only the (a) fields matter)."""
    base = ingest.QUICK.__dict__
    return {
        **base,
        "a_runs": sizes.a_runs,
        "a_params": sizes.a_params,
        "a_metrics": sizes.a_metrics,
    }


# -- the store of (b) and (c) -------------------------------------------------------------


@dataclass
class MlflowStore:
    database: Path
    experiment_id: str


def populate(bench: Bench) -> tuple[MlflowStore, dict[str, Any]]:
    folder = bench.root / "store-mlflow"
    database = folder / "mlflow.db"
    result = bench.worker("populate", folder, database=str(database))
    say(
        f"  MLflow store: {bench.sizes.store_runs:,} runs in "
        f"{format_seconds(result['seconds'])} ({result['method']}, untimed setup)"
    )
    return MlflowStore(database, str(result["experiment_id"])), result


def import_store(source: MlflowStore, workdir: Path) -> dict[str, Any]:
    """`sparktrack import-mlflow` of the MLflow store into a new store; timed end to end."""
    workdir.mkdir(parents=True, exist_ok=True)
    store = workdir / "store"
    command = [sys.executable, "-m", "sparktrack.cli", "import-mlflow"]
    command += [f"sqlite:///{source.database}", "--store", str(store), "--json"]
    started = time.perf_counter()
    completed = subprocess.run(
        command,
        cwd=workdir,
        env=_sparktrack_env(workdir),
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT_SECONDS,
        check=False,
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise WorkerFailed(
            f"sparktrack import-mlflow exited with {completed.returncode}:\n"
            f"{completed.stderr[-3000:]}"
        )
    report = json.loads(completed.stdout)
    return {"seconds": seconds, "store": str(store), "carried": report["carried"]}


# -- (b) search ---------------------------------------------------------------------------


def bench_b(bench: Bench, source: MlflowStore, sparktrack_store: Path) -> dict[str, Any]:
    sizes = bench.sizes
    workdirs = {side: bench.root / f"b-{side}" for side in SIDES}
    workdirs["mlflow"].mkdir(parents=True, exist_ok=True)
    # MLflow's server serves a copy of the populated database (its own folder, its own
    # artifacts root); sparktrack's serves the store the import wrote.
    shutil.copy(source.database, workdirs["mlflow"] / "mlflow.db")
    found: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    with bench.both(workdirs, sparktrack_store) as urls:
        for repeat in range(sizes.b_repeats):
            for side in balanced_order(SIDES, repeat):
                result = bench.worker(
                    "search",
                    workdirs[side] / f"client-{repeat}",
                    url=urls[side],
                    experiment_id=source.experiment_id,
                )
                found[side].append(result)
                say(
                    f"  (b) {side:<10} repeat {repeat + 1}/{sizes.b_repeats} first page "
                    f"{format_seconds(median(result['first_s']))}, next page "
                    f"{format_seconds(median(result['next_s']))}, "
                    f"{len(result['ids'])} runs"
                )
    problems: list[str] = []
    out: dict[str, Any] = {}
    for side, results in found.items():
        out[side] = {
            "first": spread([s for r in results for s in r["first_s"]]),
            "next": spread([s for r in results for s in r["next_s"]]),
            "runs_returned": len(results[0]["ids"]),
            "repeats": results,
        }
        if not all(r["same_every_search"] and r["ids"] == results[0]["ids"] for r in results):
            problems.append(f"(b) {side} returned different runs in different searches")
    same = found["sparktrack"][0]["ids"] == found["mlflow"][0]["ids"]
    out["results_agree"] = same
    say(f"  (b) both servers return the same run ids in the same order: {'yes' if same else 'NO'}")
    if not same:
        problems.append("(b) sparktrack server and MLflow server return different runs or orders")
    if len(found["mlflow"][0]["ids"]) < 2 * sizes.b_page:
        problems.append(
            f"(b) fewer than two pages of {sizes.b_page} runs match: the next page is short"
        )
    out["problems"] = problems
    return out


# -- (c) import ---------------------------------------------------------------------------


def bench_c(bench: Bench, source: MlflowStore) -> tuple[dict[str, Any], Path]:
    sizes = bench.sizes
    workdir = bench.root / "c"
    imports: list[dict[str, Any]] = []
    copies: list[dict[str, Any]] = []
    problems: list[str] = []
    with bench.server("sparktrack", workdir / "copy-target") as target:
        for repeat in range(sizes.c_repeats):
            for way in balanced_order(("import", "copy"), repeat):
                if way == "import":
                    result = import_store(source, workdir / f"import-{repeat}")
                    imports.append(result)
                    say(
                        f"  (c) import     repeat {repeat + 1}/{sizes.c_repeats} "
                        f"{format_seconds(result['seconds']):>9}  "
                        f"{format_rate(sizes.store_runs / result['seconds'], 'runs')}"
                    )
                    if result["carried"]["runs"] != sizes.store_runs:
                        problems.append(
                            f"(c) import repeat {repeat + 1} carried "
                            f"{result['carried']['runs']} runs, expected {sizes.store_runs}"
                        )
                else:
                    result = bench.worker(
                        "copy",
                        workdir / f"copy-{repeat}",
                        url=target,
                        database=str(source.database),
                        source_experiment_id=source.experiment_id,
                        experiment=f"copy-{repeat}",
                    )
                    copies.append(result)
                    say(
                        f"  (c) copy       repeat {repeat + 1}/{sizes.c_repeats} "
                        f"{result['runs']} runs in {format_seconds(result['seconds'])} "
                        f"({format_seconds(result['per_run_s'])} a run)"
                    )
                    wanted = (sizes.c_copy_runs, sizes.c_copy_runs * 3)
                    if (result["stored_runs"], result["stored_params"]) != wanted:
                        problems.append(
                            f"(c) copy repeat {repeat + 1} stored {result['stored_runs']} "
                            f"runs and {result['stored_params']} params, expected {wanted}"
                        )
    per_run = spread([c["per_run_s"] for c in copies])
    import_s = spread([i["seconds"] for i in imports])
    extrapolated = per_run["median"] * sizes.store_runs
    out = {
        "import": {"seconds": import_s, "repeats": imports},
        "copy": {
            "per_run_s": per_run,
            "sample_runs": sizes.c_copy_runs,
            "extrapolated_s": extrapolated,
            "repeats": copies,
        },
        "speedup": extrapolated / import_s["median"],
        "problems": problems,
    }
    # The first import's store serves (b): the same runs, with MLflow's ids.
    return out, Path(imports[0]["store"])


# -- the summary table ----------------------------------------------------------------


def _speed(theirs: float, ours: float) -> str:
    """How much faster (or slower) sparktrack's side took ``ours`` seconds than ``theirs``."""
    ratio = theirs / ours
    return f"{ratio:,.1f}x faster" if ratio >= 1 else f"{1 / ratio:,.1f}x slower"


def summary_rows(results: dict[str, Any], sizes: Sizes) -> list[list[str]]:
    rows: list[list[str]] = []
    if "a" in results:
        a = results["a"]
        ours, theirs = a["sparktrack"]["seconds"], a["mlflow"]["seconds"]
        rows.append(
            [
                f"(a) {sizes.a_runs:,} runs x (start_run, log_params({sizes.a_params}), "
                f"log_metrics({sizes.a_metrics}), end_run)",
                f"{format_spread(ours)} ({format_rate(sizes.a_runs / ours['median'], 'runs')})",
                f"{format_spread(theirs)} ({format_rate(sizes.a_runs / theirs['median'], 'runs')})",
                _speed(theirs["median"], ours["median"]),
                "—",
                "—",
            ]
        )
    if "b" in results:
        b = results["b"]
        for key, label in (("first", "first page"), ("next", "next page (page token)")):
            ours, theirs = b["sparktrack"][key], b["mlflow"][key]
            rows.append(
                [
                    f"(b) search_runs over {sizes.store_runs:,} runs, {label}",
                    format_spread(ours),
                    format_spread(theirs),
                    _speed(theirs["median"], ours["median"]),
                    "—",
                    "—",
                ]
            )
    if "c" in results:
        c = results["c"]
        speedup = c["speedup"]
        rows.append(
            [
                f"(c) {sizes.store_runs:,}-run MLflow SQLite store into sparktrack: "
                "`import-mlflow` | copy through MLflow's client (extrapolated)",
                format_spread(c["import"]["seconds"]),
                f"{format_seconds(c['copy']['extrapolated_s'])} "
                f"({format_seconds(c['copy']['per_run_s']['median'])} a run)",
                _speed(c["copy"]["extrapolated_s"], c["import"]["seconds"]["median"]),
                f"≥ {TARGET_C_SPEEDUP:g}x faster",
                "yes" if speedup >= TARGET_C_SPEEDUP else "**no**",
            ]
        )
    return rows


def summary_notes(results: dict[str, Any], sizes: Sizes, populate: dict[str, Any]) -> list[str]:
    notes = [
        "Servers: `sparktrack server` on a local Delta store; `mlflow server "
        "--backend-store-uri sqlite:///... --workers 1`, job runner off. The client is "
        "MLflow's (`MLFLOW_TRACKING_URI` = the server), synchronous logging, one process "
        "per measurement."
    ]
    if "a" in results:
        notes.append(
            "(a) the clock stops after a search through the server returns every run logged "
            "(each write is on disk when acknowledged: MLflow's SQLite commit, sparktrack's "
            "journal, committed to Delta in the background); one server per side for all "
            "repeats, a new experiment each."
        )
    if "b" in results:
        b = results["b"]
        notes.append(
            f"(b) filter `{ingest.SEARCH_FILTER}`, order `{', '.join(ingest.SEARCH_ORDER)}`, "
            f"{sizes.b_page} runs a page; {sizes.b_searches} timed searches in each of "
            f"{sizes.b_repeats} client processes per side, after one untimed; both servers "
            "returned the same run ids in the same order: "
            f"{'yes' if b.get('results_agree') else 'NO'}."
        )
    if "b" in results or "c" in results:
        notes.append(
            f"(b), (c) the MLflow store: {sizes.store_runs:,} runs x 3 params, 3 metrics, "
            f"2 tags, populated by {populate.get('method', 'MLflow')} (untimed); sparktrack's "
            "store of (b) is the first import of (c), with MLflow's run ids."
        )
    if "c" in results:
        c = results["c"]
        notes.append(
            "(c) `sparktrack import-mlflow sqlite:///...` timed from process start to exit "
            f"(imports included); the copy: {c['copy']['sample_runs']} runs per repeat "
            "through MlflowClient (per run: its metric histories read from the SQLite "
            "store, then create_run, log_batch, set_terminated against `sparktrack "
            f"server`), extrapolated to {sizes.store_runs:,} runs from the median time "
            "a run."
        )
    notes.append(
        f"Median [min, max] of the repeats ((a) {sizes.a_repeats} per side, (b) "
        f"{sizes.b_repeats * sizes.b_searches} searches per side, (c) {sizes.c_repeats} "
        "each), the sides in a balanced order."
    )
    return notes


# -- entry point ----------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run, < 3 minutes: a 1,000-run store"
    )
    parser.add_argument(
        "--update-readme",
        action="store_true",
        help="put the results into docs/benchmarks.md (a full run from a clean tree only)",
    )
    parser.add_argument(
        "--keep-tmp", action="store_true", help="keep the stores and the servers' logs"
    )
    parser.add_argument(
        "--only",
        default=",".join(WORKLOADS),
        help="comma-separated workloads to run, from a,b,c (default: all)",
    )
    parser.add_argument("--mlflow-python", help="the interpreter of MLflow's environment")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one measurement
    args = parser.parse_args(argv)
    chosen = [w.strip().lower() for w in args.only.split(",") if w.strip()]
    if not chosen or set(chosen) - set(WORKLOADS):
        parser.error(f"--only takes a comma-separated subset of a,b,c; got {args.only!r}")
    args.only = [w for w in WORKLOADS if w in chosen]
    refuse_partial_readme_run(parser, args, {"--only": args.only != list(WORKLOADS)})
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        spec = json.loads(args.worker)
        result = _WORKERS[spec["task"]](spec)
        Path(spec["result_path"]).write_text(json.dumps(result))
        return 0

    sizes = QUICK if args.quick else FULL
    interpreter = mlflow_python(args.mlflow_python)
    if interpreter is None:
        say(
            "error: no MLflow environment: `make setup-mlflow` (.venv-mlflow), or "
            "--mlflow-python PATH, or run this in `make bench-setup`'s .venv-bench"
        )
        return 2
    machine = machine_description()
    say(
        f"MLflow's client against sparktrack server and mlflow server "
        f"({'quick' if args.quick else 'full'}, workloads {','.join(args.only)})"
    )
    say(f"MLflow's environment: {interpreter}")
    root = Path(tempfile.mkdtemp(prefix="sparktrack-bench-mlflow-"))
    bench = Bench(root, interpreter, sizes)
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    populated: dict[str, Any] = {}
    started = time.perf_counter()
    try:
        if "a" in args.only:
            say("workload (a) ...")
            try:
                results["a"] = bench_a(bench)
            except (WorkerFailed, subprocess.TimeoutExpired) as exc:
                errors["a"] = str(exc)
                say(f"  (a) FAILED: {exc}")
        if "b" in args.only or "c" in args.only:
            try:
                source, populated = populate(bench)
                imported: Path | None = None
                if "c" in args.only:
                    say("workload (c) ...")
                    results["c"], imported = bench_c(bench, source)
                if "b" in args.only:
                    say("workload (b) ...")
                    if imported is None:
                        imported = Path(import_store(source, root / "b-import")["store"])
                        say("  (b) sparktrack store imported from the MLflow store (untimed)")
                    results["b"] = bench_b(bench, source, imported)
            except (WorkerFailed, subprocess.TimeoutExpired) as exc:
                errors["b/c"] = str(exc)
                say(f"  (b/c) FAILED: {exc}")
    finally:
        if args.keep_tmp:
            say(f"temporary stores and logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    elapsed = time.perf_counter() - started
    machine["load_avg_end"] = load_average()
    problems = [problem for result in results.values() for problem in result["problems"]]
    table = markdown_table(
        ["workload", "sparktrack", "MLflow", "ratio", "target", "met?"],
        summary_rows(results, sizes),
    )
    notes = summary_notes(results, sizes, populated)
    print_summary(table, notes, machine)
    versions = package_versions(("sparktrack", "deltalake", "pyarrow", "fastapi", "uvicorn"))
    mlflow_version = subprocess.run(
        [str(interpreter), "-c", "import importlib.metadata as m; print(m.version('mlflow'))"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    versions["mlflow"] = mlflow_version or None
    tree = source_tree()
    say(
        f"sparktrack {versions['sparktrack']} ({tree['describe']}), MLflow {mlflow_version}; "
        f"benchmark took {format_seconds(elapsed)}"
    )
    partial = partial_reasons(
        (f"workloads {','.join(args.only)} only", args.only != list(WORKLOADS)),
        (f"failed: {', '.join(errors)}", bool(errors)),
        ("servers disagree", bool(problems)),
    )
    fields = {
        "sizes": sizes.__dict__,
        "workloads": args.only,
        "mlflow_python": str(interpreter),
        "versions": versions,
        "source_tree": tree,
        "machine": machine,
        "search": {
            "filter_string": ingest.SEARCH_FILTER,
            "order_by": ingest.SEARCH_ORDER,
            "page": sizes.b_page,
        },
        "targets": {"c_speedup": TARGET_C_SPEEDUP},
        "populate": populated,
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
        problems=[f"the servers disagree: {problem}" for problem in problems],
    )


if __name__ == "__main__":
    run_main(main)
