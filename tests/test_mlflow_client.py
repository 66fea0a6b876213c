"""MLflow's own client (in .venv-mlflow) against ``sparktrack server`` as a real process.

What MLflow users run — the fluent API, ``MlflowClient`` searches, artifacts through the
server — and then sparktrack's own API and Spark SQL reading what they logged. Each
client call pays MLflow's import (seconds), so scenarios are grouped into few calls.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

import sparktrack.spark as sts
from sparktrack import TrackingClient
from tests._mlflow_client import MlflowServer, run_mlflow, running_server
from tests._processes import wait_for

pytestmark = pytest.mark.slow


def test_the_client_reaches_the_server_and_reads_its_errors(mlflow_server: MlflowServer) -> None:
    found = run_mlflow(
        mlflow_server,
        """
        import mlflow, requests
        answer = requests.get(mlflow.get_tracking_uri() + "/api/2.0/mlflow/no-such-endpoint")
        emit({"status": answer.status_code, "body": answer.json()})
        """,
    )
    assert found["status"] == 404, found
    assert found["body"]["error_code"] == "ENDPOINT_NOT_FOUND", found


# One client process: the fluent API as a training script uses it, then MlflowClient's
# searches, pages and histories as CI scripts do. What it saw comes back as JSON.
_FLUENT_SCENARIO = """
import os, tempfile
import matplotlib.pyplot as plt
import mlflow
from mlflow import MlflowClient

experiment_name = "mlflow-fluent"
experiment_id = mlflow.set_experiment(experiment_name).experiment_id
with mlflow.start_run(run_name="sweep") as parent:
    mlflow.log_params({"model": "gbt", "folds": 3})
    for step in range(5):
        mlflow.log_metrics({"loss": 1.0 / (step + 1), "lr": 0.1 * step}, step=step)
    mlflow.set_tags({"team": "fraud", "stage": "dev"})
    folder = tempfile.mkdtemp()
    with open(os.path.join(folder, "notes.txt"), "w") as out:
        out.write("first try")
    os.makedirs(os.path.join(folder, "plots", "deep"))
    with open(os.path.join(folder, "plots", "deep", "a.csv"), "w") as out:
        out.write("x,y\\n1,2\\n")
    mlflow.log_artifact(os.path.join(folder, "notes.txt"))
    mlflow.log_artifacts(os.path.join(folder, "plots"), artifact_path="plots")
    mlflow.log_dict({"depth": 5, "features": ["a", "b"]}, "config/params.json")
    figure, axes = plt.subplots()
    axes.plot([0, 1, 2], [2, 1, 0])
    mlflow.log_figure(figure, "figures/curve.png")
    children = []
    for index, score in enumerate([0.7, 0.9, 0.8, 0.6]):
        with mlflow.start_run(run_name=f"trial-{index}", nested=True) as child:
            mlflow.log_param("depth", index + 2)
            mlflow.log_metric("score", score)
            mlflow.set_tag("kind", "trial")
            children.append(child.info.run_id)

client = MlflowClient()
# Searches: a filter, an order, pages of two with tokens.
first = client.search_runs(
    [experiment_id], "tags.kind = 'trial' AND metrics.score > 0.65",
    order_by=["metrics.score DESC"], max_results=2,
)
second = client.search_runs(
    [experiment_id], "tags.kind = 'trial' AND metrics.score > 0.65",
    order_by=["metrics.score DESC"], max_results=2, page_token=first.token,
)
by_param = client.search_runs([experiment_id], "params.depth = '3'")
everything = mlflow.search_runs(experiment_names=[experiment_name], output_format="list")
history = client.get_metric_history(parent.info.run_id, "loss")
run = client.get_run(parent.info.run_id)
# Ending a trial as FAILED, deleting one: what sparktrack must see afterwards.
client.set_terminated(children[3], "FAILED")
client.delete_run(children[0])
client.delete_tag(children[1], "kind")
found = client.search_experiments(filter_string="name LIKE 'mlflow-fl%'")
emit({
    "experiment_id": experiment_id,
    "parent": parent.info.run_id,
    "children": children,
    "pages": [[r.info.run_name for r in first], first.token is not None,
              [r.info.run_name for r in second], second.token],
    "by_param": [r.info.run_name for r in by_param],
    "all": sorted(r.info.run_name for r in everything),
    "history": [(m.step, m.value) for m in history],
    "metrics": run.data.metrics,
    "params": run.data.params,
    "parent_tag": client.get_run(children[2]).data.tags.get("mlflow.parentRunId"),
    # Through the run's artifact_uri: runs:/ URIs (MlflowClient.list_artifacts too) also
    # look for logged models of the run, which is the logged-model endpoints' part.
    "artifacts": sorted(
        f.path for f in mlflow.artifacts.list_artifacts(artifact_uri=run.info.artifact_uri)
    ),
    "plots": [
        f.path
        for f in mlflow.artifacts.list_artifacts(
            artifact_uri=run.info.artifact_uri + "/plots/deep"
        )
    ],
    "notes": open(mlflow.artifacts.download_artifacts(run.info.artifact_uri + "/notes.txt")).read(),
    "config": mlflow.artifacts.load_dict(run.info.artifact_uri + "/config/params.json"),
    "artifact_uri": run.info.artifact_uri,
    "experiments": [e.name for e in found],
})
"""


def test_mlflow_fluent_api_and_searches_land_in_the_store(mlflow_server: MlflowServer) -> None:
    seen = run_mlflow(mlflow_server, _FLUENT_SCENARIO)
    # What MLflow's client read back through the server.
    assert seen["pages"] == [["trial-1", "trial-2"], True, ["trial-0"], None], seen
    assert seen["by_param"] == ["trial-1"], seen
    assert seen["all"] == ["sweep", "trial-0", "trial-1", "trial-2", "trial-3"], seen
    assert seen["history"] == [[step, 1.0 / (step + 1)] for step in range(5)], seen
    assert seen["metrics"] == {"loss": 0.2, "lr": pytest.approx(0.4)}, seen
    assert seen["params"] == {"model": "gbt", "folds": "3"}, seen
    assert seen["parent_tag"] == seen["parent"], seen
    # mlflow.artifacts.list_artifacts names files from the URI's last folder on.
    listed = ["artifacts/config", "artifacts/figures", "artifacts/notes.txt", "artifacts/plots"]
    assert seen["artifacts"] == listed, seen
    assert seen["plots"] == ["deep/a.csv"], seen
    assert seen["notes"] == "first try", seen
    assert seen["config"] == {"depth": 5, "features": ["a", "b"]}, seen
    experiment_id, parent = seen["experiment_id"], seen["parent"]
    assert seen["artifact_uri"] == f"mlflow-artifacts:/{experiment_id}/{parent}/artifacts"
    assert seen["experiments"] == ["mlflow-fluent"], seen

    # sparktrack's own API on the same store sees the same runs, once the server's
    # writer committed them (it commits every couple of seconds, as for any process).
    client = TrackingClient(str(mlflow_server.store))
    try:
        trials = seen["children"]

        def settled() -> bool:
            runs = client.search_runs([experiment_id], run_view_type="ALL", output_format="list")
            statuses = {run.info.run_id: run.info.status for run in runs}
            tags = client.get_tags(trials[1]) if trials[1] in statuses else {"kind": ""}
            return (
                statuses.get(trials[3]) == "FAILED"
                and len(statuses) == 5
                and "kind" not in tags
                and client.get_run(trials[0]).info.lifecycle_stage == "deleted"
            )

        wait_for(settled, "the server's writes committed", timeout=60, child=mlflow_server.child)
        run = client.get_run(parent)
        assert run.info.run_name == "sweep" and run.info.status == "FINISHED"
        assert run.data.params == {"model": "gbt", "folds": "3"}
        assert run.data.metrics == {"loss": 0.2, "lr": pytest.approx(0.4)}
        assert run.data.tags["team"] == "fraud" and run.data.tags["stage"] == "dev"
        assert run.data.tags["mlflow.user"], run.data.tags  # the client's user, not the server's
        history = client.get_metric_history(parent, "loss")
        assert [(m.step, m.value) for m in history] == [(s, 1.0 / (s + 1)) for s in range(5)]
        assert client.read_artifact(parent, "notes.txt") == b"first try"
        assert client.read_artifact(parent, "plots/deep/a.csv") == b"x,y\n1,2\n"
        assert json.loads(client.read_artifact(parent, "config/params.json"))["depth"] == 5
        assert client.read_artifact(parent, "figures/curve.png").startswith(b"\x89PNG")
        found = client.search_runs(
            [experiment_id],
            f"tags.`mlflow.parentRunId` = '{parent}' AND metrics.score > 0.65",
            order_by=["metrics.score DESC"],
            output_format="list",
        )
        assert [r.info.run_name for r in found] == ["trial-1", "trial-2"]
        assert client.get_run(trials[2]).info.parent_run_id == parent
    finally:
        client.close()


def test_token_and_the_ui_on_the_same_port(tmp_path: Path) -> None:
    with running_server(tmp_path / "store", stderr_dir=tmp_path, token="s3cret") as server:
        # MLflow's client sends MLFLOW_TRACKING_TOKEN as a bearer token; without it, the
        # server answers 401 with MLflow's UNAUTHENTICATED code.
        found = run_mlflow(
            server,
            """
            import mlflow, os, requests
            mlflow.set_experiment("tokens")
            with mlflow.start_run() as run:
                mlflow.log_metric("m", 1.0)
            anonymous = requests.get(os.environ["MLFLOW_TRACKING_URI"]
                                     + "/api/2.0/mlflow/experiments/search")
            emit({"run_id": run.info.run_id, "status": anonymous.status_code,
                  "code": anonymous.json()["error_code"]})
            """,
        )
        assert (found["status"], found["code"]) == (401, "UNAUTHENTICATED"), found
        # The web UI answers at "/" on the same port (its pages need no header).
        with urllib.request.urlopen(server.url + "/", timeout=30) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
    client = TrackingClient(str(tmp_path / "store"))
    try:
        assert client.get_run(found["run_id"]).data.metrics == {"m": 1.0}
    finally:
        client.close()


@pytest.mark.spark
def test_spark_sql_reads_what_mlflow_s_client_logged(spark, mlflow_server: MlflowServer) -> None:  # type: ignore[no-untyped-def]
    seen = run_mlflow(
        mlflow_server,
        """
        import mlflow
        experiment_id = mlflow.set_experiment("mlflow-spark-sql").experiment_id
        for depth in (3, 5):
            with mlflow.start_run(run_name=f"depth-{depth}"):
                mlflow.log_param("depth", depth)
                for step in range(3):
                    mlflow.log_metric("rmse", 1.0 / (depth + step), step=step)
        emit({"experiment_id": experiment_id})
        """,
    )
    store = str(mlflow_server.store)
    client = TrackingClient(store)
    try:
        # The server's writer commits on its own schedule: wait until both runs ended.
        wait_for(
            lambda: (
                len(
                    client.search_runs(
                        [seen["experiment_id"]],
                        "attributes.status = 'FINISHED'",
                        output_format="list",
                    )
                )
                == 2
            ),
            "the server's writes committed",
            timeout=60,
            child=mlflow_server.child,
        )
    finally:
        client.close()
    sts.register_views(spark, store=store)
    rows = spark.sql(
        f"""SELECT r.run_name, p.value AS depth, MIN(m.value) AS best, COUNT(m.step) AS points
            FROM sparktrack_runs r
            JOIN sparktrack_params p ON p.run_id = r.run_id AND p.key = 'depth'
            JOIN sparktrack_metrics m ON m.run_id = r.run_id AND m.key = 'rmse'
            WHERE r.experiment_id = '{seen["experiment_id"]}' AND r.status = 'FINISHED'
            GROUP BY r.run_name, p.value ORDER BY r.run_name"""
    ).collect()
    assert [(r.run_name, r.depth, r.points) for r in rows] == [
        ("depth-3", "3", 3),
        ("depth-5", "5", 3),
    ]
    assert [r.best for r in rows] == [pytest.approx(1 / 5), pytest.approx(1 / 7)]
