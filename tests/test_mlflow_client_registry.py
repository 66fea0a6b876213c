"""MLflow's own client (.venv-mlflow) logging, registering and loading models through
``sparktrack server``, then sparktrack's registry reading the same versions.

MLflow 3's path end to end: ``mlflow.sklearn.autolog()`` logs a logged model (created,
uploaded through the artifacts routes, finalized), ``runs:/<run_id>/model`` resolves
through a logged-model search, ``mlflow.register_model`` registers ``models:/<model_id>``,
``models:/<name>@<alias>`` downloads through get-download-uri.
"""

from __future__ import annotations

import pytest

from sparktrack.models import resolve_model_uri
from sparktrack.registry import RegistryClient
from sparktrack.tracking import LoggedModels, TrackingClient
from tests._mlflow_client import MlflowServer, run_mlflow

pytestmark = pytest.mark.slow

_SCENARIO = """
import warnings
import numpy as np
import mlflow
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

warnings.simplefilter("ignore")
mlflow.set_experiment("registry-through-the-server")
mlflow.sklearn.autolog(log_input_examples=False, log_model_signatures=True, silent=True)
X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
y = np.array([0, 0, 0, 1, 1, 1])
with mlflow.start_run() as run:
    fitted = LogisticRegression().fit(X, y)
run_id = run.info.run_id
expected = fitted.predict(X).tolist()
mlflow.sklearn.autolog(disable=True)

from_run = mlflow.pyfunc.load_model(f"runs:/{run_id}/model").predict(X).tolist()
first = mlflow.register_model(f"runs:/{run_id}/model", "through-the-server")
second = mlflow.register_model(f"runs:/{run_id}/model", "through-the-server")
client = MlflowClient()
client.set_registered_model_alias("through-the-server", "champion", first.version)
client.transition_model_version_stage("through-the-server", first.version, "Production")
moved = client.transition_model_version_stage(
    "through-the-server", second.version, "Production", archive_existing_versions=True
)
client.set_model_version_tag("through-the-server", second.version, "validated", "yes")
client.update_registered_model("through-the-server", description="from MLflow's client")
by_alias = mlflow.pyfunc.load_model("models:/through-the-server@champion").predict(X).tolist()
by_version = mlflow.pyfunc.load_model(f"models:/through-the-server/{second.version}")
page = client.search_model_versions("name = 'through-the-server'", max_results=1)
rest = client.search_model_versions(
    "name = 'through-the-server'", max_results=1, page_token=page.token
)
models = client.search_registered_models(filter_string="name LIKE 'through-%'")
latest = client.get_latest_versions("through-the-server", stages=["Production"])
stages = {
    v.version: v.current_stage
    for v in client.search_model_versions("name = 'through-the-server'")
}
outputs = [
    (o.model_id, o.step) for o in client.get_run(run_id).outputs.model_outputs
]
searched = client.search_runs([run.info.experiment_id])
emit({
    "run_id": run_id,
    "outputs": outputs,
    "searched_outputs": [[o.model_id for o in r.outputs.model_outputs] for r in searched],
    "expected": expected,
    "from_run": from_run,
    "by_alias": by_alias,
    "by_version": by_version.predict(X).tolist(),
    "versions": [first.version, second.version],
    "source": first.source,
    "moved": moved.current_stage,
    "paged": [[v.version for v in page], [v.version for v in rest], rest.token],
    "models": [m.name for m in models],
    "latest": [v.version for v in latest],
    "stages": stages,
})
"""


def test_mlflow_autolog_register_and_load_through_the_server(
    mlflow_server: MlflowServer,
) -> None:
    found = run_mlflow(mlflow_server, _SCENARIO)
    explain = mlflow_server.explain(f"the client found {found}")
    assert found["from_run"] == found["expected"], explain
    assert found["by_alias"] == found["expected"], explain
    assert found["by_version"] == found["expected"], explain
    assert found["versions"] == ["1", "2"], explain
    # MLflow 3 registers the logged model, not the run's folder (MLflow's client leaves
    # model_id out of the versions it reads: the source names it).
    assert found["source"].startswith("models:/m-"), explain
    model_id = found["source"][len("models:/") :]
    # The run lists the model among its outputs, through get_run and search_runs.
    assert found["outputs"] == [[model_id, 0]], explain
    assert found["searched_outputs"] == [[model_id]], explain
    assert found["moved"] == "Production", explain
    assert found["paged"][:2] == [["2"], ["1"]] and not found["paged"][2], explain
    assert found["models"] == ["through-the-server"], explain
    assert found["latest"] == ["2"], explain
    assert found["stages"] == {"1": "Archived", "2": "Production"}, explain

    # sparktrack's own registry, on the same store, sees what MLflow's client did.
    tracking = TrackingClient(str(mlflow_server.store))
    try:
        registry = RegistryClient(tracking)
        versions = {
            v.version: v for v in registry.search_model_versions("name = 'through-the-server'")
        }
        assert {n: v.current_stage for n, v in versions.items()} == {
            1: "Archived",
            2: "Production",
        }, explain
        assert versions[2].tags == {"validated": "yes"}, explain
        assert versions[1].run_id == found["run_id"], explain
        assert registry.get_model_version_by_alias("through-the-server", "champion").version == 1
        assert registry.get_registered_model("through-the-server").description == (
            "from MLflow's client"
        )
        logged = LoggedModels(tracking).get(model_id)
        assert logged.status == "READY", explain
        assert logged.source_run_id == found["run_id"], explain
        assert logged.outputs == {found["run_id"]: 0}, explain
        # models:/ URIs of sparktrack reach the folder MLflow's client uploaded.
        folder = resolve_model_uri("models:/through-the-server@champion", tracking)
        assert folder.exists("MLmodel"), explain
        assert "sklearn" in folder.read_bytes("MLmodel").decode(), explain
    finally:
        tracking.close()
