"""Logged models (MLflow 3) in the store: their events, their fold, their errors.

The MLflow server's routes over them: test_mlflow_server_registry.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sparktrack import TrackingClient
from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.models import logged_model_id, resolve_model_uri
from sparktrack.registry import RegistryClient
from sparktrack.tracking import LoggedModels, LoggedModelStatus, is_logged_model_id


@pytest.fixture
def models(client: TrackingClient) -> LoggedModels:
    return LoggedModels(client)


def test_a_model_folds_from_its_events(client: TrackingClient, models: LoggedModels) -> None:
    experiment_id = client.get_or_create_experiment("lm").experiment_id
    run_id = client.create_run(experiment_id, record_context=False, snapshot=False).info.run_id
    made = models.create(
        experiment_id,
        name="model",
        model_type="classifier",
        source_run_id=run_id,
        tags={"a": 1},
        params={"alpha": 0.5},
    )
    assert is_logged_model_id(made.model_id)
    assert made.status == LoggedModelStatus.PENDING
    assert (made.tags, made.params) == ({"a": "1"}, {"alpha": "0.5"})
    assert made.artifact_location == client.artifacts.logged_model_root(
        experiment_id, made.model_id
    )
    models.set_tags(made.model_id, {"b": "2", "a": "changed"})
    models.delete_tag(made.model_id, "b")
    models.log_params(made.model_id, {"beta": "1"})
    models.log_output(made.model_id, run_id, 4)
    ready = models.finalize(made.model_id, LoggedModelStatus.READY)
    assert ready.status == LoggedModelStatus.READY
    got = models.get(made.model_id)
    assert got.tags == {"a": "changed"}
    assert got.params == {"alpha": "0.5", "beta": "1"}
    assert got.outputs == {run_id: 4}
    assert got.source_run_id == run_id
    assert got.model_type == "classifier"
    assert got.last_updated_timestamp >= got.creation_timestamp
    # Another client of the store (another process's view) folds the same model.
    assert LoggedModels(TrackingClient(client.store)).get(made.model_id) == got

    second = models.create(experiment_id)
    assert second.name.startswith("model-")
    assert [m.model_id for m in models.search([experiment_id])] == [
        second.model_id,
        made.model_id,
    ]
    models.delete(second.model_id)
    assert [m.model_id for m in models.search([experiment_id])] == [made.model_id]
    with pytest.raises(NotFoundError, match=second.model_id):
        models.get(second.model_id)
    assert models.get(second.model_id, allow_deleted=True).model_id == second.model_id


def test_bad_input_names_the_offending_value(client: TrackingClient, models: LoggedModels) -> None:
    with pytest.raises(NotFoundError, match="'404'"):
        models.create("404")
    experiment_id = client.create_experiment("gone")
    client.delete_experiment(experiment_id)
    with pytest.raises(InvalidInputError, match="deleted"):
        models.create(experiment_id)
    live = client.get_or_create_experiment("live").experiment_id
    made = models.create(live)
    with pytest.raises(InvalidInputError, match="'DONE'"):
        models.finalize(made.model_id, "DONE")
    with pytest.raises(InvalidInputError, match="tag key"):
        models.set_tags(made.model_id, {"../up": "x"})
    with pytest.raises(NotFoundError, match="no tag 'nope'"):
        models.delete_tag(made.model_id, "nope")
    with pytest.raises(NotFoundError, match="m-0"):
        models.log_params("m-0", {"a": "b"})
    # Nothing of the refused changes was written.
    assert models.get(made.model_id).tags == {}


def test_models_uris_name_logged_models_by_their_id(tmp_path: Path) -> None:
    client = TrackingClient(str(tmp_path / "store"))
    models = LoggedModels(client)
    made = models.create(client.get_or_create_experiment("lm").experiment_id)
    folder = Path(made.artifact_location)
    folder.mkdir(parents=True)
    (folder / "MLmodel").write_text("flavors: {}\n")
    assert logged_model_id(f"models:/{made.model_id}") == made.model_id
    assert logged_model_id(f"models:/{made.model_id}/") == made.model_id
    assert logged_model_id("models:/churn/1") is None
    assert logged_model_id("models:/m-123") is None  # not an id's shape: a model name
    assert str(resolve_model_uri(f"models:/{made.model_id}", client)) == str(folder)
    with pytest.raises(NotFoundError):
        resolve_model_uri(f"models:/m-{'0' * 32}", client)
    client.close()


def test_runs_uris_reach_the_models_a_run_logged_in_mlflow_3(tmp_path: Path) -> None:
    client = TrackingClient(str(tmp_path / "store"))
    models = LoggedModels(client)
    experiment_id = client.get_or_create_experiment("lm").experiment_id
    run_id = client.create_run(experiment_id, record_context=False, snapshot=False).info.run_id
    made = []
    for step in (2, 7, 5):  # logged three times under one name: the highest step wins
        model = models.create(experiment_id, name="model", source_run_id=run_id)
        models.log_output(model.model_id, run_id, step)
        folder = Path(model.artifact_location)
        folder.mkdir(parents=True)
        (folder / "MLmodel").write_text("flavors: {}\n")
        made.append(model)
    models.create(experiment_id, name="other", source_run_id=run_id)
    assert models.of_run(run_id, "model") == models.get(made[1].model_id)
    assert models.of_run(run_id, "missing") is None
    wanted = made[1].artifact_location
    assert str(resolve_model_uri(f"runs:/{run_id}/model", client)) == wanted
    version = RegistryClient(client).register_model(f"runs:/{run_id}/model", "churn")
    assert (version.source, version.run_id) == (f"models:/{made[1].model_id}", run_id)
    # A folder among the run's own artifacts comes first, and is registered as runs:/.
    client.log_text(run_id, "flavors: {}\n", "model/MLmodel")
    assert str(resolve_model_uri(f"runs:/{run_id}/model", client)) != wanted
    again = RegistryClient(client).register_model(f"runs:/{run_id}/model", "churn")
    assert again.source == f"runs:/{run_id}/model"
    client.close()
