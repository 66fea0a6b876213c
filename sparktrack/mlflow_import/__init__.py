"""Bring an existing MLflow store over: ``sparktrack import-mlflow SOURCE``.

    from sparktrack.mlflow_import import import_mlflow
    report = import_mlflow("sqlite:///mlflow.db", TrackingClient("./sparktrack-store"))
    for line in report.lines():
        print(line)

Experiments and runs keep MLflow's ids; params, full metric histories, tags, dataset
inputs and artifacts come along, MLflow 3 logged models (with their ids) into the
``logged_models`` table and the folders ``sparktrack server`` gives them, and
registered models with their versions, stages, aliases, descriptions and tags. Rows
are appended in large batches straight into the store's tables, as sparktrack's own
writes encode them. A second import adds nothing; an interrupted one finishes on the
next run. What has no place in sparktrack (traces, prompts, experiment tags, logged
models' metrics) is reported, not carried.
"""

from __future__ import annotations

from sparktrack.mlflow_import._importer import DEFAULT_BATCH_RUNS, import_mlflow
from sparktrack.mlflow_import._open import open_source
from sparktrack.mlflow_import._report import ImportCounts, ImportReport, NotCarried
from sparktrack.mlflow_import._source import ArtifactTree, MlflowSource

__all__ = [
    "DEFAULT_BATCH_RUNS",
    "ArtifactTree",
    "ImportCounts",
    "ImportReport",
    "MlflowSource",
    "NotCarried",
    "import_mlflow",
    "open_source",
]
