"""The notebooks of notebooks/ are committed clean and run headless as users run them.

Each notebook is executed by ``jupyter-execute`` (nbclient, a real IPython kernel) in a
folder of its own, with the store in ``SPARKTRACK_STORE`` and snapshots on, as a user's
shell has them; the tests then read the store: the runs the notebook makes, their
metrics, and that the runs record the notebook (its path, the NOTEBOOK source type, and
a source snapshot holding the ``.ipynb`` as committed).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from sparktrack import TrackingClient
from sparktrack.registry import RegistryClient
from tests._processes import ROOT, child_env, run_child

NOTEBOOKS = ROOT / "notebooks"
# One per capability; a new notebook is added here, with a test that runs it.
EXPECTED = {
    "autolog_crossvalidator.ipynb",
    "quickstart.ipynb",
    "registry_and_serving.ipynb",
    "reproduction.ipynb",
    "sparkling_water.ipynb",
    "sweep.ipynb",
}


def test_every_notebook_is_committed_without_outputs() -> None:
    """Outputs in the repository would show a stale run (and make every diff noisy)."""
    found = {path.name for path in NOTEBOOKS.glob("*.ipynb")}
    assert found == EXPECTED, "add a new notebook to EXPECTED and give it a test below"
    dirty = []
    for name in sorted(found):
        notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(notebook)
        assert notebook.nbformat == 4, name
        assert notebook.metadata["kernelspec"]["name"] == "python3", name
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            if cell.outputs or cell.execution_count is not None:
                dirty.append(f"{name} cell {index}: {cell.source.splitlines()[0]!r}")
    assert not dirty, (
        "notebooks must be committed without outputs and execution counts "
        "(`jupyter nbconvert --clear-output --inplace notebooks/*.ipynb`):\n" + "\n".join(dirty)
    )


# -- each notebook, executed --------------------------------------------------------------
class Executed:
    """A notebook executed in ``tmp_path``: the store it wrote and what its cells printed."""

    def __init__(self, name: str, tmp_path: Path, timeout: float) -> None:
        launcher = Path(sys.executable).parent / "jupyter-execute"
        if not launcher.exists():
            pytest.fail(f"{launcher} is not installed: pip install -e '.[dev]'")
        self.path = NOTEBOOKS / name
        store = tmp_path / "store"
        work = tmp_path / "work"  # the notebook's cwd: nothing of the repository around it
        work.mkdir()
        executed = tmp_path / "executed.ipynb"
        # No JPY_/PAPERMILL variables of the shell pytest runs in: only the launcher's
        # command line may name the notebook, as when a user runs it.
        base = {k: v for k, v in os.environ.items() if not k.startswith(("JPY_", "PAPERMILL"))}
        env = child_env(
            base,
            sparktrack_settings=False,  # snapshots on, autolog's test mode off: a user's shell
            SPARKTRACK_STORE=str(store),
            SPARKTRACK_JOURNAL_DIR=str(tmp_path / "journal"),
        )
        # --output: the executed copy, to read what the cells printed; the committed
        # notebook is left as it is.
        command = [launcher, self.path, f"--output={executed}"]
        run_child(command, cwd=work, env=env, timeout=timeout)
        self.printed = "\n".join(
            output.get("text", "")
            for cell in nbformat.read(executed, as_version=4).cells
            if cell.cell_type == "code"
            for output in cell.outputs
            if output.get("name") == "stdout"
        )
        self.client = TrackingClient(str(store))

    def runs(self, experiment: str) -> pd.DataFrame:
        found = self.client.get_experiment_by_name(experiment)
        assert found is not None, f"no experiment {experiment!r}"
        return self.client.search_runs([found.experiment_id], order_by=["start_time ASC"])

    def assert_records_the_notebook(self, run_id: str) -> None:
        tags = self.client.get_tags(run_id)
        assert tags.get("mlflow.source.name") == str(self.path), tags
        assert tags.get("mlflow.source.type") == "NOTEBOOK", tags
        assert "sparktrack.source.snapshot" in tags, tags
        snapshot = self.client.get_source_snapshot(run_id)
        assert snapshot.digest == tags["sparktrack.source.snapshot"]
        assert snapshot.main == self.path.name
        assert snapshot.read() == self.path.read_bytes()


@pytest.fixture
def execute(tmp_path: Path) -> Iterator[Callable[..., Executed]]:
    """Execute a notebook of notebooks/ (once per test); its store is closed afterwards."""
    opened: list[Executed] = []

    def run(name: str, timeout: float = 900) -> Executed:
        opened.append(Executed(name, tmp_path, timeout))
        return opened[-1]

    yield run
    for executed in opened:
        executed.client.close()


# Generous timeouts: the machines running the suite are small and shared, and a
# notebook starts Spark (and H2O) from nothing.
@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_quickstart(execute: Callable[..., Executed]) -> None:
    done = execute("quickstart.ipynb")
    runs = done.runs("quickstart")
    assert sorted(runs["run_name"]) == ["linreg-reg0.0", "linreg-reg0.5"]
    assert set(runs["status"]) == {"FINISHED"}
    assert runs["metrics.r2"].between(0.99, 1.0).all()
    for run_id in runs["run_id"]:
        history = done.client.get_metric_history(run_id, "loss")  # one per solver iteration
        assert history and [m.step for m in history] == list(range(len(history)))
        done.assert_records_the_notebook(run_id)


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_autolog_crossvalidator(execute: Callable[..., Executed]) -> None:
    done = execute("autolog_crossvalidator.ipynb")
    runs = done.runs("autolog-crossvalidator")
    parents = runs[runs["tags.mlflow.parentRunId"].isna()]
    assert list(parents["run_name"]) == ["CrossValidator"]
    search = parents["run_id"].iloc[0]
    children = runs[runs["tags.mlflow.parentRunId"] == search]
    assert len(children) == 4 and set(children["status"]) == {"FINISHED"}
    assert children["metrics.avg_areaUnderROC"].between(0.9, 1.0).all()
    metrics = done.client.get_run(search).data.metrics
    assert metrics["best_avg_areaUnderROC"] == children["metrics.avg_areaUnderROC"].max()
    assert metrics["areaUnderROC_test_predictions"] > 0.9
    assert "model" in {a.path for a in done.client.list_artifacts(search)}
    done.assert_records_the_notebook(search)


@pytest.mark.spark
@pytest.mark.h2o
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_sparkling_water(execute: Callable[..., Executed]) -> None:
    done = execute("sparkling_water.ipynb", timeout=1500)
    runs = done.runs("sparkling-water")
    assert list(runs["run_name"]) == ["H2OGBM"] and list(runs["status"]) == ["FINISHED"]
    run_id = runs["run_id"].iloc[0]
    assert runs["metrics.training_AUC"].iloc[0] > 0.9
    assert runs["metrics.validation_AUC"].iloc[0] > 0.8
    artifacts = {a.path for a in done.client.list_artifacts(run_id)}
    assert {"model", "feature_importances.csv"} <= artifacts
    done.assert_records_the_notebook(run_id)


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_sweep(execute: Callable[..., Executed]) -> None:
    done = execute("sweep.ipynb")
    runs = done.runs("sweep")
    parents = runs[runs["tags.mlflow.parentRunId"].isna()]
    assert list(parents["run_name"]) == ["sweep"]
    sweep = parents["run_id"].iloc[0]
    trials = runs[runs["tags.mlflow.parentRunId"] == sweep]
    assert len(trials) == 4 and set(trials["tags.sparktrack.sweep.state"]) == {"complete"}
    assert trials["metrics.areaUnderROC"].between(0.9, 1.0).all()
    assert "best validation AUC" in done.printed
    done.assert_records_the_notebook(sweep)


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_registry_and_serving(execute: Callable[..., Executed]) -> None:
    done = execute("registry_and_serving.ipynb")
    runs = done.runs("registry-and-serving")
    assert list(runs["run_name"]) == ["logistic-regression"]
    run_id = runs["run_id"].iloc[0]
    assert runs["metrics.test_auc"].iloc[0] > 0.9
    production = RegistryClient(done.client).resolve("models:/breast-cancer/Production")
    assert production.source == f"runs:/{run_id}/model"
    assert production.aliases == ("champion",)
    assert "v1 moved from Staging to Production" in done.printed
    assert "{'predictions': [" in done.printed  # the scoring server answered
    done.assert_records_the_notebook(run_id)


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_reproduction(execute: Callable[..., Executed]) -> None:
    done = execute("reproduction.ipynb")
    runs = done.runs("reproduction")
    assert list(runs["run_name"].iloc[:1]) == ["notebook-run"]
    notebook_run = runs["run_id"].iloc[0]
    done.assert_records_the_notebook(notebook_run)
    launched = runs.iloc[1:]
    assert list(launched["status"]) == ["FINISHED", "FINISHED"]
    first, again = launched["run_id"]
    assert done.client.get_tags(again)["sparktrack.rerunOf"] == first
    assert list(launched["params.reg_param"]) == ["0.01", "0.5"]
    assert launched["metrics.test_auc"].between(0.9, 1.0).all()
    assert "param   reg_param: 0.01 -> 0.5" in done.printed
