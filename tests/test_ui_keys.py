"""The column chooser's keys and the chart's downsampling, as fast as the UI needs them.

``/api/runs/keys`` lists the keys of the chosen experiments' runs from the tables a
search keeps, without a search's frame of every column of every run: the keys are the
ones that frame would have had. LTTB picks the points the straightforward loop over
buckets picks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from sparktrack.errors import InvalidInputError
from sparktrack.tracking import TrackingClient, _reader, _run_keys
from sparktrack.ui import create_app
from sparktrack.ui._downsample import lttb

KINDS = ("params", "metrics", "tags")
VIEWS = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three experiments whose runs have keys of their own, shared keys and deleted tags."""
    root = tmp_path_factory.mktemp("ui-keys")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPARKTRACK_JOURNAL_DIR", str(root / "journal"))
        client = TrackingClient(str(root / "store"))
        ids = [client.create_experiment(name) for name in ("a", "b", "c")]
        for e, eid in enumerate(ids):
            for r in range(3):
                run = client.create_run(eid, run_name=f"{e}-{r}").info.run_id
                client.log_params(run, {"shared": r, f"only_{e}": r, f"run_{e}_{r}": 1})
                for step in range(3):
                    client.log_metric(run, f"loss_{e}", 1.0 / (step + 1), step=step)
                client.log_metric(run, "Acc", 0.5)
                client.set_tags(run, {"team": "x", f"gone_{e}": "y", f"back_{e}": "z"})
                # Deleted: absent everywhere; deleted then set again: present.
                client.delete_tag(run, f"gone_{e}")
                client.delete_tag(run, f"back_{e}")
                client.set_tag(run, f"back_{e}", "again")
                if r == 2:
                    client.delete_tag(run, "team")
            deleted = client.create_run(eid, run_name=f"{e}-deleted").info.run_id
            client.log_param(deleted, f"deleted_param_{e}", 1)
            client.log_metric(deleted, f"deleted_metric_{e}", 1.0)
            client.set_tag(deleted, f"deleted_tag_{e}", "1")
            client.delete_run(deleted)
        client.close()
        return {"uri": str(root / "store"), "ids": ids}


@pytest.fixture(scope="module")
def reader(store: dict[str, Any]) -> Iterator[TrackingClient]:
    client = TrackingClient(store["uri"], record_verdicts=False)
    yield client
    client.close()


def _searched(client: TrackingClient, kind: str, ids: list[str] | None, view: str) -> list[str]:
    """The keys as the full search's columns name them (what the listing used to be)."""
    frame = client.search_runs(ids, "", view)  # type: ignore[arg-type]
    prefix = f"{kind}."
    return sorted(str(c)[len(prefix) :] for c in frame.columns if str(c).startswith(prefix))


def test_listed_keys_are_those_of_a_full_search(
    store: dict[str, Any], reader: TrackingClient
) -> None:
    ids: list[str] = store["ids"]
    choices: list[list[str] | None] = [None, ids, *[[i] for i in ids], ids[:2], ids[1:]]
    for chosen in choices:
        for view in VIEWS:
            for kind in KINDS:
                listed = reader.list_run_keys(kind, chosen, view)  # type: ignore[arg-type]
                assert listed == _searched(reader, kind, chosen, view), (chosen, view, kind)
    tags = reader.list_run_keys("tags", [ids[0]])
    assert "gone_0" not in tags and "back_0" in tags and "team" in tags
    assert reader.list_run_keys("params", [ids[1]]) == sorted(
        ["shared", "only_1", "run_1_0", "run_1_1", "run_1_2"]
    )
    assert reader.list_run_keys("metrics", [ids[2]], "DELETED_ONLY") == ["deleted_metric_2"]
    assert reader.list_run_keys("metrics", ["424242"]) == []


def test_listing_keys_of_many_runs_reads_the_key_columns_only(
    store: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids: list[str] = store["ids"]
    choices: list[list[str] | None] = [None, *[[i] for i in ids], ids[1:], ["424242"]]
    cases = [(chosen, view, kind) for chosen in choices for view in VIEWS for kind in KINDS]
    small = TrackingClient(store["uri"], record_verdicts=False)
    expected = [small.list_run_keys(kind, chosen, view) for chosen, view, kind in cases]  # type: ignore[arg-type]
    small.close()
    # Searched as a store above the whole tables' limit is (a million runs).
    monkeypatch.setattr(_reader, "WHOLE_TABLES_UP_TO", 0)
    # Runs looked up after each row group: rows of keys found already are skipped.
    monkeypatch.setattr(_run_keys, "_FIRST_LOOKUP_ROWS", 1)
    large = TrackingClient(store["uri"], record_verdicts=False)
    columns_read: list[tuple[str, list[str] | None]] = []
    scan, scan_appended = large.store.scan, large.store.scan_appended

    def scanned(table: str, **options: Any) -> Any:
        columns_read.append((table, options.get("columns")))
        return scan(table, **options)

    def appended(table: str, seen: Any, **options: Any) -> Any:
        columns_read.append((table, options.get("columns")))
        return scan_appended(table, seen, **options)

    monkeypatch.setattr(large.store, "scan", scanned)
    monkeypatch.setattr(large.store, "scan_appended", appended)
    listed = [large.list_run_keys(kind, chosen, view) for chosen, view, kind in cases]  # type: ignore[arg-type]
    large.close()
    assert listed == expected
    keyed = [(table, columns) for table, columns in columns_read if table in KINDS]
    assert keyed and all(columns and "value" not in columns for _, columns in keyed), keyed


def test_listing_keys_refuses_bad_kinds_and_views(reader: TrackingClient) -> None:
    with pytest.raises(InvalidInputError, match="secrets"):
        reader.list_run_keys("secrets")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        reader.list_run_keys("tags", None, "SOME")  # type: ignore[arg-type]


def test_the_key_route_lists_without_searching(
    store: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(store["uri"])
    client: TrackingClient = app.state.ui.client

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a search of every column of every run, to list key names")

    expected = {
        kind: {eid: _searched(client, kind, [eid], "ACTIVE_ONLY") for eid in store["ids"]}
        for kind in KINDS
    }
    monkeypatch.setattr(client, "search_runs", refuse)
    with TestClient(app) as http:
        for kind in KINDS:
            for eid in store["ids"]:
                answer = http.get("/api/runs/keys", params={"kind": kind, "experiment_id": eid})
                assert answer.status_code == 200, answer.text
                assert answer.json()["keys"] == expected[kind][eid]
        both = http.get(
            "/api/runs/keys",
            params={"kind": "params", "experiment_id": store["ids"][:2], "q": "RUN_", "limit": 4},
        ).json()
        runs = [f"run_{e}_{r}" for e in range(2) for r in range(3)]
        assert both == {"kind": "params", "keys": runs[:4], "total": 6, "truncated": True}
        inside = http.get("/api/runs/keys", params={"kind": "tags", "q": "ACK_"}).json()
        assert inside["keys"] == ["back_0", "back_1", "back_2"]
    client.close()


# -- downsampling -------------------------------------------------------------------------
def _loop_lttb(x: np.ndarray, y: np.ndarray, limit: int) -> np.ndarray:
    """LTTB as a loop over buckets, one slice and two means each (the reference)."""
    count = len(x)
    if count <= limit or limit < 3:
        return np.arange(count)
    finite = np.isfinite(y)
    if not finite.all():
        kept = _loop_lttb(x[finite], y[finite], max(3, limit - int((~finite).sum())))
        return np.sort(np.concatenate([np.flatnonzero(finite)[kept], np.flatnonzero(~finite)]))
    xf, yf = x.astype(float), y.astype(float)
    edges = np.linspace(1, count - 1, limit - 1).astype(int)
    chosen = np.empty(limit, dtype=int)
    chosen[0], chosen[-1] = 0, count - 1
    previous = 0
    for bucket in range(limit - 2):
        start, stop = edges[bucket], edges[bucket + 1]
        if bucket + 2 < len(edges):
            next_start, next_stop = edges[bucket + 1], edges[bucket + 2]
        else:
            next_start, next_stop = count - 1, count
        mean_x = xf[next_start:next_stop].mean()
        mean_y = yf[next_start:next_stop].mean()
        px, py = xf[previous], yf[previous]
        areas = np.abs(
            (px - mean_x) * (yf[start:stop] - py) - (px - xf[start:stop]) * (mean_y - py)
        )
        previous = start + int(np.argmax(areas))
        chosen[bucket + 1] = previous
    return np.unique(chosen)


def test_lttb_picks_the_points_the_loop_over_buckets_picks() -> None:
    rng = np.random.default_rng(20261129)
    for case in range(200):
        count = int(rng.integers(3, 20_000))
        limit = int(rng.integers(3, 2_500))
        x = np.sort(rng.random(count) * 1e6) if case % 2 else np.arange(count)
        y = rng.standard_normal(count)
        if case % 3:
            y = y.cumsum()
        if case % 4 == 0:
            y = np.round(y, 1)  # ties between areas
        if case % 5 == 0:
            y[rng.integers(0, count, 3)] = np.nan
        kept = lttb(x, y, limit)
        assert np.array_equal(kept, _loop_lttb(x, y, limit)), (case, count, limit)
        assert len(kept) <= max(limit, 3) or count <= limit
        assert kept[0] == 0 and kept[-1] == count - 1


def test_lttb_of_a_long_curve_keeps_2000_points_with_its_ends() -> None:
    x = np.arange(100_000)
    y = np.sin(x / 500.0) + np.random.default_rng(1).normal(0, 0.1, x.size)
    kept = lttb(x, y, 2_000)
    assert len(kept) == 2_000 and kept[0] == 0 and kept[-1] == 99_999
    assert np.all(np.diff(kept) > 0)
    assert np.array_equal(kept, _loop_lttb(x, y, 2_000))
