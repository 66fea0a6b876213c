"""What a run cost on the cluster: ``spark.*`` metrics from Spark's own bookkeeping.

Checked against what Spark reports of the same jobs (its public status tracker, and
the status store read field by field, not as the code under test reads it), for known
jobs: a fixed number of partitions, a shuffle. A CrossValidator under autolog gives each
child run its own jobs and the parent all of them; failures at the py4j boundary leave
the run as it was, with one warning. The user's own session (no Delta, UI off, separate
executor JVMs, autolog on its background thread) runs in a child process.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import sparktrack
from sparktrack.config import load_settings
from sparktrack.errors import ConfigurationError
from sparktrack.tracking import _spark_cost, _spark_jobs, _spark_status
from tests._processes import child_env, python, readable, result_line, run_child

pytestmark = pytest.mark.spark

CHILD_TIMEOUT_S = 900


def _spark_metrics(run_id: str) -> dict[str, float]:
    sparktrack.flush()
    metrics = sparktrack.get_run(run_id).data.metrics
    return {k: v for k, v in metrics.items() if k.startswith("spark.")}


def _job_ids(spark: Any) -> set[int]:
    return set(spark.sparkContext.statusTracker().getJobIdsForGroup(None))


def _store_totals(spark: Any, job_ids: set[int]) -> dict[str, float]:
    """The oracle: the stages of those jobs, read field by field from the status store."""
    context = spark.sparkContext._jsc.sc()
    context.listenerBus().waitUntilEmpty(60_000)  # every job's end event in the store
    store = context.statusStore()
    stages = {}
    for job_id in job_ids:
        stage_ids = store.job(job_id).stageIds()
        for i in range(stage_ids.size()):
            try:
                stage = store.lastStageAttempt(stage_ids.apply(i))
            except Exception as exc:
                # Past spark.ui.retainedStages, Spark drops stages that never ran first
                # (no completion time): in a long session a recent job's skipped stage
                # may be gone already.
                if "NoSuchElementException" in str(exc):
                    continue
                raise
            if stage.status().toString() not in ("SKIPPED", "PENDING"):
                stages[stage.stageId()] = stage
    return {
        "spark.jobs": len(job_ids),
        "spark.stages": len(stages),
        "spark.tasks": sum(s.numTasks() for s in stages.values()),
        "spark.executor_run_time_ms": sum(s.executorRunTime() for s in stages.values()),
        "spark.jvm_gc_time_ms": sum(s.jvmGcTime() for s in stages.values()),
        "spark.shuffle_read_bytes": sum(s.shuffleReadBytes() for s in stages.values()),
        "spark.shuffle_write_bytes": sum(s.shuffleWriteBytes() for s in stages.values()),
        "spark.input_bytes": sum(s.inputBytes() for s in stages.values()),
        "spark.output_bytes": sum(s.outputBytes() for s in stages.values()),
    }


def _shuffle_job(spark: Any) -> None:
    """Two jobs: 7 tasks; then 4 map tasks and 3 reduce tasks around a shuffle."""
    context = spark.sparkContext
    context.parallelize(range(100), 7).count()
    pairs = context.parallelize([(i % 5, i) for i in range(1000)], 4)
    pairs.reduceByKey(lambda a, b: a + b, 3).collect()


@pytest.fixture
def warnings_seen(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    caplog.set_level(logging.WARNING, logger="sparktrack")
    yield lambda: [
        r.getMessage()
        for r in caplog.records
        if r.name == "sparktrack" and r.levelno >= logging.WARNING
    ]


@pytest.fixture
def fresh_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """The once-per-process warning, not yet given in this test."""
    monkeypatch.setattr(_spark_jobs, "_warned", threading.Event())


def test_a_runs_metrics_are_the_status_stores_totals_of_its_jobs(spark: Any) -> None:
    spark.sparkContext.parallelize(range(10), 2).count()  # before the run: not its work
    before = _job_ids(spark)
    with sparktrack.start_run() as run:
        _shuffle_job(spark)
    during = _job_ids(spark) - before
    spark.sparkContext.parallelize(range(10), 3).count()  # after it: not its work either

    measured = _spark_metrics(run.info.run_id)
    assert set(measured) == set(_spark_cost.SPARK_COST_METRICS)
    expected = _store_totals(spark, during)
    assert {k: measured[k] for k in expected} == expected
    # What the jobs were made of: 2 jobs, 3 stages, 7 + 4 + 3 tasks on the driver's executor.
    assert (measured["spark.jobs"], measured["spark.stages"], measured["spark.tasks"]) == (2, 3, 14)
    assert measured["spark.shuffle_read_bytes"] == measured["spark.shuffle_write_bytes"] > 0
    assert measured["spark.failed_tasks"] == 0 and measured["spark.executors"] == 1
    assert 0 < measured["spark.executor_cpu_time_ms"] <= measured["spark.executor_run_time_ms"]


def test_stages_a_job_skips_are_not_its_cost(spark: Any) -> None:
    context = spark.sparkContext
    sums = context.parallelize([(i % 5, i) for i in range(1000)], 4).reduceByKey(
        lambda a, b: a + b, 3
    )
    sums.count()  # before the run: the 4 map tasks and the shuffle are done here
    before = _job_ids(spark)
    with sparktrack.start_run() as run:
        sums.collect()  # the map stage is skipped: only the 3 reduce tasks run
        context.parallelize(range(20), 2).count()
    during = _job_ids(spark) - before

    measured = _spark_metrics(run.info.run_id)
    expected = _store_totals(spark, during)
    assert {k: measured[k] for k in expected} == expected
    assert (measured["spark.jobs"], measured["spark.stages"], measured["spark.tasks"]) == (2, 2, 5)
    assert measured["spark.shuffle_write_bytes"] == 0 < measured["spark.shuffle_read_bytes"]


def test_a_nested_runs_jobs_count_for_it_and_its_parent(spark: Any) -> None:
    with sparktrack.start_run() as parent:
        spark.sparkContext.parallelize(range(10), 2).count()
        with sparktrack.start_run(nested=True) as child:
            spark.sparkContext.parallelize(range(10), 5).count()
        assert set(spark.sparkContext.getJobTags()) == {_spark_jobs.run_job_tag(parent.info.run_id)}
    assert set(spark.sparkContext.getJobTags()) == set()
    assert _spark_metrics(child.info.run_id)["spark.tasks"] == 5
    assert _spark_metrics(parent.info.run_id)["spark.tasks"] == 7


def test_a_run_without_spark_jobs_gets_no_spark_metrics(spark: Any) -> None:
    with sparktrack.start_run() as run:
        sparktrack.log_metric("m", 1.0)
    sparktrack.flush()
    assert sparktrack.get_run(run.info.run_id).data.metrics == {"m": 1.0}


def test_each_cross_validator_child_has_its_jobs_and_the_parent_all(spark: Any) -> None:
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.linalg import Vectors
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    rows = [(Vectors.dense([float(i % 7), float(i % 3)]), float(i % 2)) for i in range(60)]
    df = spark.createDataFrame(rows, ["features", "label"]).cache()
    df.count()
    lr = LogisticRegression(maxIter=2)
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.1, 0.01]).build()
    cv = CrossValidator(
        estimator=lr,
        estimatorParamMaps=grid,
        evaluator=BinaryClassificationEvaluator(),
        numFolds=2,
        parallelism=2,
    )
    sparktrack.autolog(log_models=False, log_datasets=False)
    before = _job_ids(spark)
    cv.fit(df)
    during = _job_ids(spark) - before
    df.unpersist()
    parent = sparktrack.last_active_run()
    assert parent is not None
    children = sparktrack.search_runs(
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'", output_format="list"
    )
    assert len(children) == 2
    total = _spark_metrics(parent.info.run_id)
    # The parent: every job of the fit (autolog's logging after it starts none here).
    assert total["spark.jobs"] == len(during)
    assert total["spark.tasks"] == _store_totals(spark, during)["spark.tasks"]
    own = [_spark_metrics(c.info.run_id) for c in children]
    # Each child: its two folds' fits and evaluations, in the tuner's pool threads; the
    # folds' splits and the final fit on all rows ran in the tuner's thread (the parent's).
    assert all(m["spark.jobs"] > 0 for m in own)
    assert sum(m["spark.jobs"] for m in own) < total["spark.jobs"]
    assert sum(m["spark.tasks"] for m in own) < total["spark.tasks"]


def test_cross_validator_children_costs_are_read_once_the_search_is_over(
    spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.linalg import Vectors
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    from sparktrack.autologging._pyspark import _tuning

    events: list[str] = []
    record, log_cost = _tuning.TuningTracker.record, _tuning.log_spark_cost

    def recording(self: Any, *args: Any, **kwargs: Any) -> None:
        events.append("fold done")
        record(self, *args, **kwargs)

    def costing(client: Any, run_id: str, *args: Any, **kwargs: Any) -> None:
        events.append("cost read")
        log_cost(client, run_id, *args, **kwargs)

    monkeypatch.setattr(_tuning.TuningTracker, "record", recording)
    monkeypatch.setattr(_tuning, "log_spark_cost", costing)
    rows = [(Vectors.dense([float(i % 7), float(i % 3)]), float(i % 2)) for i in range(60)]
    df = spark.createDataFrame(rows, ["features", "label"])
    lr = LogisticRegression(maxIter=2)
    # One thread, folds one after another: the first param map's child run is complete
    # while the last fold still fits the others.
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.1, 0.01, 0.001]).build()
    cv = CrossValidator(
        estimator=lr, estimatorParamMaps=grid, evaluator=BinaryClassificationEvaluator(), numFolds=2
    )
    sparktrack.autolog(log_models=False, log_datasets=False)
    cv.fit(df)
    sparktrack.flush()
    assert events == ["fold done"] * 6 + ["cost read"] * 3
    parent = sparktrack.last_active_run()
    assert parent is not None
    children = sparktrack.search_runs(
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'", output_format="list"
    )
    assert [_spark_metrics(c.info.run_id)["spark.jobs"] > 0 for c in children] == [True] * 3


def test_each_sweep_trial_has_its_jobs_and_the_sweep_their_total(spark: Any) -> None:
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.linalg import Vectors

    from sparktrack.sweeps import sweep

    rows = [(Vectors.dense([float(i % 7), float(i % 3)]), float(i % 2)) for i in range(60)]
    df = spark.createDataFrame(rows, ["features", "label"])
    lr = LogisticRegression(maxIter=2)
    result = sweep(
        lr,
        {lr.regParam: [0.0, 0.3]},
        train=df,
        num_folds=2,
        evaluator=BinaryClassificationEvaluator(),
        strategy="grid",
        parallelism=2,
        progress=False,
    )
    trials = [_spark_metrics(run_id) for run_id in result.trials["run_id"]]
    assert len(trials) == 2 and all(t["spark.jobs"] > 0 for t in trials)
    # The sweep's own jobs are its trials' (the best model is refit outside any run).
    total = _spark_metrics(result.run_id)
    assert total["spark.jobs"] == sum(t["spark.jobs"] for t in trials)
    assert total["spark.tasks"] == sum(t["spark.tasks"] for t in trials)


class _FakeStatusStore:
    """A status store holding some jobs of one stage each (for the collector's rules)."""

    def __init__(self, application_id: str, jobs: dict[int, frozenset[str]], tasks: int) -> None:
        self.application_id = application_id
        self._jobs = jobs
        self._tasks = tasks

    def job_ids(self, tag: str) -> list[int]:
        return [j for j, tags in self._jobs.items() if tag in tags]

    def job(self, job_id: int) -> _spark_status.JobRecord:
        return _spark_status.JobRecord(job_id, self._jobs[job_id], (job_id,), finished=True)

    def stage_attempts(self, stage_id: int) -> list[_spark_status.StageRecord]:
        zero = dict.fromkeys(
            [f.name for f in dataclasses.fields(_spark_status.StageRecord)][4:-1], 0
        )
        record = _spark_status.StageRecord(
            stage_id, 0, True, self._tasks, **zero, executors=frozenset({"1"})
        )
        return [record]


def test_jobs_spark_dropped_still_count_for_the_parent_but_not_in_the_next_application() -> None:
    # The collector's rules, on a stand-in status store (no Spark needed).
    collector = _spark_cost._Collector()
    child, parent = frozenset({"child", "parent"}), frozenset({"parent"})
    first = _FakeStatusStore("app-1", {0: child, 1: parent}, tasks=3)
    assert collector.measure(first, ["child"])["spark.tasks"] == 3
    # Spark dropped job 0 (spark.ui.retainedJobs): the parent still counts it.
    dropped = _FakeStatusStore("app-1", {1: parent}, tasks=3)
    assert collector.measure(dropped, ["parent"])["spark.jobs"] == 2
    # A new SparkContext numbers its jobs from 0 again: nothing of the last one is reused.
    second = _FakeStatusStore("app-2", {0: parent}, tasks=5)
    assert collector.measure(second, ["parent"])["spark.tasks"] == 5
    assert collector.measure(second, ["child"])["spark.jobs"] == 0


class _SkippingStatusStore(_FakeStatusStore):
    """One job of stages 1, 2, 3 that skipped one: which one is ``skipped``'s choice."""

    def __init__(self, skipped: int) -> None:
        super().__init__("app-1", {0: frozenset({"run"})}, tasks=2)
        self.skipped = skipped
        self.read: list[int] = []

    def job(self, job_id: int) -> _spark_status.JobRecord:
        return _spark_status.JobRecord(
            job_id, frozenset({"run"}), (1, 2, 3), finished=True, skipped_stages=1
        )

    def stage_attempts(self, stage_id: int) -> list[_spark_status.StageRecord]:
        self.read.append(stage_id)
        return [] if stage_id == self.skipped else super().stage_attempts(stage_id)


@pytest.mark.parametrize(("skipped", "read"), [(1, [3, 2]), (2, [3, 2, 1])])
def test_the_stages_a_job_ran_are_read_newest_first_and_all_when_that_guess_fails(
    skipped: int, read: list[int]
) -> None:
    # Usually a skipped stage is older than those that ran (read: the two newest); when
    # a newer one was skipped, every stage is read and the count is still right.
    store = _SkippingStatusStore(skipped)
    metrics = _spark_cost._Collector().measure(store, ["run"])
    assert (metrics["spark.stages"], metrics["spark.tasks"]) == (2, 4)
    assert store.read == read


def test_a_failure_at_the_py4j_boundary_leaves_the_run_intact_with_one_warning(
    spark: Any,
    monkeypatch: pytest.MonkeyPatch,
    warnings_seen: Callable[[], list[str]],
    fresh_warning: None,
) -> None:
    from py4j.protocol import Py4JNetworkError

    def unreachable(self: Any, tag: str) -> list[int]:
        raise Py4JNetworkError("injected: the gateway went away")

    monkeypatch.setattr(_spark_status.StatusStore, "job_ids", unreachable)
    runs = []
    for _ in range(2):
        with sparktrack.start_run() as run:
            sparktrack.log_param("p", "1")
            assert spark.sparkContext.parallelize(range(10), 2).count() == 10
            sparktrack.log_metric("m", 1.0)
        runs.append(sparktrack.get_run(run.info.run_id))
    sparktrack.flush()
    for run in runs:
        stored = sparktrack.get_run(run.info.run_id)
        assert stored.info.status == "FINISHED"
        assert stored.data.params == {"p": "1"} and stored.data.metrics == {"m": 1.0}
    seen = warnings_seen()
    assert len(seen) == 1, seen
    assert runs[0].info.run_id in seen[0] and "injected" in seen[0], seen
    assert "SPARKTRACK_SPARK_COST=false" in seen[0]


def test_a_failure_to_tag_the_jobs_leaves_the_users_job_alone(
    spark: Any,
    monkeypatch: pytest.MonkeyPatch,
    warnings_seen: Callable[[], list[str]],
    fresh_warning: None,
) -> None:
    from py4j.protocol import Py4JError

    def refuse(self: Any, tag: str) -> None:
        raise Py4JError("injected: no job tags here")

    monkeypatch.setattr(type(spark.sparkContext), "addJobTag", refuse)
    with sparktrack.start_run() as run:
        assert spark.sparkContext.parallelize(range(10), 2).count() == 10
    assert _spark_metrics(run.info.run_id) == {}
    assert sparktrack.get_run(run.info.run_id).info.status == "FINISHED"
    assert len(warnings_seen()) == 1 and "injected" in warnings_seen()[0]


def test_spark_cost_off_by_environment_tags_nothing_and_logs_nothing(
    spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARKTRACK_SPARK_COST", "false")
    sparktrack.set_store("memory://")  # a client with the setting
    with sparktrack.start_run() as run:
        assert set(spark.sparkContext.getJobTags()) == set()
        spark.sparkContext.parallelize(range(10), 2).count()
    assert _spark_metrics(run.info.run_id) == {}


def test_spark_cost_setting_reads_booleans_and_names_a_bad_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().spark_cost is True
    for text, value in [("false", False), ("OFF", False), ("0", False), ("yes", True)]:
        monkeypatch.setenv("SPARKTRACK_SPARK_COST", text)
        assert load_settings().spark_cost is value
    monkeypatch.setenv("SPARKTRACK_SPARK_COST", "sometimes")
    with pytest.raises(ConfigurationError, match=r"spark_cost.*sometimes.*SPARKTRACK_SPARK_COST"):
        load_settings()


@pytest.mark.slow
def test_runs_cost_in_a_users_session_on_separate_executors(tmp_path: Path) -> None:
    # The user's conditions: no sparktrack settings, autolog's real background thread,
    # executors in JVMs of their own running the suite's Python.
    env = child_env(
        sparktrack_settings=False,
        SPARKTRACK_JOURNAL_DIR=str(tmp_path / "journal"),
        PYSPARK_PYTHON=sys.executable,
    )
    done = run_child(
        python("-m", "tests._spark_cost_job", str(tmp_path / "store")),
        cwd=tmp_path,
        env=env,
        timeout=CHILD_TIMEOUT_S,
    )
    result = result_line(done.stdout)
    assert result is not None, done.explain("the child printed no RESULT line")
    why = f"{json.dumps(result, indent=1)[:6000]}\n--- child stderr ---\n{readable(done.stderr)}"
    fluent = result["fluent"]
    assert fluent["spark.jobs"] == len(result["fluent_jobs"]) == 1, why
    assert fluent["spark.stages"] == result["fluent_store"]["stages"] == 2, why
    assert fluent["spark.tasks"] == result["fluent_store"]["tasks"] == 12, why
    assert fluent["spark.shuffle_read_bytes"] == fluent["spark.shuffle_write_bytes"] > 0, why
    assert fluent["spark.executors"] == 2, why
    children = result["cv_children"]
    assert len(children) == 2 and all(c["spark.jobs"] > 0 for c in children), why
    assert result["cv"]["spark.jobs"] > sum(c["spark.jobs"] for c in children), why
    assert result["cv"]["spark.executors"] == 2, why
    assert result["last"]["spark.tasks"] == 3, why  # read before spark.stop() went on
    assert "sparktrack could not" not in done.stderr, why
