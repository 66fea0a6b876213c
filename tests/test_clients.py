"""Clients of one process see each other's acknowledged writes at once.

Users open a ``TrackingClient()`` beside the fluent API, as they open ``MlflowClient()``
beside ``mlflow.start_run``. The writer's commit interval is set to a minute here, so
nothing below can pass by waiting for a background commit.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import sparktrack
from sparktrack import (
    InvalidInputError,
    NotFoundError,
    ParamConflictError,
    StoreError,
    TrackingClient,
)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = str(tmp_path / "store")
    monkeypatch.setenv("SPARKTRACK_STORE", uri)
    monkeypatch.setenv("SPARKTRACK_FLUSH_INTERVAL_SECONDS", "60")
    sparktrack.set_store(None)  # the configured store, as a user's script has it
    return uri


def test_a_new_client_reads_a_run_the_fluent_api_just_ended(store: str) -> None:
    with sparktrack.start_run() as run:
        sparktrack.log_param("alpha", 0.5)
        sparktrack.log_metric("loss", 0.25)
    client = TrackingClient()
    fetched = client.get_run(run.info.run_id)
    assert fetched.info.status == "FINISHED"
    assert fetched.data.params == {"alpha": "0.5"}
    assert fetched.data.metrics == {"loss": 0.25}
    client.close()


def test_a_run_deleted_by_another_client_leaves_the_fluent_search(store: str) -> None:
    with sparktrack.start_run() as kept:
        pass
    with sparktrack.start_run() as doomed:
        pass
    # The fluent API has folded the runs once: its caches hold both.
    assert set(sparktrack.search_runs()["run_id"]) == {kept.info.run_id, doomed.info.run_id}
    client = TrackingClient()
    client.delete_run(doomed.info.run_id)
    assert list(sparktrack.search_runs()["run_id"]) == [kept.info.run_id]
    deleted = sparktrack.search_runs(run_view_type="DELETED_ONLY")
    assert list(deleted["run_id"]) == [doomed.info.run_id]
    client.restore_run(doomed.info.run_id)
    assert len(sparktrack.search_runs()) == 2
    client.close()


def test_an_experiment_deleted_by_another_client_cannot_be_set_active(store: str) -> None:
    experiment = sparktrack.set_experiment("churn")
    with sparktrack.start_run():
        pass
    client = TrackingClient()
    client.delete_experiment(experiment.experiment_id)
    with pytest.raises(InvalidInputError, match=r"deleted experiment 'churn'.*restore"):
        sparktrack.set_experiment("churn")
    with pytest.raises(InvalidInputError, match=r"deleted experiment 'churn'"):
        sparktrack.set_experiment(experiment_id=experiment.experiment_id)
    # The experiment that was active before the deletion takes no new runs either.
    with pytest.raises(InvalidInputError, match="is deleted"):
        sparktrack.start_run()
    assert sparktrack.active_run() is None
    client.restore_experiment(experiment.experiment_id)
    assert sparktrack.set_experiment("churn").lifecycle_stage == "active"
    with sparktrack.start_run() as run:
        pass
    assert run.info.experiment_id == experiment.experiment_id
    client.close()


def test_threads_with_clients_of_their_own_see_each_others_writes(store: str) -> None:
    runs = {i: sparktrack.get_client().create_run(run_name=f"t{i}").info.run_id for i in range(6)}
    errors: list[BaseException] = []
    ready = threading.Barrier(len(runs))

    def work(i: int) -> None:
        try:
            client = TrackingClient()
            client.log_param(runs[i], "owner", i)
            client.log_metric(runs[i], "score", float(i))
            ready.wait(timeout=60)  # every thread has logged: each reads all of them
            for j, run_id in runs.items():
                run = client.get_run(run_id)
                assert run.data.params == {"owner": str(j)}, (i, j)
                assert run.data.metrics == {"score": float(j)}, (i, j)
            # Params are immutable across clients too: the conflict is seen at once.
            other = runs[(i + 1) % len(runs)]
            with pytest.raises(ParamConflictError, match="owner"):
                client.log_param(other, "owner", "someone else")
            client.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    frame = sparktrack.search_runs(search_all_experiments=True)
    assert dict(zip(frame["run_id"], frame["params.owner"], strict=True)) == {
        run_id: str(i) for i, run_id in runs.items()
    }


def test_closing_one_client_leaves_the_others_working(store: str) -> None:
    first, second = TrackingClient(), TrackingClient()
    assert first.store is second.store is sparktrack.get_client().store
    run_id = first.create_run().info.run_id
    first.log_metric(run_id, "m", 1.0)
    first.close()
    first.close()  # closing twice is harmless
    with pytest.raises(StoreError, match="was closed"):
        first.get_run(run_id)
    second.log_metric(run_id, "m", 2.0, step=1)
    assert [m.value for m in second.get_metric_history(run_id, "m")] == [1.0, 2.0]
    second.close()
    # The fluent API still holds the store open: a client opened now shares it.
    third = TrackingClient()
    assert third.store is sparktrack.get_client().store
    third.set_terminated(run_id)
    assert sparktrack.get_run(run_id).info.status == "FINISHED"
    third.close()


def test_the_last_client_closes_the_store_and_a_new_one_reopens_it(tmp_path: Path) -> None:
    uri = str(tmp_path / "own")
    client = TrackingClient(uri)
    run_id = client.create_run().info.run_id
    client.log_param(run_id, "p", 1)
    store = client.store
    client.close()  # the only client: the store is committed and closed
    with pytest.raises(StoreError):
        store.append("params", [{"run_id": run_id, "key": "q", "value": "2", "event_time": 1}])
    reopened = TrackingClient(uri)
    assert reopened.store is not store
    assert reopened.get_run(run_id).data.params == {"p": "1"}
    reopened.close()


def test_other_stores_and_settings_get_stores_of_their_own(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fluent = sparktrack.get_client()
    elsewhere = TrackingClient(str(tmp_path / "elsewhere"))
    elsewhere_store = elsewhere.store
    assert elsewhere_store is not fluent.store
    run_id = elsewhere.create_run().info.run_id
    with pytest.raises(NotFoundError, match=run_id):
        fluent.get_run(run_id)
    # The fluent API switched to that store shares it with the explicit client.
    assert sparktrack.set_store(str(tmp_path / "elsewhere")).store is elsewhere_store
    assert sparktrack.get_run(run_id).info.run_id == run_id
    # The same URI spelled differently is the same store.
    respelled = TrackingClient(str(tmp_path / "elsewhere") + "/")
    assert respelled.store is elsewhere_store
    respelled.close()
    monkeypatch.setenv("SPARKTRACK_FLUSH_MAX_RECORDS", "10")
    other_settings = TrackingClient(str(tmp_path / "elsewhere"))
    assert other_settings.store is not elsewhere_store
    other_settings.close()
    elsewhere.close()
    # Only the fluent API holds the store now; switching away closes it.
    sparktrack.set_store(store)
    with pytest.raises(StoreError, match="closed"):
        elsewhere_store.append("heartbeats", [{"run_id": run_id, "time": 1}])


def test_clients_of_one_memory_store_share_it(store: str) -> None:
    first = TrackingClient("memory://")
    second = TrackingClient("memory://")
    run_id = first.create_run().info.run_id
    assert second.get_run(run_id).info.run_id == run_id
    first.close()
    second.close()
    fresh = TrackingClient("memory://")  # every client closed: a new, empty store
    with pytest.raises(NotFoundError):
        fresh.get_run(run_id)
    fresh.close()
