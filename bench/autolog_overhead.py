"""Autolog overhead on Spark MLlib and Sparkling Water: a plain fit, sparktrack autolog
and MLflow autolog, each until everything it logged is persisted.

Cases (synthetic data, fixed seed, cached and counted before any timing):

  A  2-fold CrossValidator over 4 param maps (regParam x elasticNetParam) of a
     VectorAssembler -> StandardScaler -> LogisticRegression pipeline, 5,000 rows,
     10 features; parallelism 1, and 2 as well
  B  one Pipeline fit of VectorAssembler -> StandardScaler -> GBTClassifier(maxIter=20),
     50,000 rows
  H  one H2OGBM(ntrees=20, maxDepth=5) fit (Sparkling Water), 10,000 rows, the same 10
     features and a string label ("yes"/"no") so that H2O classifies. Runs last: its
     H2OContext (sparktrack.h2o.h2o_context, ~40 s, cannot be stopped) is started only
     when H is selected, after the other cases, whose timings H2O's memory in the JVM
     would disturb. One untimed warm-up fit. MLflow has no H2O autolog: no MLflow
     variant for H. Needs Sparkling Water (`make bench-setup` installs the h2o extra);
     left out of the default cases, with a note, when it is not installed.

Variants, in one process and one SparkSession (local[2]), after untimed warm-up fits of
the plain variant (2; 1 with --quick), in a balanced order: as listed in even repeats,
reversed in odd ones (plain, sparktrack, mlflow / mlflow, sparktrack, plain), so that
every variant runs in every position equally often over an even number of repeats:

  plain       autolog off
  sparktrack  ``sparktrack.autolog()`` (models logged), a fresh store and journal per
              repeat
  mlflow      ``mlflow.pyspark.ml.autolog(log_models=True)``, SQLite store and artifacts in
              a fresh temporary folder per repeat; not for H
  sparktrack-no-cost
              as sparktrack, with ``SPARKTRACK_SPARK_COST=false``: no ``spark.*`` metrics
              (what a run cost on the cluster); case A only. sparktrack against it, paired
              per repeat, is what measuring that cost costs (target: under 2%)

The headline figure, and the target, is fit + flush: the clock runs from ``fit`` until
everything logged is persisted. For sparktrack that is until ``sparktrack.flush()``
returns (it waits for autolog's background work, the model folder included, and the
Delta commit); for MLflow, which logs synchronously inside ``fit``, until its async
logging queues are flushed too (empty unless async logging is on). The fit alone (what
the user waits for before the next line runs) is a secondary column. Every figure is the
median of the repeats with their range [min, max]; CPU seconds of the Python process and
its Spark JVM (less sensitive than wall time to other load on a shared machine) are
reported as a paired ratio to the plain fit of the same repeat.

Then, untimed, the two sides must agree, or the benchmark exits 1 (the timings would not
compare like for like): each side's run is FINISHED with the expected child runs; every
param and metric MLflow recorded on its run is on sparktrack's with the same value, and
every child run MLflow recorded (known by its tuned params) is there with the same
metrics (within 1e-4, absolute or relative); each side's logged model predicts like
the model its fit returned; and the models fitted by plain, sparktrack and MLflow
predict the same labels on 50 rows (probabilities within 1e-6: separate fits may sum
in another order). For H: the run has ``training_AUC``, a ``model`` artifact with the
``h2o_mojo`` and ``spark`` flavors, ``sparktrack.models.load_model`` on it predicts like
the fitted model, where MLflow is installed (with --skip-mlflow too)
``mlflow.spark.load_model`` on it predicts exactly like the fitted model and has its
metrics maps, and the plain and sparktrack fits predict the same. Not with --quick: one
instrumented sparktrack fit shows where sparktrack spends time on the fit's critical path.

Usage (from the repo root):

  .venv-bench/bin/python bench/autolog_overhead.py             # full, ~30 minutes
  .venv-bench/bin/python bench/autolog_overhead.py --quick     # smoke run (see below)
  .venv-bench/bin/python bench/autolog_overhead.py --update-readme   # full, then docs/benchmarks.md
  .venv/bin/python bench/autolog_overhead.py --cases A --skip-mlflow
  .venv-bench/bin/python bench/autolog_overhead.py --cases H --skip-mlflow  # ~2 minutes

--quick: 1 repeat, smaller data, no instrumented fit; proves the benchmark runs, measures
nothing worth quoting.

Results: figures as they come, a markdown table on stdout, and the raw results (every
repeat) in bench/results/autolog_overhead-<date>-<commit>.json; a subset of the cases
adds its letters (autolog_overhead_H-...), --quick writes to the git-ignored bench/out/.
--update-readme puts a full run from a clean tree into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import ast
import functools
import gc
import importlib.util
import json
import math
import os
import shutil
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

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
    median,
    package_versions,
    partial_reasons,
    publish,
    refuse_partial_readme_run,
    run_main,
    say,
    source_tree,
    spread,
)

BENCH_NAME = "autolog_overhead"
SEED = 20240611
EXPERIMENT_NAME = "autolog-bench"
FEATURES = 10
# The target: sparktrack's fit + flush (everything persisted, the model included)
# within 10% of the plain fit, on case A at parallelism 1 and on case H (H2OGBM, model
# logged as MOJO + spark flavor).
TARGET_TOTAL_RATIO = 1.10
TARGET_KEYS = ("A-p1", "H")
# Separate fits of one estimator on the same data may sum partial results in another
# order (Spark merges task results as they arrive): probabilities may differ in the last
# bits, labels may not. A logged model against the model it was saved from: no slack.
CROSS_FIT_PROBABILITY_TOLERANCE = 1e-6
SAME_MODEL_PROBABILITY_TOLERANCE = 1e-12
# Metrics both tools computed from separate fits. LogisticRegression's optimiser sums
# partial gradients in the order tasks finish, so the fold AUCs of two fits differ in
# the 6th digit and their std more (seen: 7e-6 apart); a different param map moves an
# AUC by 1e-2. Within 1e-4, absolute or relative.
METRIC_TOLERANCE = 1e-4
PACKAGES = (
    "sparktrack",
    "pyspark",
    "delta-spark",
    "deltalake",
    "pyarrow",
    "pandas",
    "numpy",
    "mlflow",
    "h2o-pysparkling-3-5",
)
# What MLflow autolog measured on case A when the issue was filed.
MLFLOW_REPORTED_RATIO = 9.8
CHECK_ROWS = 50
VARIANTS = ("plain", "sparktrack", "mlflow", "sparktrack-no-cost")
NO_COST = "sparktrack-no-cost"
ALL_CASES = ("A", "B", "H")
H2O_LABELS = ("no", "yes")
MLFLOW_NO_H2O = "no H2O autolog"


@dataclass(frozen=True)
class Sizes:
    a_rows: int
    a_repeats: int
    a_parallelism: tuple[int, ...]
    b_rows: int
    b_gbt_iterations: int
    b_repeats: int
    h_rows: int
    h_ntrees: int
    h_repeats: int
    warmups: int  # untimed plain fits before the first timed one (A, B)
    h_warmups: int  # the same for H


# Even repeats: the balanced order pairs them (see _common.balanced_order).
FULL = Sizes(
    a_rows=5_000,
    a_repeats=6,
    a_parallelism=(1, 2),
    b_rows=50_000,
    b_gbt_iterations=20,
    b_repeats=4,
    h_rows=10_000,
    h_ntrees=20,
    h_repeats=6,
    warmups=2,
    h_warmups=1,
)
QUICK = Sizes(
    a_rows=2_000,
    a_repeats=1,
    a_parallelism=(1,),
    b_rows=10_000,
    b_gbt_iterations=5,
    b_repeats=1,
    h_rows=5_000,
    h_ntrees=5,
    h_repeats=1,
    warmups=1,
    h_warmups=1,
)


@dataclass(frozen=True)
class Config:
    """One measured configuration: a case, its estimator and its data size."""

    key: str  # "A-p1", "A-p2", "B", "H"
    case: str  # "A", "B" or "H"
    label: str
    rows: int
    repeats: int
    make_estimator: Callable[[], Any]
    tuning: bool  # a CrossValidator: child runs, best model
    make_data: Callable[[int], Any]  # rows -> pandas frame
    warmups: int

    @property
    def h2o(self) -> bool:
        return self.case == "H"


def _load_text(load: list[float] | None) -> str:
    return "/".join(f"{x:.1f}" for x in load) if load else "?"


# =====================================================================================
# Data and estimators
# =====================================================================================


def feature_names() -> list[str]:
    return [f"f{i}" for i in range(FEATURES)]


def make_frame(rows: int) -> Any:
    """A pandas frame: 10 numeric features and a label from a noisy linear rule."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(rows, FEATURES)) * rng.uniform(0.5, 5.0, size=FEATURES)
    weights = rng.normal(size=FEATURES)
    logits = (x / x.std(axis=0)) @ weights + rng.normal(scale=1.5, size=rows)
    frame = pd.DataFrame(x, columns=feature_names())
    frame.insert(0, "id", np.arange(rows, dtype=np.int64))
    frame["label"] = (logits > 0).astype(np.float64)
    return frame


def make_h2o_frame(rows: int) -> Any:
    """Case H's data: the same features, the label as "no"/"yes" (H2O then classifies),
    no id column (H2O would take it as a feature)."""
    frame = make_frame(rows).drop(columns=["id"])
    frame["label"] = [H2O_LABELS[int(v)] for v in frame["label"]]
    return frame


def case_a_estimator(parallelism: int) -> Any:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.feature import StandardScaler, VectorAssembler
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    lr = LogisticRegression(featuresCol="features", labelCol="label")
    pipeline = Pipeline(
        stages=[
            VectorAssembler(inputCols=feature_names(), outputCol="raw"),
            StandardScaler(inputCol="raw", outputCol="features"),
            lr,
        ]
    )
    grid = (
        ParamGridBuilder()
        .addGrid(lr.regParam, [0.01, 0.1])
        .addGrid(lr.elasticNetParam, [0.0, 0.5])
        .build()
    )
    return CrossValidator(
        estimator=pipeline,
        estimatorParamMaps=grid,
        evaluator=BinaryClassificationEvaluator(labelCol="label"),
        numFolds=2,
        parallelism=parallelism,
        seed=SEED,
    )


def case_b_estimator(iterations: int) -> Any:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import GBTClassifier
    from pyspark.ml.feature import StandardScaler, VectorAssembler

    return Pipeline(
        stages=[
            VectorAssembler(inputCols=feature_names(), outputCol="raw"),
            StandardScaler(inputCol="raw", outputCol="features"),
            GBTClassifier(featuresCol="features", labelCol="label", maxIter=iterations, seed=SEED),
        ]
    )


def case_h_estimator(ntrees: int) -> Any:
    from pysparkling.ml import H2OGBM

    return H2OGBM(labelCol="label", featuresCols=feature_names(), ntrees=ntrees, maxDepth=5, seed=1)


def build_configs(sizes: Sizes, cases: list[str]) -> list[Config]:
    configs: list[Config] = []
    if "A" in cases:
        for parallelism in sizes.a_parallelism:
            configs.append(
                Config(
                    key=f"A-p{parallelism}",
                    case="A",
                    label=(
                        f"A: CrossValidator 2 folds x 4 param maps, LR pipeline, "
                        f"{sizes.a_rows:,} rows, parallelism={parallelism}"
                    ),
                    rows=sizes.a_rows,
                    repeats=sizes.a_repeats,
                    make_estimator=functools.partial(case_a_estimator, parallelism),
                    tuning=True,
                    make_data=make_frame,
                    warmups=sizes.warmups,
                )
            )
    if "B" in cases:
        configs.append(
            Config(
                key="B",
                case="B",
                label=(
                    f"B: Pipeline fit, GBTClassifier(maxIter={sizes.b_gbt_iterations}), "
                    f"{sizes.b_rows:,} rows"
                ),
                rows=sizes.b_rows,
                repeats=sizes.b_repeats,
                make_estimator=functools.partial(case_b_estimator, sizes.b_gbt_iterations),
                tuning=False,
                make_data=make_frame,
                warmups=sizes.warmups,
            )
        )
    if "H" in cases:
        # Last: the H2OContext it starts stays in the JVM for good.
        configs.append(
            Config(
                key="H",
                case="H",
                label=(
                    f"H: H2OGBM(ntrees={sizes.h_ntrees}, maxDepth=5) fit, Sparkling Water, "
                    f"{sizes.h_rows:,} rows, string label"
                ),
                rows=sizes.h_rows,
                repeats=sizes.h_repeats,
                make_estimator=functools.partial(case_h_estimator, sizes.h_ntrees),
                tuning=False,
                make_data=make_h2o_frame,
                warmups=sizes.h_warmups,
            )
        )
    return configs


# =====================================================================================
# Variants: set up (untimed), settle after the fit (timed), tear down (untimed)
# =====================================================================================


class Variant:
    name = "plain"

    def setup(self, workdir: Path) -> None:
        """Untimed, before the fit."""

    def settle(self) -> None:
        """Timed, right after the fit returns: wait until everything is persisted."""

    def teardown(self) -> str | None:
        """Untimed, after settle: turn logging off; the run id logged, if any."""
        return None


class SparktrackVariant(Variant):
    name = "sparktrack"

    def setup(self, workdir: Path) -> None:
        import sparktrack

        # The journal directory is read when the store's client is created.
        os.environ["SPARKTRACK_JOURNAL_DIR"] = str(workdir / "journal")
        sparktrack.set_store(str(workdir / "store"))
        sparktrack.set_experiment(EXPERIMENT_NAME)
        sparktrack.autolog(log_models=True)

    def settle(self) -> None:
        import sparktrack

        sparktrack.flush()

    def teardown(self) -> str | None:
        import sparktrack

        sparktrack.autolog(disable=True)
        run = sparktrack.last_active_run()
        return run.info.run_id if run is not None else None


class SparktrackNoCostVariant(SparktrackVariant):
    """sparktrack without the spark.* metrics: the baseline of what measuring them costs."""

    name = NO_COST

    def setup(self, workdir: Path) -> None:
        # Read when the store's client is created (in SparktrackVariant.setup).
        os.environ["SPARKTRACK_SPARK_COST"] = "false"
        super().setup(workdir)

    def teardown(self) -> str | None:
        run_id = super().teardown()
        os.environ.pop("SPARKTRACK_SPARK_COST", None)
        return run_id


class MlflowVariant(Variant):
    name = "mlflow"

    def setup(self, workdir: Path) -> None:
        import mlflow
        import mlflow.pyspark.ml

        workdir.mkdir(parents=True, exist_ok=True)
        os.environ["MLFLOW_DFS_TMP"] = str(workdir / "dfs-tmp")
        # The checks download each logged model: no progress bar per download in the log.
        os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
        mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
        # Creating the SQLite schema is setup, not autolog's cost.
        experiment_id = mlflow.create_experiment(
            EXPERIMENT_NAME, artifact_location=(workdir / "mlartifacts").as_uri()
        )
        mlflow.set_experiment(experiment_id=experiment_id)
        mlflow.pyspark.ml.autolog(log_models=True)

    def settle(self) -> None:
        import mlflow

        # MLflow's pyspark autolog logs synchronously inside fit, the model included; its
        # async queue of params and metrics is empty unless async logging was turned on
        # in the environment, but everything persisted is the rule for both sides. (Not
        # flush_artifact_async_logging: it starts a run when none is active.)
        flush_async = getattr(mlflow, "flush_async_logging", None)
        if flush_async is not None:
            flush_async()

    def teardown(self) -> str | None:
        import mlflow
        import mlflow.pyspark.ml

        mlflow.pyspark.ml.autolog(disable=True)
        run = mlflow.last_active_run()
        mlflow.end_run()  # no-op unless autolog left one open
        return run.info.run_id if run is not None else None


class CpuMeter:
    """CPU seconds used by this process, its Spark JVM and its reaped subprocesses.

    On a shared, busy machine wall times stretch with other people's load; CPU time
    measures the work each variant does and is far less sensitive to it.
    """

    def __init__(self, spark: Any) -> None:
        self.jvm_stat: Path | None = None
        try:
            pid = int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
            if pid != os.getpid() and Path(f"/proc/{pid}/stat").is_file():
                self.jvm_stat = Path(f"/proc/{pid}/stat")
        except Exception:
            self.jvm_stat = None
        self.ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def read(self) -> float:
        times = os.times()
        seconds = times.user + times.system + times.children_user + times.children_system
        if self.jvm_stat is not None:
            try:
                # Fields after the ")" closing the command name: utime and stime at 11, 12.
                fields = self.jvm_stat.read_text().rsplit(")", 1)[1].split()
                seconds += (int(fields[11]) + int(fields[12])) / self.ticks
            except (OSError, IndexError, ValueError):
                pass
        return seconds


_cpu: CpuMeter | None = None


def _cpu_now() -> float:
    return _cpu.read() if _cpu is not None else float("nan")


@dataclass
class Measurement:
    variant: str
    repeat: int
    fit_s: float
    total_s: float  # fit + settle (flush); equal to fit_s for the plain variant
    fit_cpu_s: float  # CPU seconds during the fit (all threads, driver JVM included)
    total_cpu_s: float
    load_before: list[float] | None
    run_id: str | None = None
    autolog_warnings: list[str] = field(default_factory=list)


def measure(variant: Variant, config: Config, dataset: Any, workdir: Path, repeat: int) -> Any:
    """One timed fit; returns (Measurement, fitted model)."""
    variant.setup(workdir)
    estimator = config.make_estimator()
    gc.collect()
    load = load_average()
    with warnings.catch_warnings(record=True) as caught:
        cpu_started = _cpu_now()
        started = time.perf_counter()
        model = estimator.fit(dataset)
        fitted = time.perf_counter()
        cpu_fitted = _cpu_now()
        variant.settle()
        settled = time.perf_counter()
        cpu_settled = _cpu_now()
    run_id = variant.teardown()
    # Logging failures surface as warnings (sparktrack's AutologWarning, MLflow's
    # autologging warnings); keep them, they would make the timings meaningless.
    relevant = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if "autolog" in w.category.__name__.lower() or "autolog" in str(w.message).lower()
    ]
    result = Measurement(
        variant=variant.name,
        repeat=repeat,
        fit_s=fitted - started,
        total_s=settled - started,
        fit_cpu_s=cpu_fitted - cpu_started,
        total_cpu_s=cpu_settled - cpu_started,
        load_before=load,
        run_id=run_id,
        autolog_warnings=relevant,
    )
    return result, model


def _assert_unpatched(original_fit: Any) -> None:
    from pyspark.ml.base import Estimator

    if Estimator.__dict__.get("fit") is not original_fit:
        raise RuntimeError("Estimator.fit is still patched: an autolog was not disabled")


# =====================================================================================
# Correctness checks (untimed)
# =====================================================================================


def _local_path(uri: str) -> str:
    if uri.startswith("file:"):
        return unquote(urlparse(uri).path)
    return uri


def _predictions(model: Any, sample: Any) -> Any:
    columns = ["id", "prediction"]
    if "probability" in model.transform(sample).columns:
        columns.append("probability")
    return model.transform(sample).select(*columns).orderBy("id").toPandas()


def _same_predictions(expected: Any, got: Any, tolerance: float) -> bool:
    """Same ids and labels; probabilities within ``tolerance`` (absolute)."""
    import numpy as np

    if list(expected["id"]) != list(got["id"]):
        return False
    if not np.array_equal(expected["prediction"].to_numpy(), got["prediction"].to_numpy()):
        return False
    if "probability" in expected:
        if "probability" not in got:
            return False
        left = np.array([v.toArray() for v in expected["probability"]])
        right = np.array([v.toArray() for v in got["probability"]])
        return bool(np.allclose(left, right, rtol=0, atol=tolerance))
    return True


def _close(left: Any, right: Any, tolerance: float) -> bool:
    """Equal structures; numbers within ``tolerance`` except labels (compared exactly)."""
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(
            _close(left[k], right[k], tolerance) for k in left
        )
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(
            _close(a, b, tolerance) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, float) and isinstance(right, float):
        return abs(left - right) <= tolerance
    return bool(left == right)


def _same_h2o_predictions(
    expected: list[dict[str, Any]], got: list[dict[str, Any]], tolerance: float
) -> bool:
    """Same labels row by row; label probabilities within ``tolerance``."""
    if [r.get("prediction") for r in expected] != [r.get("prediction") for r in got]:
        return False
    return _close(expected, got, tolerance)


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _run_record(run: Any, children: Any) -> dict[str, Any]:
    """What one run and its child runs (a search_runs frame) recorded, in the same shape
    for both tools."""
    rows = children.to_dict("records") if children is not None else []
    return {
        "status": str(run.info.status).rsplit(".", 1)[-1],
        "child_runs": len(rows),
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
        "children": [
            {
                kind: {
                    key.removeprefix(f"{kind}."): value
                    for key, value in row.items()
                    if key.startswith(f"{kind}.") and _present(value)
                }
                for kind in ("params", "metrics")
            }
            for row in rows
        ],
    }


def _param_value(text: Any) -> str:
    """A param's value in one spelling: MLflow writes lists as Python reprs
    (['f0', 'f1']), sparktrack as JSON (["f0", "f1"])."""
    for parse in (json.loads, ast.literal_eval):
        try:
            return json.dumps(parse(str(text)), sort_keys=True)
        except (ValueError, SyntaxError, TypeError):
            continue
    return str(text)


def _mlflow_key(key: str) -> str:
    # MLflow names the best model's params best_<stage>.<param>; sparktrack best.<...>.
    return "best." + key.removeprefix("best_") if key.startswith("best_") else key


def _trials(children: list[dict[str, Any]], tuned: list[str]) -> dict[str, dict[str, Any]]:
    """Each child run by its tuned params' values: {values: metrics}."""
    return {
        json.dumps([_param_value(child["params"].get(key)) for key in tuned]): child["metrics"]
        for child in children
    }


def record_differences(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """What MLflow recorded that sparktrack did not, or recorded differently.

    The layouts differ on purpose (sparktrack keeps an estimator's fixed params on the
    parent run, MLflow repeats them in every child), so the rule is: every param and
    metric of MLflow's parent run is on sparktrack's with the same value, and every
    child run MLflow recorded (known by its tuned params) is there with MLflow's metrics.
    """
    found: list[str] = []
    for key, value in theirs["params"].items():
        mine = ours["params"].get(_mlflow_key(key))
        if mine is None:
            found.append(f"param {key!r}: MLflow recorded it, sparktrack did not")
        elif _param_value(mine) != _param_value(value):
            found.append(f"param {key!r}: sparktrack {mine!r}, MLflow {value!r}")
    for key, value in theirs["metrics"].items():
        mine = ours["metrics"].get(key)
        if not _same_metric(mine, value):
            found.append(f"metric {key!r}: sparktrack {mine!r}, MLflow {value!r}")
    if not theirs["children"]:
        return found
    # The params MLflow's child runs differ in: the ones the search tuned.
    keys = sorted({key for child in theirs["children"] for key in child["params"]})
    tuned = [
        key
        for key in keys
        if len({_param_value(c["params"].get(key)) for c in theirs["children"]}) > 1
    ]
    their_trials = _trials(theirs["children"], tuned)
    our_trials = _trials(ours["children"], tuned)
    for trial, metrics in their_trials.items():
        if trial not in our_trials:
            found.append(
                f"child run with {dict(zip(tuned, json.loads(trial), strict=True))}: "
                "MLflow recorded it, sparktrack did not"
            )
            continue
        for key, value in metrics.items():
            mine = our_trials[trial].get(key)
            if not _same_metric(mine, value):
                found.append(f"child {trial} metric {key!r}: sparktrack {mine!r}, MLflow {value!r}")
    return found


def _same_metric(mine: float | None, theirs: float) -> bool:
    """Whether a metric sparktrack recorded matches MLflow's (see METRIC_TOLERANCE)."""
    if mine is None:
        return False
    return math.isclose(mine, theirs, rel_tol=METRIC_TOLERANCE, abs_tol=METRIC_TOLERANCE)


def check_sparktrack_run(
    config: Config, run_id: str | None, model: Any, sample: Any
) -> dict[str, Any]:
    """What the sparktrack run holds, and whether its logged model predicts like ``model``."""
    import sparktrack

    out: dict[str, Any] = {"run_id": run_id}
    if run_id is None:
        out["error"] = "no sparktrack run"
        return out
    client = sparktrack.get_client()
    run = sparktrack.get_run(run_id)
    children = sparktrack.search_runs(
        experiment_names=[EXPERIMENT_NAME],
        filter_string=f"tags.`mlflow.parentRunId` = '{run_id}'",
    )
    out.update(_run_record(run, children))
    out["child_runs_expected"] = 4 if config.tuning else 0
    artifacts = sorted(a.path for a in client.list_artifacts(run_id))
    out["artifacts"] = artifacts
    out["model_artifact"] = "model" in artifacts
    model_dir = _local_path(run.info.artifact_uri.rstrip("/") + "/model")
    out["model_dir"] = model_dir
    out["mlmodel_file"] = Path(model_dir, "MLmodel").is_file()
    reference = model.bestModel if config.tuning else model
    expected = _predictions(reference, sample)
    try:
        loaded = sparktrack.load_model(f"runs:/{run_id}/model")
        out["logged_model_same_predictions"] = _same_predictions(
            expected, _predictions(loaded.spark_model, sample), SAME_MODEL_PROBABILITY_TOLERANCE
        )
    except Exception as exc:  # a check, not the benchmark: report and go on
        out["logged_model_error"] = f"{type(exc).__name__}: {exc}"
        out["logged_model_same_predictions"] = False
    return out


def check_spark_cost(
    with_cost: str | None, without: str | None, workdir: Path, repeats: int
) -> dict[str, Any]:
    """The sparktrack run has its spark.* metrics, the no-cost run none."""
    from sparktrack import TrackingClient

    def spark_keys(run_id: str | None, variant: str) -> list[str]:
        if run_id is None:
            return []
        # The last repeat's store of that variant.
        client = TrackingClient(str(workdir / f"{variant}-{repeats - 1}" / "store"))
        try:
            return sorted(k for k in client.get_run(run_id).data.metrics if k.startswith("spark."))
        finally:
            client.close()

    found, unwanted = spark_keys(with_cost, "sparktrack"), spark_keys(without, NO_COST)
    return {
        "with_cost_metrics": found,
        "without_cost_metrics": unwanted,
        "ok": "spark.jobs" in found and not unwanted,
    }


def check_mlflow_run(config: Config, run_id: str | None, model: Any, sample: Any) -> dict[str, Any]:
    """What MLflow's autolog recorded (its store is still the current one), and whether
    its logged model predicts like ``model``."""
    out: dict[str, Any] = {"run_id": run_id}
    if run_id is None:
        out["error"] = "no MLflow run"
        return out
    import mlflow
    import mlflow.spark

    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    children = mlflow.search_runs(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run_id}'",
    )
    out.update(_run_record(run, children))
    out["child_runs_expected"] = 4 if config.tuning else 0
    out["artifacts"] = sorted(a.path for a in client.list_artifacts(run_id))
    reference = model.bestModel if config.tuning else model
    try:
        loaded = mlflow.spark.load_model(f"runs:/{run_id}/model")
        out["logged_model_same_predictions"] = _same_predictions(
            _predictions(reference, sample),
            _predictions(loaded, sample),
            SAME_MODEL_PROBABILITY_TOLERANCE,
        )
    except Exception as exc:
        out["logged_model_error"] = f"{type(exc).__name__}: {exc}"
        out["logged_model_same_predictions"] = False
    return out


def mlflow_loads_sparktrack_model(model_dir: str, model: Any, sample: Any) -> dict[str, Any]:
    """MLflow's own loader on sparktrack's model folder (the formats are compatible)."""
    import mlflow.spark

    try:
        loaded = mlflow.spark.load_model(model_dir)
        same = _same_predictions(_predictions(model, sample), _predictions(loaded, sample), 1e-12)
        return {"same_predictions": same}
    except Exception as exc:
        return {"same_predictions": False, "error": f"{type(exc).__name__}: {exc}"}


def mlflow_loads_sparktrack_h2o_model(model_dir: str, model: Any, sample: Any) -> dict[str, Any]:
    """Case H: MLflow's own loader on sparktrack's H2O model folder (Spark ML's
    PipelineModel.load, hence Sparkling Water's reader) predicts exactly like the fitted
    model and has its metrics maps."""
    import mlflow.spark

    try:
        loaded = mlflow.spark.load_model(model_dir)
        stage = loaded.stages[-1] if hasattr(loaded, "stages") else loaded
        same = _same_h2o_predictions(
            _h2o_predictions(model, sample), _h2o_predictions(loaded, sample), 0.0
        )
        metrics_same = all(
            json.dumps(getattr(stage, getter)(), sort_keys=True)
            == json.dumps(getattr(model, getter)(), sort_keys=True)
            for getter in (
                "getTrainingMetrics",
                "getValidationMetrics",
                "getCrossValidationMetrics",
            )
        )
        return {"same_predictions": same, "same_metrics": metrics_same}
    except Exception as exc:
        return {"same_predictions": False, "error": f"{type(exc).__name__}: {exc}"}


def _h2o_predictions(model: Any, sample: Any) -> list[dict[str, Any]]:
    """prediction and detailed_prediction (label probabilities) per row, in row order."""
    transformed = model.transform(sample)
    columns = [c for c in ("prediction", "detailed_prediction") if c in transformed.columns]
    return [row.asDict(recursive=True) for row in transformed.select(*columns).collect()]


def check_h2o_run(run_id: str | None, model: Any, sample: Any, features: Any) -> dict[str, Any]:
    """Case H: training_AUC logged, a `model` artifact with the h2o_mojo and spark
    flavors, and sparktrack.models.load_model on it predicting like model.transform."""
    import sparktrack
    import sparktrack.models

    out: dict[str, Any] = {"run_id": run_id}
    if run_id is None:
        out["error"] = "no sparktrack run"
        return out
    client = sparktrack.get_client()
    run = sparktrack.get_run(run_id)
    out.update(_run_record(run, None))
    out["child_runs_expected"] = 0
    out["training_AUC"] = run.data.metrics.get("training_AUC")
    out["has_training_AUC"] = "training_AUC" in run.data.metrics
    artifacts = sorted(a.path for a in client.list_artifacts(run_id))
    out["artifacts"] = artifacts
    out["model_artifact"] = "model" in artifacts
    model_dir = _local_path(run.info.artifact_uri.rstrip("/") + "/model")
    out["model_dir"] = model_dir
    out["mlmodel_file"] = Path(model_dir, "MLmodel").is_file()
    expected = _h2o_predictions(model, sample)
    try:
        loaded = sparktrack.models.load_model(f"runs:/{run_id}/model")
        flavors = sorted(loaded.metadata.flavors)
        out["flavors"] = flavors
        out["mojo_and_spark_flavors"] = {"h2o_mojo", "spark"} <= set(flavors)
        out["loaded_model_class"] = type(loaded.spark_model).__name__
        # What a user scores with: LoadedModel.predict on the feature columns (pandas) ...
        predicted = list(loaded.predict(features))
        out["load_model_predict_same"] = predicted == [r["prediction"] for r in expected]
        # ... and the loaded Spark model's transform, label probabilities included.
        out["load_model_transform_same"] = _same_h2o_predictions(
            expected, _h2o_predictions(loaded.spark_model, sample), 0.0
        )
        out["logged_model_same_predictions"] = bool(
            out["load_model_predict_same"] and out["load_model_transform_same"]
        )
    except Exception as exc:  # a check, not the benchmark: report and go on
        out["logged_model_error"] = f"{type(exc).__name__}: {exc}"
        out["logged_model_same_predictions"] = False
    return out


def fits_agree(config: Config, fitted: dict[str, Any], sample: Any) -> dict[str, bool]:
    """Whether each variant's fitted model predicts like the plain fit's (same labels,
    probabilities within CROSS_FIT_PROBABILITY_TOLERANCE): autolog changed no result."""
    plain = fitted["plain"]
    out: dict[str, bool] = {}
    for name, model in fitted.items():
        if name == "plain":
            continue
        if config.h2o:
            out[name] = _same_h2o_predictions(
                _h2o_predictions(plain, sample),
                _h2o_predictions(model, sample),
                CROSS_FIT_PROBABILITY_TOLERANCE,
            )
        else:
            reference = plain.bestModel if config.tuning else plain
            other = model.bestModel if config.tuning else model
            out[name] = _same_predictions(
                _predictions(reference, sample),
                _predictions(other, sample),
                CROSS_FIT_PROBABILITY_TOLERANCE,
            )
    return out


def disagreements(config: Config, checks: dict[str, Any]) -> list[str]:
    """What makes the two sides' timings not like for like; empty when they agree."""
    found: list[str] = []
    runs = {name: checks[name] for name in ("sparktrack", "mlflow") if name in checks}
    for name, run in runs.items():
        if "error" in run:
            found.append(f"{name}: {run['error']}")
            continue
        if run["status"] != "FINISHED":
            found.append(f"{name}: run {run['run_id']} is {run['status']}, not FINISHED")
        if run["child_runs"] != run["child_runs_expected"]:
            found.append(
                f"{name}: {run['child_runs']} child runs, expected {run['child_runs_expected']}"
            )
        if not run.get("logged_model_same_predictions"):
            found.append(
                f"{name}: the logged model does not predict like the fitted model"
                + (f" ({run['logged_model_error']})" if "logged_model_error" in run else "")
            )
    if config.h2o and "sparktrack" in runs:
        h2o = runs["sparktrack"]
        if not h2o.get("has_training_AUC"):
            found.append("sparktrack: no training_AUC metric on the H2O run")
        if not h2o.get("mojo_and_spark_flavors"):
            found.append(f"sparktrack: model flavors {h2o.get('flavors')}, not h2o_mojo + spark")
    if {"sparktrack", "mlflow"} <= runs.keys() and not any("error" in r for r in runs.values()):
        found += record_differences(runs["sparktrack"], runs["mlflow"])
    for name, same in checks.get("fits_agree", {}).items():
        if not same:
            found.append(f"{name}'s fitted model predicts unlike the plain fit's")
    loads = checks.get("mlflow_loads_sparktrack_model")
    if loads is not None and not loads["same_predictions"]:
        found.append(
            "mlflow.spark.load_model on sparktrack's model folder predicts differently"
            + (f" ({loads['error']})" if "error" in loads else "")
        )
    if loads is not None and loads.get("same_metrics") is False:
        found.append("mlflow.spark.load_model on sparktrack's H2O model has other metrics")
    return found


# =====================================================================================
# Where sparktrack spends time: one instrumented fit (wraps internals, edits nothing)
# =====================================================================================


class Probe:
    """Accumulates wall time per label, per thread kind, and keeps intervals."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.totals: dict[str, dict[str, float]] = {}
        self.intervals: dict[str, list[tuple[float, float]]] = {}

    def record(self, label: str, started: float, ended: float) -> None:
        thread = threading.current_thread().name
        kind = (
            "main"
            if thread == "MainThread"
            else "autolog-worker"
            if thread.startswith("sparktrack-autolog")
            else "writer"
            if thread.startswith("sparktrack-writer")
            else "tuner-pool"
        )
        with self.lock:
            entry = self.totals.setdefault(f"{label} [{kind}]", {"calls": 0, "seconds": 0.0})
            entry["calls"] += 1
            entry["seconds"] += ended - started
            self.intervals.setdefault(label, []).append((started, ended))

    def wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.record(label, started, time.perf_counter())

        return timed

    def overlap(self, label: str, window: tuple[float, float]) -> float:
        low, high = window
        return sum(
            max(0.0, min(end, high) - max(start, low))
            for start, end in self.intervals.get(label, [])
        )


@contextmanager
def instrumented(probe: Probe) -> Iterator[list[str]]:
    """Wrap sparktrack internals in timers for the duration of the block."""
    from sparktrack.autologging import _pyspark, _worker
    from sparktrack.autologging._pyspark import _post_training, _tuning
    from sparktrack.store import _writer
    from sparktrack.tracking import _client, _run_writer, _spark_cost

    targets: list[tuple[Any, str, str, bool]] = [
        # (owner, attribute, label, is_classmethod)
        (_pyspark._TrackedFit, "start", "autolog: before fit (_TrackedFit.start)", True),
        (_pyspark, "flatten_params", "  flatten_params", False),
        (_pyspark, "nested_estimator_uids", "  nested_estimator_uids", False),
        (_pyspark, "stage_labels", "  stage_labels", False),
        (_tuning.TuningTracker, "record", "autolog: per tuning task (TuningTracker.record)", False),
        (_tuning, "param_map_params", "  param_map_params", False),
        (_post_training.PredictionRegistry, "track_model", "autolog: registry.track_model", False),
        (_worker, "submit", "autolog: queue the post-fit job", False),
        (_pyspark._TrackedFit, "after_fit", "autolog: post-fit job (after_fit)", False),
        (_pyspark._TrackedFit, "log_model", "  log_model", False),
        (_run_writer, "run_context_tags", "  client: run_context_tags", False),
        (_spark_cost._Collector, "_log_cost", "run cost: read the status store", False),
        (_writer.BatchWriter, "append", "store: append (journal write)", False),
        (_writer.BatchWriter, "_commit_round", "store: commit round (Delta)", False),
    ]
    for method in (
        "create_run",
        "log_params",
        "log_param",
        "log_metric",
        "log_metrics",
        "set_tag",
        "set_terminated",
        "log_dict",
        "log_text",
        "log_input",
    ):
        targets.append((_client.TrackingClient, method, f"  client.{method}", False))
    restored: list[tuple[Any, str, Any]] = []
    missing: list[str] = []
    try:
        for wanted_owner, name, label, is_classmethod in targets:
            # A method may live on a base class (e.g. a mixin): wrap it where it is defined.
            owners = wanted_owner.__mro__ if isinstance(wanted_owner, type) else (wanted_owner,)
            owner = next((o for o in owners if name in vars(o)), None)
            if owner is None:
                missing.append(f"{getattr(wanted_owner, '__name__', wanted_owner)}.{name}")
                continue
            original = vars(owner)[name]
            if is_classmethod:
                replacement: Any = classmethod(probe.wrap(label, original.__func__))
            else:
                replacement = probe.wrap(label, original)
            setattr(owner, name, replacement)
            restored.append((owner, name, original))
        yield missing
    finally:
        for owner, name, original in reversed(restored):
            setattr(owner, name, original)


def breakdown_fit(
    config: Config, dataset: Any, workdir: Path, plain_fit_s: float
) -> dict[str, Any]:
    """One extra sparktrack fit with timers around its internals (not a timed repeat)."""
    import sparktrack

    variant = SparktrackVariant()
    probe = Probe()
    with instrumented(probe) as missing:
        variant.setup(workdir)
        estimator = config.make_estimator()
        gc.collect()
        started = time.perf_counter()
        estimator.fit(dataset)
        fitted = time.perf_counter()
        sparktrack.flush()
        settled = time.perf_counter()
        variant.teardown()
    window = (started, fitted)
    critical = sum(
        probe.overlap(label, window)
        for label in (
            "autolog: before fit (_TrackedFit.start)",
            "autolog: per tuning task (TuningTracker.record)",
            "autolog: registry.track_model",
            "autolog: queue the post-fit job",
        )
    )
    return {
        "fit_s": fitted - started,
        "total_s": settled - started,
        "flush_s": settled - fitted,
        "plain_fit_median_s": plain_fit_s,
        "in_fit_sparktrack_code_s": critical,
        "writer_commits_during_fit_s": probe.overlap("store: commit round (Delta)", window),
        "post_fit_job_s": probe.overlap("autolog: post-fit job (after_fit)", (fitted, settled)),
        "totals": dict(sorted(probe.totals.items(), key=lambda kv: -kv[1]["seconds"])),
        "not_instrumented": missing,
    }


def print_breakdown(info: dict[str, Any]) -> None:
    say(
        f"    instrumented fit {format_seconds(info['fit_s'])} (plain median "
        f"{format_seconds(info['plain_fit_median_s'])}), flush after it "
        f"{format_seconds(info['flush_s'])}"
    )
    say(
        f"    sparktrack code on the fit's critical path (user thread + tuner pool): "
        f"{format_seconds(info['in_fit_sparktrack_code_s'])}; background Delta commits "
        f"running during the fit: {format_seconds(info['writer_commits_during_fit_s'])}"
    )
    for label, entry in info["totals"].items():
        say(f"      {label:<62} {entry['calls']:>4} calls {format_seconds(entry['seconds']):>9}")
    if info["not_instrumented"]:
        say(f"    (not found, not instrumented: {', '.join(info['not_instrumented'])})")


# =====================================================================================
# Running a configuration
# =====================================================================================


def _paired_ratio(
    numerator: list[Measurement],
    plain: list[Measurement],
    attribute: str,
    plain_attribute: str = "fit_s",
) -> float | None:
    """Median over repeats of variant/plain within the same repeat (drift-resistant)."""
    by_repeat = {m.repeat: getattr(m, plain_attribute) for m in plain}
    ratios = [
        getattr(m, attribute) / by_repeat[m.repeat]
        for m in numerator
        if m.repeat in by_repeat and by_repeat[m.repeat] > 0
    ]
    return median(ratios) if ratios else None


def summarize(measurements: dict[str, list[Measurement]]) -> dict[str, Any]:
    """Spreads of every timing and the ratios to the plain fit (medians, and paired)."""
    plain = measurements["plain"]
    plain_fits = [m.fit_s for m in plain]
    plain_fit = median(plain_fits)
    summary: dict[str, Any] = {
        "plain": {
            "fit_s": spread(plain_fits),
            "fit_cpu_s": spread([m.fit_cpu_s for m in plain]),
        }
    }
    for name in ("sparktrack", "mlflow"):
        runs = measurements.get(name)
        if not runs:
            continue
        totals = [m.total_s for m in runs]
        fits = [m.fit_s for m in runs]
        summary[name] = {
            # The headline: fit + everything persisted.
            "total_s": spread(totals),
            "total_ratio": median(totals) / plain_fit,
            "total_ratio_paired": _paired_ratio(runs, plain, "total_s"),
            "total_cpu_s": spread([m.total_cpu_s for m in runs]),
            "total_cpu_ratio_paired": _paired_ratio(runs, plain, "total_cpu_s", "fit_cpu_s"),
            # Secondary: until fit returns.
            "fit_s": spread(fits),
            "fit_ratio": median(fits) / plain_fit,
            "fit_ratio_paired": _paired_ratio(runs, plain, "fit_s"),
            "fit_cpu_ratio_paired": _paired_ratio(runs, plain, "fit_cpu_s", "fit_cpu_s"),
        }
    with_cost, without = measurements.get("sparktrack"), measurements.get(NO_COST)
    if with_cost and without:
        # What measuring the spark.* metrics costs: sparktrack with them over sparktrack
        # without them, paired within each repeat.
        summary["spark_cost"] = {
            "total_ratio_paired": _paired_ratio(with_cost, without, "total_s", "total_s"),
            "total_cpu_ratio_paired": _paired_ratio(
                with_cost, without, "total_cpu_s", "total_cpu_s"
            ),
            "fit_ratio_paired": _paired_ratio(with_cost, without, "fit_s", "fit_s"),
            "no_cost_total_s": spread([m.total_s for m in without]),
        }
    return summary


def _say_summary(summary: dict[str, Any], measurements: dict[str, list[Measurement]]) -> None:
    plain = measurements["plain"]
    say(f"  plain fit {format_spread([m.fit_s for m in plain])}")
    for name in ("sparktrack", "mlflow"):
        if name not in summary:
            continue
        entry, runs = summary[name], measurements[name]
        say(
            f"  {name} fit + flush {format_spread([m.total_s for m in runs])} = "
            f"{entry['total_ratio']:.2f}x plain (paired {entry['total_ratio_paired']:.2f}x, "
            f"CPU {entry['total_cpu_ratio_paired']:.2f}x); fit only "
            f"{format_spread([m.fit_s for m in runs])} = {entry['fit_ratio']:.2f}x"
        )
    cost = summary.get("spark_cost")
    if cost is not None and cost["total_ratio_paired"] is not None:
        say(
            f"  spark.* metrics on vs off (sparktrack / {NO_COST}, paired): fit + flush "
            f"{cost['total_ratio_paired']:.3f}x, CPU {cost['total_cpu_ratio_paired']:.3f}x, "
            f"fit only {cost['fit_ratio_paired']:.3f}x"
        )


def run_config(
    spark: Any,
    config: Config,
    variants: list[Variant],
    root: Path,
    original_fit: Any,
    breakdown: bool,
    mlflow_installed: bool,
) -> dict[str, Any]:
    say(f"{config.label}")
    frame = config.make_data(config.rows)
    started = time.perf_counter()
    dataset = spark.createDataFrame(frame).cache()
    count = dataset.count()
    sample = spark.createDataFrame(frame.head(CHECK_ROWS))
    if config.h2o:
        say(f"  MLflow: {MLFLOW_NO_H2O} (no MLflow variant for H)")
    say(f"  data: {count:,} rows cached in {format_seconds(time.perf_counter() - started)}")

    _assert_unpatched(original_fit)
    # The JVM keeps compiling hot code paths for more than one fit: warm up first.
    warmups = [_timed_fit(config, dataset)[0] for _ in range(config.warmups)]
    say(f"  warm-up plain fits (untimed): {', '.join(format_seconds(w) for w in warmups)}")

    measurements: dict[str, list[Measurement]] = {v.name: [] for v in variants}
    fitted: dict[str, Any] = {}  # the model each variant's last fit returned
    last_run: dict[str, str | None] = {}  # the run each logging variant last recorded
    order: list[list[str]] = []
    for repeat in range(config.repeats):
        variants_in_order = balanced_order(variants, repeat)
        order.append([v.name for v in variants_in_order])
        for variant in variants_in_order:
            if variant.name == "plain":
                _assert_unpatched(original_fit)
            workdir = root / config.key / f"{variant.name}-{repeat}"
            result, model = measure(variant, config, dataset, workdir, repeat)
            measurements[variant.name].append(result)
            fitted[variant.name] = model
            if variant.name != "plain":
                # Its store stays the current one until the variant's next setup: the
                # checks below read the last repeat's run there.
                last_run[variant.name] = result.run_id
            settle = (
                f", fit + flush {format_seconds(result.total_s)}" if variant.name != "plain" else ""
            )
            say(
                f"  repeat {repeat + 1}/{config.repeats} {variant.name:<10} fit "
                f"{format_seconds(result.fit_s)}{settle}  (CPU "
                f"{format_seconds(result.total_cpu_s)}, load {_load_text(result.load_before)})"
            )
            for warning in dict.fromkeys(result.autolog_warnings):
                say(f"    warning: {warning[:300]}")

    out: dict[str, Any] = {
        "label": config.label,
        "rows": config.rows,
        "repeats": config.repeats,
        "variants": list(measurements),
        "order": order,
        "warmup_fits_s": warmups,
        "measurements": {k: [asdict(m) for m in v] for k, v in measurements.items()},
    }
    summary = summarize(measurements)
    out["summary"] = summary
    _say_summary(summary, measurements)

    checks: dict[str, Any] = {}
    if NO_COST in measurements:
        checks["spark_cost"] = check_spark_cost(
            last_run.get("sparktrack"), last_run.get(NO_COST), root / config.key, config.repeats
        )
    if NO_COST in measurements:
        import sparktrack

        # The fluent store is the variant's that ran last: back to sparktrack's last one.
        sparktrack.set_store(str(root / config.key / f"sparktrack-{config.repeats - 1}" / "store"))
    if "sparktrack" in measurements:
        if config.h2o:
            checks["sparktrack"] = check_h2o_run(
                last_run["sparktrack"],
                fitted["sparktrack"],
                sample,
                frame.head(CHECK_ROWS)[feature_names()],
            )
        else:
            checks["sparktrack"] = check_sparktrack_run(
                config, last_run["sparktrack"], fitted["sparktrack"], sample
            )
    if config.h2o and mlflow_installed and checks.get("sparktrack", {}).get("model_dir"):
        # No MLflow variant for H, but its loader must read sparktrack's H2O folder.
        checks["mlflow_loads_sparktrack_model"] = mlflow_loads_sparktrack_h2o_model(
            checks["sparktrack"]["model_dir"], fitted["sparktrack"], sample
        )
    if "mlflow" in measurements:
        checks["mlflow"] = check_mlflow_run(config, last_run["mlflow"], fitted["mlflow"], sample)
        model_dir = checks.get("sparktrack", {}).get("model_dir")
        if model_dir:
            model = fitted["sparktrack"]
            checks["mlflow_loads_sparktrack_model"] = mlflow_loads_sparktrack_model(
                model_dir, model.bestModel if config.tuning else model, sample
            )
    checks["fits_agree"] = fits_agree(config, fitted, sample)
    out["checks"] = checks
    out["disagreements"] = disagreements(config, checks)
    for name in ("sparktrack", "mlflow"):
        if name in checks and "error" not in checks[name]:
            run = checks[name]
            say(
                f"  {name} run: {run['status']}, {run['child_runs']} child runs (expected "
                f"{run['child_runs_expected']}), {len(run['params'])} params, "
                f"{len(run['metrics'])} metrics, logged model predicts like the fitted one: "
                f"{'yes' if run.get('logged_model_same_predictions') else 'NO'}"
            )
    if "spark_cost" in checks and not checks["spark_cost"]["ok"]:
        out["disagreements"].append(f"spark.* metrics: {checks['spark_cost']}")
    for problem in out["disagreements"]:
        say(f"  DISAGREEMENT: {problem}")
    if not out["disagreements"]:
        say("  both sides agree: runs, params, metrics and predictions checked")

    if breakdown and "sparktrack" in measurements and not config.h2o:
        plain_fit = summary["plain"]["fit_s"]["median"]
        info = breakdown_fit(config, dataset, root / config.key / "breakdown", plain_fit)
        out["breakdown"] = info
        say("  where sparktrack spends time (one extra, instrumented fit):")
        print_breakdown(info)
    dataset.unpersist()
    return out


def _timed_fit(config: Config, dataset: Any) -> tuple[float, Any]:
    estimator = config.make_estimator()
    started = time.perf_counter()
    model = estimator.fit(dataset)
    return time.perf_counter() - started, model


# =====================================================================================
# The summary
# =====================================================================================


def _cell(entry: dict[str, Any], key: str) -> str:
    """``median [min, max] (ratio)`` of one variant's timing."""
    ratio = entry["total_ratio" if key == "total_s" else "fit_ratio"]
    return f"{format_spread(entry[key])} ({ratio:.2f}x)"


def summary_rows(results: dict[str, Any], mlflow_note: str) -> list[list[str]]:
    rows = []
    for key, result in results.items():
        s = result["summary"]
        st = s.get("sparktrack")
        ml = s.get("mlflow")
        target = f"≤ {TARGET_TOTAL_RATIO:.2f}x" if key in TARGET_KEYS else "—"
        met = "—"
        if key in TARGET_KEYS and st:
            met = "yes" if st["total_ratio"] <= TARGET_TOTAL_RATIO else "**no**"
        mlflow_cell = _cell(ml, "total_s") if ml else MLFLOW_NO_H2O if key == "H" else mlflow_note
        rows.append(
            [
                key,
                f"{result['rows']:,}",
                str(result["repeats"]),
                format_spread(s["plain"]["fit_s"]),
                _cell(st, "total_s") if st else "—",
                mlflow_cell,
                target,
                met,
                _cell(st, "fit_s") if st else "—",
                f"{st['total_cpu_ratio_paired']:.2f}x" if st else "—",
            ]
        )
    return rows


HEADERS = [
    "case",
    "rows",
    "repeats",
    "plain fit",
    "sparktrack fit + flush",
    "MLflow fit + flush",
    "target (fit + flush)",
    "met?",
    "sparktrack fit only",
    "sparktrack CPU, fit + flush",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_arguments(
        parser,
        quick="1 repeat, smaller data, A at parallelism 1 only",
        keep_tmp="keep the temporary stores",
    )
    parser.add_argument(
        "--cases",
        default=None,
        help="comma-separated cases, from A,B,H (default: all; H only if Sparkling Water "
        "is installed)",
    )
    parser.add_argument(
        "--repeats", type=int, help="repeats per variant (overrides the default; use even)"
    )
    parser.add_argument(
        "--no-breakdown",
        action="store_true",
        help="skip the instrumented sparktrack fit (always skipped with --quick)",
    )
    args = parser.parse_args(argv)
    args.cases_given = args.cases is not None
    cases = args.cases if args.cases_given else ",".join(ALL_CASES)
    chosen = [c.strip().upper() for c in cases.split(",") if c.strip()]
    if not chosen or set(chosen) - set(ALL_CASES):
        parser.error(
            f"--cases takes a comma-separated subset of {','.join(ALL_CASES)}; got {cases!r}"
        )
    args.cases = [c for c in ALL_CASES if c in chosen]
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be >= 1")
    refuse_partial_readme_run(parser, args, {"--cases": args.cases_given})
    return args


def main(argv: list[str] | None = None) -> int:
    global _cpu
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.repeats is not None:
        sizes = Sizes(
            **{
                **asdict(sizes),
                "a_repeats": args.repeats,
                "b_repeats": args.repeats,
                "h_repeats": args.repeats,
            }
        )
    skipped_note = None
    if "H" in args.cases and importlib.util.find_spec("pysparkling") is None:
        skipped_note = (
            "case H needs Sparkling Water (`make bench-setup` installs the h2o extra, "
            "h2o-pysparkling-3-5)"
        )
        if args.cases_given or args.update_readme:
            say(f"error: {skipped_note}")
            return 2
        args.cases = [c for c in args.cases if c != "H"]
    mlflow_choice = choose_mlflow(args)
    with_mlflow, mlflow_installed = mlflow_choice.used, mlflow_choice.installed
    mlflow_note = mlflow_choice.absence
    machine = machine_description()
    say(
        f"Autolog overhead on Spark MLlib / Sparkling Water ({'quick' if args.quick else 'full'}"
        f", cases "
        f"{','.join(args.cases)}, variants plain, sparktrack"
        + (", MLflow)" if with_mlflow else f"; MLflow {mlflow_note})")
    )
    say(machine_line(machine))
    if skipped_note:
        say(f"  note: H left out: {skipped_note}")
    # Test mode runs the post-fit logging synchronously: not what users get.
    os.environ.pop("SPARKTRACK_AUTOLOG_TESTING", None)

    root = Path(tempfile.mkdtemp(prefix="sparktrack-autolog-bench-"))
    repo = Path.cwd()
    # Spark's warehouse/metastore, MLflow's ./mlruns and sparktrack's ./conf lookup all go
    # to the temporary folder, not the repository.
    os.chdir(root)
    os.environ["SPARKTRACK_JOURNAL_DIR"] = str(root / "journal")
    started = time.perf_counter()
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    try:
        from pyspark.ml.base import Estimator

        import sparktrack

        original_fit = Estimator.__dict__["fit"]
        session_started = time.perf_counter()
        spark = sparktrack.spark_session("bench", "local[2]")
        spark_s = time.perf_counter() - session_started
        master = spark.sparkContext.master
        _cpu = CpuMeter(spark)
        if _cpu.jvm_stat is None:
            say("  note: the Spark JVM's CPU time is not readable; CPU figures are Python's only")
        say(f"SparkSession {spark.version} {master} ready in {format_seconds(spark_s)}")
        if master != "local[2]":
            say(f"  note: an existing session was reused, master {master}")
        if with_mlflow:
            # Imported here: the import's time is not autolog's cost.
            import mlflow.pyspark.ml

        variants: list[Variant] = [Variant(), SparktrackVariant()]
        if with_mlflow:
            variants.append(MlflowVariant())
        for config in build_configs(sizes, args.cases):
            try:
                config_variants = variants
                if config.case == "A":
                    # The 2% target of the spark.* metrics is a CrossValidator's fit.
                    config_variants = [*variants, SparktrackNoCostVariant()]
                if config.h2o:
                    # Started only now, after the other cases: it cannot be stopped, and
                    # its memory and threads in the JVM would disturb their timings.
                    from sparktrack.h2o import h2o_context

                    say(f"starting the H2OContext (load {_load_text(load_average())}) ...")
                    h2o_started = time.perf_counter()
                    h2o_context(spark)
                    h2o_s = time.perf_counter() - h2o_started
                    machine["h2o_context_start_s"] = h2o_s
                    say(f"H2OContext ready in {format_seconds(h2o_s)}")
                    # MLflow has no H2O autolog.
                    config_variants = [v for v in variants if v.name != "mlflow"]
                results[config.key] = run_config(
                    spark,
                    config,
                    config_variants,
                    root,
                    original_fit,
                    breakdown=not args.quick
                    and not args.no_breakdown
                    and config.key in ("A-p1", "B"),
                    mlflow_installed=mlflow_installed,
                )
            except Exception as exc:
                errors[config.key] = f"{type(exc).__name__}: {exc}"
                say(f"  {config.key} FAILED: {errors[config.key]}")
                traceback.print_exc()
                sparktrack.autolog(disable=True)
                if with_mlflow:
                    import mlflow.pyspark.ml

                    mlflow.pyspark.ml.autolog(disable=True)
            say()
    finally:
        os.chdir(repo)
        if args.keep_tmp:
            say(f"temporary stores kept in {root}")
    elapsed = time.perf_counter() - started
    machine["load_avg_end"] = load_average()

    table = markdown_table(HEADERS, summary_rows(results, mlflow_note))
    notes = summary_notes(results, with_mlflow)
    disagreeing = {key: r["disagreements"] for key, r in results.items() if r["disagreements"]}
    say(table)
    say()
    for note in notes:
        say(f"- {note}")
    for key in TARGET_KEYS:
        entry = results.get(key, {}).get("summary", {}).get("sparktrack")
        if entry:
            verdict = "met" if entry["total_ratio"] <= TARGET_TOTAL_RATIO else "NOT met"
            say(
                f"Target sparktrack fit + flush <= {TARGET_TOTAL_RATIO:.2f}x plain on {key}: "
                f"{verdict} ({entry['total_ratio']:.2f}x; fit only {entry['fit_ratio']:.2f}x)"
            )
    say()
    say(machine_line(machine))
    tree = source_tree()
    versions = package_versions(PACKAGES)
    say(
        f"sparktrack {versions['sparktrack']} ({tree['describe']}), pyspark "
        f"{versions['pyspark']}"
        + (f", MLflow {versions['mlflow']}" if with_mlflow else f", MLflow {mlflow_note}")
        + (f", h2o-pysparkling-3-5 {versions['h2o-pysparkling-3-5']}" if "H" in args.cases else "")
        + f"; benchmark took {format_seconds(elapsed)}"
    )
    # A subset of the cases names its file after them (autolog_overhead_H-...), so that it
    # is never taken for a full run.
    name = BENCH_NAME
    if args.cases != list(ALL_CASES):
        name += "_" + "".join(args.cases)
    partial = partial_reasons(
        (f"cases {','.join(args.cases)} only", args.cases != list(ALL_CASES)),
        ("no MLflow", not with_mlflow),
        (f"failed: {', '.join(errors)}", bool(errors)),
        (f"sides disagree: {', '.join(disagreeing)}", bool(disagreeing)),
    )
    fields = {
        "sizes": asdict(sizes),
        "cases": args.cases,
        "with_mlflow": with_mlflow,
        "mlflow_installed": mlflow_installed,
        "versions": versions,
        "source_tree": tree,
        "machine": machine,
        "targets": {
            "total_ratio": TARGET_TOTAL_RATIO,
            "keys": list(TARGET_KEYS),
            "mlflow_reported_ratio": MLFLOW_REPORTED_RATIO,
        },
        "tolerances": {
            "cross_fit_probability": CROSS_FIT_PROBABILITY_TOLERANCE,
            "same_model_probability": SAME_MODEL_PROBABILITY_TOLERANCE,
        },
        "results": results,
        "errors": errors,
        "disagreements": disagreeing,
        "skipped": skipped_note,
    }
    if not args.keep_tmp:
        shutil.rmtree(root, ignore_errors=True)
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
            f"{key}: the two sides disagree: {problem}"
            for key, problems in disagreeing.items()
            for problem in problems
        ],
        file_name=name,
    )


def summary_notes(results: dict[str, Any], with_mlflow: bool) -> list[str]:
    notes = [
        "Every figure: median [min, max] over the repeats; ratios are to the plain fit's "
        "median. Variants in a balanced order (plain, sparktrack, MLflow, then reversed, "
        "each repeat) in one process and SparkSession (local[2]) after untimed warm-up fits.",
        "fit + flush (the headline and the target) = from fit until everything logged is "
        "persisted: sparktrack until sparktrack.flush() returns (autolog's background work, "
        "the model folder and the Delta commit); MLflow logs synchronously inside fit, "
        "its async queues flushed too. fit only = until fit returns (sparktrack logs the "
        "model on a background thread after that).",
        "sparktrack CPU = median over repeats of (CPU seconds of the Python process and its "
        "Spark JVM, fit + flush) / (the same for the plain fit of that repeat): the work "
        "added, much less sensitive to other load on the machine than wall time.",
    ]
    if with_mlflow:
        notes.append(
            "MLflow: mlflow.pyspark.ml.autolog(log_models=True), SQLite store; reported at "
            f"{MLFLOW_REPORTED_RATIO}x on case A when the issue was filed."
        )
    if "H" in results:
        notes.append(
            f"H: H2OGBM on Sparkling Water, variants plain and sparktrack only (MLflow: "
            f"{MLFLOW_NO_H2O}); its H2OContext was started after the other cases; one "
            "untimed warm-up fit. The model is logged as a spark-flavor folder whose "
            "h2o_mojo flavor points at the MOJO inside it."
        )
    checked = [key for key, r in results.items() if not r["disagreements"] and key != "H"]
    if checked:
        mlflow_checks = (
            "; every param and metric MLflow recorded, and every child run with its metrics, "
            "recorded by sparktrack too; mlflow.spark.load_model on sparktrack's model "
            "folder predicts the same"
            if with_mlflow
            else ""
        )
        notes.append(
            f"Checked in {', '.join(checked)}: each run FINISHED with the expected child "
            f"runs{mlflow_checks}; each logged model predicts like its fitted model; every "
            f"variant's fitted model predicts the plain fit's labels on {CHECK_ROWS} rows "
            f"(probabilities within {CROSS_FIT_PROBABILITY_TOLERANCE:g})."
        )
    if "H" in results and not results["H"]["disagreements"]:
        mlflow_h2o = (
            "; mlflow.spark.load_model on it predicts the same and has the same metrics maps"
            if "mlflow_loads_sparktrack_model" in results["H"].get("checks", {})
            else ""
        )
        notes.append(
            "Checked in H: the run FINISHED with training_AUC and a `model` artifact with "
            "the h2o_mojo and spark flavors; sparktrack.models.load_model on it predicts "
            f"like the fitted model{mlflow_h2o}; the plain and sparktrack fits predict the "
            f"same on {CHECK_ROWS} rows."
        )
    return notes


if __name__ == "__main__":
    run_main(main)
