"""Model serving latency: `sparktrack serve` against `mlflow models serve`, and batch
scoring with `spark_udf` against `PipelineModel.transform`, one invocation.

Three models, trained on synthetic data (8 numeric features and a string column,
``segment``, with 5 values) and saved once each with ``sparktrack.models.save_model``:

  linear  VectorAssembler(8 features) -> StandardScaler -> LogisticRegression
  forest  StringIndexer(segment) -> VectorAssembler(8 features + the segment's index)
          -> RandomForestClassifier(numTrees=100, maxDepth=8)
  gbt     the same StringIndexer and VectorAssembler -> GBTClassifier(maxIter=50)

(The StringIndexer comes first in the tree pipelines: the assembler reads the index it
writes, so it cannot come before it.) sparktrack scores a model with numpy when its
local scorer covers every stage, without a JVM, and with Spark otherwise; each server's
``/health`` says which (``engine``, ``spark_loaded``), and the tables show it.

Part 1, serving. MLflow serves the same folders (they have MLflow's MLmodel layout),
so both servers score the same models. Measured for each server and model:

  startup   process start -> first ``GET /ping`` answered 200; whether a JVM runs
            (``spark_loaded`` in sparktrack's /health, and any java process among the
            server's descendants, checked once ready and again after the requests)
  single    p50 / p99 of ``POST /invocations`` with one row (dataframe_split JSON)
  batch     p50 / p99 of ``POST /invocations`` with 1,000 rows

The tree models' requests carry the string column beside the numbers (dataframe_split
with mixed types). The servers run one after the other, never together, each in its
own process group, in a balanced order (sparktrack first for linear and gbt, MLflow
first for forest), and the client is the standard library's http.client on one
kept-alive connection, so neither server pays for the other's load or for a client
library's overhead. Both servers get byte-identical request bodies.

Predictions must agree, or the benchmark exits 1: each server's answer to a 1,000-row
request must equal what the model's own ``transform`` predicted for those rows when it
was trained (computed in the training process), every value within 1e-9 (absolute;
the predictions are class labels, so any different label fails).

Targets (the issue's, for every model here; met only when the local scorer covers the
model, so a model that falls back to Spark shows them not met): startup <= 2 s with no
JVM, single-row p50 <= 2 ms, 1,000-row p50 <= 20 ms. MLflow's figures are shown beside
sparktrack's, with the ratio MLflow / sparktrack.

Part 2, scoring jobs (forest and gbt). In a child process with a SparkSession built as
a user builds one (``local[2]``, no sparktrack confs), the same input DataFrame --
``spark.range(--batch-rows)`` with 8 seeded ``randn`` columns and a segment picked by a
hash of the id, generated anew by each job -- is scored by ``spark_udf`` (the model's
numpy evaluation in the Python workers) and by ``PipelineModel.transform`` (the JVM).
A job ends when its result is on the driver: ``groupBy(prediction)`` with each class's
row count and the sum of a 32-bit hash of its rows' ids, which makes Spark score every
row. The two variants alternate in a balanced order, repeat after repeat (each once,
untimed, over 20,000 rows first); every repeat of both must give the same classes,
counts and id-hash sums, or the benchmark exits 1. Target: spark_udf at least as fast
as transform (median ratio <= 1). ``spark_udf`` refuses a model with a stage only Spark
evaluates: that model's spark_udf figure is then "refused" and its target not met. The
Python workers run this interpreter (``PYSPARK_PYTHON``), which has sparktrack.

Usage (from the repo root; `make bench-setup` builds .venv-bench, with MLflow and
sparktrack installed from this checkout):

  .venv-bench/bin/python bench/serving_latency.py                  # full, with MLflow
  .venv-bench/bin/python bench/serving_latency.py --quick          # smoke run, 200k-row jobs
  .venv-bench/bin/python bench/serving_latency.py --update-readme  # full, then the docs
  .venv/bin/python bench/serving_latency.py --skip-mlflow          # sparktrack only
  ... --batch-rows 1000000    # scoring jobs over another size (a partial run)
  ... --skip-batch            # serving only (a partial run)

Results: markdown tables on stdout, and the raw results (every request's latency, every
job's time) in bench/results/serving_latency-<date>-<commit>.json (--quick: the
git-ignored bench/out/).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
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
    format_seconds,
    format_spread,
    load_average,
    machine_description,
    machine_line,
    markdown_table,
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
    time_call,
)

BENCH_NAME = "serving_latency"
SPARK_ENGINE = "sparktrack-spark"  # `sparktrack serve --engine spark`: a Spark job per request
FEATURES = [f"f{i}" for i in range(8)]
SEGMENT = "segment"
SEGMENTS = ("north", "south", "east", "west", "central")
TRAIN_ROWS = 5_000
BATCH_ROWS = 1_000  # rows of a batch request
STARTUP_TIMEOUT_S = 600  # a JVM on a loaded 2-core machine can take minutes
REQUEST_TIMEOUT_S = 300

# The targets for the models the numpy scorer covers (all three, once trees are
# covered): absolute figures for sparktrack; MLflow's are shown beside them.
TARGET_STARTUP_S = 2.0  # process start -> /ping 200, and no JVM
TARGET_SINGLE_P50_S = 2e-3
TARGET_BATCH_P50_S = 20e-3
TARGET_UDF_RATIO = 1.0  # spark_udf time / transform time, median of the repeats
# Every predicted value against the model's own transform: labels, so any flip fails.
PREDICTION_TOLERANCE = 1e-9
# The rows whose predictions are checked: the first 1,000-row request's.
CHECK_SEED = 100
# Scoring jobs: the size, the smoke run's, and the untimed warm-up's.
JOB_ROWS_FULL = 10_000_000
JOB_ROWS_QUICK = 200_000
JOB_WARMUP_ROWS = 20_000
JOB_MASTER = "local[2]"
JOB_MODELS = ("forest", "gbt")
JOB_VARIANTS = ("spark_udf", "transform")
PACKAGES = ("sparktrack", "pyspark", "mlflow", "fastapi", "uvicorn", "numpy", "pandas")


@dataclass(frozen=True)
class ModelSpec:
    key: str
    pipeline: str
    inputs: tuple[str, ...]  # the request columns, in order


_TREE_INPUTS = (*FEATURES, SEGMENT)
_TREE_FRONT = "StringIndexer(segment) -> VectorAssembler(8 features + segment index)"
MODELS = (
    ModelSpec("linear", "VectorAssembler -> StandardScaler -> LogisticRegression", tuple(FEATURES)),
    ModelSpec(
        "forest",
        f"{_TREE_FRONT} -> RandomForestClassifier(numTrees=100, maxDepth=8)",
        _TREE_INPUTS,
    ),
    ModelSpec("gbt", f"{_TREE_FRONT} -> GBTClassifier(maxIter=50)", _TREE_INPUTS),
)


@dataclass(frozen=True)
class Counts:
    warmup: int
    single: int
    batch: int
    job_rows: int
    job_repeats: int  # even: balanced_order pairs them


FULL = Counts(warmup=5, single=200, batch=50, job_rows=JOB_ROWS_FULL, job_repeats=2)
QUICK = Counts(warmup=3, single=40, batch=10, job_rows=JOB_ROWS_QUICK, job_repeats=2)


# =====================================================================================
# The models: trained and saved in a child process, so no JVM lives in the client
# =====================================================================================
def _estimator(key: str) -> Any:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import (
        GBTClassifier,
        LogisticRegression,
        RandomForestClassifier,
    )
    from pyspark.ml.feature import StandardScaler, StringIndexer, VectorAssembler

    if key == "linear":
        return Pipeline(
            stages=[
                VectorAssembler(inputCols=FEATURES, outputCol="features"),
                StandardScaler(inputCol="features", outputCol="scaled", withMean=True),
                LogisticRegression(featuresCol="scaled", maxIter=50),
            ]
        )
    # The indexer first: the assembler reads the index it writes.
    indexer = StringIndexer(inputCol=SEGMENT, outputCol="segment_index")
    assembler = VectorAssembler(inputCols=[*FEATURES, "segment_index"], outputCol="features")
    if key == "forest":
        trees = RandomForestClassifier(featuresCol="features", numTrees=100, maxDepth=8, seed=42)
    else:
        trees = GBTClassifier(featuresCol="features", maxIter=50, seed=42)
    return Pipeline(stages=[indexer, assembler, trees])


def _train_and_save(root: str, rows: int) -> None:
    """Save each model under root/<key>, and what its transform predicts for the check
    rows in root/reference.json."""
    import numpy as np
    import pandas as pd

    from sparktrack.models import save_model, signature_for_spark_model
    from sparktrack.session import spark_session

    spark = spark_session("serving-bench-train", "local[2]")
    rng = np.random.default_rng(42)
    data = rng.normal(size=(rows, len(FEATURES))) * rng.uniform(0.5, 20, len(FEATURES))
    frame = pd.DataFrame(data, columns=FEATURES)
    segments = rng.integers(0, len(SEGMENTS), size=rows)
    frame[SEGMENT] = [SEGMENTS[i] for i in segments]
    weights = rng.normal(size=len(FEATURES)) / data.std(axis=0)
    # The segment shifts the odds, so the trees split on its index too.
    shift = rng.normal(scale=1.0, size=len(SEGMENTS))[segments]
    noise = rng.normal(scale=0.5, size=rows)
    frame["label"] = ((data @ weights + shift + noise) > 0).astype(float)
    df = spark.createDataFrame(frame)
    reference: dict[str, list[float]] = {}
    for spec in MODELS:
        model = _estimator(spec.key).fit(df)
        signature = signature_for_spark_model(model, df.schema, ["label"])
        save_model(model, str(Path(root, spec.key)), signature=signature)
        check_rows = _request_rows(BATCH_ROWS, CHECK_SEED, spec)
        check = spark.createDataFrame(pd.DataFrame(check_rows, columns=list(spec.inputs)))
        # One partition keeps the rows in request order.
        predicted = model.transform(check.coalesce(1)).select("prediction").collect()
        reference[spec.key] = [float(row["prediction"]) for row in predicted]
    Path(root, "reference.json").write_text(json.dumps(reference))
    spark.stop()


def prediction_mismatches(expected: list[Any], got: list[Any]) -> list[str]:
    """Rows whose predicted value differs by more than PREDICTION_TOLERANCE (first 5)."""
    if len(expected) != len(got):
        return [f"{len(got)} predictions for {len(expected)} rows"]
    found = []
    for row, (want, have) in enumerate(zip(expected, got, strict=True)):
        numbers = isinstance(want, (int, float)) and isinstance(have, (int, float))
        if numbers and abs(float(want) - float(have)) <= PREDICTION_TOLERANCE:
            continue
        if not numbers and want == have:
            continue
        found.append(f"row {row}: expected {want!r}, got {have!r}")
        if len(found) == 5:
            break
    return found


# =====================================================================================
# Requests
# =====================================================================================
def _request_rows(count: int, seed: int, spec: ModelSpec) -> list[list[Any]]:
    """Rows of the model's request columns: numbers, then the segment when it reads one.

    The numbers are drawn first and the segment after, from the same seed, so the
    linear model's rows are the tree models' without their last column.
    """
    import random

    rng = random.Random(seed)
    rows: list[list[Any]] = [[round(rng.gauss(0, 10), 6) for _ in FEATURES] for _ in range(count)]
    if SEGMENT in spec.inputs:
        for row in rows:
            row.append(rng.choice(SEGMENTS))
    return rows


def _split_body(spec: ModelSpec, rows: list[list[Any]]) -> bytes:
    return json.dumps({"dataframe_split": {"columns": list(spec.inputs), "data": rows}}).encode()


@dataclass(frozen=True)
class Bodies:
    """One model's request bodies, the same bytes for every server."""

    single: list[bytes]
    batch: list[bytes]  # the first holds the check rows: its answer is compared


def _bodies(spec: ModelSpec, counts: Counts) -> Bodies:
    single_rows = _request_rows(counts.warmup + counts.single, 1, spec)
    return Bodies(
        single=[_split_body(spec, [row]) for row in single_rows],
        batch=[
            _split_body(spec, _request_rows(BATCH_ROWS, seed, spec))
            for seed in range(CHECK_SEED, CHECK_SEED + counts.warmup + counts.batch)
        ],
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Client:
    """POSTs on one kept-alive HTTP/1.1 connection (reconnecting if the server drops it)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)

    def post(self, body: bytes) -> tuple[float, int, bytes]:
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        for attempt in (1, 2):
            try:
                started = time.perf_counter()
                self.connection.request("POST", "/invocations", body=body, headers=headers)
                response = self.connection.getresponse()
                content = response.read()
                return time.perf_counter() - started, response.status, content
            except (ConnectionError, http.client.HTTPException):
                if attempt == 2:
                    raise
                self.connection.close()
                self.connection = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S
                )
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


def _get(port: int, path: str) -> bytes | None:
    """The body of a 200 answer to ``GET path``; None until the server gives one."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        connection.close()
        return body if response.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None


def _health(tool: str, port: int) -> dict[str, Any] | None:
    """sparktrack's ``/health`` (engine, spark_loaded, ...); None for MLflow's server."""
    if not tool.startswith("sparktrack"):
        return None
    body = _get(port, "/health")
    try:
        found = json.loads(body) if body is not None else None
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _java_descendants(root: int) -> list[dict[str, Any]]:
    """The java processes among ``root``'s descendants (its children, theirs, ...), read
    from /proc: a JVM the server started, whether or not it says so."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        close = stat.rfind(")")
        names[int(entry.name)] = stat[stat.find("(") + 1 : close]
        parents[int(entry.name)] = int(stat[close + 2 :].split()[1])
    found = []
    for pid, name in names.items():
        ancestor = parents.get(pid)
        while ancestor is not None and ancestor > 1 and ancestor != root:
            ancestor = parents.get(ancestor)
        if ancestor == root and name == "java":
            found.append({"pid": pid, "comm": name})
    return found


def _engine(tool: str, health: dict[str, Any] | None) -> str:
    """What scores the model: sparktrack's /health says (numpy "local" or "spark")."""
    if not tool.startswith("sparktrack"):
        return "spark"  # MLflow's spark flavor scores every request with a Spark job
    return str((health or {}).get("engine", "?"))


# =====================================================================================
# Servers
# =====================================================================================
def _server_command(tool: str, folder: str, port: int) -> list[str]:
    if tool.startswith("sparktrack"):
        command = [sys.executable, "-m", "sparktrack.cli", "serve", folder, "--port", str(port)]
        return [*command, "--engine", "spark"] if tool == SPARK_ENGINE else command
    return [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        folder,
        "--env-manager",
        "local",
        "-p",
        str(port),
        "--host",
        "127.0.0.1",
    ]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and everything it started (MLflow's uvicorn workers, the JVMs)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def _percentiles(latencies: list[float]) -> dict[str, Any]:
    return {
        "p50_s": percentile(latencies, 50),
        "p99_s": percentile(latencies, 99),
        "mean_s": sum(latencies) / len(latencies),
        "min_s": min(latencies),
        "max_s": max(latencies),
        "n": len(latencies),
        "latencies_s": latencies,  # every request, in order: the raw results
    }


def _measure(client: Client, bodies: list[bytes], warmup: int, what: str) -> dict[str, Any]:
    for body in bodies[:warmup]:
        _, status, content = client.post(body)
        if status != 200:
            raise RuntimeError(f"{what}: warm-up request answered {status}: {content[:500]!r}")
    latencies = []
    for body in bodies[warmup:]:
        seconds, status, content = client.post(body)
        if status != 200:
            raise RuntimeError(f"{what}: request answered {status}: {content[:500]!r}")
        latencies.append(seconds)
    return _percentiles(latencies)


def _jvm_check(tool: str, process: subprocess.Popen[bytes], port: int) -> dict[str, Any]:
    """Whether a JVM serves: sparktrack's own word (spark_loaded) and the process tree."""
    health = _health(tool, port)
    java = _java_descendants(process.pid)
    spark_loaded = None if health is None else bool(health.get("spark_loaded"))
    return {
        "health": health,
        "spark_loaded": spark_loaded,
        "java_descendants": java,
        "jvm": bool(java) or bool(spark_loaded),
    }


def run_server(
    tool: str, folder: str, workdir: Path, counts: Counts, bodies: Bodies
) -> dict[str, Any]:
    port = _free_port()
    log_path = workdir / f"{tool}-{Path(folder).name}.log"
    # The venv's bin first on PATH, as if activated: MLflow execs `uvicorn` by name.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PATH": path}
    with log_path.open("wb") as log:
        started = time.perf_counter()
        # cwd = the temporary folder: nothing left behind in the repo; own process group.
        process = subprocess.Popen(
            _server_command(tool, folder, port),
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while _get(port, "/ping") is None:
            if process.poll() is not None:
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
                raise RuntimeError(f"{tool} server exited with {process.returncode}:\n{tail}")
            if time.perf_counter() - started > STARTUP_TIMEOUT_S:
                raise RuntimeError(f"{tool} server not ready after {STARTUP_TIMEOUT_S} s")
            time.sleep(0.05)
        startup = time.perf_counter() - started
        at_ready = _jvm_check(tool, process, port)
        engine = _engine(tool, at_ready["health"])
        say(
            f"  {tool:<16} ready after {format_seconds(startup)}, scores with {engine}, "
            f"{'a JVM runs' if at_ready['jvm'] else 'no JVM'}"
        )
        client = Client(port)
        try:
            result: dict[str, Any] = {
                "startup_s": startup,
                "engine": engine,
                "jvm_at_ready": at_ready,
                "single": _measure(client, bodies.single, counts.warmup, f"{tool} single-row"),
            }
            say(
                f"  {tool:<16} single-row p50 {format_seconds(result['single']['p50_s'])}, "
                f"p99 {format_seconds(result['single']['p99_s'])}"
            )
            result["batch"] = _measure(client, bodies.batch, counts.warmup, f"{tool} 1,000-row")
            say(
                f"  {tool:<16} {BATCH_ROWS:,}-row  p50 {format_seconds(result['batch']['p50_s'])}, "
                f"p99 {format_seconds(result['batch']['p99_s'])}"
            )
            _, _, content = client.post(bodies.batch[0])
            result["predictions"] = json.loads(content)["predictions"]
        finally:
            client.close()
        # Again after the requests: one of them may have needed Spark.
        result["jvm_at_end"] = _jvm_check(tool, process, port)
        result["jvm"] = at_ready["jvm"] or result["jvm_at_end"]["jvm"]
    finally:
        _stop(process)
    return result


# =====================================================================================
# Scoring jobs: spark_udf against PipelineModel.transform, in a child process
# =====================================================================================
def _job_input(spark: Any, rows: int) -> Any:
    """The scoring jobs' input, generated by Spark the same way for every job: seeded
    ``randn`` columns (the same values in every job: same seeds, same partitions) and a
    segment picked by a hash of the id."""
    from pyspark.sql import functions as F

    segment = F.element_at(
        F.array(*[F.lit(s) for s in SEGMENTS]), F.pmod(F.hash("id"), len(SEGMENTS)) + 1
    )
    features = [(F.randn(seed=i) * 10).alias(name) for i, name in enumerate(FEATURES)]
    return spark.range(rows).select("id", *features, segment.alias(SEGMENT))


def _class_summary(scored: Any) -> dict[str, list[int]]:
    """Per predicted class: the row count and the sum of a 32-bit hash of the rows' ids.

    Aggregating the prediction makes Spark score every row, and the result is on the
    driver when the job ends. Any row moved to another class changes two classes'
    counts and hash sums (int32 hashes summed as longs: no overflow).
    """
    from pyspark.sql import functions as F

    grouped = scored.groupBy("prediction").agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.hash("id").cast("long")).alias("id_hash_sum"),
    )
    return {
        repr(float(row["prediction"])): [int(row["rows"]), int(row["id_hash_sum"])]
        for row in sorted(grouped.collect(), key=lambda row: float(row["prediction"]))
    }


def _run_scoring_jobs(root: str, counts: Counts) -> None:
    """Time spark_udf and transform over the same input for each tree model; write
    root/scoring_jobs.json."""
    from pyspark.ml import PipelineModel
    from pyspark.sql import SparkSession

    from sparktrack.errors import InvalidInputError
    from sparktrack.models import spark_udf

    # A session as a user builds one: no sparktrack confs, no Delta.
    spark = (
        SparkSession.builder.master(JOB_MASTER)
        .appName("serving-bench-scoring-jobs")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    frame = _job_input(spark, counts.job_rows)
    warmup_frame = _job_input(spark, min(JOB_WARMUP_ROWS, counts.job_rows))
    results: dict[str, Any] = {}
    for key in JOB_MODELS:
        folder = Path(root, key)
        pipeline = PipelineModel.load(str(folder / "sparkml"))
        jobs: dict[str, Callable[[Any], Any]] = {
            "transform": lambda df, model=pipeline: model.transform(df).select("id", "prediction")
        }
        refused = None
        try:
            predict = spark_udf(spark, str(folder))
            jobs["spark_udf"] = lambda df, score=predict: df.select(
                "id", score().alias("prediction")
            )
        except InvalidInputError as exc:
            refused = str(exc)
            say(f"  {key}: spark_udf refused it: {refused}")
        variants = [name for name in JOB_VARIANTS if name in jobs]
        for name in variants:
            _class_summary(jobs[name](warmup_frame))
        seconds: dict[str, list[float]] = {name: [] for name in variants}
        summaries: dict[str, list[dict[str, list[int]]]] = {name: [] for name in variants}
        order = []
        for repeat in range(counts.job_repeats):
            for name in balanced_order(variants, repeat):
                job = jobs[name]
                elapsed, summary = time_call(lambda job=job: _class_summary(job(frame)))
                seconds[name].append(elapsed)
                summaries[name].append(summary)
                order.append(name)
                say(f"  {key} {name:<9} repeat {repeat + 1}: {format_seconds(elapsed)}")
        expected = summaries["transform"][0]
        disagreements = [
            f"{name} repeat {i + 1}: {summary} (transform's first: {expected})"
            for name in variants
            for i, summary in enumerate(summaries[name])
            if summary != expected
        ]
        if sum(rows for rows, _ in expected.values()) != counts.job_rows:
            disagreements.append(f"transform scored {expected} for {counts.job_rows:,} rows")
        results[key] = {
            "refused": refused,
            "order": order,
            "seconds": seconds,
            "spread": {name: spread(values) for name, values in seconds.items()},
            "class_summaries": summaries,
            "disagreements": disagreements,
        }
    spark.stop()
    Path(root, "scoring_jobs.json").write_text(json.dumps(results))


def scoring_jobs(root: Path, args: argparse.Namespace, counts: Counts) -> dict[str, Any]:
    """Run the scoring jobs in a child process (its own JVM, gone when it ends)."""
    log_path = root / "scoring-jobs.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--scoring-jobs", str(root)]
    if args.quick:
        command.append("--quick")
    command += ["--batch-rows", str(counts.job_rows)]
    # The Python workers run this interpreter: it has sparktrack and its dependencies.
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYSPARK_PYTHON": sys.executable}
    with log_path.open("wb") as log:
        # Progress lines on our stdout; Spark's log into the file, shown on failure.
        done = subprocess.run(command, cwd=root, env=env, stderr=log, check=False)
    if done.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
        raise RuntimeError(f"the scoring jobs exited with {done.returncode}:\n{tail}")
    found: dict[str, Any] = json.loads((root / "scoring_jobs.json").read_text())
    return found


# =====================================================================================
# Report
# =====================================================================================
def _ratio(peer: float | None, ours: float) -> float | None:
    return None if peer is None or ours <= 0 else peer / ours


def _value(result: dict[str, Any] | None, path: tuple[str, ...]) -> float | None:
    if result is None:
        return None
    found: Any = result
    for key in path:
        found = found[key]
    return float(found)


@dataclass(frozen=True)
class Measure:
    name: str
    path: tuple[str, ...]
    target_s: float | None = None  # sparktrack's figure must be at most this
    target_text: str = "-"


SERVING_MEASURES = (
    Measure("startup (start -> /ping 200)", ("startup_s",), TARGET_STARTUP_S, "<= 2 s, no JVM"),
    Measure("single-row p50", ("single", "p50_s"), TARGET_SINGLE_P50_S, "<= 2 ms"),
    Measure("single-row p99", ("single", "p99_s")),
    Measure(f"{BATCH_ROWS:,}-row p50", ("batch", "p50_s"), TARGET_BATCH_P50_S, "<= 20 ms"),
    Measure(f"{BATCH_ROWS:,}-row p99", ("batch", "p99_s")),
)


def targets_met(result: dict[str, Any]) -> dict[str, bool]:
    """Each serving target, met or not by sparktrack's figures (startup also needs no JVM)."""
    met = {}
    for measure in SERVING_MEASURES:
        if measure.target_s is None:
            continue
        value = _value(result, measure.path)
        ok = value is not None and value <= measure.target_s
        if measure.path == ("startup_s",):
            ok = ok and not result["jvm"]
        met[measure.name] = ok
    return met


def _cell(result: dict[str, Any] | None, measure: Measure) -> str:
    value = _value(result, measure.path)
    if result is None or value is None:
        return "-"
    if measure.path == ("startup_s",):
        return f"{format_seconds(value)}, {'JVM' if result['jvm'] else 'no JVM'}"
    return format_seconds(value)


def summary_rows(spec: ModelSpec, results: dict[str, Any]) -> list[list[str]]:
    """One model's rows: startup and latencies, sparktrack against MLflow."""
    ours = results["sparktrack"]
    peer = results.get("mlflow")
    spark_engine = results.get(SPARK_ENGINE)
    engine = "numpy" if ours["engine"] == "local" else ours["engine"]
    label = f"{spec.key} (sparktrack: {engine})"
    met = targets_met(ours)
    rows = []
    for measure in SERVING_MEASURES:
        mine = _value(ours, measure.path)
        ratio = _ratio(_value(peer, measure.path), float(mine or 0.0))
        row = [
            label,
            measure.name,
            _cell(ours, measure),
            _cell(peer, measure),
            "-" if ratio is None else f"{ratio:.1f}x",
            measure.target_text,
            "-" if measure.name not in met else ("yes" if met[measure.name] else "NO"),
        ]
        if spark_engine is not None:
            row.append(_cell(spark_engine, measure))
        rows.append(row)
    return rows


def udf_ratio(job: dict[str, Any]) -> float | None:
    """spark_udf's median time / transform's; None when spark_udf refused the model."""
    if "spark_udf" not in job["spread"]:
        return None
    return float(job["spread"]["spark_udf"]["median"] / job["spread"]["transform"]["median"])


def job_rows(jobs: dict[str, Any], rows: int) -> list[list[str]]:
    """One row per tree model: spark_udf against transform over the same rows."""
    table = []
    for key in JOB_MODELS:
        if key not in jobs:
            continue
        job = jobs[key]
        ratio = udf_ratio(job)
        udf = (
            "refused (Spark-only stage)"
            if ratio is None
            else format_spread(job["seconds"]["spark_udf"])
        )
        table.append(
            [
                key,
                f"{rows:,} rows, {JOB_MASTER}",
                udf,
                format_spread(job["seconds"]["transform"]),
                "-" if ratio is None else f"{ratio:.2f}",
                f"<= {TARGET_UDF_RATIO:g}",
                "yes" if ratio is not None and ratio <= TARGET_UDF_RATIO else "NO",
            ]
        )
    return table


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_arguments(
        parser,
        quick=(
            f"fewer requests ({QUICK.single} single-row, {QUICK.batch} batch) and "
            f"{JOB_ROWS_QUICK:,}-row scoring jobs, for a smoke run"
        ),
        keep_tmp="keep the model folders and the servers' logs",
    )
    parser.add_argument(
        "--with-spark-engine",
        action="store_true",
        help="also measure `sparktrack serve --engine spark` (a Spark job per request)",
    )
    parser.add_argument(
        "--batch-rows",
        type=int,
        help=f"rows of each scoring job (default {JOB_ROWS_FULL:,}; --quick: {JOB_ROWS_QUICK:,})",
    )
    parser.add_argument(
        "--skip-batch", action="store_true", help="no scoring jobs (spark_udf vs transform)"
    )
    parser.add_argument("--train", help=argparse.SUPPRESS)  # internal: train into a folder
    parser.add_argument("--scoring-jobs", help=argparse.SUPPRESS)  # internal: the jobs
    args = parser.parse_args(argv)
    if args.batch_rows is not None and args.batch_rows < 1:
        parser.error(f"--batch-rows must be positive, got {args.batch_rows}")
    refuse_partial_readme_run(
        parser,
        args,
        {
            "--batch-rows": args.batch_rows not in (None, JOB_ROWS_FULL),
            "--skip-batch": args.skip_batch,
        },
    )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    counts = QUICK if args.quick else FULL
    if args.batch_rows is not None:
        counts = Counts(**{**counts.__dict__, "job_rows": args.batch_rows})
    if args.train:
        _train_and_save(args.train, TRAIN_ROWS)
        return 0
    if args.scoring_jobs:
        _run_scoring_jobs(args.scoring_jobs, counts)
        return 0
    mlflow_choice = choose_mlflow(args)
    with_mlflow, mlflow_installed = mlflow_choice.used, mlflow_choice.installed
    tools = ["sparktrack", "mlflow"] if with_mlflow else ["sparktrack"]
    if args.with_spark_engine:
        tools.append(SPARK_ENGINE)
    machine = machine_description()
    say(f"Serving latency benchmark ({'quick' if args.quick else 'full'})")
    say(machine_line(machine))
    if not with_mlflow:
        say("mlflow not installed" if not mlflow_installed else "MLflow skipped (--skip-mlflow)")

    root = Path(tempfile.mkdtemp(prefix="sparktrack-serving-bench-"))
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    jobs: dict[str, Any] = {}
    errors: dict[str, str] = {}
    mismatches: dict[str, list[str]] = {}
    order: dict[str, list[str]] = {}
    try:
        say(f"training and saving the models on {TRAIN_ROWS:,} rows ...")
        trained = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--train", str(root)],
            cwd=root,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
            capture_output=True,
            text=True,
            check=False,
        )
        if trained.returncode != 0:
            raise RuntimeError(f"training exited with {trained.returncode}:\n{trained.stderr}")
        reference = json.loads((root / "reference.json").read_text())
        for index, spec in enumerate(MODELS):
            say(f"{spec.key}: {spec.pipeline}")
            bodies = _bodies(spec, counts)
            results[spec.key] = {}
            order[spec.key] = balanced_order(tools, index)
            for tool in order[spec.key]:
                what = f"{spec.key}/{tool}"
                try:
                    result = run_server(tool, str(root / spec.key), root, counts, bodies)
                except (RuntimeError, OSError, http.client.HTTPException) as exc:
                    errors[what] = str(exc)
                    say(f"  {tool} FAILED: {exc}")
                    continue
                predictions = result.pop("predictions")
                wrong = prediction_mismatches(reference[spec.key], predictions)
                result["predictions_match_transform"] = not wrong
                if wrong:
                    mismatches[what] = wrong
                    say(f"  {tool} PREDICTIONS DIFFER from the model's transform: {wrong}")
                if tool == "sparktrack":
                    result["targets_met"] = targets_met(result)
                results[spec.key][tool] = result
        if not args.skip_batch:
            say(
                f"scoring jobs: spark_udf vs PipelineModel.transform over {counts.job_rows:,} "
                f"rows on {JOB_MASTER}, {counts.job_repeats} repeats each ..."
            )
            try:
                jobs = scoring_jobs(root, args, counts)
            except (RuntimeError, OSError, ValueError) as exc:
                errors["scoring_jobs"] = str(exc)[-3000:]
                say(f"  scoring jobs FAILED: {errors['scoring_jobs']}")
            for key, job in jobs.items():
                if job["disagreements"]:
                    mismatches[f"{key}/scoring jobs"] = job["disagreements"]
                    say(f"  {key}: PREDICTIONS DIFFER: {job['disagreements']}")
                job["udf_ratio"] = udf_ratio(job)
    except (RuntimeError, OSError, ValueError) as exc:
        errors["setup"] = str(exc)[-3000:]
        say(f"FAILED: {errors['setup']}")
    finally:
        if args.keep_tmp:
            say(f"model folders and server logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    elapsed = time.perf_counter() - started
    machine["load_avg_end"] = load_average()

    rows = [
        row
        for spec in MODELS
        if "sparktrack" in results.get(spec.key, {})
        for row in summary_rows(spec, results[spec.key])
    ]
    headers = ["model", "measure", "sparktrack", "MLflow", "ratio", "target", "met?"]
    if args.with_spark_engine:
        headers.append("sparktrack --engine spark")
    table = markdown_table(headers, rows)
    if jobs:
        job_headers = [
            "model",
            "scoring job",
            "spark_udf",
            "PipelineModel.transform",
            "spark_udf / transform",
            "target",
            "met?",
        ]
        table += "\n\n" + markdown_table(job_headers, job_rows(jobs, counts.job_rows))
    notes = [
        f"{counts.single} single-row and {counts.batch} {BATCH_ROWS:,}-row requests per "
        f"server and model after {counts.warmup} warm-ups each; ratio = MLflow / sparktrack; "
        "servers in a balanced order (sparktrack first for linear and gbt, MLflow first "
        "for forest); the tree models' requests carry the string column `segment`",
        "MLflow: `mlflow models serve --env-manager local` (uvicorn, its default workers), "
        "a Spark job per request; sparktrack: `sparktrack serve`, numpy where its local "
        "scorer covers the model, else Spark with the JVM kept warm (the model's row "
        "names the engine its /health reported)",
        "targets (sparktrack's figures, every model): startup <= 2 s with no JVM "
        "(/health's spark_loaded false and no java process among the server's descendants, "
        "once ready and after the requests), single-row p50 <= 2 ms, 1,000-row p50 "
        "<= 20 ms; a model served by Spark cannot meet them",
    ]
    if not mismatches and not errors:
        notes.append(
            f"every server's predictions for a {BATCH_ROWS:,}-row request equal the model's "
            f"own transform (within {PREDICTION_TOLERANCE:g}), for every model"
        )
    if jobs:
        notes.append(
            f"scoring jobs: a session as a user builds it on {JOB_MASTER}; the same "
            f"{counts.job_rows:,}-row input generated by Spark (spark.range, 8 seeded randn "
            "columns, a segment from a hash of the id) in each job; a job ends when "
            "groupBy(prediction) with each class's row count and id-hash sum is on the "
            f"driver; median [min, max] of {counts.job_repeats} repeats, the variants "
            "alternating in a balanced order after one untimed warm-up each over "
            f"{min(JOB_WARMUP_ROWS, counts.job_rows):,} rows"
        )
        if not any(job["disagreements"] for job in jobs.values()):
            notes.append(
                "every repeat of spark_udf and transform gave the same classes, row counts "
                "and id-hash sums"
            )
    print_summary(table, notes, machine)
    tree = source_tree()
    versions = package_versions(PACKAGES)
    say(
        f"sparktrack {versions['sparktrack']} ({tree['describe']})"
        + (f", MLflow {versions['mlflow']}" if with_mlflow else "")
        + f"; benchmark took {format_seconds(elapsed)}"
    )
    partial = partial_reasons(
        ("no MLflow", not with_mlflow),
        ("no scoring jobs", args.skip_batch),
        (
            f"scoring jobs over {counts.job_rows:,} rows",
            not args.skip_batch and counts.job_rows != JOB_ROWS_FULL and not args.quick,
        ),
        (f"failed: {', '.join(errors)}", bool(errors)),
        (f"predictions differ: {', '.join(mismatches)}", bool(mismatches)),
    )
    fields = {
        "counts": counts.__dict__,
        "models": {
            spec.key: {"pipeline": spec.pipeline, "inputs": list(spec.inputs)} for spec in MODELS
        },
        "features": len(FEATURES),
        "segments": list(SEGMENTS),
        "train_rows": TRAIN_ROWS,
        "batch_rows": BATCH_ROWS,
        "order": order,
        "with_mlflow": with_mlflow,
        "versions": versions,
        "source_tree": tree,
        "machine": machine,
        "targets": {
            "startup_s": TARGET_STARTUP_S,
            "startup_without_jvm": True,
            "single_p50_s": TARGET_SINGLE_P50_S,
            "batch_p50_s": TARGET_BATCH_P50_S,
            "udf_to_transform_ratio": TARGET_UDF_RATIO,
        },
        "prediction_tolerance": PREDICTION_TOLERANCE,
        "results": results,
        "scoring_jobs": {"master": JOB_MASTER, "rows": counts.job_rows, "models": jobs},
        "prediction_mismatches": mismatches,
        "errors": errors,
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
        problems=[
            f"{what}: predictions differ from the model's transform: {wrong}"
            for what, wrong in mismatches.items()
        ],
    )


if __name__ == "__main__":
    run_main(main)
