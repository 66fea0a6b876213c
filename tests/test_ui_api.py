"""The UI's JSON API, through FastAPI's test client on a store built with the tracking API.

Bad input gets the answer the issue asks for: a malformed filter 400 with the position,
an unknown run/model 404, a path leaving the run's artifacts 404, no token 401, a
change to a read-only UI 403; page sizes and curve sizes are bounded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from deltalake import DeltaTable
from fastapi.testclient import TestClient

import sparktrack
from sparktrack.errors import ConfigurationError, SearchSyntaxError
from sparktrack.search import parse_filter
from sparktrack.tracking import TrackingClient
from sparktrack.ui import create_app
from sparktrack.ui._downsample import lttb
from tests._processes import child_env, python, run_child, start, wait_for
from tests._ui_store import WIDE_KEYS, UiStore, build_module_store, build_ui_store

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> UiStore:
    return build_module_store(tmp_path_factory, "ui-api")


def _client(uri: str, **options: Any) -> Iterator[TestClient]:
    app = create_app(uri, **options)
    with TestClient(app) as http:
        yield http
    app.state.ui.client.close()


@pytest.fixture(scope="module")
def api(built: UiStore) -> Iterator[TestClient]:
    yield from _client(built.uri)


@pytest.fixture
def writable(tmp_path: Path) -> Iterator[tuple[TestClient, UiStore]]:
    """A UI that allows changes, on a store of the test's own (changes would leak)."""
    fresh = build_ui_store(str(tmp_path / "store"))
    for http in _client(fresh.uri, allow_writes=True):
        yield http, fresh


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) >= {"error_code", "message"}, body
    return body


# -- the runs table -----------------------------------------------------------------------
def test_a_malformed_filter_is_a_400_with_the_position_the_grammar_reports(
    api: TestClient, built: UiStore
) -> None:
    body = _error(api.get("/api/runs", params={"filter": "metrics.acc >> 1"}), 400)
    assert body["error_code"] == "INVALID_FILTER"
    assert body["position"] == 13
    assert "position 13" in body["message"]
    body = _error(api.get("/api/runs", params={"filter": "params.lr = 'x' AND"}), 400)
    assert body["position"] == len("params.lr = 'x' AND")
    body = _error(api.get("/api/runs", params={"order_by": "metrics.acc SIDEWAYS"}), 400)
    assert body["error_code"] == "INVALID_FILTER"


def test_search_errors_carry_their_position() -> None:
    with pytest.raises(SearchSyntaxError) as raised:
        parse_filter("metrics.acc > 0.5 AND tags.x ~ 'y'")
    assert raised.value.position == len("metrics.acc > 0.5 AND tags.x ")


def test_runs_filter_sort_and_chosen_columns(api: TestClient, built: UiStore) -> None:
    page = api.get(
        "/api/runs",
        params={
            "experiment_id": built.experiment_id,
            "filter": "attributes.run_name LIKE 'lr-%' AND metrics.acc > 0.6",
            "order_by": "metrics.`acc` DESC",
            "metrics": "acc,loss",
            "params": "lr",
            "tags": "team",
        },
    ).json()
    names = [row["run_name"] for row in page["rows"]]
    assert names == ["lr-4", "lr-3", "lr-2", "lr-1"]
    first = page["rows"][0]
    assert set(first["metrics"]) == {"acc", "loss"}
    assert first["params"] == {"lr": "0.05"}
    assert first["tags"] == {"team": "core"}
    assert first["duration_ms"] == first["end_time"] - first["start_time"] == 2_000
    assert page["total"] == 4 and page["running"] == 0


def test_nested_runs_are_listed_under_their_parent(api: TestClient, built: UiStore) -> None:
    grouped = api.get("/api/runs", params={"experiment_id": built.experiment_id}).json()
    tops = {row["run_id"]: row for row in grouped["rows"]}
    assert grouped["total"] == 7  # five runs, the tuning parent, the sweep
    tuning = tops[built.parent_id]
    assert tuning["child_count"] == 3
    assert {c["run_id"] for c in tuning["children"]} == set(built.child_ids)
    assert all(c["parent_run_id"] == built.parent_id for c in tuning["children"])
    assert tops[built.sweep_id]["child_count"] == 8
    flat = api.get(
        "/api/runs", params={"experiment_id": built.experiment_id, "nested": "false"}
    ).json()
    assert flat["total"] == 7 + 3 + 8
    # A nested run whose parent does not match is a row of its own.
    alone = api.get(
        "/api/runs",
        params={"experiment_id": built.experiment_id, "filter": "params.lr = '0.2'"},
    ).json()
    assert [row["run_id"] for row in alone["rows"]] == [built.child_ids[1]]


def test_the_runs_page_reads_only_the_columns_it_shows(
    api: TestClient, built: UiStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[Any] = []
    original = TrackingClient.search_runs

    def recorded(self: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs.get("columns"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(TrackingClient, "search_runs", recorded)
    shown = {"metrics": "acc", "params": "lr", "tags": "team"}
    params = {"experiment_id": built.experiment_id, "order_by": "metrics.acc DESC", **shown}
    page = api.get("/api/runs", params=params).json()
    monkeypatch.undo()
    # At 100,000 runs, every param, metric and tag of every matching run is a GiB.
    assert asked and all(columns is not None for columns in asked), asked
    wanted = {"tags.mlflow.parentRunId", "metrics.acc", "params.lr", "tags.team"}
    assert set().union(*asked) <= wanted, asked
    client = api.app.state.ui.client  # type: ignore[attr-defined]
    full = client.search_runs([built.experiment_id], order_by=["metrics.acc DESC"])
    expected = full.set_index("run_id")

    def check(rows: list[dict[str, Any]]) -> int:
        count = 0
        for row in rows:
            truth = expected.loc[row["run_id"]]
            assert row["metrics"].get("acc") == (
                None if pd.isna(truth.get("metrics.acc")) else truth["metrics.acc"]
            )
            assert row["params"].get("lr") == (
                None if pd.isna(truth.get("params.lr")) else truth["params.lr"]
            )
            assert row["tags"].get("team") == (
                None if pd.isna(truth.get("tags.team")) else truth["tags.team"]
            )
            count += 1 + check(row.get("children") or [])
        return count

    assert check(page["rows"]) == len(full)  # every run, top-level or nested, checked
    tops = [r for r in full["run_id"] if pd.isna(expected.loc[r].get("tags.mlflow.parentRunId"))]
    assert [row["run_id"] for row in page["rows"]] == tops  # in the search's order


def test_the_app_starts_reading_the_store_before_the_first_request(
    built: UiStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    searched = threading.Event()
    original = TrackingClient.search_runs

    def recorded(self: Any, *args: Any, **kwargs: Any) -> Any:
        searched.set()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(TrackingClient, "search_runs", recorded)
    app = create_app(built.uri)
    try:
        # No request yet: the first runs page of a new server finds the fold done.
        wait_for(searched.is_set, "the app's own search ahead of any request")
        app.state.warm_up.join(timeout=120)
        assert not app.state.warm_up.is_alive()
        with TestClient(app) as http:
            page = http.get("/api/runs", params={"experiment_id": built.experiment_id})
            assert page.status_code == 200 and page.json()["total"] == 7, page.text
    finally:
        app.state.ui.client.close()


def test_paging_is_bounded_and_pages_do_not_overlap(api: TestClient, built: UiStore) -> None:
    for bad in ({"limit": 0}, {"limit": 1_001}, {"offset": -1}, {"limit": "many"}):
        body = _error(api.get("/api/runs", params=bad), 400)
        assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    seen: list[str] = []
    for offset in range(0, 8, 3):
        page = api.get(
            "/api/runs",
            params={"experiment_id": built.experiment_id, "limit": 3, "offset": offset},
        ).json()
        assert page["limit"] == 3 and page["total"] == 7
        seen += [row["run_id"] for row in page["rows"]]
    assert len(seen) == len(set(seen)) == 7


def test_thousands_of_keys_are_searched_by_prefix(api: TestClient, built: UiStore) -> None:
    def keys(q: str, limit: int = 200) -> dict[str, Any]:
        params = {"kind": "params", "experiment_id": built.wide_experiment_id, "q": q}
        found: dict[str, Any] = api.get("/api/runs/keys", params={**params, "limit": limit}).json()
        return found

    prefixed = keys("P12")
    assert prefixed["total"] == 100 and not prefixed["truncated"]
    assert prefixed["keys"] == [f"p{n}" for n in range(1200, 1300)]
    inside = keys("99", limit=5)
    every = [f"p{n:04d}" for n in range(WIDE_KEYS)]
    assert inside["total"] == sum("99" in k for k in every)
    assert inside["truncated"] and len(inside["keys"]) == 5
    everything = api.get(
        "/api/runs/keys",
        params={"kind": "params", "experiment_id": built.wide_experiment_id, "limit": 50},
    ).json()
    assert everything["total"] == WIDE_KEYS
    assert everything["truncated"] and len(everything["keys"]) == 50
    assert everything["keys"] == sorted(everything["keys"])
    _error(api.get("/api/runs/keys", params={"kind": "params", "limit": 1_001}), 400)
    _error(api.get("/api/runs/keys", params={"kind": "secrets"}), 400)


def test_experiments_with_run_counts_last_activity_and_name_search(
    api: TestClient, built: UiStore
) -> None:
    listed = {e["name"]: e for e in api.get("/api/experiments").json()["experiments"]}
    assert listed["churn"]["run_count"] == 18
    assert listed["churn"]["last_activity"] == 1_700_000_720_000  # the sweep's end
    assert listed["empty"]["run_count"] == 0 and listed["empty"]["last_activity"] is None
    searched = api.get("/api/experiments", params={"q": "CHU"}).json()["experiments"]
    assert [e["name"] for e in searched] == ["churn"]
    # Names only (what the runs page asks for): the same experiments, no runs read.
    bare = api.get("/api/experiments", params={"counts": "false"}).json()["experiments"]
    assert [e["name"] for e in bare] == list(listed)
    assert {(e["run_count"], e["last_activity"]) for e in bare} == {(0, None)}


# -- one run, curves, compare -------------------------------------------------------------
def test_unknown_runs_models_and_sweeps_are_404(api: TestClient, built: UiStore) -> None:
    for path in (
        "/api/runs/0123456789abcdef0123456789abcdef",
        "/api/runs/not-a-run-id",
        "/api/runs/0123456789abcdef0123456789abcdef/artifacts",
        "/api/registry/models/no-such-model",
        "/api/runs?experiment_id=424242",
        "/api/runs/keys?kind=tags&experiment_id=424242",
        f"/api/sweeps/{built.runs['lr-1']}",  # a run, but not a sweep's
    ):
        assert _error(api.get(path), 404)["error_code"] == "RESOURCE_DOES_NOT_EXIST", path
    missing = api.get(
        "/api/metric-history", params={"run_id": "0123456789abcdef0123456789abcdef", "key": "a"}
    )
    _error(missing, 404)


def test_a_run_with_facts_inputs_parent_and_children(api: TestClient, built: UiStore) -> None:
    run = api.get(f"/api/runs/{built.runs['lr-0']}").json()
    assert run["params"] == {"lr": "0.1", "depth": "3", "optimizer": "adam"}
    assert set(run["metrics"]) == {"acc", "loss"}
    assert run["facts"]["User"] == run["tags"]["mlflow.user"]
    assert run["experiment_name"] == "churn"
    assert run["inputs"][0]["name"] == "customers"
    assert run["inputs"][0]["source"] == {"path": "/data/customers", "version": 3}
    assert run["parent"] is None and run["children"] == [] and not run["sweep"]
    parent = api.get(f"/api/runs/{built.parent_id}").json()
    assert [c["run_id"] for c in parent["children"]] == built.child_ids
    child = api.get(f"/api/runs/{built.child_ids[0]}").json()
    assert child["parent"]["run_id"] == built.parent_id
    assert api.get(f"/api/runs/{built.sweep_id}").json()["sweep"]


def test_curves_are_downsampled_within_bounds(api: TestClient, built: UiStore) -> None:
    run_id = built.runs["lr-0"]
    answer = api.get(
        "/api/metric-history", params={"run_id": run_id, "key": "loss", "max_points": 100}
    ).json()
    (series,) = answer["series"]
    assert series["total_points"] == built.long_steps
    assert series["downsampled"] and len(series["x"]) <= 100
    assert series["x"][0] == 0 and series["x"][-1] == built.long_steps - 1  # ends kept
    assert series["y"][0] == pytest.approx(1.1)  # the first (largest) value survives
    assert series["x"] == sorted(series["x"])
    full = api.get(
        "/api/metric-history",
        params={"run_id": run_id, "key": ["loss", "acc"], "max_points": 10_000},
    ).json()
    assert [len(s["x"]) for s in full["series"]] == [built.long_steps] * 2
    assert not full["series"][0]["downsampled"]
    default = api.get("/api/metric-history", params={"run_id": run_id, "key": "loss"}).json()
    assert len(default["series"][0]["x"]) <= 2_000
    for bad in (9, 10_001):
        _error(
            api.get(
                "/api/metric-history", params={"run_id": run_id, "key": "loss", "max_points": bad}
            ),
            400,
        )
    by_time = api.get(
        "/api/metric-history", params={"run_id": run_id, "key": "loss", "x": "time"}
    ).json()["series"][0]
    assert by_time["x"][0] == 0.0  # seconds since the run started
    wall = api.get(
        "/api/metric-history",
        params={"run_id": run_id, "key": "loss", "x": "wall", "max_points": 10_000},
    ).json()["series"][0]
    assert wall["x"][-1] == 1_700_000_000_000 + (built.long_steps - 1) * 100


def test_lttb_keeps_spikes_ends_and_non_finite_points() -> None:
    x = np.arange(10_000, dtype=float)
    y = np.sin(x / 500)
    y[4_321] = 50.0
    y[7_000] = np.nan
    kept = lttb(x, y, 200)
    assert len(kept) <= 200
    assert kept[0] == 0 and kept[-1] == 9_999
    assert 4_321 in kept and 7_000 in kept
    assert list(kept) == sorted(kept)
    assert list(lttb(x[:50], y[:50], 200)) == list(range(50))


def test_compare_marks_what_differs(api: TestClient, built: UiStore) -> None:
    ids = [built.runs["lr-0"], built.runs["lr-2"], built.runs["lr-4"]]
    answer = api.get("/api/compare", params={"run_id": ids}).json()
    assert [r["run_name"] for r in answer["runs"]] == ["lr-0", "lr-2", "lr-4"]
    params = {row["key"]: row for row in answer["params"]}
    assert params["optimizer"]["differs"] is False
    assert params["lr"] == {"key": "lr", "values": ["0.1", "0.1", "0.05"], "differs": True}
    assert params["depth"]["values"] == ["3", "7", "3"]
    assert {row["key"] for row in answer["metrics"]} == {"acc", "loss"}
    _error(api.get("/api/compare", params={"run_id": [*ids, "0" * 32]}), 404)


def test_a_runs_source_snapshot_is_listed_and_its_files_read_as_text(
    api: TestClient, built: UiStore
) -> None:
    run_id = built.runs["lr-0"]
    client = api.app.state.ui.client  # type: ignore[attr-defined]
    stored = client.get_source_snapshot(run_id)
    answer = api.get(f"/api/runs/{run_id}/snapshot").json()
    assert answer["digest"] == stored.digest
    names = [f["name"] for f in answer["files"]]
    assert {"requirements.txt", "environment.json"} <= set(names)
    assert names == sorted(stored.files[1:])  # every file but the manifest, by name
    text = api.get(f"/api/runs/{run_id}/snapshot/file", params={"name": "requirements.txt"})
    assert text.status_code == 200 and text.headers["content-type"] == "application/json"
    assert text.json()["text"] == stored.read("requirements.txt").decode()
    assert "pyspark==" in text.json()["text"]
    facts = api.get(f"/api/runs/{run_id}").json()["facts"]
    assert facts["Source snapshot"] == stored.digest
    # No such file, a run without a snapshot, a run that does not exist: 404.
    _error(api.get(f"/api/runs/{run_id}/snapshot/file", params={"name": "../x"}), 404)
    _error(api.get(f"/api/runs/{built.runs['lr-1']}/snapshot"), 404)
    _error(api.get(f"/api/runs/{'0' * 32}/snapshot"), 404)


def test_compare_and_its_curves_read_the_runs_in_one_search_each(
    api: TestClient, built: UiStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: Counter[str] = Counter()
    names = (
        "get_run",
        "get_metric_history",
        "get_metric_history_frame",
        "get_metric_history_frames",
        "search_runs",
    )
    for name in names:
        original = getattr(TrackingClient, name)

        def counted(
            self: Any, *args: Any, _name: str = name, _original: Any = original, **kwargs: Any
        ) -> Any:
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(TrackingClient, name, counted)
    ids = [built.runs[f"lr-{i}"] for i in (3, 0, 4, 1, 2)]
    compared = api.get("/api/compare", params={"run_id": ids}).json()
    curves = api.get("/api/metric-history", params={"run_id": ids, "key": "acc", "x": "time"})
    assert curves.status_code == 200, curves.text
    # One search per request, and one columnar read for every curve: no run read alone.
    assert calls == {"search_runs": 2, "get_metric_history_frames": 1}, calls
    monkeypatch.undo()
    client = api.app.state.ui.client  # type: ignore[attr-defined]
    runs = [client.get_run(run_id) for run_id in ids]
    assert [r["run_id"] for r in compared["runs"]] == ids  # in the order asked
    assert [r["status"] for r in compared["runs"]] == [r.info.status for r in runs]
    for row in compared["metrics"]:
        assert row["values"] == [r.data.metrics.get(row["key"]) for r in runs]
    for row in compared["params"]:
        assert row["values"] == [r.data.params.get(row["key"]) for r in runs]
    for series in curves.json()["series"]:
        [run] = [r for r in runs if r.info.run_id == series["run_id"]]
        history = client.get_metric_history(run.info.run_id, "acc")
        assert series["x"][0] == (history[0].timestamp - run.info.start_time) / 1000
    for unknown in ("0" * 32, "x') OR (run_id != 'y", "not a run id"):
        _error(api.get("/api/compare", params={"run_id": [ids[0], unknown]}), 404)
        params = {"run_id": [ids[0], unknown], "key": "acc", "x": "time"}
        _error(api.get("/api/metric-history", params=params), 404)
        _error(api.get("/api/metric-history", params={"run_id": unknown, "key": "acc"}), 404)


def test_sweep_summary(api: TestClient, built: UiStore) -> None:
    sweep = api.get(f"/api/sweeps/{built.sweep_id}").json()
    assert sweep["name"] == "churn-sweep" and sweep["metric"] == "auc"
    assert sweep["state_counts"] == {
        "complete": 6,
        "pruned": 1,
        "failed": 1,
        "running": 0,
        "killed": 0,
    }
    assert [t["number"] for t in sweep["trials"]] == list(range(8))
    assert [t["run_id"] for t in sweep["trials"]] == built.trial_ids
    values = [t["value"] for t in sweep["trials"] if t["state"] == "complete"]
    best = [v for v in sweep["best_so_far"] if v is not None]
    assert best == sorted(best) and best[-1] == max(values)
    assert sweep["trials"][sweep["best_trial"]]["value"] == max(values)
    assert set(sweep["importances"]) == {"reg", "depth"}
    assert sum(sweep["importances"].values()) == pytest.approx(1.0)


# -- artifacts ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "../../../../etc/passwd",
        "/etc/passwd",
        "data/../../other-run/secret.txt",
        "..\\..\\secret.txt",
        "notes.txt\x00.png",
        "missing.txt",
        "data",  # a folder is not a file
    ],
)
def test_paths_outside_the_runs_artifacts_are_404(
    api: TestClient, built: UiStore, path: str
) -> None:
    base = f"/api/runs/{built.runs['lr-0']}/artifacts"
    for route in ("/preview", "/raw"):
        _error(api.get(base + route, params={"path": path}), 404)


def test_a_link_out_of_the_runs_artifacts_is_404(api: TestClient, built: UiStore) -> None:
    run_id = built.runs["lr-1"]
    api.get(f"/api/runs/{run_id}")  # the run exists
    secret = Path(built.uri).parent / "secret.txt"
    secret.write_text("not the run's")
    folder = Path(built.uri) / "artifacts" / built.experiment_id / run_id / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    os.symlink(secret, folder / "link.txt")
    for route in ("/preview", "/raw"):
        response = api.get(f"/api/runs/{run_id}/artifacts{route}", params={"path": "link.txt"})
        _error(response, 404)


def test_artifact_previews_of_each_kind(api: TestClient, built: UiStore) -> None:
    base = f"/api/runs/{built.runs['lr-0']}/artifacts"
    listing = api.get(base).json()
    kinds = {f["name"]: f["kind"] for f in listing["files"]}
    assert kinds["config.json"] == "json" and kinds["model"] == "dir"
    inner = api.get(base, params={"path": "model"}).json()["files"]
    assert [(f["path"], f["kind"]) for f in inner] == [("model/MLmodel", "mlmodel")]

    def preview(path: str) -> dict[str, Any]:
        response = api.get(base + "/preview", params={"path": path})
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    assert preview("notes.txt")["text"].startswith("hello from the run")
    assert '"layers": [' in preview("config.json")["text"]
    assert preview("params.yaml")["kind"] == "yaml"
    table = preview("data/sample.csv")
    assert table["columns"] == ["plan", "age", "churned"]
    assert table["rows"] == [["basic", "31", "no"], ["premium", "45", "yes"]]
    model = preview("model/MLmodel")["mlmodel"]
    assert model["flavors"] == ["python_function", "spark"]
    assert [c["name"] for c in model["signature"]["inputs"]] == ["age", "plan"]
    assert preview("plots/roc.png")["kind"] == "image"
    assert preview("weights.bin")["kind"] == "binary"


def test_raw_artifacts_never_execute(api: TestClient, built: UiStore) -> None:
    base = f"/api/runs/{built.runs['lr-0']}/artifacts/raw"
    html = api.get(base, params={"path": "report.html"})
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/plain")
    assert html.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in html.headers["content-security-policy"]
    image = api.get(base, params={"path": "plots/roc.png"})
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    binary = api.get(base, params={"path": "weights.bin"})
    assert binary.headers["content-disposition"].startswith("attachment;")
    assert binary.content == bytes(range(256))
    download = api.get(base, params={"path": "notes.txt", "download": "true"})
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''notes.txt"


# -- registry -----------------------------------------------------------------------------
def test_registry_models_versions_history_and_serve_command(
    api: TestClient, built: UiStore
) -> None:
    (listed,) = api.get("/api/registry/models").json()["models"]
    assert listed["name"] == "churn-model" and listed["version_count"] == 2
    model = api.get("/api/registry/models/churn-model").json()
    assert [v["version"] for v in model["versions"]] == [2, 1]
    assert model["versions"][1]["current_stage"] == "Staging"
    assert model["versions"][0]["run_id"] == built.runs["lr-0"]
    assert model["versions"][0]["serve_command"] == (
        f"sparktrack --store {built.uri} serve models:/churn-model/2"
    )
    kinds = [(t["kind"], t["version"], t["to_value"]) for t in model["history"]]
    assert ("stage", 1, "Staging") in kinds
    assert model["stages"] == ["None", "Staging", "Production", "Archived"]


# -- guards -------------------------------------------------------------------------------
def test_writes_are_403_when_read_only_and_change_nothing(api: TestClient, built: UiStore) -> None:
    attempts = [
        api.post("/api/registry/models/churn-model/versions/2/stage", json={"stage": "Production"}),
        api.put("/api/registry/models/churn-model/aliases/champion", json={"version": 2}),
        api.patch(f"/api/runs/{built.runs['lr-1']}", json={"run_name": "renamed"}),
        api.post(f"/api/runs/{built.runs['lr-1']}/tags", json={"key": "k", "value": "v"}),
        api.delete(f"/api/runs/{built.runs['lr-1']}"),
    ]
    for response in attempts:
        assert _error(response, 403)["error_code"] == "PERMISSION_DENIED"
    assert "--allow-writes" in attempts[0].json()["message"]
    model = api.get("/api/registry/models/churn-model").json()
    assert [v["current_stage"] for v in model["versions"]] == ["None", "Staging"]
    assert model["model"]["aliases"] == {}
    run = api.get(f"/api/runs/{built.runs['lr-1']}").json()
    assert run["run_name"] == "lr-1" and "k" not in run["tags"]
    assert run["lifecycle_stage"] == "active"


def test_writes_follow_the_registry_rules_when_allowed(
    writable: tuple[TestClient, UiStore],
) -> None:
    http, built = writable
    base = "/api/registry/models/churn-model"
    moved = http.post(f"{base}/versions/2/stage", json={"stage": "staging"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["current_stage"] == "Staging"
    versions = http.get(base).json()["versions"]
    # Staging holds one version: promoting v2 archived v1 in the same commit.
    assert [(v["version"], v["current_stage"]) for v in versions] == [
        (2, "Staging"),
        (1, "Archived"),
    ]
    assert _error(http.post(f"{base}/versions/2/stage", json={"stage": "Prod"}), 400)
    assert _error(http.post(f"{base}/versions/9/stage", json={"stage": "Production"}), 404)
    assert http.put(f"{base}/aliases/champion", json={"version": 2}).status_code == 200
    assert http.get(base).json()["model"]["aliases"] == {"champion": 2}
    assert http.delete(f"{base}/aliases/champion").status_code == 200
    assert http.get(base).json()["model"]["aliases"] == {}

    run_id = built.runs["lr-3"]
    assert http.patch(f"/api/runs/{run_id}", json={"run_name": "best"}).status_code == 200
    assert http.post(f"/api/runs/{run_id}/tags", json={"key": "k", "value": "v"}).status_code == 200
    run = http.get(f"/api/runs/{run_id}").json()
    assert run["run_name"] == "best" and run["tags"]["k"] == "v"
    bad_tag = http.post(f"/api/runs/{run_id}/tags", json={"key": "", "value": "v"})
    assert _error(bad_tag, 400)["error_code"] == "INVALID_PARAMETER_VALUE"
    assert http.delete(f"/api/runs/{run_id}/tags", params={"key": "k"}).status_code == 200
    assert http.delete(f"/api/runs/{run_id}").status_code == 200
    assert http.get(f"/api/runs/{run_id}").json()["lifecycle_stage"] == "deleted"
    _error(http.patch("/api/runs/" + "0" * 32, json={"run_name": "x"}), 404)


def test_change_bodies_and_origins_are_checked(writable: tuple[TestClient, UiStore]) -> None:
    http, built = writable
    url = f"/api/runs/{built.runs['lr-2']}/tags"
    huge = http.post(url, json={"key": "k", "value": "v" * (2 << 20)})
    assert _error(huge, 413)["error_code"] == "REQUEST_TOO_LARGE"
    foreign = http.post(
        url, json={"key": "k", "value": "v"}, headers={"Origin": "http://evil.example"}
    )
    assert _error(foreign, 403)["error_code"] == "PERMISSION_DENIED"
    assert "k" not in http.get(f"/api/runs/{built.runs['lr-2']}").json()["tags"]


def test_a_token_is_required_when_given(built: UiStore) -> None:
    for http in _client(built.uri, token=TOKEN):
        for path in ("/api/experiments", "/openapi.json", f"/api/runs/{built.runs['lr-0']}"):
            response = http.get(path)
            assert _error(response, 401)["error_code"] == "UNAUTHENTICATED", path
            assert response.headers["www-authenticate"] == "Bearer"
        wrong = http.get("/api/experiments", headers={"Authorization": "Bearer nope"})
        _error(wrong, 401)
        basic = http.get("/api/experiments", headers={"Authorization": f"Basic {TOKEN}"})
        _error(basic, 401)
        latin = "Bearer s3cr\xe9t".encode("latin-1")  # a header's bytes need not be ASCII
        odd = http.get("/api/experiments", headers={"Authorization": latin})
        _error(odd, 401)
        right = http.get("/api/experiments", headers={"Authorization": f"Bearer {TOKEN}"})
        assert right.status_code == 200
        # The page holds no data: it loads, then asks for the token.
        assert http.get("/").status_code == 200
        assert http.get("/static/app.js").status_code == 200


def _asset_addresses(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/assets/[0-9a-f]{12}/[^"]+)"', page)


def test_every_answer_carries_the_security_headers(api: TestClient) -> None:
    (uplot,) = [a for a in _asset_addresses(api.get("/").text) if a.endswith("uPlot.esm.js")]
    for path in ("/", "/api/experiments", "/static/app.js", uplot):
        response = api.get(path)
        assert response.status_code == 200, path
        assert response.headers["x-content-type-options"] == "nosniff"
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self';" in csp
        script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
        assert "unsafe" not in script_src  # no inline or evaluated scripts
    assert api.get(uplot).headers["content-type"].startswith("text/javascript")


def test_the_pages_files_are_fetched_once_per_browser_under_an_address_naming_them(
    api: TestClient,
) -> None:
    page = api.get("/")
    assert page.headers["cache-control"] == "no-cache"  # the page itself: always fresh
    addresses = _asset_addresses(page.text)
    # Every module is announced up front (the browser fetches them at once), the
    # entry point and the style sheets among them.
    modules = {a.split("/", 3)[3] for a in addresses if a.endswith(".js")}
    assert {"app.js", "charts.js", "pages/runs.js", "vendor/uplot/uPlot.esm.js"} <= modules
    assert {a.split("/", 3)[3] for a in addresses if a.endswith(".css")} == {
        "style.css",
        "vendor/uplot/uPlot.min.css",
    }
    for address in addresses:
        answer = api.get(address)
        assert answer.status_code == 200, address
        assert "immutable" in answer.headers["cache-control"], address
        assert answer.content == api.get("/static/" + address.split("/", 3)[3]).content
    # An address of other content (an older package's) is not served as if it were this.
    assert api.get("/assets/000000000000/app.js").status_code == 404
    # What the header shows comes with the page, as JSON (no request needed for it).
    info_block = r'<script type="application/json" id="server-info">(.*?)</script>'
    (info,) = re.findall(info_block, page.text)
    assert json.loads(info) == {"version": sparktrack.__version__, "allow_writes": False}


def test_the_wheel_ships_the_pages_and_their_charting_library(tmp_path: Path) -> None:
    # What an air-gapped cluster gets from `pip install sparktrack[ui]`: every file the
    # pages load is inside the package, uPlot with its licence.
    repo = Path(__file__).resolve().parents[1]
    run_child(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path, repo],
        timeout=600,
    )
    (wheel,) = tmp_path.glob("sparktrack-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    static = Path(__file__).resolve().parents[1] / "sparktrack" / "ui" / "static"
    needed = {
        "sparktrack/ui/static/" + p.relative_to(static).as_posix()
        for p in static.rglob("*")
        if p.is_file()
    }
    assert "sparktrack/ui/static/vendor/uplot/LICENSE" in needed
    assert needed <= shipped, sorted(needed - shipped)


def test_openapi_documents_the_api(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    for path in (
        "/api/experiments",
        "/api/runs",
        "/api/runs/keys",
        "/api/runs/{run_id}",
        "/api/metric-history",
        "/api/compare",
        "/api/runs/{run_id}/artifacts",
        "/api/sweeps/{run_id}",
        "/api/registry/models/{name}",
        "/api/registry/models/{name}/versions/{version}/stage",
    ):
        assert path in schema["paths"], path
    assert "RunPage" in schema["components"]["schemas"]
    assert api.get("/docs").status_code == 404  # its page would load scripts from a CDN


def test_importing_the_ui_loads_none_of_its_extras() -> None:
    code = (
        "import sys, sparktrack.cli, sparktrack.ui\n"
        "loaded = [m for m in ('fastapi', 'pydantic', 'starlette', 'uvicorn')"
        " if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    run_child(python("-c", code), env=child_env())


def test_a_missing_extra_is_a_configuration_error(
    built: UiStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # what an uninstalled package does
    with pytest.raises(ConfigurationError, match=r"pip install 'sparktrack\[ui\]'"):
        create_app(built.uri)


def test_the_command_refuses_a_missing_store_and_bad_options(tmp_path: Path) -> None:
    missing = run_child(
        python("-m", "sparktrack.cli", "--store", str(tmp_path / "nowhere"), "ui"),
        env=child_env(sparktrack_settings=False),
        expect=1,
    )
    assert "error: no sparktrack store" in missing.stderr, missing.explain()
    assert not (tmp_path / "nowhere").exists()  # looking did not create one
    usage = run_child(
        python("-m", "sparktrack.cli", "ui", "--port", "70000"),
        env=child_env(sparktrack_settings=False),
        expect=2,
    )
    assert "--port" in usage.stderr, usage.explain()


# -- a read-only UI writes nothing --------------------------------------------------------
def _store_files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as answer:
        return json.loads(answer.read())


def test_a_read_only_ui_on_a_read_only_store_shows_a_dead_run_killed_and_writes_nothing(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPARKTRACK_JOURNAL_DIR", str(tmp_path / "journal"))
        client = TrackingClient(str(store))
        experiment_id = client.create_experiment("ghosts")
        # A run whose driver died an hour ago on another machine: a start event, then
        # silence (no heartbeat, no end) far beyond the heartbeat timeout.
        an_hour_ago = int(time.time() * 1000) - 3_600_000
        client.store.append(
            "runs",
            [
                {
                    "run_id": "ghost0001",
                    "experiment_id": experiment_id,
                    "event": "start",
                    "status": "RUNNING",
                    "run_name": "ghost",
                    "start_time": an_hour_ago,
                    "artifact_uri": str(store / "artifacts" / "ghost0001"),
                    "event_time": an_hour_ago * 1000,
                }
            ],
        )
        client.close()
    before = _store_files(store)
    tables = sorted({Path(name).parts[0] for name in before if "_delta_log" in name})
    versions = {table: DeltaTable(str(store / table)).version() for table in tables}
    subprocess.run(["chmod", "-R", "a-w", str(store)], check=True)
    # root writes to read-only files anyway: the server runs without that privilege.
    privileged = os.geteuid() == 0
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]
    command = [
        *(drop if privileged else []),
        *python("-m", "sparktrack.cli", "--store", str(store), "ui", "--port", "0"),
    ]
    env = child_env(sparktrack_settings=False, SPARKTRACK_JOURNAL_DIR=str(tmp_path / "ui-journal"))
    try:
        with start(command, stderr_dir=tmp_path, env=env, name="ui-server") as server:
            url = server.expect_line("sparktrack UI at ")[-1].rstrip("/")
            run = _get_json(f"{url}/api/runs/ghost0001")
            assert run["status"] == "KILLED", server.explain("the dead run")
            assert run["end_time"] == an_hour_ago  # its last sign of life
            page = _get_json(f"{url}/api/runs?experiment_id={experiment_id}")
            assert [r["status"] for r in page["rows"]] == ["KILLED"]
            compared = _get_json(f"{url}/api/compare?run_id=ghost0001")
            assert [r["status"] for r in compared["runs"]] == ["KILLED"]
            # Asked again: still KILLED, judged anew (nothing was stored to remember it).
            assert _get_json(f"{url}/api/runs/ghost0001")["status"] == "KILLED"
            server.stop()
            assert server.process.returncode in (0, -15), server.explain("the UI server")
            errors = server.stderr()
            assert "Error" not in errors and "Traceback" not in errors, errors
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(store)], check=True)
    assert _store_files(store) == before
    assert {t: DeltaTable(str(store / t)).version() for t in tables} == versions
    journal = tmp_path / "ui-journal"
    pending = (
        [p for p in journal.rglob("*") if p.is_file() and p.stat().st_size]
        if journal.exists()
        else []
    )
    assert not pending, f"the read-only UI journaled records: {pending}"
