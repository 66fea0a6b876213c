"""An MLflow FileStore (a ``./mlruns`` folder or ``file:`` URI), read with PyYAML.

MLflow's layout (``mlflow/store/tracking/file_store.py`` and the registry's
``model_registry/file_store.py``): ``<root>/<experiment_id>/meta.yaml``, deleted
experiments under ``<root>/.trash/``; a run is ``<experiment>/<run_id>/`` with a
``meta.yaml`` (its status as MLflow's enum number), one file per param and tag (the
value), one per metric (lines ``timestamp value step``), and ``inputs/`` pointing at
``<experiment>/datasets/``. Keys holding "/" are nested folders. MLflow 3 logged
models are ``<experiment>/models/<model_id>/``; registered models ``<root>/models/``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import yaml

from sparktrack.mlflow_import._records import (
    LOGGED_MODEL_STATUS,
    MetricPoint,
    MlflowDataset,
    MlflowExperiment,
    MlflowLoggedModel,
    MlflowModel,
    MlflowRun,
    MlflowVersion,
)
from sparktrack.mlflow_import._source import ArtifactTree, check_folder, tree_at

__all__ = ["FileSource"]

# libyaml's loader when PyYAML was built with it: ten times faster on many meta files.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TRASH = ".trash"
_REGISTRY = "models"
# MLflow's RunStatus enum, as FileStore writes it in meta.yaml.
_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
# Folders of an experiment that are not runs.
_NOT_RUNS = {"tags", "datasets", "models", "traces", "meta.yaml"}


def _meta(folder: str) -> dict[str, Any]:
    with open(os.path.join(folder, "meta.yaml"), encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_Loader) or {}


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _values(folder: str) -> dict[str, str]:
    """Every file below ``folder``: key (its relative path) -> content."""
    found: dict[str, str] = {}
    if not os.path.isdir(folder):
        return found
    for parent, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(parent, name)
            with open(path, encoding="utf-8") as handle:
                found[os.path.relpath(path, folder).replace(os.sep, "/")] = handle.read()
    return found


def _metric_points(folder: str) -> list[MetricPoint]:
    points: list[MetricPoint] = []
    for key, content in _values(folder).items():
        for line in content.splitlines():
            fields = line.split()
            if len(fields) >= 2:
                step = int(fields[2]) if len(fields) > 2 else 0
                points.append((key, float(fields[1]), step, int(fields[0])))
    return points


class FileSource:
    """An MLflow FileStore.

    Args:
        root: The ``mlruns`` folder.

    Raises:
        NotFoundError: The folder does not exist.
    """

    def __init__(self, root: str, uri: str) -> None:
        self.uri = uri
        self._root = os.path.abspath(check_folder(root, "MLflow FileStore folder"))
        self._folders: dict[str, str] = {}  # experiment id -> its folder

    def experiments(self) -> list[MlflowExperiment]:
        found = []
        for parent in (self._root, os.path.join(self._root, _TRASH)):
            if not os.path.isdir(parent):
                continue
            for name in sorted(os.listdir(parent)):
                folder = os.path.join(parent, name)
                if name in (_TRASH, _REGISTRY) or not os.path.isfile(
                    os.path.join(folder, "meta.yaml")
                ):
                    continue
                meta = _meta(folder)
                experiment_id = str(meta.get("experiment_id", name))
                self._folders[experiment_id] = folder
                found.append(
                    MlflowExperiment(
                        experiment_id,
                        str(meta["name"]),
                        meta.get("artifact_location"),
                        meta.get("lifecycle_stage") or "active",
                        meta.get("creation_time"),
                        _values(os.path.join(folder, "tags")),
                    )
                )
        return found

    def _folder(self, experiment_id: str) -> str:
        if not self._folders:
            self.experiments()
        return self._folders[experiment_id]

    def run_ids(self, experiment_id: str) -> list[str]:
        folder = self._folder(experiment_id)
        return sorted(
            name
            for name in os.listdir(folder)
            if name not in _NOT_RUNS and os.path.isfile(os.path.join(folder, name, "meta.yaml"))
        )

    def runs(self, experiment_id: str, run_ids: Sequence[str]) -> list[MlflowRun]:
        experiment = self._folder(experiment_id)
        return [self._run(experiment_id, experiment, run_id) for run_id in run_ids]

    def _run(self, experiment_id: str, experiment: str, run_id: str) -> MlflowRun:
        folder = os.path.join(experiment, run_id)
        meta = _meta(folder)
        status = meta.get("status", 3)
        run = MlflowRun(
            run_id=str(meta.get("run_id") or meta.get("run_uuid") or run_id),
            experiment_id=experiment_id,
            run_name=meta.get("run_name") or None,
            user_id=meta.get("user_id"),
            status=_STATUS.get(status, str(status)) if isinstance(status, int) else str(status),
            start_time=meta.get("start_time"),
            end_time=meta.get("end_time"),
            lifecycle_stage=meta.get("lifecycle_stage") or "active",
            artifact_uri=meta.get("artifact_uri"),
            params=_values(os.path.join(folder, "params")),
            tags=_values(os.path.join(folder, "tags")),
            metrics=_metric_points(os.path.join(folder, "metrics")),
        )
        inputs = os.path.join(folder, "inputs")
        if os.path.isdir(inputs):
            for name in sorted(os.listdir(inputs)):
                link = _meta(os.path.join(inputs, name))
                if link.get("source_type") != "DATASET":
                    continue
                dataset = _meta(os.path.join(experiment, "datasets", str(link["source_id"])))
                run.inputs.append(
                    MlflowDataset(
                        name=str(dataset.get("name")),
                        digest=str(dataset.get("digest")),
                        source_type=str(dataset.get("source_type")),
                        source=str(dataset.get("source")),
                        schema=dataset.get("schema"),
                        profile=dataset.get("profile"),
                        context=(link.get("tags") or {}).get("mlflow.data.context"),
                    )
                )
        return run

    def logged_models(self) -> list[MlflowLoggedModel]:
        found = []
        outputs = self._model_outputs()
        for experiment in self.experiments():
            models = os.path.join(self._folder(experiment.experiment_id), "models")
            if not os.path.isdir(models):
                continue
            for entry in sorted(os.listdir(models)):
                folder = os.path.join(models, entry)
                meta = _meta(folder)
                if meta.get("lifecycle_stage", "active") != "active":
                    continue
                model_id = str(meta.get("model_id", entry))
                metrics = _values(os.path.join(folder, "metrics"))
                found.append(
                    MlflowLoggedModel(
                        model_id,
                        experiment.experiment_id,
                        str(meta.get("name")),
                        meta.get("artifact_location"),
                        meta.get("source_run_id"),
                        status=LOGGED_MODEL_STATUS.get(int(meta.get("status") or 0), "UNSPECIFIED"),
                        model_type=meta.get("model_type"),
                        creation_timestamp=_optional_int(meta.get("creation_timestamp")),
                        last_updated_timestamp=_optional_int(meta.get("last_updated_timestamp")),
                        tags=_values(os.path.join(folder, "tags")),
                        params=_values(os.path.join(folder, "params")),
                        outputs=outputs.get(model_id, {}),
                        # One line per value in each metric's file.
                        metrics=sum(len(text.splitlines()) for text in metrics.values()),
                    )
                )
        return found

    def _model_outputs(self) -> dict[str, dict[str, int]]:
        """Model id -> run id -> step: ``<run>/outputs/<model_id>/meta.yaml`` of each run."""
        found: dict[str, dict[str, int]] = {}
        for experiment in self.experiments():
            folder = self._folder(experiment.experiment_id)
            for run_id in self.run_ids(experiment.experiment_id):
                outputs = os.path.join(folder, run_id, "outputs")
                if not os.path.isdir(outputs):
                    continue
                for model_id in sorted(os.listdir(outputs)):
                    meta = _meta(os.path.join(outputs, model_id))
                    found.setdefault(model_id, {})[run_id] = int(meta.get("step") or 0)
        return found

    def registered_models(self) -> list[MlflowModel]:
        registry = os.path.join(self._root, _REGISTRY)
        if not os.path.isdir(registry):
            return []
        found = []
        for entry in sorted(os.listdir(registry)):
            folder = os.path.join(registry, entry)
            if not os.path.isfile(os.path.join(folder, "meta.yaml")):
                continue
            meta = _meta(folder)
            tags = _values(os.path.join(folder, "tags"))
            if tags.get("mlflow.prompt.is_prompt") == "true":
                continue
            versions = []
            for name in sorted(os.listdir(folder)):
                if not name.startswith("version-"):
                    continue
                version = _meta(os.path.join(folder, name))
                if version.get("current_stage") == "Deleted_Internal":
                    continue
                created = int(version.get("creation_timestamp") or 0)
                versions.append(
                    MlflowVersion(
                        version=int(version["version"]),
                        stage=version.get("current_stage") or "None",
                        description=version.get("description") or "",
                        tags=_values(os.path.join(folder, name, "tags")),
                        run_id=version.get("run_id") or None,
                        source=str(version.get("source") or ""),
                        user_id=version.get("user_id"),
                        creation_time=created,
                        last_updated_time=int(version.get("last_updated_timestamp") or created),
                    )
                )
            aliases = {
                alias: int(number) for alias, number in (meta.get("aliases") or {}).items()
            } or {k: int(v) for k, v in _values(os.path.join(folder, "aliases")).items()}
            created = int(meta.get("creation_timestamp") or 0)
            found.append(
                MlflowModel(
                    name=str(meta["name"]),
                    description=meta.get("description") or "",
                    tags=tags,
                    aliases=aliases,
                    creation_time=created,
                    last_updated_time=int(meta.get("last_updated_timestamp") or created),
                    versions=sorted(versions, key=lambda v: v.version),
                )
            )
        return found

    def run_artifacts(self, run: MlflowRun) -> ArtifactTree | str:
        return tree_at(run.artifact_uri, os.path.dirname(self._root))

    def model_artifacts(self, model: MlflowLoggedModel) -> ArtifactTree | str:
        return tree_at(model.artifact_location, os.path.dirname(self._root))

    def not_carried(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for experiment in self.experiments():
            traces = os.path.join(self._folder(experiment.experiment_id), "traces")
            if os.path.isdir(traces):
                found["traces"] = found.get("traces", 0) + len(os.listdir(traces))
        registry = os.path.join(self._root, _REGISTRY)
        if os.path.isdir(registry):
            prompts = sum(
                1
                for entry in os.listdir(registry)
                if _values(os.path.join(registry, entry, "tags")).get("mlflow.prompt.is_prompt")
                == "true"
            )
            if prompts:
                found["prompts"] = prompts
        return found

    def close(self) -> None:
        """Nothing to let go of."""
