"""MLflow's REST-level registry tests, ported to run against ``sparktrack server``.

Run by pytest inside MLflow's environment (.venv-mlflow) with MLFLOW_TRACKING_URI set:
``tests/test_mlflow_rest_registry_ported.py`` starts it. The cases are those of
MLflow's ``tests/tracking/test_model_registry.py`` (and the logged-model client calls
of MLflow 3), with these changes, each for a reason:

* One server serves every case: names carry a per-run prefix, and searches are
  filtered by it, instead of a fresh store per case.
* Versions are made from real model folders (a run whose artifacts hold
  ``model/MLmodel``): sparktrack registers only what holds a model, where MLflow's
  server accepts ``runs:/run_id/model`` for a run that does not exist. A version's
  ``run_id`` is then its run's, not a free string.
* Errors are checked by ``error_code`` (MLflow's), not by MLflow's message text.
* ``get_model_version_download_uri`` answers ``mlflow-artifacts:/...`` (downloadable
  through this server) instead of the ``runs:/`` source.
* ``test_latest_models``: Staging and Production hold one version each here (a
  promotion archives the previous holder), so two Production versions cannot coexist.
* ``test_copy_model_version_flow``: the copy's source is the original's folder
  (``runs:/...``), where MLflow keeps ``models:/<name>/<version>``.

Not ported: MLflow's ``client`` fixture parametrisation over its file and SQL stores
(one store here), and the prompt-registry, webhook and Unity Catalog cases (features
this server does not have).
"""

from __future__ import annotations

import time
import uuid

import pytest
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.exceptions import MlflowException
from mlflow.utils.time import get_current_time_millis

PREFIX = f"p{uuid.uuid4().hex[:8]}"
MLMODEL = "artifact_path: model\nflavors: {}\n"


@pytest.fixture(scope="module")
def client() -> MlflowClient:
    return MlflowClient()


@pytest.fixture(scope="module")
def runs(client: MlflowClient) -> list[str]:
    """Two runs whose artifacts hold model folders at model/, another_model/ and a/b/c/."""
    experiment_id = client.create_experiment(f"{PREFIX}-registry")
    ids = []
    for _ in range(2):
        run_id = client.create_run(experiment_id).info.run_id
        for path in ("model", "another_model", "a/b/c"):
            client.log_text(run_id, MLMODEL, f"{path}/MLmodel")
        ids.append(run_id)
    return ids


def named(name: str) -> str:
    return f"{PREFIX}{name}"


def mine(models: list[RegisteredModel] | list[ModelVersion]) -> list[str]:
    return [m.name for m in models if m.name.startswith(PREFIX)]


def assert_is_between(start_time: int, end_time: int, expected_time: int) -> None:
    assert expected_time >= start_time
    assert expected_time <= end_time


def assert_code(error: pytest.ExceptionInfo[MlflowException], code: str) -> None:
    assert error.value.error_code == code, error.value


def test_create_and_query_registered_model_flow(client: MlflowClient) -> None:
    name = named("CreateRMTest")
    tags = {"key": "value", "another key": "some other value", "numeric value": 12345}
    start_time = get_current_time_millis()
    registered_model = client.create_registered_model(name, tags)
    end_time = get_current_time_millis()
    assert isinstance(registered_model, RegisteredModel)
    assert registered_model.name == name
    expected_tags = {"key": "value", "another key": "some other value", "numeric value": "12345"}
    assert registered_model.tags == expected_tags
    detailed = client.get_registered_model(name)
    assert detailed.name == name
    assert detailed.tags == expected_tags
    assert str(detailed.description) == ""
    assert detailed.latest_versions == []
    assert_is_between(start_time, end_time, detailed.creation_timestamp)
    assert_is_between(start_time, end_time, detailed.last_updated_timestamp)
    assert [rm.name for rm in client.search_registered_models() if rm.name == name] == [name]
    assert [
        rm.name for rm in client.search_registered_models(filter_string="") if rm.name == name
    ] == [name]
    assert [rm.name for rm in client.search_registered_models(f"name = '{name}'")] == [name]


@pytest.fixture(scope="module")
def search_models(client: MlflowClient) -> list[RegisteredModel]:
    names = [named(f"CreateRMsearch{i:03}") for i in range(29)]
    return [client.create_registered_model(name) for name in names]


@pytest.mark.parametrize("max_results", [1, 8, 100])
@pytest.mark.parametrize(
    ("filter_string", "filter_func"),
    [
        (f"name LIKE '{PREFIX}%'", lambda rm: True),
        (f"name LIKE '{PREFIX}CreateRMsearch%7'", lambda rm: rm.name.endswith("7")),
        (f"name ILIKE '{PREFIX}%rm%00%'", lambda rm: "00" in rm.name),
        (f"name LIKE '{PREFIX}%rm%00%'", lambda rm: False),
        ("name = 'badname'", lambda rm: False),
        (
            f"name = '{PREFIX}CreateRMsearch023'",
            lambda rm: rm.name == f"{PREFIX}CreateRMsearch023",
        ),
    ],
)
def test_search_registered_model_flow_paginated(
    client: MlflowClient,
    search_models: list[RegisteredModel],
    max_results: int,
    filter_string: str,
    filter_func: object,
) -> None:
    expected = [rm.name for rm in filter(filter_func, search_models)]  # type: ignore[arg-type]
    found = []
    result = client.search_registered_models(filter_string=filter_string, max_results=max_results)
    found += mine(result)
    while result.token:
        result = client.search_registered_models(
            filter_string=filter_string, max_results=max_results, page_token=result.token
        )
        found += mine(result)
    assert [n for n in found if "CreateRMsearch" in n] == expected


def test_update_registered_model_flow(client: MlflowClient) -> None:
    name = named("UpdateRMTest")
    start_time_1 = get_current_time_millis()
    client.create_registered_model(name)
    end_time_1 = get_current_time_millis()
    first = client.get_registered_model(name)
    assert str(first.description) == ""
    assert_is_between(start_time_1, end_time_1, first.creation_timestamp)

    new_name = named("UpdateRMTest 2")
    start_time_2 = get_current_time_millis()
    client.rename_registered_model(name=name, new_name=new_name)
    end_time_2 = get_current_time_millis()
    with pytest.raises(MlflowException) as missing:
        client.get_registered_model(name)
    assert_code(missing, "RESOURCE_DOES_NOT_EXIST")
    second = client.get_registered_model(new_name)
    assert second.name == new_name
    assert_is_between(start_time_1, end_time_1, second.creation_timestamp)
    assert_is_between(start_time_2, end_time_2, second.last_updated_timestamp)

    start_time_3 = get_current_time_millis()
    client.update_registered_model(name=new_name, description="This is a test")
    end_time_3 = get_current_time_millis()
    third = client.get_registered_model(new_name)
    assert third.description == "This is a test"
    assert_is_between(start_time_3, end_time_3, third.last_updated_timestamp)

    another_new = named("UpdateRMTest 4")
    client.update_registered_model(new_name, "4th update")
    client.rename_registered_model(new_name, another_new)
    fourth = client.get_registered_model(another_new)
    assert fourth.description == "4th update"
    assert_is_between(start_time_1, end_time_1, fourth.creation_timestamp)
    for old_name in [name, new_name]:
        with pytest.raises(MlflowException) as gone:
            client.get_registered_model(old_name)
        assert_code(gone, "RESOURCE_DOES_NOT_EXIST")


def test_delete_registered_model_flow(client: MlflowClient) -> None:
    name = named("DeleteRMTest")
    client.create_registered_model(name)
    assert [rm.name for rm in client.search_registered_models(f"name = '{name}'")] == [name]
    with pytest.raises(MlflowException) as taken:
        client.create_registered_model(name)
    assert_code(taken, "RESOURCE_ALREADY_EXISTS")
    client.delete_registered_model(name)
    with pytest.raises(MlflowException) as gone:
        client.get_registered_model(name)
    assert_code(gone, "RESOURCE_DOES_NOT_EXIST")
    with pytest.raises(MlflowException) as renamed:
        client.rename_registered_model(name=name, new_name=named("something else"))
    assert_code(renamed, "RESOURCE_DOES_NOT_EXIST")
    assert client.search_registered_models(f"name = '{name}'") == []
    start_time_2 = get_current_time_millis()
    client.create_registered_model(name)
    end_time_2 = get_current_time_millis()
    again = client.get_registered_model(name)
    assert_is_between(start_time_2, end_time_2, again.creation_timestamp)
    assert_is_between(start_time_2, end_time_2, again.last_updated_timestamp)


def test_set_delete_registered_model_tag_flow(client: MlflowClient) -> None:
    name = named("SetDeleteRMTagTest")
    client.create_registered_model(name)
    assert client.get_registered_model(name).tags == {}
    for key, value in {"key": "value", "numeric value": 12345}.items():
        client.set_registered_model_tag(name, key, value)
    assert client.get_registered_model(name).tags == {"key": "value", "numeric value": "12345"}
    client.delete_registered_model_tag(name, "key")
    assert client.get_registered_model(name).tags == {"numeric value": "12345"}
    client.set_registered_model_tag(name, "tag_key", "")
    assert {"tag_key": ""}.items() <= client.get_registered_model(name).tags.items()


@pytest.fixture(scope="module")
def search_versions(client: MlflowClient, runs: list[str]) -> list[ModelVersion]:
    names = [named(f"CreateRMsearchForMV{i:03}") for i in range(29)]
    for name in names:
        client.create_registered_model(name)
    versions = []
    for name in names + names[:10]:
        # Sleep for unique timestamps, so the default order is deterministic.
        time.sleep(0.002)
        versions.append(client.create_model_version(name, f"runs:/{runs[0]}/model", runs[0]))
    return versions[::-1]


def _all_pages(getter: object) -> list[ModelVersion]:
    found: list[ModelVersion] = []
    result = getter(None)  # type: ignore[operator]
    found += result
    while result.token:
        result = getter(result.token)  # type: ignore[operator]
        found += result
    return [v for v in found if v.name.startswith(named("CreateRMsearchForMV"))]


@pytest.mark.parametrize(
    ("filter_string", "filter_func"),
    [
        (f"name LIKE '{PREFIX}%'", lambda mv: True),
        (f"name LIKE '{PREFIX}%2'", lambda mv: mv.name.endswith("2")),
        (f"name ILIKE '{PREFIX}%rm%00%'", lambda mv: "00" in mv.name),
        (f"name LIKE '{PREFIX}%rm%00%'", lambda mv: False),
        ("name = 'badname'", lambda mv: False),
        (
            f"name = '{PREFIX}CreateRMsearchForMV03'",
            lambda mv: mv.name == f"{PREFIX}CreateRMsearchForMV03",
        ),
    ],
)
def test_search_model_versions_filter_string(
    client: MlflowClient,
    search_versions: list[ModelVersion],
    filter_string: str,
    filter_func: object,
) -> None:
    expected = sorted(
        filter(filter_func, search_versions),  # type: ignore[arg-type]
        key=lambda x: x.last_updated_timestamp,
        reverse=True,
    )
    found = _all_pages(
        lambda tok: client.search_model_versions(filter_string=filter_string, page_token=tok)
    )
    assert [(v.name, v.version) for v in found] == [(v.name, v.version) for v in expected]


@pytest.mark.parametrize("max_results", [1, 8, 100])
def test_search_model_versions_max_results(
    client: MlflowClient, search_versions: list[ModelVersion], max_results: int
) -> None:
    expected = sorted(search_versions, key=lambda x: x.last_updated_timestamp, reverse=True)
    found = _all_pages(
        lambda tok: client.search_model_versions(
            filter_string=f"name LIKE '{PREFIX}%'", max_results=max_results, page_token=tok
        )
    )
    assert [(v.name, v.version) for v in found] == [(v.name, v.version) for v in expected]


@pytest.mark.parametrize(
    ("order_by", "order_by_key", "order_by_desc"),
    [
        (None, None, False),
        (["name DESC"], lambda mv: (mv.name, mv.version), True),
        (["version_number DESC"], lambda mv: (-int(mv.version), mv.name), False),
    ],
)
def test_search_model_versions_order_by(
    client: MlflowClient,
    search_versions: list[ModelVersion],
    order_by: list[str] | None,
    order_by_key: object,
    order_by_desc: bool,
) -> None:
    if order_by_key:
        expected = sorted(search_versions, key=order_by_key, reverse=order_by_desc)  # type: ignore[arg-type]
    else:
        expected = sorted(
            search_versions,
            key=lambda x: (-int(x.last_updated_timestamp), x.name, -int(x.version)),
        )
    found = _all_pages(
        lambda tok: client.search_model_versions(
            filter_string=f"name LIKE '{PREFIX}%'", order_by=order_by, page_token=tok
        )
    )
    assert [(v.name, v.version) for v in found] == [(v.name, v.version) for v in expected]


def test_create_and_query_model_version_flow(client: MlflowClient, runs: list[str]) -> None:
    name = named("CreateMVTest")
    tags = {"key": "value", "another key": "some other value", "numeric value": 12345}
    client.create_registered_model(name)
    mv1 = client.create_model_version(name, f"runs:/{runs[0]}/model", runs[0], tags)
    assert mv1.version == "1"
    assert mv1.name == name
    expected_tags = {"key": "value", "another key": "some other value", "numeric value": "12345"}
    assert mv1.tags == expected_tags
    mvd1 = client.get_model_version(name, "1")
    assert mvd1.tags == expected_tags
    assert [rm.latest_versions for rm in client.search_registered_models(f"name = '{name}'")] == [
        [mvd1]
    ]
    mv2 = client.create_model_version(name, f"runs:/{runs[0]}/another_model", runs[0])
    assert mv2.version == "2"
    mvd2 = client.get_model_version(name, "2")
    assert [rm.latest_versions for rm in client.search_registered_models(f"name = '{name}'")] == [
        [mvd2]
    ]
    by_name = client.search_model_versions(f"name = '{name}'")
    assert {mv.version for mv in by_name} == {"1", "2"}
    client.create_model_version(name, f"runs:/{runs[1]}/another_model", runs[1])
    assert client.search_model_versions(
        f"name = '{name}' AND source_path = 'runs:/{runs[0]}/model'"
    ) == [mvd1]
    assert client.search_model_versions(f"name = '{name}' AND run_id = '{runs[0]}'") == [
        mvd2,
        mvd1,
    ]
    experiment_id = client.get_run(runs[0]).info.experiment_id
    assert client.get_model_version_download_uri(name, "1") == (
        f"mlflow-artifacts:/{experiment_id}/{runs[0]}/artifacts/model"
    )


def test_get_model_version(client: MlflowClient, runs: list[str]) -> None:
    name = named("GetModelVersionTest")
    client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{runs[0]}/model", runs[0])
    model_version = client.get_model_version(name, "1")
    assert model_version.name == name
    assert model_version.version == "1"
    with pytest.raises(MlflowException) as bad:
        client.get_model_version(name=name, version="something not correct")
    assert_code(bad, "INVALID_PARAMETER_VALUE")


def test_update_model_version_flow(client: MlflowClient, runs: list[str]) -> None:
    name = named("UpdateMVTest")
    start_time_0 = get_current_time_millis()
    client.create_registered_model(name)
    end_time_0 = get_current_time_millis()
    start_time_1 = get_current_time_millis()
    mv1 = client.create_model_version(name, f"runs:/{runs[0]}/model", runs[0])
    end_time_1 = get_current_time_millis()
    assert mv1.version == "1"
    mvd1 = client.get_model_version(name, "1")
    assert str(mvd1.description) == ""
    assert_is_between(start_time_1, end_time_1, mvd1.creation_timestamp)
    assert_is_between(start_time_1, end_time_1, mvd1.last_updated_timestamp)
    # creating a version changes the registered model's last_updated_timestamp
    rmd2 = client.get_registered_model(name)
    assert_is_between(start_time_0, end_time_0, rmd2.creation_timestamp)
    assert_is_between(start_time_1, end_time_1, rmd2.last_updated_timestamp)
    client.create_model_version(name, f"runs:/{runs[0]}/another_model", runs[0])

    start_time_2 = get_current_time_millis()
    client.transition_model_version_stage(name=name, version=1, stage="Staging")
    end_time_2 = get_current_time_millis()
    mvd1b = client.get_model_version(name, 1)
    assert_is_between(start_time_1, end_time_1, mvd1b.creation_timestamp)
    assert_is_between(start_time_2, end_time_2, mvd1b.last_updated_timestamp)
    # so does a version's stage
    rmd3 = client.get_registered_model(name)
    assert_is_between(start_time_2, end_time_2, rmd3.last_updated_timestamp)
    latest = [rm.latest_versions for rm in client.search_registered_models(f"name = '{name}'")]
    assert {mvd.version for mvd in latest[0]} == {"1", "2"}

    start_time_3 = get_current_time_millis()
    client.update_model_version(name=name, version=1, description="This is a test model")
    end_time_3 = get_current_time_millis()
    mvd1c = client.get_model_version(name, "1")
    assert str(mvd1c.description) == "This is a test model"
    assert_is_between(start_time_1, end_time_1, mvd1c.creation_timestamp)
    assert_is_between(start_time_3, end_time_3, mvd1c.last_updated_timestamp)
    # a version's description does not change its registered model's timestamp
    rmd4 = client.get_registered_model(name)
    assert_is_between(start_time_2, end_time_2, rmd4.last_updated_timestamp)


def test_latest_models(client: MlflowClient, runs: list[str]) -> None:
    # One version per stage here: 4 archives 2 in Production, 6 archives 5 in Staging.
    version_stage_mapping = (
        ("1", "Archived"),
        ("2", "Production"),
        ("3", "Archived"),
        ("4", "Production"),
        ("5", "Staging"),
        ("6", "Staging"),
        ("7", "None"),
    )
    name = named("LatestVersionTest")
    client.create_registered_model(name)
    for version, stage in version_stage_mapping:
        mv = client.create_model_version(name, f"runs:/{runs[0]}/model", runs[0])
        assert mv.version == version
        if stage != "None":
            client.transition_model_version_stage(name, version, stage=stage)
        assert client.get_model_version(name, version).current_stage == stage
    assert client.get_model_version(name, "2").current_stage == "Archived"
    assert client.get_model_version(name, "5").current_stage == "Archived"

    def get_latest(stages: list[str] | None) -> dict[str, str]:
        return {mvd.current_stage: mvd.version for mvd in client.get_latest_versions(name, stages)}

    assert get_latest(["None"]) == {"None": "7"}
    assert get_latest(["Staging"]) == {"Staging": "6"}
    assert get_latest(["None", "Staging"]) == {"None": "7", "Staging": "6"}
    everything = {"Production": "4", "Staging": "6", "Archived": "5", "None": "7"}
    assert get_latest(None) == everything
    assert get_latest([]) == everything


def test_delete_model_version_flow(client: MlflowClient, runs: list[str]) -> None:
    name = named("DeleteMVTest")
    client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{runs[0]}/model", runs[0])
    client.create_model_version(name, f"runs:/{runs[0]}/another_model", runs[0])
    mv3 = client.create_model_version(name, f"runs:/{runs[1]}/a/b/c", runs[1])
    assert mv3.version == "3"
    latest = [rm.latest_versions for rm in client.search_registered_models(f"name = '{name}'")]
    assert latest[0][0].version == "3"
    start_time_2 = get_current_time_millis()
    client.delete_model_version(name, "1")
    end_time_2 = get_current_time_millis()
    assert {mv.version for mv in client.search_model_versions(f"name = '{name}'")} == {"2", "3"}
    # deleting a version changes the registered model's last_updated_timestamp
    assert_is_between(
        start_time_2, end_time_2, client.get_registered_model(name).last_updated_timestamp
    )
    for call in (
        lambda: client.delete_model_version(name, "1"),
        lambda: client.update_model_version(name=name, version=1, description="Test model"),
        lambda: client.transition_model_version_stage(name=name, version=1, stage="Staging"),
    ):
        with pytest.raises(MlflowException) as gone:
            call()
        assert_code(gone, "RESOURCE_DOES_NOT_EXIST")
    client.delete_model_version(name, 3)
    assert {mv.version for mv in client.search_model_versions(f"name = '{name}'")} == {"2"}
    # new versions never reuse a number
    mv4 = client.create_model_version(name, f"runs:/{runs[1]}/a/b/c", runs[1])
    assert mv4.version == "4"
    assert {mv.version for mv in client.search_model_versions(f"name = '{name}'")} == {"2", "4"}


def test_set_delete_model_version_tag_flow(client: MlflowClient, runs: list[str]) -> None:
    name = named("SetDeleteMVTagTest")
    client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{runs[0]}/model", runs[0])
    assert client.get_model_version(name, "1").tags == {}
    for key, value in {"key": "value", "numeric value": 12345}.items():
        client.set_model_version_tag(name, "1", key, value)
    assert client.get_model_version(name, "1").tags == {"key": "value", "numeric value": "12345"}
    client.delete_model_version_tag(name, "1", "key")
    assert client.get_model_version(name, "1").tags == {"numeric value": "12345"}
    client.set_model_version_tag(name, "1", "tag_key", "")
    assert {"tag_key": ""}.items() <= client.get_model_version(name, "1").tags.items()


def test_set_delete_registered_model_alias_and_get_model_version_by_alias_flow(
    client: MlflowClient, runs: list[str]
) -> None:
    name = named("SetDeleteGetRMAliasTest")
    client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{runs[0]}/model", runs[0])
    assert client.get_registered_model(name).aliases == {}
    assert client.get_model_version(name, "1").aliases == []
    client.set_registered_model_alias(name, "test_alias", "1")
    assert client.get_registered_model(name).aliases == {"test_alias": "1"}
    mv = client.get_model_version(name, "1")
    assert mv.aliases == ["test_alias"]
    assert client.get_model_version_by_alias(name, "test_alias") == mv
    client.delete_registered_model_alias(name, "test_alias")
    assert client.get_registered_model(name).aliases == {}
    assert client.get_model_version(name, "1").aliases == []


def test_copy_model_version_flow(client: MlflowClient, runs: list[str]) -> None:
    name = named("CopyMVTest")
    client.create_registered_model(name)
    src_mv = client.create_model_version(
        name, f"runs:/{runs[0]}/model", runs[0], description="dummy", tags={"hello": "world"}
    )
    client.set_registered_model_alias(name, "test_alias", "1")
    copy_mv = client.copy_model_version(f"models:/{name}@test_alias", name)
    assert copy_mv.version == "2"
    copy_mv = client.get_model_version(name, 2)
    assert copy_mv.source == src_mv.source  # the original's folder (MLflow: models:/name/1)
    assert copy_mv.run_id == runs[0]
    assert client.get_model_version_download_uri(name, 2) == (
        client.get_model_version_download_uri(name, 1)
    )


# -- MLflow 3 logged models, as MLflow's client calls them ------------------------------
def test_logged_model_create_get_finalize_tags_params_and_delete(
    client: MlflowClient, runs: list[str]
) -> None:
    experiment_id = client.get_run(runs[0]).info.experiment_id
    model = client.create_logged_model(
        experiment_id, name="lm", source_run_id=runs[0], tags={"t": "1"}, params={"p": "a"}
    )
    assert model.model_id.startswith("m-")
    assert model.experiment_id == experiment_id
    assert model.status.to_int() == 1  # PENDING
    assert model.artifact_location.endswith(f"/models/{model.model_id}/artifacts")
    ready = client.finalize_logged_model(model.model_id, "READY")
    assert str(ready.status) == "READY"
    client.set_logged_model_tags(model.model_id, {"t2": "2"})
    client.delete_logged_model_tag(model.model_id, "t")
    client.log_model_params(model.model_id, {"q": "b"})
    got = client.get_logged_model(model.model_id)
    assert got.tags == {"t2": "2"}
    assert got.params == {"p": "a", "q": "b"}
    assert got.source_run_id == runs[0]
    client.delete_logged_model(model.model_id)
    with pytest.raises(MlflowException) as gone:
        client.get_logged_model(model.model_id)
    assert_code(gone, "RESOURCE_DOES_NOT_EXIST")


def test_search_logged_models_filters_orders_and_pages(client: MlflowClient) -> None:
    experiment_id = client.create_experiment(f"{PREFIX}-logged-models")
    made = []
    for i in range(5):
        time.sleep(0.002)
        made.append(
            client.create_logged_model(
                experiment_id,
                name=f"m{i % 2}",
                tags={"i": str(i)},
                params={"even": str(i % 2 == 0)},
            ).model_id
        )
    found = client.search_logged_models([experiment_id])
    assert [m.model_id for m in found] == made[::-1]  # newest first
    by_name = client.search_logged_models([experiment_id], filter_string="name = 'm0'")
    assert {m.model_id for m in by_name} == {made[0], made[2], made[4]}
    by_param = client.search_logged_models(
        [experiment_id], filter_string="params.even = 'True' AND tags.i != '0'"
    )
    assert {m.model_id for m in by_param} == {made[2], made[4]}
    ascending = [{"field_name": "creation_timestamp", "ascending": True}]
    pages = []
    page = client.search_logged_models([experiment_id], max_results=2, order_by=ascending)
    pages.append([m.model_id for m in page])
    while page.token:
        page = client.search_logged_models(
            [experiment_id], max_results=2, order_by=ascending, page_token=page.token
        )
        pages.append([m.model_id for m in page])
    assert pages == [made[0:2], made[2:4], made[4:5]]
