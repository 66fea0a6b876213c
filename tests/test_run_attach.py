"""SPARKTRACK_RUN_ID: the fluent API joins the run another process started and ends.

``sparktrack run`` creates a run, launches the job with its id in the environment and
ends the run with the job's exit status. The job's ``start_run()`` (and autolog, and
sweeps, through ``run_from_environment``) join that run; leaving it never ends it.
The launcher here is a second client on the same store; the job is this process.
"""

from __future__ import annotations

import pytest

import sparktrack
from sparktrack import TrackingClient
from sparktrack.tracking import RUN_ID_ENV_VAR, run_from_environment


@pytest.fixture
def launcher_run(fluent_store: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A RUNNING run another client created (as the launcher does), named in the env."""
    launcher = TrackingClient(fluent_store)
    run_id = launcher.create_run(run_name="project").info.run_id
    launcher.flush()
    launcher.close()
    monkeypatch.setenv(RUN_ID_ENV_VAR, run_id)
    return run_id


def test_start_run_joins_the_run_and_leaving_it_does_not_end_it(launcher_run: str) -> None:
    with sparktrack.start_run() as run:
        assert run.info.run_id == launcher_run
        assert run.attached
        sparktrack.log_metric("auc", 0.9)
        sparktrack.log_param("alpha", "0.5")
    # The with-block ended without error: an owned run would now be FINISHED.
    sparktrack.flush()
    joined = sparktrack.get_run(launcher_run)
    assert joined.info.status == "RUNNING"
    assert joined.data.metrics == {"auc": 0.9}
    assert joined.data.params == {"alpha": "0.5"}
    assert sparktrack.active_run() is None

    # A second start_run joins again; a nested one inside it is a child of its own.
    with sparktrack.start_run() as again, sparktrack.start_run(nested=True) as child:
        assert again.info.run_id == launcher_run
        assert not child.attached
        assert child.info.parent_run_id == launcher_run
    sparktrack.flush()
    assert sparktrack.get_run(child.info.run_id).info.status == "FINISHED"
    assert sparktrack.get_run(launcher_run).info.status == "RUNNING"


def test_logging_without_a_run_and_autolog_hook_join_it(launcher_run: str) -> None:
    sparktrack.log_metric("loss", 0.25)  # MLflow's habit: logging starts (here: joins) a run
    assert sparktrack.active_run() is not None
    assert sparktrack.active_run().info.run_id == launcher_run  # type: ignore[union-attr]
    sparktrack.end_run("FAILED")  # leaves it; the launcher decides
    joined = run_from_environment()
    assert joined is not None and joined.info.run_id == launcher_run
    assert run_from_environment() is None  # already active in this thread
    sparktrack.end_run()
    sparktrack.flush()
    assert sparktrack.get_run(launcher_run).info.status == "RUNNING"


def test_an_ended_run_is_resumed_and_then_ended_here(
    fluent_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    launcher = TrackingClient(fluent_store)
    run_id = launcher.create_run().info.run_id
    launcher.set_terminated(run_id, "FINISHED")
    launcher.flush()
    launcher.close()
    monkeypatch.setenv(RUN_ID_ENV_VAR, run_id)

    with sparktrack.start_run(run_name="again") as run:
        assert run.info.run_id == run_id
        assert not run.attached
    sparktrack.flush()
    ended = sparktrack.get_run(run_id)
    assert ended.info.status == "FINISHED"
    assert ended.info.run_name == "again"


def test_a_run_id_the_store_does_not_hold_is_a_clear_error(
    fluent_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RUN_ID_ENV_VAR, "0" * 32)
    with pytest.raises(
        sparktrack.NotFoundError, match=r"SPARKTRACK_RUN_ID='0{32}'.*SPARKTRACK_STORE"
    ):
        sparktrack.start_run()
    assert sparktrack.active_run() is None


def test_explicit_run_id_and_parent_are_not_overridden(launcher_run: str) -> None:
    other = sparktrack.get_client().create_run().info.run_id
    with sparktrack.start_run(run_id=other) as run:
        assert run.info.run_id == other
        assert not run.attached
    with sparktrack.start_run(parent_run_id=launcher_run) as child:
        assert child.info.run_id not in (launcher_run, other)
