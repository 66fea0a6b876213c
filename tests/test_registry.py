"""The model registry: versions, stages, aliases, history, search, URIs.

Concurrent changes and commit faults: test_registry_races.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sparktrack import TrackingClient
from sparktrack.errors import (
    AlreadyExistsError,
    InvalidInputError,
    NotFoundError,
    SearchSyntaxError,
)
from sparktrack.registry import RegistryClient, parse_models_uri
from sparktrack.tracking import now_ms


@pytest.fixture
def registry(client: TrackingClient) -> RegistryClient:
    return RegistryClient(client)


@pytest.fixture
def model_dir(tmp_path: Path) -> str:
    """A model folder as far as registration is concerned: it has an MLmodel file."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    return str(folder)


def _stages(registry: RegistryClient, name: str) -> dict[int, str]:
    return {v.version: v.current_stage for v in registry.search_model_versions(f"name = '{name}'")}


def test_versions_count_from_one_and_are_never_reused(
    registry: RegistryClient, model_dir: str
) -> None:
    assert [registry.register_model(model_dir, "churn").version for _ in range(3)] == [1, 2, 3]
    registry.delete_model_version("churn", 3)
    assert registry.register_model(model_dir, "churn").version == 4
    registry.delete_registered_model("churn")
    with pytest.raises(NotFoundError, match="'churn' does not exist"):
        registry.get_registered_model("churn")
    # The name can be registered again; numbering goes on, the old versions stay gone.
    assert registry.register_model(model_dir, "churn").version == 5
    assert [v.version for v in registry.search_model_versions("name = 'churn'")] == [5]
    assert [t.version for t in registry.get_model_history("churn")] == [5]


def test_a_version_records_its_source_run_and_metadata(
    client: TrackingClient, registry: RegistryClient, tmp_path: Path
) -> None:
    run = client.create_run(run_name="trainer")
    run_id = run.info.run_id
    local = client.artifacts.local_path_for(run.info.experiment_id, run_id, "model")
    if local is None:  # the memory store keeps artifacts in a temporary folder too
        pytest.skip("store has no local artifact folder")
    Path(local).mkdir(parents=True)
    (Path(local) / "MLmodel").write_text("flavors: {}\n")
    version = registry.register_model(
        f"runs:/{run_id}/model", "churn", tags={"team": "risk"}, description="first cut"
    )
    assert version.source == f"runs:/{run_id}/model"
    assert version.run_id == run_id
    assert version.tags == {"team": "risk"}
    assert version.description == "first cut"
    assert version.current_stage == "None"
    assert version.model_uri == "models:/churn/1"
    registry.update_model_version("churn", 1, "second thoughts")
    registry.set_model_version_tag("churn", "1", "validated", True)
    registry.delete_model_version_tag("churn", 1, "team")
    again = registry.get_model_version("churn", 1)
    assert (again.description, again.tags) == ("second thoughts", {"validated": "True"})
    registry.update_registered_model("churn", "churn propensity")
    registry.set_registered_model_tag("churn", "owner", "ana")
    model = registry.get_registered_model("churn")
    assert (model.description, model.tags, model.version_count) == (
        "churn propensity",
        {"owner": "ana"},
        1,
    )
    registry.delete_registered_model_tag("churn", "owner")
    assert registry.get_registered_model("churn").tags == {}


def test_promoting_archives_the_previous_holder_of_the_stage(
    registry: RegistryClient, model_dir: str
) -> None:
    for _ in range(3):
        registry.register_model(model_dir, "churn")
    registry.transition_model_version_stage("churn", 1, "Production")
    registry.transition_model_version_stage("churn", 2, "staging")  # stages ignore case
    assert _stages(registry, "churn") == {1: "Production", 2: "Staging", 3: "None"}
    registry.transition_model_version_stage("churn", 2, "Production")
    assert _stages(registry, "churn") == {1: "Archived", 2: "Production", 3: "None"}
    registry.transition_model_version_stage("churn", 3, "Production")
    assert _stages(registry, "churn") == {1: "Archived", 2: "Archived", 3: "Production"}
    latest = registry.get_latest_versions("churn", ["Production", "Archived"])
    assert [(v.version, v.current_stage) for v in latest] == [(2, "Archived"), (3, "Production")]
    history = [
        (t.version, t.from_value, t.to_value)
        for t in registry.get_model_history("churn")
        if t.kind == "stage"
    ]
    assert history == [
        (1, "None", "Production"),
        (2, "None", "Staging"),
        (1, "Production", "Archived"),
        (2, "Staging", "Production"),
        (2, "Production", "Archived"),
        (3, "None", "Production"),
    ]
    assert all(t.user_id and t.timestamp > 0 for t in registry.get_model_history("churn"))


def test_aliases_move_and_resolve(registry: RegistryClient, model_dir: str) -> None:
    for _ in range(2):
        registry.register_model(model_dir, "churn")
    registry.set_registered_model_alias("churn", "champion", 1)
    registry.set_registered_model_alias("churn", "challenger", 2)
    assert registry.get_model_version("churn", 1).aliases == ("champion",)
    registry.set_registered_model_alias("churn", "champion", 2)
    assert registry.get_model_version("churn", 1).aliases == ()
    assert registry.get_model_version("churn", 2).aliases == ("challenger", "champion")
    assert registry.get_model_version_by_alias("churn", "champion").version == 2
    assert registry.get_registered_model("churn").aliases == {"challenger": 2, "champion": 2}
    moves = [
        (t.key, t.from_value, t.to_value)
        for t in registry.get_model_history("churn")
        if t.kind.startswith("alias")
    ]
    assert moves == [("champion", None, "1"), ("challenger", None, "2"), ("champion", "1", "2")]
    registry.delete_model_version("churn", 2)  # its aliases go with it
    assert registry.get_registered_model("churn").aliases == {}
    with pytest.raises(NotFoundError, match="no alias 'champion'"):
        registry.get_model_version_by_alias("churn", "champion")


def test_models_uris_resolve_to_the_version_they_name(
    registry: RegistryClient, model_dir: str
) -> None:
    for _ in range(3):
        registry.register_model(model_dir, "churn")
    registry.transition_model_version_stage("churn", 2, "Production")
    registry.set_registered_model_alias("churn", "champion", 1)
    resolved = {
        uri: registry.resolve(uri).version
        for uri in [
            "models:/churn/3",
            "models:/churn/Production",
            "models:/churn/production",
            "models:/churn/latest",
            "models:/churn@champion",
        ]
    }
    assert resolved == {
        "models:/churn/3": 3,
        "models:/churn/Production": 2,
        "models:/churn/production": 2,
        "models:/churn/latest": 3,
        "models:/churn@champion": 1,
    }
    with pytest.raises(NotFoundError, match="no version of model 'churn' is in stage Staging"):
        registry.resolve("models:/churn/Staging")
    with pytest.raises(NotFoundError, match="has no version 9"):
        registry.resolve("models:/churn/9")
    with pytest.raises(NotFoundError, match="'nope' does not exist"):
        registry.resolve("models:/nope/1")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("models:/churn", "names no version, stage or alias"),
        ("models:/churn/Prod", "neither a version number, a stage nor 'latest'"),
        ("models:/churn/1/extra", "cannot read model URI"),
        ("models:/churn@latest", "reserved"),
        ("runs:/abc/model", "not a models:/ URI"),
    ],
)
def test_bad_models_uris_say_how_to_write_them(uri: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_models_uri(uri)


def test_bad_input_is_rejected_naming_the_value(registry: RegistryClient, model_dir: str) -> None:
    registry.register_model(model_dir, "churn")
    with pytest.raises(InvalidInputError, match="'a/b' contains '/'"):
        registry.register_model(model_dir, "a/b")
    with pytest.raises(InvalidInputError, match="stage 'Live' is not a stage"):
        registry.transition_model_version_stage("churn", 1, "Live")
    with pytest.raises(InvalidInputError, match="version 'one' of model 'churn'"):
        registry.get_model_version("churn", "one")
    with pytest.raises(InvalidInputError, match="alias 'v2' of model 'churn' is reserved"):
        registry.set_registered_model_alias("churn", "v2", 1)
    with pytest.raises(InvalidInputError, match="alias 'has space'"):
        registry.set_registered_model_alias("churn", "has space", 1)
    with pytest.raises(NotFoundError, match="has no version 2; its versions are \\[1\\]"):
        registry.transition_model_version_stage("churn", 2, "Production")
    with pytest.raises(NotFoundError, match="no MLmodel file"):
        registry.register_model(str(Path(model_dir).parent), "churn")
    with pytest.raises(InvalidInputError, match="already exists"):
        registry.create_registered_model("churn")
    # Nothing above was written: still one version, in stage None, without aliases.
    assert _stages(registry, "churn") == {1: "None"}
    assert registry.get_registered_model("churn").aliases == {}


def test_search_filters_and_orders(registry: RegistryClient, model_dir: str) -> None:
    registry.create_registered_model("churn", tags={"team": "risk"}, description="d")
    for name in ["churn", "churn", "fraud"]:
        registry.register_model(model_dir, name)
    registry.set_model_version_tag("churn", 2, "data set", "2026-10")
    registry.transition_model_version_stage("churn", 2, "Production")

    def found(text: str, **kwargs: object) -> list[tuple[str, int]]:
        return [(v.name, v.version) for v in registry.search_model_versions(text, **kwargs)]  # type: ignore[arg-type]

    assert found("") == [("churn", 2), ("churn", 1), ("fraud", 1)]
    assert found("name LIKE 'ch%'") == [("churn", 2), ("churn", 1)]
    assert found("name ILIKE 'CH%' AND version < 2") == [("churn", 1)]
    assert found("current_stage = 'Production'") == [("churn", 2)]
    assert found("tags.`data set` = '2026-10'") == [("churn", 2)]
    assert found("name IN ('fraud', 'x')") == [("fraud", 1)]
    assert found("", order_by=["version ASC", "name DESC"], max_results=2) == [
        ("fraud", 1),
        ("churn", 1),
    ]
    models = registry.search_registered_models("tags.team = 'risk'")
    assert [m.name for m in models] == ["churn"]
    assert [m.name for m in registry.search_registered_models(order_by=["name DESC"])] == [
        "fraud",
        "churn",
    ]
    with pytest.raises(SearchSyntaxError, match="unknown field 'colour'"):
        registry.search_model_versions("colour = 'red'")
    with pytest.raises(SearchSyntaxError, match="expected AND"):
        registry.search_model_versions("name = 'a' OR name = 'b'")


def test_tracking_client_registry_still_works_but_is_deprecated(
    client: TrackingClient, model_dir: str
) -> None:
    """The registry builds on tracking: the old way in keeps working, with a warning."""
    with pytest.warns(DeprecationWarning, match=r"RegistryClient\(client\)"):
        old = client.registry
    assert isinstance(old, RegistryClient) and old.store is client.store
    old.register_model(model_dir, "churn")
    assert RegistryClient(client).get_model_version("churn", 1).source.endswith("model")


def test_registry_clients_of_one_store_share_what_they_read(
    client: TrackingClient, model_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new RegistryClient per call (the fluent functions make one each) does not
    re-read the registry table while it has not changed."""
    RegistryClient(client).register_model(model_dir, "churn")
    RegistryClient(client).get_registered_model("churn")  # folds and caches this version
    scans: list[str] = []
    original = client.store.scan

    def counting(table: str, *args: object, **kwargs: object) -> object:
        scans.append(table)
        return original(table, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(client.store, "scan", counting)
    for _ in range(3):
        assert RegistryClient(client).get_model_version("churn", 1).version == 1
    assert scans == []


def test_a_rename_carries_versions_stages_aliases_tags_and_history(
    registry: RegistryClient, model_dir: str
) -> None:
    registry.create_registered_model("old", tags={"team": "risk"})
    first = registry.register_model(model_dir, "old")
    registry.register_model(model_dir, "old")
    registry.transition_model_version_stage("old", 2, "Production")
    registry.set_registered_model_alias("old", "champion", 1)
    renamed = registry.rename_registered_model("old", "new")
    assert renamed.name == "new"
    assert renamed.tags == {"team": "risk"}
    assert renamed.aliases == {"champion": 1}
    assert _stages(registry, "new") == {1: "None", 2: "Production"}
    assert registry.resolve("models:/new@champion").version == 1
    history = registry.get_model_history("new")
    assert [t.kind for t in history] == ["registered", "registered", "stage", "alias", "renamed"]
    assert (history[-1].from_value, history[-1].to_value) == ("old", "new")
    # Times and users of the copied events are the originals'.
    assert registry.get_model_version("new", 1).creation_timestamp == first.creation_timestamp
    with pytest.raises(NotFoundError, match="'old' does not exist"):
        registry.get_registered_model("old")
    # The old name is a deleted model's: registering it again continues its numbering.
    assert registry.register_model(model_dir, "old").version == 3
    with pytest.raises(AlreadyExistsError, match="'new'"):
        registry.rename_registered_model("old", "new")
    registry.delete_registered_model("old")
    with pytest.raises(InvalidInputError, match="deleted model had that name"):
        registry.rename_registered_model("new", "old")
    with pytest.raises(NotFoundError):
        registry.rename_registered_model("missing", "other")
    # The next version of the renamed model goes on from its numbering.
    assert registry.register_model(model_dir, "new").version == 3


def test_a_versions_description_or_tags_leave_its_models_timestamp(
    registry: RegistryClient, model_dir: str
) -> None:
    registry.register_model(model_dir, "churn")
    before = registry.get_registered_model("churn").last_updated_timestamp
    # Millisecond timestamps: the changes below must come after `before` to tell.
    deadline = time.monotonic() + 5
    while now_ms() <= before and time.monotonic() < deadline:
        time.sleep(0.001)
    registry.update_model_version("churn", 1, "first")
    registry.set_model_version_tag("churn", 1, "k", "v")
    assert registry.get_registered_model("churn").last_updated_timestamp == before
    assert registry.get_model_version("churn", 1).last_updated_timestamp > before
    registry.transition_model_version_stage("churn", 1, "Staging")
    assert registry.get_registered_model("churn").last_updated_timestamp > before
