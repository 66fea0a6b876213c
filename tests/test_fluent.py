"""The fluent API: active runs per thread, context managers, the store switch."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import sparktrack
from sparktrack import RunStateError
from tests._processes import python, run_child


@pytest.fixture
def store(fluent_store: str) -> str:
    return fluent_store


def test_context_manager_finishes_and_fails(store: str) -> None:
    sparktrack.set_experiment("fluent")
    with sparktrack.start_run(run_name="ok") as run:
        sparktrack.log_param("a", 1)
        sparktrack.log_metric("m", 2.0, step=3)
        sparktrack.set_tags({"t": "x"})
        assert sparktrack.active_run().info.run_id == run.info.run_id
    assert sparktrack.active_run() is None
    finished = sparktrack.get_run(run.info.run_id)
    assert finished.info.status == "FINISHED"
    assert finished.data.params == {"a": "1"} and finished.data.metrics == {"m": 2.0}

    with pytest.raises(ZeroDivisionError), sparktrack.start_run(run_name="boom") as failing:
        1 / 0  # noqa: B018
    assert sparktrack.get_run(failing.info.run_id).info.status == "FAILED"


def test_nested_runs_and_the_one_active_run_rule(store: str) -> None:
    with sparktrack.start_run() as parent:
        with pytest.raises(RunStateError, match="nested=True"):
            sparktrack.start_run()
        with sparktrack.start_run(nested=True) as child:
            assert child.info.parent_run_id == parent.info.run_id
        assert sparktrack.active_run().info.run_id == parent.info.run_id
    children = sparktrack.search_runs(
        filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    assert list(children["run_id"]) == [child.info.run_id]


def test_logging_without_a_run_starts_one(store: str) -> None:
    sparktrack.log_metric("auto", 1.0)
    run = sparktrack.active_run()
    assert run is not None
    sparktrack.end_run("KILLED")
    assert sparktrack.get_run(run.info.run_id).info.status == "KILLED"


def test_each_thread_has_its_own_active_run(store: str) -> None:
    seen: dict[int, str] = {}

    def trial(i: int) -> None:
        with sparktrack.start_run(run_name=f"trial-{i}") as run:
            sparktrack.log_metric("score", float(i))
            seen[i] = run.info.run_id

    threads = [threading.Thread(target=trial, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    frame = sparktrack.search_runs(order_by=["metrics.score"])
    assert list(frame["run_id"]) == [seen[i] for i in range(4)]


def test_search_by_experiment_names_and_spark_free_output(store: str) -> None:
    sparktrack.set_experiment("a")
    with sparktrack.start_run():
        sparktrack.log_metric("x", 1.0)
    sparktrack.set_experiment("b")
    with sparktrack.start_run():
        sparktrack.log_metric("x", 2.0)
    assert len(sparktrack.search_runs()) == 1  # the active experiment only
    assert len(sparktrack.search_runs(experiment_names=["a", "b"])) == 2
    assert len(sparktrack.search_runs(search_all_experiments=True)) == 2
    runs = sparktrack.search_runs(experiment_names=["a"], output_format="list")
    assert [r.data.metrics["x"] for r in runs] == [1.0]
    with pytest.raises(sparktrack.NotFoundError, match="'nope'"):
        sparktrack.search_runs(experiment_names=["nope"])


def test_resume_a_run_by_id(store: str) -> None:
    with sparktrack.start_run() as run:
        sparktrack.log_metric("m", 1.0, step=0)
    with sparktrack.start_run(run_id=run.info.run_id):
        sparktrack.log_metric("m", 2.0, step=1)
    resumed = sparktrack.get_run(run.info.run_id)
    assert resumed.info.status == "FINISHED"
    assert [m.value for m in sparktrack.get_metric_history(run.info.run_id, "m")] == [1.0, 2.0]


SCRIPT = """
import sparktrack
sparktrack.set_experiment("exit")
run = sparktrack.start_run(run_name="{name}")
sparktrack.log_metric("m", 1.0)
print(run.info.run_id, flush=True)
{ending}
"""


@pytest.mark.parametrize(
    ("ending", "status"),
    [("", "FINISHED"), ("raise SystemExit(0)", "FINISHED"), ("raise ValueError('x')", "FAILED")],
)
def test_runs_left_open_end_at_interpreter_exit(
    tmp_path: Path, ending: str, status: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = str(tmp_path / "store")
    monkeypatch.setenv("SPARKTRACK_STORE", store)
    script = tmp_path / "job.py"
    script.write_text(SCRIPT.format(name="job", ending=ending))
    done = run_child(python(script), expect=None)
    run_id = done.stdout.split()[0]
    client = sparktrack.TrackingClient(store)
    run = client.get_run(run_id)
    assert run.info.status == status
    assert run.data.metrics == {"m": 1.0}
    assert run.data.tags["mlflow.source.name"] == str(script)
    client.close()


def test_end_run_with_a_bad_status_changes_nothing(store: str) -> None:
    with sparktrack.start_run() as parent:
        child = sparktrack.start_run(nested=True)
        with pytest.raises(sparktrack.InvalidInputError, match="'BOGUS'"):
            sparktrack.end_run(status="BOGUS")
        with pytest.raises(sparktrack.InvalidInputError, match="'BOGUS'"):
            sparktrack.end_run(status="BOGUS", run_id=parent.info.run_id)
        with pytest.raises(RunStateError, match="not active in this thread"):
            sparktrack.end_run(run_id="0123456789abcdef")
        assert sparktrack.active_run().info.run_id == child.info.run_id
        assert sparktrack.get_run(child.info.run_id).info.status == "RUNNING"
        sparktrack.end_run("KILLED")  # the run can still be ended
        assert sparktrack.get_run(child.info.run_id).info.status == "KILLED"
        assert sparktrack.active_run().info.run_id == parent.info.run_id
    assert sparktrack.get_run(parent.info.run_id).info.status == "FINISHED"


def test_resuming_with_a_bad_tag_leaves_the_run_as_it_was(store: str) -> None:
    with sparktrack.start_run() as run:
        pass
    with pytest.raises(sparktrack.InvalidInputError, match="bad key"):
        sparktrack.start_run(run_id=run.info.run_id, tags={"bad key!": "x"})
    assert sparktrack.active_run() is None
    assert sparktrack.get_run(run.info.run_id).info.status == "FINISHED"


def test_importing_sparktrack_leaves_the_excepthook_alone(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        "import sys\n"
        "def mine(*args): pass\n"
        "sys.excepthook = mine\n"
        "import sparktrack\n"
        "assert sys.excepthook is mine, 'import replaced sys.excepthook'\n"
        "sparktrack.set_store('memory://')\n"
        "sparktrack.start_run()\n"
        "assert sys.excepthook is not mine, 'first use installed no hook'\n"
        "print('ok')\n"
    )
    assert run_child(python(script)).stdout.strip() == "ok"


def test_a_hook_installed_before_first_use_still_runs(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        "import sys\n"
        "import sparktrack\n"
        "def notebooks_hook(kind, exc, tb):\n"
        "    print('their hook saw', kind.__name__, flush=True)\n"
        "sys.excepthook = notebooks_hook\n"
        "sparktrack.set_store(sys.argv[1])\n"
        "run = sparktrack.start_run()\n"
        "print(run.info.run_id, flush=True)\n"
        "raise ValueError('boom')\n"
    )
    store = str(tmp_path / "store")
    done = run_child(python(script, store), expect=1)
    lines = done.stdout.split("\n")
    assert "their hook saw ValueError" in lines, done.explain()
    client = sparktrack.TrackingClient(store)
    assert client.get_run(lines[0]).info.status == "FAILED"
    client.close()


def test_a_failure_at_exit_is_logged_with_the_run(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        "import sys\n"
        "import sparktrack\n"
        "sparktrack.set_store(sys.argv[1])\n"
        "run = sparktrack.start_run()\n"
        "print(run.info.run_id, flush=True)\n"
        "# The store goes away under the client (as a closed or vanished store does).\n"
        "sparktrack.get_client().store.close()\n"
    )
    done = run_child(python(script, tmp_path / "store"))
    run_id = done.stdout.split()[0]
    assert f"could not end run(s) {run_id} as FINISHED at exit" in done.stderr, done.stderr
    assert "StoreError" in done.stderr, done.stderr
