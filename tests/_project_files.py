"""A project for ``sparktrack run`` tests: an MLproject, a Spark job, plain scripts, in git.

The Spark job builds its own SparkSession, without any conf of ours (the user's
conditions): it reaches the store only through the environment ``sparktrack run`` sets.
Every script prints one ``RESULT {json}`` line the tests read from the launcher's output.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

MLPROJECT = """\
name: sparktrack-test-project
python_env: python_env.yaml
spark:
  master: local[2]
  conf:
    spark.ui.enabled: false
    spark.sql.shuffle.partitions: 2
entry_points:
  train:
    parameters:
      reg_param: {type: float, default: 0.1}
      rows: {type: int, default: 120}
    command: "python train.py --reg-param {reg_param} --rows {rows}"
    spark:
      conf: {spark.sql.shuffle.partitions: 3}
  fail:
    command: "python fail.py"
  wait:
    command: "python wait.py"
  report:
    parameters:
      label: string
      data: {type: path, default: data.csv}
      out: {type: uri, default: out}
      scale: {type: float, default: 1.5}
    command: "python report.py --label {label} --data {data} --out {out} --scale {scale}"
    spark: false
  crash:
    parameters:
      code: {type: int, default: 3}
    command: "python crash.py {code}"
    spark: false
"""

TRAIN = """\
import argparse, json, os

import sparktrack
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import VectorAssembler
from pyspark.sql import SparkSession

parser = argparse.ArgumentParser()
parser.add_argument("--reg-param", type=float)
parser.add_argument("--rows", type=int)
args = parser.parse_args()

spark = SparkSession.builder.appName("project-train").getOrCreate()  # the user's own
context = spark.sparkContext
sparktrack.autolog(log_models=False, log_datasets=False)
rows = [(float(i % 7), float(i % 5), float(i % 7 > 3)) for i in range(args.rows)]
train = spark.createDataFrame(rows, ["x1", "x2", "label"])
stages = [
    VectorAssembler(inputCols=["x1", "x2"], outputCol="features"),
    LogisticRegression(regParam=args.reg_param, maxIter=5),
]
Pipeline(stages=stages).fit(train)  # autolog: joins the project's run
sparktrack.log_metric("rows", float(train.count()))
executors = context._jsc.sc().getExecutorMemoryStatus().size() - 1  # minus the driver
sparktrack.log_metric("executors", float(executors))
sparktrack.set_tag("job.master", context.master)
sparktrack.set_tag("job.shuffle_partitions", spark.conf.get("spark.sql.shuffle.partitions"))
print("RESULT " + json.dumps({"driver_pid": os.getpid(), "master": context.master}), flush=True)
spark.stop()
"""

FAIL = """\
print("preparing the data", flush=True)
for i in range(3):
    print(f"step {i}", flush=True)
raise ValueError("the job failed on purpose")
"""

WAIT = """\
import os, threading

import sparktrack

sparktrack.log_metric("started", 1.0)  # joins the project's run
sparktrack.flush()
print(f"WAITING {os.getpid()}", flush=True)
threading.Event().wait()  # until the launcher stops the job
"""

REPORT = """\
import argparse, json, os

import sparktrack

parser = argparse.ArgumentParser()
for name in ("--label", "--data", "--out", "--scale"):
    parser.add_argument(name)
args = parser.parse_args()
with sparktrack.start_run() as run:
    sparktrack.log_metric("version", VERSION)
    sparktrack.log_metric("scale", float(args.scale))
    result = {"run_id": run.info.run_id, "label": args.label, "data": args.data,
              "out": args.out, "cwd": os.getcwd()}
print("RESULT " + json.dumps(result), flush=True)
"""

CRASH = """\
import sys

print("about to exit with", sys.argv[1], flush=True)
sys.exit(int(sys.argv[1]))
"""


def write_project(folder: Path, *, version: int = 1) -> Path:
    """Write the project's files into ``folder`` (created); ``version`` marks report.py."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "MLproject": MLPROJECT,
        "python_env.yaml": "python: '3.11'\ndependencies: [sparktrack]\n",
        "train.py": TRAIN,
        "fail.py": FAIL,
        "wait.py": WAIT,
        "report.py": REPORT.replace("VERSION", str(version)),
        "crash.py": CRASH,
        "data.csv": "x,y\n1,2\n",
    }
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def git(folder: Path, *args: str) -> str:
    """Run git in ``folder``; its output, stripped (fails with git's stderr)."""
    done = subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)} failed:\n{done.stderr}"
    return done.stdout.strip()


def commit_all(folder: Path, message: str) -> str:
    """Commit everything in the repository ``folder``; the new commit's sha."""
    git(folder, "add", "-A")
    git(folder, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message)
    return git(folder, "rev-parse", "HEAD")
