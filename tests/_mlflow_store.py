"""Build a small MLflow store with MLflow's own client, and dump MLflow's view of it.

Run by tests/test_mlflow_import.py with .venv-mlflow's interpreter (MLflow is never
a dependency of sparktrack): ``python _mlflow_store.py TRACKING_URI ARTIFACT_ROOT OUT.json``.
The JSON is what MLflow's client reports, the oracle the import is checked against.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import warnings

import mlflow
import pandas as pd
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

warnings.filterwarnings("ignore")


def build(client: MlflowClient, artifact_root: str) -> None:
    vision = client.create_experiment(
        "vision", artifact_location=f"{artifact_root}/vision", tags={"team": "cv"}
    )
    tabular = client.create_experiment("tabular", artifact_location=f"{artifact_root}/tabular")
    doomed = client.create_experiment("doomed", artifact_location=f"{artifact_root}/doomed")

    mlflow.set_experiment(experiment_id=vision)
    with mlflow.start_run(run_name="sweep"):
        mlflow.log_params({"optimizer": "adam", "layers": 3})
        mlflow.set_tags({"stage": "search", "owner": "ada"})
        for trial in range(2):
            with mlflow.start_run(run_name=f"trial-{trial}", nested=True):
                mlflow.log_param("lr", 0.1 * (trial + 1))
                for step in range(5):
                    mlflow.log_metric("loss", 1.0 / (step + 1 + trial), step=step)
                mlflow.log_metric("acc", float("nan"), step=5)
        frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
        dataset = mlflow.data.from_pandas(frame, source="/data/iris.csv", name="iris")
        mlflow.log_input(dataset, context="training")
        mlflow.log_text("hello artifacts", "notes/readme.txt")
        mlflow.log_dict({"a": 1}, "config.json")
        mlflow.log_metric("best", 0.93)
        mlflow.log_metric("best", 0.95, step=1)
    failed = client.create_run(vision, run_name="crashed")
    client.log_metric(failed.info.run_id, "loss", 9.0, step=0)
    client.set_terminated(failed.info.run_id, "FAILED")
    removed = client.create_run(vision, run_name="removed")
    client.set_terminated(removed.info.run_id)
    client.delete_run(removed.info.run_id)

    mlflow.set_experiment(experiment_id=tabular)
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    for version in range(2):
        with mlflow.start_run(run_name=f"fit-{version}"):
            mlflow.log_param("C", 1.0)
            mlflow.sklearn.log_model(model, name="model", registered_model_name="churn")
    client.update_registered_model("churn", description="predicts churn")
    client.set_registered_model_tag("churn", "domain", "retail")
    client.update_model_version("churn", "1", description="first")
    client.set_model_version_tag("churn", "2", "validated", "yes")
    client.transition_model_version_stage("churn", "1", "Production")
    client.transition_model_version_stage("churn", "2", "Staging")
    client.set_registered_model_alias("churn", "champion", "1")

    client.create_run(doomed, run_name="in-doomed")
    client.delete_experiment(doomed)


def _artifacts(client: MlflowClient, run_id: str, path: str | None = None) -> dict[str, int]:
    found: dict[str, int] = {}
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            found.update(_artifacts(client, run_id, info.path))
        else:
            found[info.path] = int(info.file_size or 0)
    return found


class _NoOutputs:
    model_outputs: list = []


_NO_OUTPUTS = _NoOutputs()


def _number(value: float) -> float | str:
    return "NaN" if math.isnan(value) else value


def dump(client: MlflowClient) -> dict:
    experiments = client.search_experiments(view_type=3)
    runs = []
    for experiment in experiments:
        for run in client.search_runs([experiment.experiment_id], run_view_type=3):
            history = {
                key: sorted(
                    [m.step, m.timestamp, _number(m.value)]
                    for m in client.get_metric_history(run.info.run_id, key)
                )
                for key in run.data.metrics
            }
            runs.append(
                {
                    "run_id": run.info.run_id,
                    "experiment_id": run.info.experiment_id,
                    "run_name": run.info.run_name,
                    "user_id": run.info.user_id,
                    "status": run.info.status,
                    "start_time": run.info.start_time,
                    "end_time": run.info.end_time,
                    "lifecycle_stage": run.info.lifecycle_stage,
                    "params": run.data.params,
                    "tags": run.data.tags,
                    "metrics": history,
                    "inputs": [
                        {
                            "name": d.dataset.name,
                            "digest": d.dataset.digest,
                            "source_type": d.dataset.source_type,
                            "source": d.dataset.source,
                            "schema": d.dataset.schema,
                            "context": {t.key: t.value for t in d.tags}.get("mlflow.data.context"),
                        }
                        for d in run.inputs.dataset_inputs
                    ],
                    "artifacts": _artifacts(client, run.info.run_id),
                }
            )
    models = []
    for model in client.search_registered_models():
        versions = client.search_model_versions(f"name='{model.name}'")
        models.append(
            {
                "name": model.name,
                "description": model.description,
                "tags": model.tags,
                "aliases": dict(model.aliases),
                "versions": sorted(
                    (
                        {
                            "version": int(v.version),
                            "stage": v.current_stage,
                            "description": v.description or "",
                            "tags": v.tags,
                            "run_id": v.run_id,
                            "source": v.source,
                        }
                        for v in versions
                    ),
                    key=lambda v: v["version"],
                ),
            }
        )
    logged = client.search_logged_models([e.experiment_id for e in experiments])
    outputs = {
        run["run_id"]: [
            [o.model_id, o.step]
            for o in (client.get_run(run["run_id"]).outputs or _NO_OUTPUTS).model_outputs
        ]
        for run in runs
    }
    return {
        "logged_models": [
            {
                "model_id": m.model_id,
                "experiment_id": m.experiment_id,
                "name": m.name,
                "status": str(m.status),
                "model_type": m.model_type,
                "source_run_id": m.source_run_id,
                "creation_timestamp": m.creation_timestamp,
                "tags": m.tags,
                "params": m.params,
            }
            for m in logged
        ],
        "outputs": outputs,
        "experiments": [
            {
                "experiment_id": e.experiment_id,
                "name": e.name,
                "lifecycle_stage": e.lifecycle_stage,
                "tags": e.tags,
                "creation_time": e.creation_time,
            }
            for e in experiments
        ],
        "runs": runs,
        "models": models,
    }


def main() -> None:
    tracking_uri, artifact_root, out = sys.argv[1:4]
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    client = MlflowClient()
    if os.environ.get("MLFLOW_STORE_BUILD", "1") == "1":
        with tempfile.TemporaryDirectory():
            build(client, artifact_root)
    with open(out, "w") as handle:
        json.dump(dump(client), handle, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
