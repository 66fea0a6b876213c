"""The store on an S3-compatible server (moto on loopback), as users' S3 stores are.

Everything the tracking path does, against ``s3a://`` stores in one shared server:
fluent logging, artifacts, the registry, JVM-free search, the CLI, a function sweep;
how several writers commit safely there (``object_store_commits``) with real
processes; and the clear error when no choice was made. Clients find the server
through the engines' usual environment (``AWS_ENDPOINT_URL``, ``AWS_ALLOW_HTTP``,
credentials and region), as ``S3Server.env`` sets it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deltalake import DeltaTable

import sparktrack
from sparktrack import TrackingClient
from sparktrack.errors import ConfigurationError
from sparktrack.registry import RegistryClient
from sparktrack.tracking import Metric
from tests._processes import child_env, python, run_child, run_workers
from tests._s3_server import S3Server
from tests._workers import log_concurrently, register_and_promote


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process (and the children it starts) pointed at the server, with
    conditional-put commits chosen: the environment of a user on S3."""
    env = {**s3_server.env, "SPARKTRACK_OBJECT_STORE_COMMITS": "conditional-put"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def s3_store(s3_server: S3Server, s3_env: dict[str, str]) -> str:
    """A fresh ``s3a://`` store of the test's own, which the fluent API logs to."""
    uri = s3_server.new_prefix("s3a")
    sparktrack.set_store(uri)
    return uri


def _delta_rows(s3_store: str, table: str) -> int:
    """Rows of a store table, read by delta-rs straight from the bucket."""
    return DeltaTable(s3_store.replace("s3a://", "s3://", 1) + "/" + table).to_pyarrow_table().num_rows


def test_fluent_logging_and_search_without_a_jvm(s3_store: str) -> None:
    sparktrack.set_experiment("s3")
    with sparktrack.start_run(run_name="first") as run:
        sparktrack.log_param("alpha", 0.5)
        sparktrack.log_params({"beta": "b", "gamma": 3})
        sparktrack.log_metric("loss", 1.0, step=0)
        sparktrack.log_metrics({"loss": 0.5, "auc": 0.9}, step=1)
        sparktrack.set_tag("team", "fraud")
        sparktrack.set_tags({"stage": "dev"})
        run_id = run.info.run_id
    client = sparktrack.get_client()
    client.log_batch(run_id, [Metric("late", 2.0, 0, 0)], params={"delta": 1}, tags={"x": "y"})
    with sparktrack.start_run(run_name="second"):
        sparktrack.log_metric("loss", 0.7)
    sparktrack.flush()

    got = sparktrack.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.data.params == {"alpha": "0.5", "beta": "b", "gamma": "3", "delta": "1"}
    assert got.data.metrics == {"loss": 0.5, "auc": 0.9, "late": 2.0}
    assert {"team": "fraud", "stage": "dev", "x": "y"}.items() <= got.data.tags.items()
    assert [m.value for m in sparktrack.get_metric_history(run_id, "loss")] == [1.0, 0.5]
    found = sparktrack.search_runs(filter_string="metrics.loss < 0.8", order_by=["metrics.loss"])
    assert list(found["tags.mlflow.runName"]) == ["first", "second"]
    # A second process's view: a new client reads the same bucket.
    other = TrackingClient(s3_store)
    assert len(other.search_runs(None)) == 2
    other.close()
    assert _delta_rows(s3_store, "params") == 4


def test_artifacts_round_trip(s3_store: str, tmp_path: Path) -> None:
    folder = tmp_path / "report"
    (folder / "plots").mkdir(parents=True)
    (folder / "summary.txt").write_text("ok")
    (folder / "plots" / "roc.csv").write_text("fpr,tpr\n0,0\n1,1\n")
    single = tmp_path / "config.json"
    single.write_text(json.dumps({"k": 1}))
    with sparktrack.start_run() as run:
        sparktrack.log_artifact(str(single))
        sparktrack.log_artifacts(str(folder), "report")
        sparktrack.log_text("hello", "notes/readme.txt")
    client = sparktrack.get_client()
    run_id = run.info.run_id
    assert [(f.path, f.is_dir) for f in client.list_artifacts(run_id)] == [
        ("config.json", False),
        ("notes", True),
        ("report", True),
    ]
    assert [f.path for f in client.list_artifacts(run_id, "report/plots")] == [
        "report/plots/roc.csv"
    ]
    got = Path(client.download_artifacts(run_id, "report", tmp_path / "down"))
    assert (got / "summary.txt").read_text() == "ok"
    assert (got / "plots" / "roc.csv").read_text().startswith("fpr,tpr")
    one = Path(client.download_artifacts(run_id, "config.json", tmp_path / "one"))
    assert json.loads(one.read_text()) == {"k": 1}
    assert run.info.artifact_uri.startswith(s3_store + "/artifacts/")
