"""Projects whose entry points are Spark jobs, launched through pyspark's spark-submit.

Four real submits, each shared by the assertions about it (a JVM starts in 15-20 s
here): the MLlib job on ``local[2]`` and on ``local-cluster[2,1,1024]`` (executors in
JVMs of their own), a job that fails, and a job stopped with Ctrl-C. Each runs through
the ``sparktrack`` command in a process of its own, as a user runs it; the job builds
its own SparkSession and reaches the store through the environment only.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from sparktrack import Run, TrackingClient
from sparktrack.projects import LOG_ARTIFACT, Tags
from tests._processes import child_env, python, result_line, run_child, start
from tests._project_files import commit_all, git, write_project

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SUBMIT_TIMEOUT = 420


@dataclass(frozen=True)
class Setup:
    project: Path
    store: str
    env: dict[str, str]
    work: Path


@dataclass(frozen=True)
class Launched:
    returncode: int
    stdout: str
    stderr: str
    run: Run


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    work = tmp_path_factory.mktemp("projects-spark")
    project = write_project(work / "project")
    git(project, "init", "-q")
    commit_all(project, "the project")
    # A user's shell: no SPARKTRACK_* setting (autolog's test mode included).
    env = child_env(sparktrack_settings=False, SPARKTRACK_JOURNAL_DIR=str(work / "journal"))
    return Setup(project, str(work / "store"), env, work)


def _cli(setup: Setup, *args: str) -> list[str]:
    return python("-m", "sparktrack.cli", "--store", setup.store, "run", str(setup.project), *args)


def _submit(setup: Setup, *args: str, expect: int) -> Launched:
    done = run_child(
        _cli(setup, *args),
        env=setup.env,
        cwd=setup.work,
        timeout=SUBMIT_TIMEOUT,
        expect=expect,
    )
    run_id = _run_id(done.stderr)
    client = TrackingClient(setup.store)
    try:
        tracked = client.get_run(run_id)
    finally:
        client.close()
    return Launched(done.returncode, done.stdout, done.stderr, tracked)


def _run_id(stderr: str) -> str:
    # The launcher's first line on stderr: "sparktrack: run <id>: <command>".
    line = next((x for x in stderr.splitlines() if x.startswith("sparktrack: run ")), None)
    assert line is not None, f"no launch line on stderr:\n{stderr[-3000:]}"
    return line.split()[2].rstrip(":")


@pytest.fixture(scope="module")
def local_run(setup: Setup) -> Launched:
    return _submit(setup, "-e", "train", "-P", "reg_param=0.2", "--run-name", "local", expect=0)


@pytest.fixture(scope="module")
def cluster_run(setup: Setup) -> Launched:
    return _submit(
        setup,
        "-e", "train",
        "-P", "rows=80",
        "--master", "local-cluster[2,1,1024]",  # over the MLproject's local[2]
        "--conf", "spark.sql.shuffle.partitions=5",  # over the entry point's 3
        expect=0,
    )  # fmt: skip


def _check_job_run(launched: Launched, params: dict[str, str]) -> None:
    run = launched.run
    assert run.info.status == "FINISHED", launched.stderr[-3000:]
    assert run.data.params["reg_param"] == params["reg_param"]
    assert run.data.params["rows"] == params["rows"]
    assert run.data.metrics["rows"] == float(params["rows"])
    tags = run.data.tags
    assert tags[Tags.LAUNCHER] == "spark-submit"
    assert tags[Tags.ENTRY_POINT] == "train"
    # Autolog in the job joined the project's run: the fit's estimator is tagged there.
    assert tags["sparktrack.estimator_class"] == "pyspark.ml.pipeline.Pipeline"
    assert result_line(launched.stdout) is not None, launched.stdout[-3000:]


def test_a_spark_job_runs_through_spark_submit_and_logs_to_the_project_run(
    local_run: Launched, setup: Setup
) -> None:
    _check_job_run(local_run, {"reg_param": "0.2", "rows": "120"})
    tags = local_run.run.data.tags
    assert tags["job.master"] == "local[2]"  # the MLproject's spark.master
    assert tags["job.shuffle_partitions"] == "3"  # the entry point's conf over the project's
    assert local_run.run.data.metrics["executors"] == 0.0  # local: executors in the driver
    assert local_run.run.info.run_name == "local"
    assert tags[Tags.COMMIT] == git(setup.project, "rev-parse", "HEAD")
    # The job's output was streamed through the launcher as it ran.
    assert "RESULT " in local_run.stdout
    client = TrackingClient(setup.store)
    try:
        # Every run is a project's: autolog made no run of its own in the job.
        runs = client.search_runs(None)
        assert runs[f"tags.{Tags.URI}"].notna().all(), runs[["run_id", "run_name"]]
    finally:
        client.close()


def test_a_spark_job_on_executors_of_their_own(cluster_run: Launched) -> None:
    _check_job_run(cluster_run, {"reg_param": "0.1", "rows": "80"})
    tags = cluster_run.run.data.tags
    assert tags["job.master"] == "local-cluster[2,1,1024]"  # --master over the MLproject
    assert tags["job.shuffle_partitions"] == "5"  # --conf over the entry point's
    assert cluster_run.run.data.metrics["executors"] == 2.0
    # What the command line changed is recorded, so a re-run repeats it.
    assert tags[Tags.MASTER] == "local-cluster[2,1,1024]"
    assert tags[Tags.SPARK_CONF] == '{"spark.sql.shuffle.partitions": "5"}'


def test_a_rerun_reproduces_the_seeded_models_metrics(local_run: Launched, setup: Setup) -> None:
    original = local_run.run
    done = run_child(
        python(
            "-m", "sparktrack.cli", "--store", setup.store, "rerun", original.info.run_id,
            "--conf", "spark.sql.shuffle.partitions=4",
        ),
        env=setup.env,
        cwd=setup.work,
        timeout=SUBMIT_TIMEOUT,
    )  # fmt: skip
    client = TrackingClient(setup.store)
    try:
        again = client.get_run(_run_id(done.stderr))
    finally:
        client.close()
    assert again.info.status == "FINISHED", done.stderr[-3000:]
    assert again.data.tags[Tags.RERUN_OF] == original.info.run_id
    assert again.data.params == original.data.params

    # The same code on the same data: the fit's metrics are the original's, to the bit
    # (all but how long it took).
    def results(run: Run) -> dict[str, float]:
        return {k: v for k, v in run.data.metrics.items() if not k.endswith("_seconds")}

    assert len(results(original)) > 10
    assert results(again) == results(original)
    assert again.data.metrics.keys() == original.data.metrics.keys()
    assert again.data.tags["job.master"] == "local[2]"
    assert again.data.tags["job.shuffle_partitions"] == "4"  # --conf of the re-run


def test_a_failed_submit_is_a_failed_run_with_the_end_of_its_log(setup: Setup) -> None:
    failed = _submit(setup, "-e", "fail", expect=1)

    assert failed.run.info.status == "FAILED"
    assert f"run {failed.run.info.run_id} FAILED: the job exited with status 1" in failed.stderr
    client = TrackingClient(setup.store)
    try:
        log = client.read_artifact(failed.run.info.run_id, LOG_ARTIFACT).decode()
    finally:
        client.close()
    # The job's output and spark-submit's, interleaved as written: the traceback is there.
    printed = log.index("preparing the data\nstep 0\nstep 1\nstep 2\nTraceback")
    assert log.index("ValueError: the job failed on purpose") > printed, log[-2000:]


def test_ctrl_c_kills_the_driver_and_the_run_is_killed(setup: Setup) -> None:
    launcher = start(
        _cli(setup, "-e", "wait"),
        stderr_dir=setup.work / "stderr",
        env=setup.env,
        cwd=setup.work,
        name="launcher",
    )
    with launcher:
        while not (line := launcher.readline()).startswith("WAITING"):
            if not line:
                raise AssertionError(launcher.explain("the job never said WAITING"))
        driver_pid = int(line.split()[1])
        job = psutil.Process(launcher.pid).children(recursive=True)
        assert driver_pid in {p.pid for p in job}
        assert any("java" in p.name() for p in job), [p.name() for p in job]  # spark-submit's JVM

        os.kill(launcher.pid, signal.SIGINT)  # Ctrl-C, to the launcher alone
        launcher.finish(timeout=120, expect=130)

    _, alive = psutil.wait_procs(job, timeout=30)
    assert not alive, f"the job's processes outlived the launcher: {alive}"
    assert not psutil.pid_exists(driver_pid) or psutil.Process(driver_pid).status() == "zombie"
    stderr = launcher.stderr()
    run_id = _run_id(stderr)
    assert f"run {run_id} KILLED" in stderr
    client = TrackingClient(setup.store)
    try:
        run = client.get_run(run_id)
        log = client.read_artifact(run_id, LOG_ARTIFACT).decode()
    finally:
        client.close()
    assert run.info.status == "KILLED"
    assert run.data.metrics["started"] == 1.0  # the job had joined the run
    assert f"WAITING {driver_pid}" in log


@pytest.fixture(autouse=True)
def _no_leftover_children() -> Iterator[None]:
    yield
    # A launcher left running would hold a JVM for the rest of the suite.
    for child in psutil.Process().children(recursive=True):
        try:
            if "sparktrack.cli" in " ".join(child.cmdline()):
                child.kill()
        except psutil.Error:  # gone, or a zombie another test left for its parent
            continue
