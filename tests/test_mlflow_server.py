"""The MLflow-protocol server at the HTTP level: shapes, error codes, tokens, limits, pages.

Requests go to the app in this process (FastAPI's TestClient) on a Delta store of the
test's: what MLflow's client sends, spelled out, and what it must get back. The same
server under MLflow's own client is tests/test_mlflow_client.py.
"""

from __future__ import annotations

import base64
import json
import math
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sparktrack import TrackingClient
from sparktrack.mlflow_server import create_app
from sparktrack.mlflow_server._app import MAX_JSON_BODY_BYTES
from sparktrack.mlflow_server._history_sampling import sampled_steps
from tests._mlflow_client import running_server
from tests._s3_server import S3Server

API = "/api/2.0/mlflow"
AJAX = "/ajax-api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


class Api:
    """MLflow's REST calls against the app; each returns (status, JSON body)."""

    def __init__(self, http: TestClient, prefix: str = API) -> None:
        self.http = http
        self.prefix = prefix

    def post(self, path: str, body: Any, /) -> tuple[int, dict[str, Any]]:
        answer = self.http.post(self.prefix + path, json=body)
        return answer.status_code, answer.json()

    def get(self, path: str, /, **params: Any) -> tuple[int, dict[str, Any]]:
        answer = self.http.get(self.prefix + path, params=params)
        return answer.status_code, answer.json()

    def ok(self, path: str, body: Any = None, /, **params: Any) -> dict[str, Any]:
        status, found = self.get(path, **params) if body is None else self.post(path, body)
        assert status == 200, (path, status, found)
        return found

    def experiment(self, name: str) -> str:
        return str(self.ok("/experiments/create", {"name": name})["experiment_id"])

    def run(self, experiment_id: str, **fields: Any) -> str:
        created = self.ok("/runs/create", {"experiment_id": experiment_id, **fields})
        return str(created["run"]["info"]["run_id"])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TrackingClient]:
    client = TrackingClient(str(tmp_path / "store"))
    yield client
    client.close()


@pytest.fixture
def api(store: TrackingClient) -> Iterator[Api]:
    with TestClient(create_app(store)) as http:
        yield Api(http)


def test_a_run_in_mlflow_s_shape_and_in_the_store(api: Api, store: TrackingClient) -> None:
    experiment_id = api.experiment("shapes")
    tags = [{"key": "mlflow.user", "value": "ana"}, {"key": "team", "value": "risk"}]
    run_id = api.run(experiment_id, run_name="first", start_time=1000, tags=tags)
    batch = {
        "run_id": run_id,
        "metrics": [
            {"key": "loss", "value": 0.5, "timestamp": 1001, "step": 1},
            {"key": "loss", "value": 0.25, "timestamp": 1002, "step": 2},
            {"key": "odd", "value": "NaN", "timestamp": 1003},
        ],
        "params": [{"key": "lr", "value": "0.1"}],
        "tags": [{"key": "stage", "value": "dev"}],
    }
    api.ok("/runs/log-batch", batch)
    api.ok("/runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": 2000})
    run = api.ok("/runs/get", run_id=run_id)["run"]
    assert run["info"] == {
        "run_id": run_id,
        "run_uuid": run_id,
        "run_name": "first",
        "experiment_id": experiment_id,
        "user_id": "ana",
        "status": "FINISHED",
        "start_time": 1000,
        "end_time": 2000,
        "artifact_uri": f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts",
        "lifecycle_stage": "active",
    }
    assert run["data"]["metrics"] == [
        {"key": "loss", "value": 0.25, "timestamp": 1002, "step": 2},
        {"key": "odd", "value": "NaN", "timestamp": 1003, "step": 0},
    ]
    assert run["data"]["params"] == [{"key": "lr", "value": "0.1"}]
    assert {"key": "stage", "value": "dev"} in run["data"]["tags"]
    assert {"key": "mlflow.runName", "value": "first"} in run["data"]["tags"]
    assert run["inputs"] == {"dataset_inputs": []}
    assert run["outputs"] == {"model_outputs": []}
    # The same run through sparktrack's own API: one store, one code path.
    stored = store.get_run(run_id)
    assert stored.info.status == "FINISHED" and stored.info.end_time == 2000
    assert stored.data.params == {"lr": "0.1"} and stored.data.tags["team"] == "risk"
    assert stored.data.metrics["loss"] == 0.25 and math.isnan(stored.data.metrics["odd"])


def test_both_prefixes_serve_every_endpoint(api: Api) -> None:
    experiment_id = api.experiment("prefixes")
    ajax = Api(api.http, AJAX)
    assert ajax.ok("/experiments/get", experiment_id=experiment_id)["experiment"]["name"] == (
        "prefixes"
    )
    run_id = ajax.run(experiment_id)
    assert api.ok("/runs/get", run_id=run_id)["run"]["info"]["run_id"] == run_id


@pytest.mark.parametrize(
    ("call", "status", "code", "message"),
    [
        (("get", "/runs/get", {"run_id": "f" * 32}), 404, "RESOURCE_DOES_NOT_EXIST", "f" * 32),
        (
            ("get", "/experiments/get", {"experiment_id": "42"}),
            404,
            "RESOURCE_DOES_NOT_EXIST",
            "42",
        ),
        (
            ("get", "/experiments/get-by-name", {"experiment_name": "nope"}),
            404,
            "RESOURCE_DOES_NOT_EXIST",
            "nope",
        ),
        (
            ("post", "/experiments/create", {}),
            400,
            "INVALID_PARAMETER_VALUE",
            "Missing value for required parameter 'name'",
        ),
        (
            ("post", "/experiments/create", {"name": 123}),
            400,
            "INVALID_PARAMETER_VALUE",
            "Invalid value 123 for parameter 'name'",
        ),
        (
            ("post", "/runs/log-metric", {"run_id": 31, "key": "m", "value": 1, "timestamp": 1}),
            400,
            "INVALID_PARAMETER_VALUE",
            "Invalid value 31 for parameter 'run_id'",
        ),
        (
            ("post", "/runs/search", {"max_results": 123456789}),
            400,
            "INVALID_PARAMETER_VALUE",
            "max_results",
        ),
        (
            ("post", "/runs/search", {"filter": "metrics.auc >> 1"}),
            400,
            "INVALID_PARAMETER_VALUE",
            "metrics.auc >> 1",
        ),
        (
            ("post", "/runs/search", {"page_token": "not-a-token"}),
            400,
            "INVALID_PARAMETER_VALUE",
            "page_token",
        ),
        (
            ("post", "/runs/search", {"run_view_type": "SOME"}),
            400,
            "INVALID_PARAMETER_VALUE",
            "run_view_type",
        ),
        (("post", "/no/such/thing", {}), 404, "ENDPOINT_NOT_FOUND", "/no/such/thing"),
        (("get", "/runs/create", {}), 404, "ENDPOINT_NOT_FOUND", "runs/create"),
    ],
)
def test_errors_carry_mlflow_s_codes_and_statuses(
    api: Api, call: tuple[str, str, dict[str, Any]], status: int, code: str, message: str
) -> None:
    method, path, fields = call
    found_status, found = api.post(path, fields) if method == "post" else api.get(path, **fields)
    assert (found_status, found["error_code"]) == (status, code), found
    assert message in found["message"], found


def test_an_existing_name_and_refused_changes_say_why(api: Api) -> None:
    experiment_id = api.experiment("taken")
    status, found = api.post("/experiments/create", {"name": "taken"})
    assert (status, found["error_code"]) == (400, "RESOURCE_ALREADY_EXISTS"), found
    status, found = api.post(
        "/experiments/update", {"experiment_id": experiment_id, "new_name": "other"}
    )
    assert (status, found["error_code"]) == (501, "NOT_IMPLEMENTED"), found
    assert "derives an experiment's id from its name" in found["message"]
    status, found = api.post(
        "/experiments/set-experiment-tag",
        {"experiment_id": experiment_id, "key": "k", "value": "v"},
    )
    assert (status, found["error_code"]) == (501, "NOT_IMPLEMENTED"), found
    status, found = api.post("/experiments/create", {"name": "b", "artifact_location": "s3://x"})
    assert (status, found["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), found


JSON = {"Content-Type": "application/json"}


def test_a_body_that_is_not_a_json_object_is_refused(api: Api, store: TrackingClient) -> None:
    create = API + "/experiments/create"
    answer = api.http.post(create, content=b"{not json", headers=JSON)
    assert answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    answer = api.http.post(create, content=b"[1, 2]", headers=JSON)
    assert answer.status_code == 400 and "JSON object" in answer.json()["message"]
    # Older MLflow clients encode the object twice: accepted, as MLflow's server does.
    twice = json.dumps(json.dumps({"name": "twice"})).encode()
    assert api.http.post(create, content=twice, headers=JSON).status_code == 200
    assert store.get_experiment_by_name("twice") is not None


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_write_that_is_not_declared_json_is_refused(
    api: Api, store: TrackingClient, content_type: str | None
) -> None:
    # What a web page can send to 127.0.0.1 without the browser asking the server first.
    headers = {} if content_type is None else {"Content-Type": content_type}
    body = json.dumps({"name": "from-a-web-page"}).encode()
    answer = api.http.post(API + "/experiments/create", content=body, headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Content-Type" in answer.json()["message"]
    assert store.get_experiment_by_name("from-a-web-page") is None


def test_a_body_over_the_limit_is_refused_and_logs_nothing(api: Api, store: TrackingClient) -> None:
    run_id = api.run(api.experiment("limits"))
    padding = "x" * (MAX_JSON_BODY_BYTES + 1)
    body = json.dumps({"run_id": run_id, "key": "big", "value": padding}).encode()
    answer = api.http.post(API + "/runs/set-tag", content=body, headers=JSON)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert f"at most {MAX_JSON_BODY_BYTES} bytes" in answer.json()["message"]
    assert "big" not in store.get_tags(run_id)


def test_log_batch_refuses_what_mlflow_refuses_and_logs_nothing(
    api: Api, store: TrackingClient
) -> None:
    run_id = api.run(api.experiment("batches"))
    too_many = [{"key": f"p{i}", "value": "1"} for i in range(101)]
    no_timestamp = [{"key": "mae", "value": 2.5}]
    for bad in ({"params": too_many}, {"metrics": no_timestamp}, {"metrics": "foo"}):
        status, found = api.post("/runs/log-batch", {"run_id": run_id, **bad})
        assert (status, found["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), (bad, found)
    run = store.get_run(run_id)
    assert run.data.params == {} and run.data.metrics == {}
    # A timestamp without a step is enough; the step is then 0.
    api.ok("/runs/log-batch", {"run_id": run_id, "metrics": [{**no_timestamp[0], "timestamp": 7}]})
    assert [(m.step, m.timestamp) for m in store.get_metric_history(run_id, "mae")] == [(0, 7)]


def test_a_token_guards_the_api_and_the_artifacts_only(store: TrackingClient) -> None:
    with TestClient(create_app(store, token="s3cret")) as http:
        for path in (API + "/experiments/search", ARTIFACTS + "?path=0"):
            missing = http.get(path)
            assert missing.status_code == 401, missing.text
            assert missing.json()["error_code"] == "UNAUTHENTICATED"
            assert missing.headers["www-authenticate"] == "Bearer"
            wrong = http.get(path, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            right = http.get(path, headers={"Authorization": "Bearer s3cret"})
            assert right.status_code == 200, right.text
        # Other paths belong to what is mounted beside the API (the UI has its own guard).
        assert http.get("/").status_code == 404


def test_run_search_pages_through_a_total_order(api: Api) -> None:
    experiment_id = api.experiment("pages")
    # One start time for all: the order falls back to run ids, as in MLflow's stores.
    run_ids = sorted(api.run(experiment_id, start_time=1) for _ in range(5))
    seen, token = [], None
    for _ in range(3):
        body: dict[str, Any] = {"experiment_ids": [experiment_id], "max_results": 2}
        if token:
            body["page_token"] = token
        page = api.ok("/runs/search", body)
        seen.append([run["info"]["run_id"] for run in page["runs"]])
        token = page.get("next_page_token")
        if token:
            assert json.loads(base64.b64decode(token)) == {"offset": 2 * len(seen)}
    assert seen == [run_ids[0:2], run_ids[2:4], run_ids[4:]]
    assert token is None


def test_run_search_filters_and_orders_with_the_full_grammar(api: Api) -> None:
    experiment_id = api.experiment("grammar")
    for index, (auc, kind) in enumerate([(0.7, "a"), (0.9, "b"), (0.8, "a"), (0.6, "b")]):
        run_id = api.run(experiment_id, run_name=f"r{index}")
        api.ok(
            "/runs/log-batch",
            {
                "run_id": run_id,
                "metrics": [{"key": "auc", "value": auc, "timestamp": 1, "step": 0}],
                "params": [{"key": "kind", "value": kind}],
            },
        )
    body = {
        "experiment_ids": [experiment_id],
        "filter": "metrics.auc >= 0.7 AND params.kind IN ('a', 'b') "
        "AND attributes.run_name LIKE 'r%'",
        "order_by": ["metrics.auc DESC"],
    }
    found = api.ok("/runs/search", body)["runs"]
    assert [run["info"]["run_name"] for run in found] == ["r1", "r2", "r0"]
    # GET with the query string works the same (MLflow's UI uses it for some views).
    status, answer = api.get(
        "/runs/search", experiment_ids=experiment_id, filter="params.kind = 'b'"
    )
    assert status == 200 and {r["info"]["run_name"] for r in answer["runs"]} == {"r1", "r3"}


def test_deleted_runs_are_seen_by_the_view_type_asked_for(api: Api) -> None:
    experiment_id = api.experiment("views")
    kept, gone = api.run(experiment_id), api.run(experiment_id)
    api.ok("/runs/delete", {"run_id": gone})

    def ids(view: str) -> set[str]:
        body = {"experiment_ids": [experiment_id], "run_view_type": view}
        return {run["info"]["run_id"] for run in api.ok("/runs/search", body)["runs"]}

    assert (ids("ACTIVE_ONLY"), ids("DELETED_ONLY"), ids("ALL")) == (
        {kept},
        {gone},
        {kept, gone},
    )
    api.ok("/runs/restore", {"run_id": gone})
    assert ids("ACTIVE_ONLY") == {kept, gone}


def test_experiment_search_filters_orders_and_pages(api: Api) -> None:
    for name in ("a", "ab", "Abc"):
        api.experiment(name)
    api.ok("/experiments/delete", {"experiment_id": api.experiment("gone")})

    def names(**body: Any) -> list[str]:
        return [e["name"] for e in api.ok("/experiments/search", body)["experiments"]]

    assert names(filter="attribute.name = 'a'") == ["a"]
    assert sorted(names(filter="name LIKE 'a%'")) == ["a", "ab"]
    assert sorted(names(filter="name ILIKE 'a%'")) == ["Abc", "a", "ab"]
    assert names(filter="tags.key = 'value'") == []
    assert names(order_by=["name DESC"]) == ["ab", "a", "Default", "Abc"]
    assert names(view_type="DELETED_ONLY") == ["gone"]
    first = api.ok("/experiments/search", {"max_results": 3, "order_by": ["name ASC"]})
    second = api.ok(
        "/experiments/search",
        {"max_results": 3, "order_by": ["name ASC"], "page_token": first["next_page_token"]},
    )
    assert [e["name"] for e in first["experiments"] + second["experiments"]] == [
        "Abc",
        "Default",
        "a",
        "ab",
    ]
    assert "next_page_token" not in second
    status, found = api.post("/experiments/search", {"filter": "name >> 'a'"})
    assert (status, found["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), found


def test_metric_history_pages_and_bulk_interval_sampling(api: Api) -> None:
    run_id = api.run(api.experiment("histories"))
    points = [{"key": "m", "value": float(i), "timestamp": 100 + i, "step": i} for i in range(10)]
    api.ok("/runs/log-batch", {"run_id": run_id, "metrics": points})
    everything = api.ok("/metrics/get-history", run_id=run_id, metric_key="m")["metrics"]
    assert everything == points
    first = api.ok("/metrics/get-history", run_id=run_id, metric_key="m", max_results=4)
    assert first["metrics"] == points[:4]
    rest = api.ok(
        "/metrics/get-history",
        run_id=run_id,
        metric_key="m",
        max_results=25,
        page_token=first["next_page_token"],
    )
    assert rest["metrics"] == points[4:] and "next_page_token" not in rest
    sampled = api.ok(
        "/metrics/get-history-bulk-interval", run_ids=[run_id], metric_key="m", max_results=5
    )["metrics"]
    assert [m["step"] for m in sampled] == [0, 2, 4, 6, 8, 9]
    assert all(m["run_id"] == run_id for m in sampled)
    status, found = api.get(
        "/metrics/get-history-bulk-interval", run_ids=[run_id], metric_key="m", start_step=1
    )
    assert status == 400 and "both must be specified" in found["message"]


@pytest.mark.parametrize(
    ("start", "end", "limit", "steps", "expected"),
    [
        # MLflow's own cases (tests/tracking/test_rest_tracking.py): evenly spaced, both
        # ends kept even past the limit; a short range whole; sparse steps.
        (0, 10, 5, list(range(10)), {0, 2, 4, 6, 8, 9}),
        (4, 8, 5, list(range(10)), {4, 5, 6, 7, 8}),
        (0, 100, 5, list(range(0, 101, 20)), {0, 20, 40, 60, 80, 100}),
        (0, 1000, 5, list(range(0, 1001, 10)), {0, 200, 400, 600, 800, 1000}),
    ],
)
def test_bulk_interval_samples_steps_as_mlflow_does(
    start: int, end: int, limit: int, steps: list[int], expected: set[int]
) -> None:
    assert sampled_steps([steps], limit, start, end) == expected


def test_runs_update_renames_ends_and_refuses_unknown_statuses(
    api: Api, store: TrackingClient
) -> None:
    run_id = api.run(api.experiment("updates"), run_name="before")
    info = api.ok("/runs/update", {"run_id": run_id, "run_name": "after"})["run_info"]
    assert (info["run_name"], info["status"]) == ("after", "RUNNING")
    info = api.ok("/runs/update", {"run_uuid": run_id, "status": "KILLED", "end_time": 5})[
        "run_info"
    ]
    assert (info["status"], info["end_time"]) == ("KILLED", 5)
    status, found = api.post("/runs/update", {"run_id": run_id, "status": "PAUSED"})
    assert (status, found["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), found
    api.ok("/runs/set-tag", {"run_id": run_id, "key": "mlflow.runName", "value": "third"})
    assert store.get_run(run_id).info.run_name == "third"


def test_tags_params_and_dataset_inputs(api: Api, store: TrackingClient) -> None:
    run_id = api.run(api.experiment("inputs"))
    api.ok("/runs/log-parameter", {"run_id": run_id, "key": "empty", "value": ""})
    api.ok("/runs/set-tag", {"run_id": run_id, "key": "gone", "value": "soon"})
    api.ok("/runs/delete-tag", {"run_id": run_id, "key": "gone"})
    status, found = api.post("/runs/delete-tag", {"run_id": run_id, "key": "never"})
    assert (status, found["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST"), found
    status, found = api.post(
        "/runs/log-parameter", {"run_id": run_id, "key": "empty", "value": "x"}
    )
    assert (status, found["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), found
    dataset = {
        "name": "iris",
        "digest": "f0f3e026",
        "source_type": "local",
        "source": json.dumps({"uri": "/data/iris.csv"}),
        "schema": json.dumps({"mlflow_colspec": [{"name": "a", "type": "long"}]}),
        "profile": json.dumps({"num_rows": 2, "num_elements": 6}),
    }
    context = {"key": "mlflow.data.context", "value": "train"}
    api.ok(
        "/runs/log-inputs",
        {"run_id": run_id, "datasets": [{"tags": [context], "dataset": dataset}], "models": []},
    )
    run = api.ok("/runs/get", run_id=run_id)["run"]
    assert run["data"]["params"] == [{"key": "empty", "value": ""}]
    assert "gone" not in {tag["key"] for tag in run["data"]["tags"]}
    [logged] = run["inputs"]["dataset_inputs"]
    assert logged["tags"] == [context]
    assert logged["dataset"] == {**dataset, "profile": json.dumps({"num_rows": 2})}
    [stored] = store.get_inputs(run_id)
    assert (stored.name, stored.digest, stored.context, stored.num_rows) == (
        "iris",
        "f0f3e026",
        "train",
        2,
    )


def test_artifacts_round_trip_through_the_proxy_onto_the_store(
    api: Api, store: TrackingClient
) -> None:
    experiment_id = api.experiment("artifacts")
    run_id = api.run(experiment_id)
    root = f"{experiment_id}/{run_id}/artifacts"
    # Larger than a chunk of the upload and download streams.
    blob = bytes(range(256)) * (3 * 4096 + 17)
    put = api.http.put(f"{ARTIFACTS}/{root}/model/weights.bin", content=blob)
    assert put.status_code == 200, put.text
    api.http.put(f"/ajax-api/2.0/mlflow-artifacts/artifacts/{root}/notes.txt", content=b"hi")
    got = api.http.get(f"{ARTIFACTS}/{root}/model/weights.bin")
    assert got.status_code == 200 and got.content == blob
    assert store.read_artifact(run_id, "notes.txt") == b"hi"
    listed = api.http.get(ARTIFACTS, params={"path": root}).json()
    assert listed == {
        "files": [
            {"path": "model", "is_dir": True},
            {"path": "notes.txt", "is_dir": False, "file_size": 2},
        ]
    }
    # MLflow's own listing endpoint, relative to the run's root.
    found = api.ok("/artifacts/list", run_id=run_id, path="model")
    assert found["root_uri"] == f"mlflow-artifacts:/{root}"
    assert found["files"] == [
        {"path": "model/weights.bin", "is_dir": False, "file_size": len(blob)}
    ]
    assert api.http.delete(f"{ARTIFACTS}/{root}/model").status_code == 200
    assert [f.path for f in store.list_artifacts(run_id)] == ["notes.txt"]
    missing = api.http.get(f"{ARTIFACTS}/{root}/model/weights.bin")
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize(
    "path",
    [
        # Encoded dots reach the server as "..": a client does not normalise them away.
        "%2e%2e/escape.txt",
        "0/%2e%2e/%2e%2e/escape.txt",
        "0/a%2f..%2f..%2f..%2fescape.txt",
        # Inside the tree but outside every experiment's folder (source snapshots live there).
        "snapshots/abc/escape.txt",
    ],
)
def test_artifact_paths_cannot_leave_the_experiments_folders(
    api: Api, store: TrackingClient, path: str
) -> None:
    for method in ("put", "get", "delete"):
        answer = api.http.request(method.upper(), f"{ARTIFACTS}/{path}", content=b"x")
        assert answer.status_code == 400, (method, answer.text)
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    listed = api.http.get(ARTIFACTS, params={"path": path.replace("%2e", ".").replace("%2f", "/")})
    assert listed.status_code == 400 and listed.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    _, base = store.artifacts.filesystem()
    store_root = Path(base).parent
    assert not [p for p in store_root.parent.rglob("escape.txt")]


def test_the_artifact_proxy_serves_an_s3_store(s3_server: S3Server, s3_env: dict[str, str]) -> None:
    client = TrackingClient(s3_server.new_prefix("s3a"))
    try:
        with TestClient(create_app(client)) as http:
            api = Api(http)
            experiment_id = api.experiment("on-s3")
            run_id = api.run(experiment_id)
            root = f"{experiment_id}/{run_id}/artifacts"
            blob = b"weights" * 200_000  # more than one chunk each way
            assert http.put(f"{ARTIFACTS}/{root}/model/w.bin", content=blob).status_code == 200
            assert http.get(f"{ARTIFACTS}/{root}/model/w.bin").content == blob
            listed = http.get(ARTIFACTS, params={"path": f"{root}/model"}).json()
            assert listed == {"files": [{"path": "w.bin", "is_dir": False, "file_size": len(blob)}]}
            # The same file through sparktrack's own API, from the bucket.
            assert client.read_artifact(run_id, "model/w.bin") == blob
            assert http.delete(f"{ARTIFACTS}/{root}/model/w.bin").status_code == 200
            assert client.list_artifacts(run_id, "model") == []
    finally:
        client.close()


@pytest.mark.slow
def test_the_cli_server_without_ui_refuses_other_host_names(tmp_path: Path) -> None:
    with running_server(tmp_path / "store", stderr_dir=tmp_path, arguments=["--no-ui"]) as server:
        # No UI: "/" is nobody's, and says so in MLflow's shape.
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(server.url + "/", timeout=30)
        assert missing.value.code == 404
        assert json.loads(missing.value.read())["error_code"] == "ENDPOINT_NOT_FOUND"
        # On loopback, a request naming another host (DNS rebinding) is refused.
        search = urllib.request.Request(
            server.url + API + "/experiments/search", headers={"Host": "attacker.example"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(search, timeout=30)
        assert refused.value.code == 400, server.stderr()
        with urllib.request.urlopen(server.url + API + "/experiments/search", timeout=30) as ok:
            assert [e["name"] for e in json.loads(ok.read())["experiments"]] == ["Default"]
