"""The UI's drift API: what ``sparktrack.monitor`` logged, per model version, over time.

The passes of tests/_drift_store.py are made by ``monitor`` itself on real Spark (the
API must read what it really writes); the test at scale logs thousands of passes by
hand with the same tags and metric names, and counts what the API reads.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from sparktrack.registry import RegistryClient
from sparktrack.tracking import TrackingClient
from sparktrack.ui import create_app
from tests._drift_store import FEATURES, MODEL, QUIET, DriftStore, drift_store, log_pass

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def built(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> DriftStore:
    return drift_store(spark, tmp_path_factory)


@pytest.fixture(scope="module")
def api(built: DriftStore) -> Iterator[TestClient]:
    client = TrackingClient(built.uri, record_verdicts=False)
    with TestClient(create_app(client)) as test_client:
        yield test_client
    client.close()


def _drift(api: TestClient, model: str, **params: str) -> dict[str, Any]:
    response = api.get(f"/api/registry/models/{model}/drift", params=params)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _utc_millis(text: str) -> int:
    stamp = pd.Timestamp(text)
    assert stamp.tzinfo is not None, f"{text!r}: monitor states window bounds with their offset"
    return int(stamp.value // 1_000_000)


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)


def test_each_pass_monitor_logged_is_read_per_version_in_time_order(
    api: TestClient, built: DriftStore
) -> None:
    answer = _drift(api, MODEL)
    assert answer["experiment"] == "monitoring"
    assert [v["version"] for v in answer["versions"]] == ["2", "1"]
    first = answer["versions"][1]
    reports = built.windowed.reports
    assert first["pass_count"] == 3 and not first["truncated"]
    passes = first["passes"]
    assert [p["run_id"] for p in passes] == built.windowed.run_ids  # monitor logs in time order
    for found, report in zip(passes, reports, strict=True):
        assert found["window"] == report["window"]
        assert found["window_start"] == _utc_millis(report["window_start"])
        assert found["window_end"] == _utc_millis(report["window_end"])
        assert found["time"] == found["window_start"]
        assert found["status"] == report["status"]
        assert found["run_status"] == "FINISHED"
        for row in report["columns"]:
            if row["role"] == "prediction":
                assert _close(found["prediction"]["psi"], row["psi"])
                continue
            for stat in ("psi", "js", "ks", "chi2_p", "null_delta", "unseen"):
                assert _close(found["drift"].get(stat, {}).get(row["column"]), row[stat]), (
                    stat,
                    row,
                )
        for row in report["decay"]:
            assert _close(found["decay"][row["metric"]], row["decay"])
            assert _close(found["current"][row["metric"]], row["current"])
        assert set(found["drift"]["psi"]) == set(FEATURES)
    assert [p["status"] for p in passes][-1] == "ALERT"

    # The latest pass per column, with the statuses and thresholds of its report.
    latest = first["latest"]
    assert latest["run_id"] == built.windowed.run_ids[-1] and latest["from_report"]
    statuses = {c["column"]: c["status"] for c in latest["columns"]}
    assert statuses == {r["column"]: r["status"] for r in reports[-1]["columns"]}
    assert statuses["x1"] == "ALERT" and "psi" in next(
        c["reasons"] for c in latest["columns"] if c["column"] == "x1"
    )
    assert latest["thresholds"]["psi"] == [0.1, 0.25]
    assert {d["metric"] for d in latest["decay"]} == {r["metric"] for r in reports[-1]["decay"]}


def test_a_pass_without_a_time_window_is_placed_at_its_runs_start(
    api: TestClient, built: DriftStore
) -> None:
    answer = _drift(api, MODEL, version="2")
    assert [v["version"] for v in answer["versions"]] == ["2"]
    (only,) = answer["versions"][0]["passes"]
    assert only["run_id"] == built.whole.run_id and only["window"] == "all"
    assert only["window_start"] is None and only["time"] == only["start_time"]
    assert only["decay"] == {}  # no labels given: no decay
    assert only["status"] == built.whole.status


def test_a_model_never_monitored_says_how_to_start(api: TestClient, built: DriftStore) -> None:
    answer = _drift(api, QUIET)
    assert answer["versions"] == []
    assert answer["how_to_start"].startswith(f"sparktrack --store {built.uri} monitor ")
    assert f"models:/{QUIET}/<version>" in answer["how_to_start"]
    assert _drift(api, MODEL, version="7")["versions"] == []
    # Passes of another experiment than the monitoring one: none there.
    assert _drift(api, MODEL, experiment="elsewhere")["experiment_id"] is None


def test_an_unknown_model_is_404(api: TestClient) -> None:
    response = api.get("/api/registry/models/no-such-model/drift")
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


PASSES = 2_500
T0 = 1_700_000_000_000


def test_thousands_of_passes_cost_one_search_and_one_report_per_version(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The experiment comes from the monitoring_experiment setting.
    monkeypatch.setenv("SPARKTRACK_MONITORING_EXPERIMENT", "prod-monitoring")
    client = TrackingClient(str(tmp_path / "store"))
    train = client.create_run(client.get_or_create_experiment("train").experiment_id)
    client.log_text(train.info.run_id, "flavors: {}\n", "model/MLmodel")
    registry = RegistryClient(client)
    for name in ("bulk", "bulk", "other"):
        registry.register_model(f"runs:/{train.info.run_id}/model", name)
    experiment_id = client.get_or_create_experiment("prod-monitoring").experiment_id
    ids = [
        log_pass(
            client,
            experiment_id,
            "bulk",
            "1",
            start_time=T0 + i * 1_000,
            status="ALERT" if i % 10 == 0 else "OK",
            psi={"x1": i / PASSES, f"only{i % 3}": 0.5},
        )
        for i in range(PASSES)
    ]
    for i in range(3):
        log_pass(client, experiment_id, "bulk", "2", start_time=T0 + i, status="OK", psi={"a": 0})
        log_pass(client, experiment_id, "other", "1", start_time=T0 + i, status="OK", psi={"b": 0})
    client.flush()

    calls: dict[str, list[Any]] = {"search_runs": [], "read_artifact": [], "get_run": []}
    for method in calls:
        original = getattr(client, method)

        def spy(*args: Any, _name: str = method, _original: Any = original, **kw: Any) -> Any:
            calls[_name].append((args, kw))
            return _original(*args, **kw)

        monkeypatch.setattr(client, method, spy)
    with TestClient(create_app(client)) as api:
        api.app.state.warm_up.join()  # its search is the app's, not the route's
        for found in calls.values():
            found.clear()
        answer = _drift(api, "bulk")

    assert answer["experiment"] == "prod-monitoring"
    assert [v["version"] for v in answer["versions"]] == ["2", "1"]
    bulk = answer["versions"][1]
    assert bulk["pass_count"] == PASSES and bulk["truncated"]
    shown = [p["run_id"] for p in bulk["passes"]]
    assert shown == ids[-len(shown) :] and len(shown) == 2_000  # the newest, oldest first
    last = bulk["passes"][-1]
    assert last["drift"]["psi"] == {"x1": (PASSES - 1) / PASSES, f"only{(PASSES - 1) % 3}": 0.5}
    assert last["decay"] == {"accuracy": 0.02} and last["prediction"] == {"psi": 0.01}
    assert not bulk["latest"]["from_report"] and bulk["latest"]["run_id"] == ids[-1]

    (search,) = calls["search_runs"]
    columns = search[1]["columns"]
    assert columns and all(
        c.startswith(("tags.sparktrack.monitor.", "metrics.drift.", "metrics.decay."))
        or c.startswith("metrics.current.")
        for c in columns
    ), columns
    assert calls["get_run"] == []
    assert len(calls["read_artifact"]) == 2  # the latest pass of each version
