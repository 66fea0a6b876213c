"""Model serving latency: `sparktrack serve` against `mlflow models serve`, one invocation.

One model, one folder: a VectorAssembler -> StandardScaler -> LogisticRegression
PipelineModel over 8 features, trained on synthetic data and saved once with
``sparktrack.models.save_model``. MLflow serves that same folder (it has MLflow's
MLmodel layout), so both servers score the same model. Measured for each server:

  startup   process start -> first ``GET /ping`` answered 200
  single    p50 / p99 of ``POST /invocations`` with one row (dataframe_split JSON)
  batch     p50 / p99 of ``POST /invocations`` with 1,000 rows

The servers run one after the other, never together, each in its own process group,
and the client is the standard library's http.client on one kept-alive connection,
so neither server pays for the other's load or for a client library's overhead.
Both servers get byte-identical request bodies, and their predictions are compared.

Usage (from the repo root):

  .venv-bench/bin/python bench/serving_latency.py            # full, with MLflow
  .venv-bench/bin/python bench/serving_latency.py --quick    # fewer requests
  .venv/bin/python bench/serving_latency.py --skip-mlflow    # sparktrack only

Results: a markdown table on stdout and JSON in bench/out/serving_latency.json.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Run as a script, so this folder is on sys.path and the shared helpers import directly.
from _common import (
    format_seconds,
    load_average,
    machine_description,
    machine_line,
    markdown_table,
    percentile,
    source_tree,
    write_results,
)

BENCH_NAME = "serving_latency"
SPARK_ENGINE = "sparktrack-spark"  # `sparktrack serve --engine spark`: a Spark job per request
FEATURES = [f"f{i}" for i in range(8)]
TRAIN_ROWS = 5_000
BATCH_ROWS = 1_000
STARTUP_TIMEOUT_S = 600  # a JVM on a loaded 2-core machine can take minutes
REQUEST_TIMEOUT_S = 300

# Targets from the issue: single-row p50 at least 3x MLflow's; 1,000 rows no slower.
TARGET_SINGLE_SPEEDUP = 3.0
TARGET_BATCH_SPEEDUP = 1.0


@dataclass(frozen=True)
class Counts:
    warmup: int
    single: int
    batch: int


FULL = Counts(warmup=5, single=200, batch=50)
QUICK = Counts(warmup=3, single=40, batch=10)


# =====================================================================================
# The model: trained and saved in a child process, so no JVM lives in the client
# =====================================================================================
def _train_and_save(folder: str, rows: int) -> None:
    import numpy as np
    import pandas as pd
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import StandardScaler, VectorAssembler

    from sparktrack.models import save_model, signature_for_spark_model
    from sparktrack.session import spark_session

    spark = spark_session("serving-bench-train", "local[2]")
    rng = np.random.default_rng(42)
    data = rng.normal(size=(rows, len(FEATURES))) * rng.uniform(0.5, 20, len(FEATURES))
    frame = pd.DataFrame(data, columns=FEATURES)
    weights = rng.normal(size=len(FEATURES)) / data.std(axis=0)
    frame["label"] = ((data @ weights + rng.normal(scale=0.5, size=rows)) > 0).astype(float)
    df = spark.createDataFrame(frame)
    model = Pipeline(
        stages=[
            VectorAssembler(inputCols=FEATURES, outputCol="features"),
            StandardScaler(inputCol="features", outputCol="scaled", withMean=True),
            LogisticRegression(featuresCol="scaled", maxIter=50),
        ]
    ).fit(df)
    signature = signature_for_spark_model(model, df.schema, ["label"])
    save_model(model, folder, signature=signature)
    spark.stop()


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


def _ping(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/ping")
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except (OSError, http.client.HTTPException):
        return False


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


def _percentiles(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_s": percentile(latencies, 50),
        "p99_s": percentile(latencies, 99),
        "mean_s": sum(latencies) / len(latencies),
        "min_s": min(latencies),
        "max_s": max(latencies),
        "n": len(latencies),
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
        while not _ping(port):
            if process.poll() is not None:
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
                raise RuntimeError(f"{tool} server exited with {process.returncode}:\n{tail}")
            if time.perf_counter() - started > STARTUP_TIMEOUT_S:
                raise RuntimeError(f"{tool} server not ready after {STARTUP_TIMEOUT_S} s")
            time.sleep(0.05)
        startup = time.perf_counter() - started
        _say(f"  {tool:<16} ready after {format_seconds(startup)}")
        client = Client(port)
        try:
            result = {
                "startup_s": startup,
                "single": _measure(client, single, counts.warmup, f"{tool} single-row"),
            }
            _say(
                f"  {tool:<16} single-row p50 {format_seconds(result['single']['p50_s'])}, "
                f"p99 {format_seconds(result['single']['p99_s'])}"
            )
            result["batch"] = _measure(client, batch, counts.warmup, f"{tool} 1,000-row")
            _say(
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


def summary_rows(results: dict[str, Any]) -> list[list[str]]:
    ours = results["sparktrack"]
    peer = results.get("mlflow")

    def cell(result: dict[str, Any] | None, path: tuple[str, ...]) -> str:
        if result is None:
            return "-"
        value: Any = result
        for key in path:
            value = value[key]
        return format_seconds(float(value))

    def value(result: dict[str, Any] | None, path: tuple[str, ...]) -> float | None:
        if result is None:
            return None
        found: Any = result
        for key in path:
            found = found[key]
        return float(found)

    spark_engine = results.get(SPARK_ENGINE)
    rows = []
    specs: list[tuple[str, tuple[str, ...], float | None]] = [
        ("startup (start -> /ping 200)", ("startup_s",), None),
        ("single-row p50", ("single", "p50_s"), TARGET_SINGLE_SPEEDUP),
        ("single-row p99", ("single", "p99_s"), None),
        (f"{BATCH_ROWS:,}-row p50", ("batch", "p50_s"), TARGET_BATCH_SPEEDUP),
        (f"{BATCH_ROWS:,}-row p99", ("batch", "p99_s"), None),
    ]
    for label, path, target in specs:
        ratio = _ratio(value(peer, path), float(value(ours, path) or 0.0))
        ratio_text = "-" if ratio is None else f"{ratio:.1f}x"
        target_text = "-" if target is None else f">= {target:g}x"
        met = "-" if target is None or ratio is None else ("yes" if ratio >= target else "NO")
        row = [label, cell(ours, path), cell(peer, path), ratio_text, target_text, met]
        if spark_engine is not None:
            row.append(cell(spark_engine, path))
        rows.append(row)
    return rows


def _say(message: str) -> None:
    print(message, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"fewer requests ({QUICK.single} single-row, {QUICK.batch} batch) for a smoke run",
    )
    parser.add_argument(
        "--skip-mlflow",
        action="store_true",
        help="measure sparktrack only (automatic when mlflow is not installed)",
    )
    parser.add_argument(
        "--with-spark-engine",
        action="store_true",
        help="also measure `sparktrack serve --engine spark` (a Spark job per request)",
    )
    parser.add_argument(
        "--keep-tmp", action="store_true", help="keep the model folder and the servers' logs"
    )
    parser.add_argument("--train", help=argparse.SUPPRESS)  # internal: train into a folder
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.train:
        _train_and_save(args.train, TRAIN_ROWS)
        return 0
    counts = QUICK if args.quick else FULL
    mlflow_installed = importlib.util.find_spec("mlflow") is not None
    with_mlflow = mlflow_installed and not args.skip_mlflow
    tools = ["sparktrack", "mlflow"] if with_mlflow else ["sparktrack"]
    if args.with_spark_engine:
        tools.append(SPARK_ENGINE)
    machine = machine_description()
    _say(f"Serving latency benchmark ({'quick' if args.quick else 'full'})")
    _say(machine_line(machine))
    if not with_mlflow:
        _say("mlflow not installed" if not mlflow_installed else "MLflow skipped (--skip-mlflow)")

    root = Path(tempfile.mkdtemp(prefix="sparktrack-serving-bench-"))
    folder = str(root / "model")
    started = time.perf_counter()
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    try:
        _say(f"training and saving the 8-feature pipeline on {TRAIN_ROWS:,} rows ...")
        subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--train", folder],
            cwd=root,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
            check=True,
            capture_output=True,
        )
        single = [_split_body([row]) for row in _request_rows(counts.warmup + counts.single, 1)]
        batch = [
            _split_body(_request_rows(BATCH_ROWS, seed))
            for seed in range(100, 100 + counts.warmup + counts.batch)
        ]
        for tool in tools:
            _say(f"{tool} ...")
            try:
                results[tool] = run_server(tool, folder, root, counts, single, batch)
            except (RuntimeError, OSError, http.client.HTTPException) as exc:
                errors[tool] = str(exc)
                _say(f"  {tool} FAILED: {exc}")
    except subprocess.CalledProcessError as exc:
        errors["train"] = exc.stderr.decode(errors="replace")[-3000:]
        _say(f"training failed:\n{errors['train']}")
    finally:
        if args.keep_tmp:
            _say(f"model folder and server logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    elapsed = time.perf_counter() - started
    machine["load_avg_end"] = load_average()
    if "sparktrack" not in results:
        return 1

    same = None
    if "mlflow" in results:
        same = results["sparktrack"]["predictions"] == results["mlflow"]["predictions"]
    for result in results.values():
        result.pop("predictions", None)
    rows = summary_rows(results)
    headers = ["measure", "sparktrack", "MLflow", "ratio", "target", "met?"]
    if SPARK_ENGINE in results:
        headers.append("sparktrack --engine spark")
    table = markdown_table(headers, rows)
    notes = [
        f"{counts.single} single-row and {counts.batch} {BATCH_ROWS:,}-row requests per "
        f"server after {counts.warmup} warm-ups each; ratio = MLflow / sparktrack",
        "MLflow: `mlflow models serve --env-manager local` (uvicorn, its default workers); "
        "sparktrack: `sparktrack serve` (numpy scorer, Spark kept warm for fallbacks)",
    ]
    if same is not None:
        notes.append(
            "both servers returned the same predictions for a 1,000-row request"
            if same
            else "PREDICTIONS DIFFER between the servers"
        )
    _say("")
    _say(table)
    _say("")
    for note in notes:
        _say(f"- {note}")
    _say("")
    _say(machine_line(machine))
    tree = source_tree()
    mlflow_version = _version("mlflow") if with_mlflow else None
    _say(
        f"sparktrack {_version('sparktrack')} ({tree['describe']})"
        + (f", MLflow {mlflow_version}" if mlflow_version else "")
        + f"; benchmark took {format_seconds(elapsed)}"
    )
    path = write_results(
        BENCH_NAME,
        {
            "benchmark": BENCH_NAME,
            "mode": "quick" if args.quick else "full",
            "counts": counts.__dict__,
            "model": {
                "pipeline": "VectorAssembler -> StandardScaler -> LogisticRegression",
                "features": len(FEATURES),
                "train_rows": TRAIN_ROWS,
                "batch_rows": BATCH_ROWS,
            },
            "with_mlflow": with_mlflow,
            "versions": {"sparktrack": _version("sparktrack"), "mlflow": mlflow_version},
            "source_tree": tree,
            "machine": machine,
            "targets": {
                "single_p50_speedup": TARGET_SINGLE_SPEEDUP,
                "batch_p50_speedup": TARGET_BATCH_SPEEDUP,
            },
            "results": results,
            "same_predictions": same,
            "errors": errors,
            "table_markdown": table,
            "notes": notes,
            "elapsed_s": elapsed,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )
    _say(f"results written to {path}")
    return 1 if errors else 0


def _version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:
        traceback.print_exc()
        sys.exit(1)
