"""Sweeps on the shared local session: functions, estimators, failures, pruning, resume.

The same on real executor JVMs (local-cluster) is in test_sweeps_cluster.py.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

import sparktrack
from sparktrack import TrackingClient
from sparktrack.errors import InvalidInputError, SweepFailedError
from sparktrack.registry import RegistryClient
from sparktrack.sweeps import choice, int_range, loguniform, sweep, uniform
from sparktrack.sweeps._executors import ImportProblem, import_problem
from sparktrack.sweeps._records import error_summary

pytestmark = pytest.mark.spark


@pytest.fixture(autouse=True)
def _functions_travel_by_value() -> None:
    # Trial functions defined here must reach Spark's Python workers by value: the
    # workers cannot import the tests package.
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture
def client(fluent_client: TrackingClient, spark: Any) -> TrackingClient:
    sparktrack.set_experiment("sweeps")
    return fluent_client


def quadratic(params: dict[str, Any]) -> dict[str, float]:
    if params["kind"] == "broken":
        raise ValueError(f"cannot train kind {params['kind']!r}")
    return {"loss": (params["x"] - 2) ** 2, "x_seen": params["x"]}


def _children(client: TrackingClient, parent: str) -> Any:
    client.flush()
    return client.search_runs(
        None, filter_string=f"tags.`mlflow.parentRunId` = '{parent}'", order_by=["run_name"]
    )


def test_grid_function_sweep_runs_every_point_once_and_keeps_failures(
    client: TrackingClient, tmp_path: Path
) -> None:
    result = sweep(
        quadratic,
        {"x": [0, 1, 2, 3], "kind": choice(["ok", "broken"])},
        metric="loss",
        mode="min",
        strategy="grid",
        parallelism=2,
        progress=False,
    )
    trials = result.trials
    assert len(trials) == 8
    assert sorted(zip(trials["params.x"], trials["params.kind"], strict=True)) == sorted(
        (x, k) for x in [0, 1, 2, 3] for k in ["ok", "broken"]
    )
    assert result.best_params == {"x": 2, "kind": "ok"} and result.best_metric == 0.0
    assert result.best_model is None
    children = _children(client, result.run_id)
    by_state = children.groupby("tags.sparktrack.sweep.state")["status"].agg(set).to_dict()
    assert by_state == {"complete": {"FINISHED"}, "failed": {"FAILED"}}
    failed = children[children["status"] == "FAILED"]
    assert failed["tags.sparktrack.sweep.error"].str.contains("cannot train kind").all()
    error = client.download_artifacts(failed["run_id"].iloc[0], "error.txt", tmp_path)
    assert "Traceback" in Path(error).read_text()
    complete = children[children["status"] == "FINISHED"]
    assert (complete["metrics.loss"] == (complete["params.x"].astype(int) - 2) ** 2).all()
    assert (complete["metrics.trial_seconds"] >= 0).all()
    parent = client.get_run(result.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["best_loss"] == 0.0
    assert parent.data.tags["sparktrack.sweep.best_run_id"] == result.best_run_id


def test_a_sweep_whose_trials_all_failed_raises_the_first_error(
    client: TrackingClient, spark: Any
) -> None:
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.linalg import Vectors

    with pytest.raises(SweepFailedError, match="cannot train kind 'broken'") as raised:
        sweep(quadratic, {"x": [0, 1, 2], "kind": ["broken"]}, metric="loss", mode="min",
              strategy="grid", parallelism=1, progress=False)  # fmt: skip
    assert "trial 0" in str(raised.value) and "Traceback" in raised.value.first_error
    assert client.get_run(raised.value.run_id).info.status == "FAILED"
    children = _children(client, raised.value.run_id)
    assert list(children["status"]) == ["FAILED"] * 3
    assert set(children["tags.sparktrack.sweep.error"]) == {
        "ValueError: cannot train kind 'broken'"
    }

    # Estimator trials: a negative maxIter fails every fit, in the JVM.
    rows = [(Vectors.dense([float(i)]), float(i % 2)) for i in range(8)]
    frame = spark.createDataFrame(rows, ["features", "label"])  # type: ignore[attr-defined]
    with pytest.raises(SweepFailedError, match="maxIter") as raised:
        sweep(LogisticRegression(), {"maxIter": [-1, -2]}, train=frame, valid=frame,
              evaluator=BinaryClassificationEvaluator(), strategy="grid",
              progress=False)  # fmt: skip
    assert client.get_run(raised.value.run_id).info.status == "FAILED"
    children = _children(client, raised.value.run_id)
    assert list(children["status"]) == ["FAILED"] * 2
    assert (children["metrics.trial_seconds"] >= 0).all()


def test_import_problems_are_read_from_executor_tracebacks() -> None:
    in_task = (
        'Traceback (most recent call last):\n  File "train.py", line 3, in fn\n'
        "    import xgboost\nModuleNotFoundError: No module named 'xgboost'\n"
    )
    assert import_problem(in_task) == ImportProblem(
        "xgboost", "ModuleNotFoundError: No module named 'xgboost'"
    )
    # A task that could not start: the worker's traceback inside a Java error.
    task = (
        "py4j.protocol.Py4JJavaError: An error occurred while calling collectAndServe.\n"
        ": org.apache.spark.SparkException: Job aborted: org.apache.spark.api.python."
        "PythonException: Traceback (most recent call last):\n"
        '  File "/x/pyspark.zip/pyspark/worker.py", line 1, in main\n'
        "ModuleNotFoundError: No module named 'mypkg.train'\n\n"
        "\tat org.apache.spark.api.python.BasePythonRunner.handlePythonException(...)\n"
        "Caused by: java.lang.RuntimeException: boom\n\tat java.base/Thread.run(...)\n"
    )
    problem = import_problem(task)
    assert problem is not None and problem.module == "mypkg.train"
    assert error_summary(task) == "ModuleNotFoundError: No module named 'mypkg.train'"
    version = "ImportError: cannot import name 'thing' from 'lib' (/site-packages/lib/__init__.py)"
    assert import_problem(f"Traceback ...\n{version}\n") == ImportProblem("lib", version)
    assert import_problem("Traceback ...\nValueError: bad x\n") is None
    assert error_summary("Traceback ...\nValueError: bad x\n") == "ValueError: bad x"


def slow_learner(params: dict[str, Any], trial: Any) -> dict[str, float]:
    """Learning curves that plateau at ``level``: bad levels are clear early."""
    level = params["level"]
    for step in range(6):
        trial.report(level + 1.0 / (step + 1), step)
        if trial.should_prune():
            import optuna

            raise optuna.TrialPruned()
    return {"loss": level}


def test_early_stopping_prunes_bad_trials_on_their_intermediate_values(
    client: TrackingClient,
) -> None:
    import optuna

    levels = [0.0, 0.1, 5.0, 6.0, 7.0, 8.0]

    def first_two(seed: int) -> set[float]:
        """The first two levels a seeded grid hands out, one trial at a time."""
        study = optuna.create_study(
            sampler=optuna.samplers.GridSampler({"level": levels}, seed=seed)
        )
        seen = set()
        for _ in range(2):
            trial = study.ask()
            seen.add(trial.suggest_categorical("level", levels))
            study.tell(trial, 0.0)
        return seen

    # The grid runs in a seeded shuffled order; pick a seed that starts with the two
    # good levels, so the pruner has a low median to compare the bad ones with.
    seed = next(s for s in range(1000) if first_two(s) == {0.0, 0.1})
    result = sweep(
        slow_learner,
        {"level": levels},
        metric="loss",
        mode="min",
        strategy="grid",
        seed=seed,
        parallelism=1,  # one at a time: each trial sees all earlier ones
        early_stopping=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
        progress=False,
    )
    states = dict(zip(result.trials["params.level"], result.trials["state"], strict=True))
    assert states[0.0] == "complete" and states[0.1] == "complete"
    assert {states[level] for level in (5.0, 6.0, 7.0, 8.0)} == {"pruned"}
    children = _children(client, result.run_id)
    pruned = children[children["tags.sparktrack.sweep.state"] == "pruned"]
    for run_id in pruned["run_id"]:
        steps = [m.step for m in client.get_metric_history(run_id, "intermediate_value")]
        assert len(steps) < 6  # cut before the end of its curve
    assert result.best_metric == 0.0


def test_estimator_sweep_fits_scores_and_registers_the_best_model(
    client: TrackingClient, spark: Any
) -> None:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.feature import VectorAssembler

    rows = [(float(i % 7), float((i * 3) % 5), float((i % 7) + (i * 3) % 5 > 5)) for i in range(80)]
    data = spark.createDataFrame(rows, "a double, b double, label double")  # type: ignore[attr-defined]
    train, valid = data.randomSplit([0.7, 0.3], seed=3)
    lr = LogisticRegression(maxIter=5)
    pipeline = Pipeline(stages=[VectorAssembler(inputCols=["a", "b"], outputCol="features"), lr])
    sparktrack.autolog()  # the sweep keeps autolog from making runs of its trials' fits
    try:
        result = sweep(
            pipeline,
            {lr.regParam: loguniform(1e-3, 1.0), "elasticNetParam": uniform(0.0, 1.0)},
            train=train,
            valid=valid,
            evaluator=BinaryClassificationEvaluator(),
            strategy="random",
            max_trials=3,
            parallelism=2,
            seed=7,
            register_as="lr-sweep",
            progress=False,
        )
    finally:
        sparktrack.autolog(disable=True)
    assert list(result.trials["state"]) == ["complete"] * 3
    assert set(result.best_params) == {"LogisticRegression.regParam", "elasticNetParam"}
    assert result.best_metric == result.trials["value"].max()
    assert result.registered_version == 1
    version = RegistryClient(client).get_model_version("lr-sweep", 1)
    assert version.source == f"runs:/{result.run_id}/model"
    scored = result.best_model.transform(valid)
    assert BinaryClassificationEvaluator().evaluate(scored) == pytest.approx(result.best_metric)
    loaded = sparktrack.load_model("models:/lr-sweep/1")
    expected = [r.prediction for r in scored.select("prediction").collect()]
    assert list(loaded.predict(valid.select("a", "b").toPandas())) == expected
    client.flush()
    runs = client.search_runs(None)
    assert len(runs) == 4  # the sweep and its three trials; no autologged fits
    trials = runs[runs["tags.sparktrack.sweep.role"] == "trial"]
    assert (trials["metrics.trial_seconds"] > 0).all()  # documented for every trial
    best_lr = result.best_model.stages[-1]
    assert best_lr.getRegParam() == result.best_params["LogisticRegression.regParam"]


def test_a_named_sweep_resumes_without_redoing_finished_trials(client: TrackingClient) -> None:
    space = {"x": int_range(0, 5), "kind": ["ok"]}
    first = sweep(quadratic, space, name="resumable", metric="loss", mode="min",
                  strategy="grid", max_trials=3, parallelism=1, progress=False)  # fmt: skip
    assert len(first.trials) == 3
    second = sweep(quadratic, space, name="resumable", metric="loss", mode="min",
                   strategy="grid", parallelism=1, progress=False)  # fmt: skip
    assert second.run_id == first.run_id
    trials = second.trials
    assert len(trials) == 6 and trials["resumed"].sum() == 3
    assert sorted(trials["params.x"]) == [0, 1, 2, 3, 4, 5]  # every point once
    assert second.best_params == {"x": 2, "kind": "ok"}
    assert len(_children(client, first.run_id)) == 6
    with pytest.raises(InvalidInputError, match="another space"):
        sweep(quadratic, {"x": [9], "kind": ["ok"]}, name="resumable", metric="loss",
              mode="min", max_trials=1, progress=False)  # fmt: skip


def conditional_space(trial: Any) -> dict[str, Any]:
    """A param that exists only for one value of another: an Optuna define-by-run space."""
    kind = trial.suggest_categorical("kind", ["ok", "broken"])
    params: dict[str, Any] = {"kind": kind}
    if kind == "ok":
        params["x"] = trial.suggest_int("x", 0, 4)
    else:
        params["x"] = 0
        params["reason"] = trial.suggest_categorical("reason", ["a", "b"])
    return params


def test_conditional_spaces_and_time_budgets(client: TrackingClient) -> None:
    result = sweep(quadratic, conditional_space, metric="loss", mode="min",
                   strategy="random", max_trials=8, seed=2, progress=False)  # fmt: skip
    trials = result.trials
    assert len(trials) == 8
    ok = trials[trials["params.kind"] == "ok"]
    broken = trials[trials["params.kind"] == "broken"]
    assert len(ok) and len(broken)
    assert set(broken["state"]) == {"failed"} and broken["params.reason"].notna().all()
    assert ok["params.reason"].isna().all()
    started = time.monotonic()
    timed = sweep(sleepy, {"x": uniform(0, 1)}, metric="loss", mode="min", timeout=3,
                  parallelism=1, progress=False)  # fmt: skip
    assert 1 <= len(timed.trials) <= 4  # about 1 s each: no trial starts after 3 s
    assert time.monotonic() - started < 20


def sleepy(params: dict[str, Any]) -> dict[str, float]:
    time.sleep(1.0)
    return {"loss": params["x"]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "loss"}, "needs metric= .* and mode="),
        ({"metric": "loss", "mode": "down"}, "mode must be 'min' or 'max'"),
        ({"metric": "loss", "mode": "min", "strategy": "bayes"}, "strategy 'bayes'"),
        ({"metric": "loss", "mode": "min", "strategy": "tpe"}, "needs a budget"),
        ({"metric": "loss", "mode": "min", "register_as": "m", "max_trials": 1}, "register_as"),
        ({"metric": "loss", "mode": "min", "max_trials": 0}, "max_trials must be a positive"),
        ({"metric": "loss", "mode": "min", "early_stopping": "soon", "max_trials": 1}, "soon"),
    ],
)
def test_bad_arguments_fail_before_anything_runs(
    client: TrackingClient, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        sweep(quadratic, {"x": uniform(0, 4), "kind": ["ok"]}, progress=False, **kwargs)
    assert client.search_runs(None).empty


def test_bad_spaces_name_the_key(client: TrackingClient, spark: Any) -> None:
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    with pytest.raises(InvalidInputError, match="'x' is a continuous range"):
        sweep(quadratic, {"x": uniform(0, 1)}, metric="loss", mode="min", strategy="grid")
    with pytest.raises(InvalidInputError, match="'x' is a dict"):
        sweep(quadratic, {"x": {"a": 1}}, metric="loss", mode="min", max_trials=1)
    frame = spark.createDataFrame([(1.0, 0.0)], "a double, label double")  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError, match="'depth' names no param"):
        sweep(LogisticRegression(), {"depth": [1, 2]}, train=frame, valid=frame,
              evaluator=BinaryClassificationEvaluator(), max_trials=1)  # fmt: skip
    assert client.search_runs(None).empty
