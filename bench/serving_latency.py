"""Model serving latency: `sparktrack serve` against `mlflow models serve`, one invocation.

Two models over the same 8 features, trained on synthetic data and saved once each with
``sparktrack.models.save_model``:

  linear  VectorAssembler -> StandardScaler -> LogisticRegression: sparktrack scores it
          with numpy (its local scorer), without a Spark job
  forest  VectorAssembler -> RandomForestClassifier(numTrees=20, maxDepth=6): no local
          scorer covers trees today, so sparktrack scores it with Spark, as MLflow does

MLflow serves the same folders (they have MLflow's MLmodel layout), so both servers
score the same models. Measured for each server and model:

  startup   process start -> first ``GET /ping`` answered 200
  single    p50 / p99 of ``POST /invocations`` with one row (dataframe_split JSON)
  batch     p50 / p99 of ``POST /invocations`` with 1,000 rows

The servers run one after the other, never together, each in its own process group, in
a balanced order (sparktrack first for the first model, MLflow first for the second),
and the client is the standard library's http.client on one kept-alive connection, so
neither server pays for the other's load or for a client library's overhead. Both
servers get byte-identical request bodies.

Predictions must agree, or the benchmark exits 1: each server's answer to a 1,000-row
request must equal what the model's own ``transform`` predicted for those rows when it
was trained (computed in the training process), every value within 1e-9 (absolute;
the predictions are class labels, so any different label fails).

Usage (from the repo root):

  .venv-bench/bin/python bench/serving_latency.py            # full, with MLflow
  .venv-bench/bin/python bench/serving_latency.py --quick    # fewer requests
  .venv-bench/bin/python bench/serving_latency.py --update-readme   # full, then docs/benchmarks.md
  .venv/bin/python bench/serving_latency.py --skip-mlflow    # sparktrack only

Results: a markdown table on stdout, and the raw results (every request's latency) in
bench/results/serving_latency-<date>-<commit>.json (--quick: the git-ignored bench/out/).
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Run as a script, so this folder is on sys.path and the shared helpers import directly.
from _common import (
    add_run_arguments,
    balanced_order,
    choose_mlflow,
    format_seconds,
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
)

BENCH_NAME = "serving_latency"
SPARK_ENGINE = "sparktrack-spark"  # `sparktrack serve --engine spark`: a Spark job per request
FEATURES = [f"f{i}" for i in range(8)]
TRAIN_ROWS = 5_000
BATCH_ROWS = 1_000
STARTUP_TIMEOUT_S = 600  # a JVM on a loaded 2-core machine can take minutes
REQUEST_TIMEOUT_S = 300

# Targets from the issue, for the model sparktrack scores with numpy: single-row p50 at
# least 3x MLflow's; 1,000 rows no slower. The forest has none: both score it with Spark.
TARGET_SINGLE_SPEEDUP = 3.0
TARGET_BATCH_SPEEDUP = 1.0
# Every predicted value against the model's own transform: labels, so any flip fails.
PREDICTION_TOLERANCE = 1e-9
# The rows whose predictions are checked: the first 1,000-row request's.
CHECK_SEED = 100
PACKAGES = ("sparktrack", "pyspark", "mlflow", "fastapi", "uvicorn", "numpy", "pandas")


@dataclass(frozen=True)
class ModelSpec:
    key: str
    pipeline: str
    with_targets: bool  # the targets apply (the model the numpy scorer covers)


MODELS = (
    ModelSpec("linear", "VectorAssembler -> StandardScaler -> LogisticRegression", True),
    ModelSpec(
        "forest", "VectorAssembler -> RandomForestClassifier(numTrees=20, maxDepth=6)", False
    ),
)


@dataclass(frozen=True)
class Counts:
    warmup: int
    single: int
    batch: int


FULL = Counts(warmup=5, single=200, batch=50)
QUICK = Counts(warmup=3, single=40, batch=10)


# =====================================================================================
# The models: trained and saved in a child process, so no JVM lives in the client
# =====================================================================================
def _estimator(key: str) -> Any:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression, RandomForestClassifier
    from pyspark.ml.feature import StandardScaler, VectorAssembler

    assembler = VectorAssembler(inputCols=FEATURES, outputCol="features")
    if key == "linear":
        return Pipeline(
            stages=[
                assembler,
                StandardScaler(inputCol="features", outputCol="scaled", withMean=True),
                LogisticRegression(featuresCol="scaled", maxIter=50),
            ]
        )
    forest = RandomForestClassifier(featuresCol="features", numTrees=20, maxDepth=6, seed=42)
    return Pipeline(stages=[assembler, forest])


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
    weights = rng.normal(size=len(FEATURES)) / data.std(axis=0)
    frame["label"] = ((data @ weights + rng.normal(scale=0.5, size=rows)) > 0).astype(float)
    df = spark.createDataFrame(frame)
    check = spark.createDataFrame(
        pd.DataFrame(_request_rows(BATCH_ROWS, CHECK_SEED), columns=FEATURES)
    )
    reference: dict[str, list[float]] = {}
    for spec in MODELS:
        model = _estimator(spec.key).fit(df)
        signature = signature_for_spark_model(model, df.schema, ["label"])
        save_model(model, str(Path(root, spec.key)), signature=signature)
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
def _request_rows(count: int, seed: int) -> list[list[float]]:
    import random

    rng = random.Random(seed)
    return [[round(rng.gauss(0, 10), 6) for _ in FEATURES] for _ in range(count)]


def _split_body(rows: list[list[float]]) -> bytes:
    return json.dumps({"dataframe_split": {"columns": FEATURES, "data": rows}}).encode()


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


def _ping(port: int) -> bytes | None:
    """The body of a 200 answer to ``GET /ping``; None until the server gives one."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/ping")
        response = connection.getresponse()
        body = response.read()
        connection.close()
        return body if response.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None


def _engine(tool: str, ping_body: bytes) -> str:
    """What scores the model: sparktrack's /ping says (numpy "local" or "spark")."""
    if not tool.startswith("sparktrack"):
        return "spark"  # MLflow's spark flavor scores every request with a Spark job
    try:
        return str(json.loads(ping_body).get("engine", "?"))
    except (ValueError, AttributeError):
        return "?"


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


def run_server(
    tool: str, folder: str, workdir: Path, counts: Counts, single: list[bytes], batch: list[bytes]
) -> dict[str, Any]:
    port = _free_port()
    log_path = workdir / f"{tool}.log"
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
        while (ping_body := _ping(port)) is None:
            if process.poll() is not None:
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
                raise RuntimeError(f"{tool} server exited with {process.returncode}:\n{tail}")
            if time.perf_counter() - started > STARTUP_TIMEOUT_S:
                raise RuntimeError(f"{tool} server not ready after {STARTUP_TIMEOUT_S} s")
            time.sleep(0.05)
        startup = time.perf_counter() - started
        engine = _engine(tool, ping_body)
        say(f"  {tool:<16} ready after {format_seconds(startup)}, scores with {engine}")
        client = Client(port)
        try:
            result: dict[str, Any] = {
                "startup_s": startup,
                "engine": engine,
                "single": _measure(client, single, counts.warmup, f"{tool} single-row"),
            }
            say(
                f"  {tool:<16} single-row p50 {format_seconds(result['single']['p50_s'])}, "
                f"p99 {format_seconds(result['single']['p99_s'])}"
            )
            result["batch"] = _measure(client, batch, counts.warmup, f"{tool} 1,000-row")
            say(
                f"  {tool:<16} {BATCH_ROWS:,}-row  p50 {format_seconds(result['batch']['p50_s'])}, "
                f"p99 {format_seconds(result['batch']['p99_s'])}"
            )
            _, _, content = client.post(batch[0])
            result["predictions"] = json.loads(content)["predictions"]
        finally:
            client.close()
    finally:
        _stop(process)
    return result


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


def summary_rows(spec: ModelSpec, results: dict[str, Any]) -> list[list[str]]:
    """One model's rows: startup and latencies, sparktrack against MLflow."""
    ours = results["sparktrack"]
    peer = results.get("mlflow")
    spark_engine = results.get(SPARK_ENGINE)
    label = f"{spec.key} (sparktrack: {'numpy' if ours['engine'] == 'local' else ours['engine']})"
    rows = []
    specs: list[tuple[str, tuple[str, ...], float | None]] = [
        ("startup (start -> /ping 200)", ("startup_s",), None),
        ("single-row p50", ("single", "p50_s"), TARGET_SINGLE_SPEEDUP),
        ("single-row p99", ("single", "p99_s"), None),
        (f"{BATCH_ROWS:,}-row p50", ("batch", "p50_s"), TARGET_BATCH_SPEEDUP),
        (f"{BATCH_ROWS:,}-row p99", ("batch", "p99_s"), None),
    ]
    for measure, path, target in specs:
        if not spec.with_targets:
            target = None
        mine = _value(ours, path)
        theirs = _value(peer, path)
        ratio = _ratio(theirs, float(mine or 0.0))
        ratio_text = "-" if ratio is None else f"{ratio:.1f}x"
        target_text = "-" if target is None else f">= {target:g}x"
        met = "-" if target is None or ratio is None else ("yes" if ratio >= target else "NO")
        row = [
            label,
            measure,
            "-" if mine is None else format_seconds(mine),
            "-" if theirs is None else format_seconds(theirs),
            ratio_text,
            target_text,
            met,
        ]
        if spark_engine is not None:
            engine_value = _value(spark_engine, path)
            row.append("-" if engine_value is None else format_seconds(engine_value))
        rows.append(row)
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_arguments(
        parser,
        quick=f"fewer requests ({QUICK.single} single-row, {QUICK.batch} batch) for a smoke run",
        keep_tmp="keep the model folders and the servers' logs",
    )
    parser.add_argument(
        "--with-spark-engine",
        action="store_true",
        help="also measure `sparktrack serve --engine spark` (a Spark job per request)",
    )
    parser.add_argument("--train", help=argparse.SUPPRESS)  # internal: train into a folder
    args = parser.parse_args(argv)
    refuse_partial_readme_run(parser, args, {})
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.train:
        _train_and_save(args.train, TRAIN_ROWS)
        return 0
    counts = QUICK if args.quick else FULL
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
    errors: dict[str, str] = {}
    mismatches: dict[str, list[str]] = {}
    order: dict[str, list[str]] = {}
    try:
        say(f"training and saving the 8-feature models on {TRAIN_ROWS:,} rows ...")
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
        single = [_split_body([row]) for row in _request_rows(counts.warmup + counts.single, 1)]
        # The first batch body holds the check rows: its answer is compared below.
        batch = [
            _split_body(_request_rows(BATCH_ROWS, seed))
            for seed in range(CHECK_SEED, CHECK_SEED + counts.warmup + counts.batch)
        ]
        for index, spec in enumerate(MODELS):
            say(f"{spec.key}: {spec.pipeline}")
            results[spec.key] = {}
            order[spec.key] = balanced_order(tools, index)
            for tool in order[spec.key]:
                what = f"{spec.key}/{tool}"
                try:
                    result = run_server(tool, str(root / spec.key), root, counts, single, batch)
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
                results[spec.key][tool] = result
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
    notes = [
        f"{counts.single} single-row and {counts.batch} {BATCH_ROWS:,}-row requests per "
        f"server and model after {counts.warmup} warm-ups each; ratio = MLflow / sparktrack; "
        "servers in a balanced order (sparktrack first for linear, MLflow first for forest)",
        "MLflow: `mlflow models serve --env-manager local` (uvicorn, its default workers), "
        "a Spark job per request; sparktrack: `sparktrack serve`, numpy where its local "
        "scorer covers the model (linear), else Spark (forest), the JVM kept warm",
        "targets for linear, the model the numpy scorer covers; none for forest, which "
        "both servers score with Spark",
    ]
    if not mismatches and not errors:
        notes.append(
            f"every server's predictions for a {BATCH_ROWS:,}-row request equal the model's "
            f"own transform (within {PREDICTION_TOLERANCE:g}), for both models"
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
        (f"failed: {', '.join(errors)}", bool(errors)),
        (f"predictions differ: {', '.join(mismatches)}", bool(mismatches)),
    )
    fields = {
        "counts": counts.__dict__,
        "models": {
            spec.key: {"pipeline": spec.pipeline, "with_targets": spec.with_targets}
            for spec in MODELS
        },
        "features": len(FEATURES),
        "train_rows": TRAIN_ROWS,
        "batch_rows": BATCH_ROWS,
        "order": order,
        "with_mlflow": with_mlflow,
        "versions": versions,
        "source_tree": tree,
        "machine": machine,
        "targets": {
            "single_p50_speedup": TARGET_SINGLE_SPEEDUP,
            "batch_p50_speedup": TARGET_BATCH_SPEEDUP,
        },
        "prediction_tolerance": PREDICTION_TOLERANCE,
        "results": results,
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
