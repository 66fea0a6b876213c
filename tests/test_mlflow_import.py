"""`sparktrack import-mlflow`: MLflow stores built by MLflow's own client, imported and
checked through sparktrack's API against what MLflow's client reports about them.

MLflow runs in its own environment (.venv-mlflow, `make setup-mlflow`), in child
processes: tests/_mlflow_store.py builds each store and dumps MLflow's view as JSON.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import sparktrack.store._tables as delta_tables
from sparktrack.cli import app
from sparktrack.errors import InvalidInputError, StoreError
from sparktrack.mlflow_import import ImportReport, import_mlflow
from sparktrack.models import resolve_model_uri
from sparktrack.registry import RegistryClient
from sparktrack.store import TABLE_NAMES
from sparktrack.tracking import LoggedModels, TrackingClient

pytestmark = pytest.mark.slow

BUILDER = Path(__file__).with_name("_mlflow_store.py")


def _mlflow_bin() -> Path:
    # The Makefile makes $(VENV)-mlflow beside the project's venv.
    for venv in (Path(sys.prefix + "-mlflow"), Path(__file__).parents[1] / ".venv-mlflow"):
        if (venv / "bin" / "python").exists():
            return venv / "bin"
    pytest.fail(
        f"MLflow's environment is missing ({sys.prefix}-mlflow): run make setup-mlflow",
        pytrace=False,
    )


def _mlflow_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "SPARKTRACK_"))}
    env.update(
        MLFLOW_ALLOW_FILE_STORE="true",  # MLflow 3 refuses a FileStore unless told
        MLFLOW_USER="ada",
        HOME=str(tmp),
        PYTHONPATH="",
    )
    return env


def _run_builder(tmp: Path, tracking_uri: str, *, build: bool = True) -> dict[str, Any]:
    out = tmp / ("view.json" if build else "served-view.json")
    env = _mlflow_env(tmp)
    env["MLFLOW_STORE_BUILD"] = "1" if build else "0"
    done = subprocess.run(
        [str(_mlflow_bin() / "python"), str(BUILDER), tracking_uri, str(tmp / "art"), str(out)],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"MLflow's client failed:\n{done.stderr[-4000:]}"
    view: dict[str, Any] = json.loads(out.read_text())
    return view


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("mlflow-sqlite")
    uri = f"sqlite:///{tmp}/mlflow.db"
    return uri, _run_builder(tmp, uri)


@pytest.fixture(scope="module")
def file_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("mlflow-files")
    view = _run_builder(tmp, f"file://{tmp}/mlruns")
    return str(tmp / "mlruns"), view


@pytest.fixture
def client(tmp_path: Path) -> TrackingClient:
    tracking = TrackingClient(str(tmp_path / "store"))
    yield tracking
    tracking.close()


def _history(tracking: TrackingClient, run_id: str, key: str) -> list[list[Any]]:
    return sorted(
        [m.step, m.timestamp, "NaN" if math.isnan(m.value) else m.value]
        for m in tracking.get_metric_history(run_id, key)
    )


def _artifacts(tracking: TrackingClient, run_id: str, path: str | None = None) -> dict[str, int]:
    found: dict[str, int] = {}
    for info in tracking.list_artifacts(run_id, path):
        if info.is_dir:
            found.update(_artifacts(tracking, run_id, info.path))
        else:
            found[info.path] = int(info.file_size or 0)
    return found


def check_matches(tracking: TrackingClient, view: dict[str, Any]) -> None:
    """Everything MLflow's client reported, as sparktrack's API reports it."""
    experiments = {e.experiment_id: e for e in tracking.search_experiments("ALL")}
    for expected in view["experiments"]:
        experiment = experiments[expected["experiment_id"]]
        assert experiment.name == expected["name"]
        assert experiment.lifecycle_stage == expected["lifecycle_stage"]
        assert experiment.creation_time == expected["creation_time"]
    for expected in view["runs"]:
        run = tracking.get_run(expected["run_id"])
        info = run.info
        assert info.experiment_id == expected["experiment_id"]
        assert info.run_name == expected["run_name"]
        assert info.user_id == expected["user_id"]
        assert info.status == expected["status"], expected["run_name"]
        assert info.start_time == expected["start_time"]
        assert info.end_time == expected["end_time"]
        assert info.lifecycle_stage == expected["lifecycle_stage"]
        assert info.parent_run_id == expected["tags"].get("mlflow.parentRunId")
        assert run.data.params == expected["params"]
        assert run.data.tags == expected["tags"]
        assert set(run.data.metrics) == set(expected["metrics"])
        for key, points in expected["metrics"].items():
            assert _history(tracking, info.run_id, key) == points, key
        inputs = [
            {
                "name": d.name,
                "digest": d.digest,
                "source": d.source,
                "schema": d.schema,
                "context": d.context,
            }
            for d in tracking.get_inputs(info.run_id)
        ]
        wanted = [{k: v for k, v in d.items() if k != "source_type"} for d in expected["inputs"]]
        assert inputs == wanted
        artifacts = _artifacts(tracking, info.run_id)
        for path, size in expected["artifacts"].items():
            assert artifacts[path] == size, path
    check_logged_models(tracking, view)
    registry = RegistryClient(tracking)
    for expected in view["models"]:
        model = registry.get_registered_model(expected["name"])
        assert model.description == expected["description"]
        assert model.tags == expected["tags"]
        assert {a: int(v) for a, v in model.aliases.items()} == {
            a: int(v) for a, v in expected["aliases"].items()
        }
        for version in expected["versions"]:
            got = registry.get_model_version(expected["name"], version["version"])
            assert got.current_stage == version["stage"]
            assert got.description == version["description"]
            assert got.tags == version["tags"]
            assert got.run_id == version["run_id"]
            # MLflow 3 registers the logged model: its models:/<model_id> is kept, and
            # loads here as it does through sparktrack server.
            assert got.source == version["source"]
            assert got.source.startswith("models:/m-")
            assert resolve_model_uri(got.source, tracking).exists("MLmodel")


def check_logged_models(tracking: TrackingClient, view: dict[str, Any]) -> None:
    """MLflow 3's logged models, with MLflow's ids, where the server keeps them."""
    logged = view["logged_models"]
    assert len(logged) == 2
    models = LoggedModels(tracking)
    for expected in logged:
        model = models.get(expected["model_id"])
        assert model.experiment_id == expected["experiment_id"]
        assert model.name == expected["name"]
        assert model.status == expected["status"]
        assert model.model_type == (expected["model_type"] or "")
        assert model.source_run_id == expected["source_run_id"]
        assert model.creation_timestamp == expected["creation_timestamp"]
        assert model.tags == expected["tags"]
        assert model.params == expected["params"]
        assert model.outputs == {
            run_id: step
            for run_id, pairs in view["outputs"].items()
            for model_id, step in pairs
            if model_id == model.model_id
        }
        assert model.outputs, "every model of the store was output by its run"
        folder = tracking.artifacts.logged_model_root(model.experiment_id, model.model_id)
        assert Path(folder, "MLmodel").read_text().startswith("artifact_path")
        # runs:/<run_id>/<name> reaches the run's logged model, as through the server.
        loaded = resolve_model_uri(f"runs:/{model.source_run_id}/{model.name}", tracking)
        assert loaded.read_bytes("MLmodel") == Path(folder, "MLmodel").read_bytes()


def _table_rows(tracking: TrackingClient) -> dict[str, Counter[tuple[Any, ...]]]:
    """Every table's rows, event times aside (they say when the import ran), paths
    into the store spelled from its root."""
    tracking.flush()
    root = tracking.store.uri

    def plain(value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return "NaN"
        return value.replace(root, "<store>") if isinstance(value, str) else value

    return {
        table: Counter(
            tuple((k, plain(v)) for k, v in sorted(row.items()) if k != "event_time")
            for row in tracking.store.scan(table).to_pylist()
        )
        for table in TABLE_NAMES
    }


@pytest.mark.parametrize("kind", ["sqlite", "files"])
def test_import_carries_what_mlflow_reports(
    kind: str,
    sqlite_store: tuple[str, dict[str, Any]],
    file_store: tuple[str, dict[str, Any]],
    client: TrackingClient,
) -> None:
    uri, view = sqlite_store if kind == "sqlite" else file_store
    report = import_mlflow(uri, client, progress=False)
    check_matches(client, view)
    carried = report.carried
    assert carried.experiments == len(view["experiments"])
    assert carried.runs == len(view["runs"])
    assert carried.metric_points == sum(len(p) for r in view["runs"] for p in r["metrics"].values())
    assert carried.params == sum(len(r["params"]) for r in view["runs"])
    assert carried.logged_models == 2
    assert (carried.models, carried.versions) == (1, 2)
    assert carried.artifact_bytes >= sum(sum(r["artifacts"].values()) for r in view["runs"])
    left = {n.what: n.count for n in report.not_carried}
    assert left["experiment tags"] == 1
    # The imported runs answer sparktrack's searches like any other.
    trials = client.search_runs(
        [e["experiment_id"] for e in view["experiments"]],
        filter_string="params.lr = '0.1' and metrics.loss < 1",
    )
    assert trials["tags.mlflow.runName"].tolist() == ["trial-0"]


def test_second_import_adds_nothing(
    sqlite_store: tuple[str, dict[str, Any]], client: TrackingClient
) -> None:
    uri, view = sqlite_store
    import_mlflow(uri, client, progress=False)
    before = _table_rows(client)
    again = import_mlflow(uri, client, progress=False)
    assert _table_rows(client) == before
    assert again.carried.as_dict() == dict.fromkeys(again.carried.as_dict(), 0)
    assert again.already.runs == len(view["runs"])
    assert again.already.experiments == len(view["experiments"])
    assert again.already.versions == 2
    assert again.already.logged_models == 2


def _clean_import(uri: str, tmp_path: Path) -> dict[str, Counter[tuple[Any, ...]]]:
    clean = TrackingClient(str(tmp_path / "clean"))
    try:
        import_mlflow(uri, clean, progress=False)
        return _table_rows(clean)
    finally:
        clean.close()


def test_import_resumes_after_a_failed_commit(
    sqlite_store: tuple[str, dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri, view = sqlite_store
    expected = _clean_import(uri, tmp_path)
    real_write = delta_tables.write_deltalake
    calls = {"n": 0}

    def failing_write(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] >= 6:  # mid-import: after the experiments and a few batches
            raise OSError("injected: the disk went away")
        return real_write(*args, **kwargs)

    store = str(tmp_path / "store")
    first = TrackingClient(store)
    monkeypatch.setattr(delta_tables, "write_deltalake", failing_write)
    with pytest.raises(StoreError):
        import_mlflow(uri, first, batch_runs=1, progress=False)
    monkeypatch.setattr(delta_tables, "write_deltalake", real_write)
    first.close()  # what the store acknowledged is committed now (or replayed at open)

    second = TrackingClient(store)
    try:
        import_mlflow(uri, second, batch_runs=1, progress=False)
        assert _table_rows(second) == expected
        check_matches(second, view)
    finally:
        second.close()


def test_a_run_cut_off_mid_batch_is_finished_without_duplicates(
    sqlite_store: tuple[str, dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri, view = sqlite_store
    expected = _clean_import(uri, tmp_path)
    tracking = TrackingClient(str(tmp_path / "store"))
    store = tracking.store
    real_append = store.append
    batches = {"n": 0}

    def append(table: str, rows: Any, *, durable: bool = True) -> None:
        # The journal refuses the third batch's run events (a full disk): its params,
        # tags and metrics were acknowledged, its runs are not complete.
        if table == "runs":
            batches["n"] += 1
            if batches["n"] == 3:
                raise StoreError("injected: no space left on the journal's disk")
        real_append(table, rows, durable=durable)

    monkeypatch.setattr(store, "append", append)
    try:
        with pytest.raises(StoreError, match="injected"):
            import_mlflow(uri, tracking, batch_runs=2, progress=False)
        monkeypatch.setattr(store, "append", real_append)
        tracking.flush()
        cut = {r["run_id"] for r in store.scan("tags", columns=["run_id"]).to_pylist()}
        assert cut - {r["run_id"] for r in store.scan("runs", columns=["run_id"]).to_pylist()}
        resumed = import_mlflow(uri, tracking, batch_runs=2, progress=False)
        assert resumed.carried.runs == len(view["runs"]) - 4
        assert _table_rows(tracking) == expected
        check_matches(tracking, view)
    finally:
        tracking.close()


_KILLED_MID_IMPORT = """
import os, signal, sys
from sparktrack.mlflow_import import _sqlite_source
from sparktrack.mlflow_import import import_mlflow
from sparktrack.tracking import LoggedModels, TrackingClient

real_runs = _sqlite_source.SqliteSource.runs
calls = []

def runs(self, experiment_id, run_ids):
    calls.append(run_ids)
    if len(calls) == 3:  # two batches acknowledged, then the process dies at once
        os.kill(os.getpid(), signal.SIGKILL)
    return real_runs(self, experiment_id, run_ids)

_sqlite_source.SqliteSource.runs = runs
import_mlflow(sys.argv[1], TrackingClient(sys.argv[2]), batch_runs=1, progress=False)
"""


def test_import_killed_mid_way_finishes_on_the_next_run(
    sqlite_store: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    uri, view = sqlite_store
    expected = _clean_import(uri, tmp_path)
    store = str(tmp_path / "store")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_MID_IMPORT, uri, store],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -9, f"the import was not killed:\n{killed.stderr[-4000:]}"
    tracking = TrackingClient(store)  # replays what the killed import acknowledged
    try:
        partial = import_mlflow(uri, tracking, dry_run=True, progress=False)
        assert partial.already.runs == 2
        import_mlflow(uri, tracking, progress=False)
        assert _table_rows(tracking) == expected
        check_matches(tracking, view)
    finally:
        tracking.close()


def test_dry_run_counts_and_writes_nothing(
    file_store: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    uri, view = file_store
    target = tmp_path / "not-yet"
    result = CliRunner().invoke(
        app, ["import-mlflow", uri, "--store", str(target), "--dry-run", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert not target.exists()
    counted = json.loads(result.stdout)
    assert counted["dry_run"] is True
    real = TrackingClient(str(tmp_path / "real"))
    try:
        report = import_mlflow(uri, real, progress=False)
    finally:
        real.close()
    assert counted["carried"] == report.carried.as_dict()
    assert counted["carried"]["runs"] == len(view["runs"])
    assert counted["carried"]["artifact_bytes"] > 0


def test_cli_imports_and_reports(sqlite_store: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    uri, _view = sqlite_store
    store = tmp_path / "store"
    runner = CliRunner()
    result = runner.invoke(app, ["import-mlflow", uri, "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "imported from" in result.stdout and "runs=8" in result.stdout
    assert "experiment tags: 1 (" in result.stdout
    again = runner.invoke(app, ["import-mlflow", uri, "--store", str(store)])
    assert "runs=0" in again.stdout and "already in the store" in again.stdout


def test_unsupported_sources_are_refused_by_name(tmp_path: Path) -> None:
    tracking = TrackingClient("memory://")
    try:
        with pytest.raises(InvalidInputError, match=r"postgresql://db/mlflow.*sqlite:///"):
            import_mlflow("postgresql://db/mlflow", tracking, progress=False)
        result = CliRunner().invoke(
            app, ["import-mlflow", "mysql://db/x", "--store", str(tmp_path / "s")]
        )
        assert result.exit_code == 1
        assert "error: cannot import MLflow store 'mysql://db/x'" in result.output
    finally:
        tracking.close()


def test_experiment_filter_and_conflicts_are_reported(
    sqlite_store: tuple[str, dict[str, Any]], client: TrackingClient
) -> None:
    uri, view = sqlite_store
    with pytest.raises(InvalidInputError, match="no experiment named \\['nope'\\]"):
        import_mlflow(uri, client, experiments=["nope"], progress=False)
    # An experiment of the same name already in the store (with another id) is left
    # out with its runs, and said so.
    client.create_experiment("tabular")
    report = import_mlflow(uri, client, experiments=["vision", "tabular"], progress=False)
    vision = [r for r in view["runs"] if r["experiment_id"] == "1"]
    assert report.carried.runs == len(vision)
    assert report.carried.experiments == 1
    conflict = [n for n in report.not_carried if n.what.startswith("experiment 2 ")]
    assert conflict and "taken by experiment id" in conflict[0].reason
    # The registered model's versions belong to runs of "tabular": left out, noted.
    assert report.carried.versions == 0
    assert any("its run is not imported" in note for note in report.notes)


def _start_server(tmp: Path, backend: str) -> tuple[subprocess.Popen[str], str]:
    log = tmp / "server.log"
    handle = log.open("w")
    server = subprocess.Popen(
        [
            str(_mlflow_bin() / "mlflow"),
            "server",
            "--backend-store-uri",
            backend,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--workers",
            "1",
        ],
        cwd=tmp,
        env=_mlflow_env(tmp),
        stdout=handle,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = re.search(r"http://127\.0\.0\.1:(\d+)", log.read_text())
        if found and found.group(1) != "0":
            return server, found.group(0)
        if server.poll() is not None:
            break
        time.sleep(0.2)
    os.killpg(server.pid, 15)
    pytest.fail(f"mlflow server did not start:\n{log.read_text()[-4000:]}")


def test_import_from_an_mlflow_server(
    sqlite_store: tuple[str, dict[str, Any]], tmp_path: Path, client: TrackingClient
) -> None:
    uri, _view = sqlite_store
    database = Path(uri[len("sqlite:///") :])
    copy = tmp_path / "served.db"
    shutil.copy(database, copy)
    server, address = _start_server(tmp_path, f"sqlite:///{copy}")
    try:
        view = _run_builder(tmp_path, address, build=False)
        report: ImportReport = import_mlflow(address, client, progress=False)
        check_matches(client, view)
        assert report.carried.runs == len(view["runs"])
        assert report.carried.logged_models == 2
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)
