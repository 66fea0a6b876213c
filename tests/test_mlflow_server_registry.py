"""The MLflow server's registry and logged-model routes, through the app (no JVM).

Shapes and error codes as MLflow's client reads them, the registry's rules seen through
MLflow's API (one version per stage, aliases, page tokens), and sparktrack's own
registry and model URIs seeing what MLflow's routes wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sparktrack.mlflow_server import create_app
from sparktrack.models import resolve_model_uri
from sparktrack.registry import RegistryClient
from sparktrack.tracking import LoggedModels, TrackingClient

API = "/api/2.0/mlflow"
MLMODEL = "artifact_path: model\nflavors: {}\n"


@pytest.fixture
def tracking(store_uri: str) -> Iterator[TrackingClient]:
    client = TrackingClient(store_uri)
    yield client
    client.close()


@pytest.fixture
def http(tracking: TrackingClient) -> Iterator[TestClient]:
    with TestClient(create_app(tracking)) as client:
        yield client


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refused(response: Any, code: str, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    message: str = body["message"]
    return message


def run_with_model(tracking: TrackingClient) -> tuple[str, str]:
    """A run whose artifacts hold a model folder at ``model/``: (experiment id, run id)."""
    run = tracking.create_run(record_context=False, snapshot=False)
    tracking.log_text(run.info.run_id, MLMODEL, "model/MLmodel")
    return run.info.experiment_id, run.info.run_id


def logged_model(
    http: TestClient, tracking: TrackingClient, experiment_id: str, run_id: str | None = None
) -> str:
    """What MLflow 3's log_model does: create, write the folder, finalize READY."""
    body: dict[str, Any] = {
        "experiment_id": experiment_id,
        "name": "model",
        "tags": [{"key": "mlflow.source.type", "value": "LOCAL"}],
        "params": [{"key": "alpha", "value": "0.5"}],
    }
    if run_id:
        body["source_run_id"] = run_id
    created = ok(http.post(f"{API}/logged-models", json=body))["model"]
    assert created["info"]["status"] == "LOGGED_MODEL_PENDING"
    model_id = created["info"]["model_id"]
    uri = created["info"]["artifact_uri"]
    assert uri == f"mlflow-artifacts:/{experiment_id}/models/{model_id}/artifacts"
    folder = Path(LoggedModels(tracking).get(model_id).artifact_location)
    folder.mkdir(parents=True)
    (folder / "MLmodel").write_text(MLMODEL)
    finalized = ok(
        http.patch(
            f"{API}/logged-models/{model_id}",
            json={"model_id": model_id, "status": "LOGGED_MODEL_READY"},
        )
    )
    assert finalized["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    return str(model_id)


def create_model(http: TestClient, name: str, **body: Any) -> dict[str, Any]:
    return ok(http.post(f"{API}/registered-models/create", json={"name": name, **body}))


def create_version(http: TestClient, name: str, source: str, **body: Any) -> dict[str, Any]:
    answer = ok(
        http.post(f"{API}/model-versions/create", json={"name": name, "source": source, **body})
    )
    version: dict[str, Any] = answer["model_version"]
    return version


# -- registered models ------------------------------------------------------------------
def test_create_answers_mlflows_shape_and_a_second_create_already_exists(
    http: TestClient,
) -> None:
    created = create_model(http, "churn", description="d", tags=[{"key": "team", "value": "risk"}])[
        "registered_model"
    ]
    assert created["name"] == "churn"
    assert created["description"] == "d"
    assert created["tags"] == [{"key": "team", "value": "risk"}]
    assert isinstance(created["creation_timestamp"], int)
    again = http.post(f"{API}/registered-models/create", json={"name": "churn"})
    assert "already exists" in refused(again, "RESOURCE_ALREADY_EXISTS", 400)
    missing = http.get(f"{API}/registered-models/get", params={"name": "nope"})
    refused(missing, "RESOURCE_DOES_NOT_EXIST", 404)
    no_name = http.post(f"{API}/registered-models/create", json={})
    assert "name" in refused(no_name, "INVALID_PARAMETER_VALUE", 400)


def test_update_tag_rename_and_delete_a_registered_model(
    http: TestClient, tracking: TrackingClient
) -> None:
    create_model(http, "a")
    updated = ok(
        http.patch(f"{API}/registered-models/update", json={"name": "a", "description": "new"})
    )
    assert updated["registered_model"]["description"] == "new"
    ok(http.post(f"{API}/registered-models/set-tag", json={"name": "a", "key": "k", "value": "v"}))
    ok(
        http.request(
            "DELETE", f"{API}/registered-models/delete-tag", json={"name": "a", "key": "k"}
        )
    )
    gone_tag = http.request(
        "DELETE", f"{API}/registered-models/delete-tag", json={"name": "a", "key": "k"}
    )
    refused(gone_tag, "RESOURCE_DOES_NOT_EXIST", 404)

    _, run_id = run_with_model(tracking)
    create_version(http, "a", f"runs:/{run_id}/model")
    ok(
        http.post(
            f"{API}/registered-models/alias", json={"name": "a", "alias": "champ", "version": "1"}
        )
    )
    renamed = ok(http.post(f"{API}/registered-models/rename", json={"name": "a", "new_name": "b"}))
    assert renamed["registered_model"]["name"] == "b"
    assert renamed["registered_model"]["aliases"] == [{"alias": "champ", "version": "1"}]
    refused(
        http.get(f"{API}/registered-models/get", params={"name": "a"}),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    # sparktrack's registry sees the rename: the version, its alias and its history moved.
    registry = RegistryClient(tracking)
    assert registry.get_model_version_by_alias("b", "champ").version == 1
    assert [t.kind for t in registry.get_model_history("b")] == ["registered", "alias", "renamed"]
    create_model(http, "c")
    taken = http.post(f"{API}/registered-models/rename", json={"name": "b", "new_name": "c"})
    refused(taken, "RESOURCE_ALREADY_EXISTS", 400)

    ok(http.request("DELETE", f"{API}/registered-models/delete", json={"name": "b"}))
    refused(
        http.get(f"{API}/registered-models/get", params={"name": "b"}),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )


def test_search_registered_models_pages_through_tokens(http: TestClient) -> None:
    for name in ["m3", "m1", "m5", "m2", "m4", "other"]:
        create_model(http, name)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, Any] = {"filter": "name LIKE 'm%'", "max_results": 2}
        if token:
            params["page_token"] = token
        page = ok(http.get(f"{API}/registered-models/search", params=params))
        seen += [m["name"] for m in page["registered_models"]]
        pages += 1
        token = page.get("next_page_token")
        if not token:
            break
    assert seen == ["m1", "m2", "m3", "m4", "m5"]
    assert pages == 3
    descending = ok(
        http.get(
            f"{API}/registered-models/search",
            params={"order_by": ["name DESC"], "max_results": 2},
        )
    )
    assert [m["name"] for m in descending["registered_models"]] == ["other", "m5"]
    bad = http.get(f"{API}/registered-models/search", params={"page_token": "garbage"})
    refused(bad, "INVALID_PARAMETER_VALUE", 400)
    too_many = http.get(f"{API}/registered-models/search", params={"max_results": 5000})
    refused(too_many, "INVALID_PARAMETER_VALUE", 400)


# -- versions, stages, aliases -------------------------------------------------------------
def test_versions_from_runs_and_artifact_uris_and_their_download_uris(
    http: TestClient, tracking: TrackingClient
) -> None:
    experiment_id, run_id = run_with_model(tracking)
    create_model(http, "churn")
    first = create_version(http, "churn", f"runs:/{run_id}/model", run_id=run_id)
    assert first["version"] == "1"
    assert first["status"] == "READY"
    assert first["current_stage"] == "None"
    assert first["run_id"] == run_id
    # What MLflow's client sends for runs:/ when the run's artifacts hold the model.
    resolved = f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts/model"
    second = create_version(http, "churn", resolved)
    assert second["source"] == f"runs:/{run_id}/model"
    for number in ("1", "2"):
        uri = ok(
            http.get(
                f"{API}/model-versions/get-download-uri",
                params={"name": "churn", "version": number},
            )
        )
        assert uri == {"artifact_uri": resolved}
    no_model = http.post(
        f"{API}/model-versions/create", json={"name": "nope", "source": f"runs:/{run_id}/model"}
    )
    refused(no_model, "RESOURCE_DOES_NOT_EXIST", 404)
    empty = http.post(
        f"{API}/model-versions/create", json={"name": "churn", "source": f"runs:/{run_id}/none"}
    )
    refused(empty, "RESOURCE_DOES_NOT_EXIST", 404)
    escape = http.post(
        f"{API}/model-versions/create", json={"name": "churn", "source": "mlflow-artifacts:/../x"}
    )
    refused(escape, "INVALID_PARAMETER_VALUE", 400)


def test_one_version_per_stage_whatever_archive_existing_versions_says(
    http: TestClient, tracking: TrackingClient
) -> None:
    _, run_id = run_with_model(tracking)
    create_model(http, "churn")
    for _ in range(3):
        create_version(http, "churn", f"runs:/{run_id}/model")

    def move(number: str, stage: str, archive: bool) -> dict[str, Any]:
        body = {"name": "churn", "version": number, "stage": stage}
        body["archive_existing_versions"] = archive  # type: ignore[assignment]
        return ok(http.post(f"{API}/model-versions/transition-stage", json=body))

    assert move("1", "production", True)["model_version"]["current_stage"] == "Production"
    assert move("2", "Production", False)["model_version"]["current_stage"] == "Production"
    stages = {
        v["version"]: v["current_stage"]
        for v in ok(http.get(f"{API}/model-versions/search", params={"filter": "name = 'churn'"}))[
            "model_versions"
        ]
    }
    assert stages == {"1": "Archived", "2": "Production", "3": "None"}
    move("3", "Staging", False)
    latest = ok(
        http.post(
            f"{API}/registered-models/get-latest-versions",
            json={"name": "churn", "stages": ["Production", "Staging"]},
        )
    )
    assert sorted((v["version"], v["current_stage"]) for v in latest["model_versions"]) == [
        ("2", "Production"),
        ("3", "Staging"),
    ]
    bad = http.post(
        f"{API}/model-versions/transition-stage",
        json={"name": "churn", "version": "1", "stage": "Live"},
    )
    refused(bad, "INVALID_PARAMETER_VALUE", 400)
    # sparktrack's registry holds the same stages.
    registry = RegistryClient(tracking)
    assert registry.get_model_version("churn", 2).current_stage == "Production"
    assert registry.get_model_version("churn", 1).current_stage == "Archived"


def test_aliases_tags_updates_and_deletes_of_versions(
    http: TestClient, tracking: TrackingClient
) -> None:
    _, run_id = run_with_model(tracking)
    create_model(http, "churn")
    create_version(http, "churn", f"runs:/{run_id}/model", tags=[{"key": "a", "value": "1"}])
    create_version(http, "churn", f"runs:/{run_id}/model")
    ok(
        http.post(
            f"{API}/registered-models/alias",
            json={"name": "churn", "alias": "champion", "version": "1"},
        )
    )
    ok(
        http.post(
            f"{API}/registered-models/alias",
            json={"name": "churn", "alias": "champion", "version": "2"},
        )
    )
    by_alias = ok(
        http.get(f"{API}/registered-models/alias", params={"name": "churn", "alias": "champion"})
    )
    assert by_alias["model_version"]["version"] == "2"
    assert by_alias["model_version"]["aliases"] == ["champion"]
    assert RegistryClient(tracking).resolve("models:/churn@champion").version == 2
    ok(
        http.request(
            "DELETE", f"{API}/registered-models/alias", json={"name": "churn", "alias": "champion"}
        )
    )
    gone = http.get(f"{API}/registered-models/alias", params={"name": "churn", "alias": "champion"})
    refused(gone, "RESOURCE_DOES_NOT_EXIST", 404)
    reserved = http.post(
        f"{API}/registered-models/alias", json={"name": "churn", "alias": "latest", "version": "1"}
    )
    refused(reserved, "INVALID_PARAMETER_VALUE", 400)

    ok(
        http.post(
            f"{API}/model-versions/set-tag",
            json={"name": "churn", "version": "1", "key": "b", "value": "2"},
        )
    )
    ok(
        http.request(
            "DELETE",
            f"{API}/model-versions/delete-tag",
            json={"name": "churn", "version": "1", "key": "a"},
        )
    )
    updated = ok(
        http.patch(
            f"{API}/model-versions/update",
            json={"name": "churn", "version": "1", "description": "first"},
        )
    )["model_version"]
    assert updated["description"] == "first"
    assert updated["tags"] == [{"key": "b", "value": "2"}]
    tagged = ok(http.get(f"{API}/model-versions/search", params={"filter": "tags.b = '2'"}))
    assert [v["version"] for v in tagged["model_versions"]] == ["1"]

    ok(
        http.request(
            "DELETE", f"{API}/model-versions/delete", json={"name": "churn", "version": "1"}
        )
    )
    refused(
        http.get(f"{API}/model-versions/get", params={"name": "churn", "version": "1"}),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    third = create_version(http, "churn", f"runs:/{run_id}/model")
    assert third["version"] == "3"  # numbers are never given twice


def test_search_model_versions_pages_and_orders(http: TestClient, tracking: TrackingClient) -> None:
    _, run_id = run_with_model(tracking)
    for name in ("a", "b"):
        create_model(http, name)
        for _ in range(3):
            create_version(http, name, f"runs:/{run_id}/model")
    seen = []
    token = None
    while True:
        params: dict[str, Any] = {"max_results": 4, "order_by": ["name ASC", "version ASC"]}
        if token:
            params["page_token"] = token
        page = ok(http.get(f"{API}/model-versions/search", params=params))
        seen += [(v["name"], v["version"]) for v in page["model_versions"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert seen == [(n, str(v)) for n in "ab" for v in (1, 2, 3)]
    by_run = ok(
        http.get(
            f"{API}/model-versions/search", params={"filter": f"run_id = '{run_id}' AND name = 'b'"}
        )
    )
    assert len(by_run["model_versions"]) == 3
    bad = http.get(f"{API}/model-versions/search", params={"filter": "nonsense ~ 3"})
    refused(bad, "INVALID_PARAMETER_VALUE", 400)


# -- logged models ------------------------------------------------------------------------
def test_logged_model_lifecycle_search_and_run_outputs(
    http: TestClient, tracking: TrackingClient
) -> None:
    experiment_id, run_id = run_with_model(tracking)
    model_id = logged_model(http, tracking, experiment_id, run_id)
    other = logged_model(http, tracking, experiment_id)
    got = ok(http.get(f"{API}/logged-models/{model_id}"))["model"]
    assert got["info"]["source_run_id"] == run_id
    assert got["info"]["name"] == "model"
    assert got["data"]["params"] == [{"key": "alpha", "value": "0.5"}]

    ok(
        http.patch(
            f"{API}/logged-models/{model_id}/tags", json={"tags": [{"key": "k", "value": "v"}]}
        )
    )
    ok(
        http.post(
            f"{API}/logged-models/{model_id}/params",
            json={"model_id": model_id, "params": [{"key": "beta", "value": "2"}]},
        )
    )
    ok(http.delete(f"{API}/logged-models/{model_id}/tags/mlflow.source.type"))
    got = ok(http.get(f"{API}/logged-models/{model_id}"))["model"]
    assert got["info"]["tags"] == [{"key": "k", "value": "v"}]
    assert len(got["data"]["params"]) == 2
    ok(
        http.post(
            f"{API}/runs/outputs",
            json={"run_id": run_id, "models": [{"model_id": model_id, "step": 3}]},
        )
    )
    assert LoggedModels(tracking).get(model_id).outputs == {run_id: 3}
    # The run lists it among its outputs, as MLflow's get-run and search-runs do.
    expected = {"model_outputs": [{"model_id": model_id, "step": 3}]}
    assert ok(http.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]["outputs"] == expected
    searched = ok(http.post(f"{API}/runs/search", json={"experiment_ids": [experiment_id]}))
    assert [r["outputs"] for r in searched["runs"]] == [expected]

    # How MLflow's client resolves runs:/<run_id>/model: a search by name in the run's
    # experiment, then the model whose source_run_id is the run.
    found = ok(
        http.post(
            f"{API}/logged-models/search",
            json={"experiment_ids": [experiment_id], "filter": "name = 'model'"},
        )
    )["models"]
    assert {m["info"]["model_id"] for m in found} == {model_id, other}
    tagged = ok(
        http.post(
            f"{API}/logged-models/search",
            json={
                "experiment_ids": [experiment_id],
                "filter": "tags.k = 'v' AND params.beta = '2'",
            },
        )
    )["models"]
    assert [m["info"]["model_id"] for m in tagged] == [model_id]
    paged = ok(
        http.post(
            f"{API}/logged-models/search",
            json={
                "experiment_ids": [experiment_id],
                "max_results": 1,
                "order_by": [{"field_name": "creation_timestamp", "ascending": True}],
            },
        )
    )
    assert [m["info"]["model_id"] for m in paged["models"]] == [model_id]
    rest = ok(
        http.post(
            f"{API}/logged-models/search",
            json={
                "experiment_ids": [experiment_id],
                "max_results": 1,
                "order_by": [{"field_name": "creation_timestamp", "ascending": True}],
                "page_token": paged["next_page_token"],
            },
        )
    )
    assert [m["info"]["model_id"] for m in rest["models"]] == [other]
    assert "next_page_token" not in rest
    listing = ok(http.get(f"{API}/logged-models/{model_id}/artifacts/directories"))
    assert listing["files"] == [{"path": "MLmodel", "is_dir": False, "file_size": len(MLMODEL)}]

    ok(http.delete(f"{API}/logged-models/{other}"))
    refused(http.get(f"{API}/logged-models/{other}"), "RESOURCE_DOES_NOT_EXIST", 404)
    deleted = ok(http.get(f"{API}/logged-models/{other}", params={"allow_deleted": "true"}))
    assert deleted["model"]["info"]["model_id"] == other
    no_experiment = http.post(f"{API}/logged-models", json={"experiment_id": "424242"})
    refused(no_experiment, "RESOURCE_DOES_NOT_EXIST", 404)
    by_number = http.patch(
        f"{API}/logged-models/{model_id}", json={"model_id": model_id, "status": 3}
    )
    assert ok(by_number)["model"]["info"]["status"] == "LOGGED_MODEL_UPLOAD_FAILED"
    bad_status = http.patch(
        f"{API}/logged-models/{model_id}", json={"model_id": model_id, "status": "DONE"}
    )
    refused(bad_status, "INVALID_PARAMETER_VALUE", 400)


def test_a_version_of_a_logged_model_downloads_and_loads_from_its_folder(
    http: TestClient, tracking: TrackingClient
) -> None:
    experiment_id, run_id = run_with_model(tracking)
    model_id = logged_model(http, tracking, experiment_id, run_id)
    create_model(http, "churn")
    version = create_version(http, "churn", f"models:/{model_id}", model_id=model_id)
    assert version["source"] == f"models:/{model_id}"
    assert version["model_id"] == model_id
    assert version["run_id"] == run_id  # the logged model's run
    uri = ok(
        http.get(f"{API}/model-versions/get-download-uri", params={"name": "churn", "version": "1"})
    )["artifact_uri"]
    assert uri == f"mlflow-artifacts:/{experiment_id}/models/{model_id}/artifacts"
    # The folder's mlflow-artifacts URI registers the logged model too, by its id.
    assert create_version(http, "churn", uri)["source"] == f"models:/{model_id}"
    info = ok(http.get(f"{API}/logged-models/{model_id}"))["model"]["info"]
    assert info["registrations"] == [
        {"name": "churn", "version": "1"},
        {"name": "churn", "version": "2"},
    ]
    # sparktrack's own URIs reach the same folder.
    folder = LoggedModels(tracking).get(model_id).artifact_location
    assert str(resolve_model_uri("models:/churn/1", tracking)) == folder
    assert str(resolve_model_uri(f"models:/{model_id}", tracking)) == folder
    assert RegistryClient(tracking).register_model(f"models:/{model_id}", "again").run_id == run_id


def test_both_prefixes_serve_the_registry(http: TestClient) -> None:
    create_model(http, "churn")
    got = ok(http.get("/ajax-api/2.0/mlflow/registered-models/get", params={"name": "churn"}))
    assert got["registered_model"]["name"] == "churn"
