"""Experiments: named groups of runs, created on first use, soft-deleted and restored."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import pandas as pd

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.store import Store
from sparktrack.tracking._clock import event_time_us
from sparktrack.tracking._entities import Experiment
from sparktrack.tracking._state import fold_experiments
from sparktrack.tracking._validation import check_experiment_name, now_ms

__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "DEFAULT_EXPERIMENT_NAME",
    "ExperimentsMixin",
    "check_view",
    "experiment_id_for",
]

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
_VIEW_TYPES = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")


def experiment_id_for(name: str) -> str:
    """Experiment ids derive from names, so concurrent creators agree without a lock."""
    if name == DEFAULT_EXPERIMENT_NAME:
        return DEFAULT_EXPERIMENT_ID
    return str(int(hashlib.sha1(name.encode()).hexdigest()[:13], 16))


def check_view(view: str) -> str:
    if view not in _VIEW_TYPES:
        raise InvalidInputError(f"run_view_type {view!r} must be one of {list(_VIEW_TYPES)}")
    return view


class ExperimentsMixin:
    """The experiment half of TrackingClient (state lives on the client)."""

    _lock: threading.RLock
    _experiments_by_name: dict[str, Experiment]
    _active_experiments: dict[str, Experiment]

    @property
    def store(self) -> Store:  # provided by TrackingClient
        raise NotImplementedError

    def _folded(self, table: str, fold: Any) -> Any:  # provided by TrackingClient
        raise NotImplementedError

    def _experiments(self) -> pd.DataFrame:
        return self._folded("experiments", fold_experiments)

    def _to_experiment(self, row: Any) -> Experiment:
        return Experiment(
            experiment_id=row["experiment_id"],
            name=row["name"],
            artifact_location=row["artifact_location"],
            lifecycle_stage=row["lifecycle_stage"],
            creation_time=int(row["creation_time"]),
        )

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        check_experiment_name(name)
        with self._lock:
            cached = self._experiments_by_name.get(name)
        if cached is not None and cached.lifecycle_stage == "active":
            return cached
        frame = self._experiments()
        if frame.empty:
            return None
        match = frame[frame["name"] == name]
        if match.empty:
            return None
        experiment = self._to_experiment(match.iloc[-1])
        with self._lock:
            self._experiments_by_name[name] = experiment
        return experiment

    def get_experiment(self, experiment_id: str) -> Experiment:
        frame = self._experiments()
        match = frame[frame["experiment_id"] == str(experiment_id)] if not frame.empty else frame
        if match.empty:
            raise NotFoundError(
                f"experiment id {experiment_id!r} does not exist in store {self.store.uri!r}; "
                "list experiments with `sparktrack experiments list`"
            )
        return self._to_experiment(match.iloc[-1])

    def _active_experiment(self, experiment_id: str) -> Experiment:
        with self._lock:
            cached = self._active_experiments.get(experiment_id)
        if cached is not None:
            return cached
        experiment = self.get_experiment(experiment_id)
        if experiment.lifecycle_stage == "active":
            with self._lock:
                self._active_experiments[experiment_id] = experiment
        return experiment

    def search_experiments(self, view_type: str = "ACTIVE_ONLY") -> list[Experiment]:
        check_view(view_type)
        frame = self._experiments()
        experiments = [self._to_experiment(row) for _, row in frame.iterrows()]
        if view_type == "ACTIVE_ONLY":
            return [e for e in experiments if e.lifecycle_stage == "active"]
        if view_type == "DELETED_ONLY":
            return [e for e in experiments if e.lifecycle_stage == "deleted"]
        return experiments

    def create_experiment(self, name: str, artifact_location: str | None = None) -> str:
        check_experiment_name(name)
        existing = self.get_experiment_by_name(name)
        if existing is not None:
            state = (
                "deleted; restore it or pick another name"
                if (existing.lifecycle_stage == "deleted")
                else "already exists"
            )
            raise InvalidInputError(f"experiment {name!r} {state} (id {existing.experiment_id})")
        return self._write_experiment(name, artifact_location, "active")

    def _write_experiment(self, name: str, artifact_location: str | None, stage: str) -> str:
        experiment_id = experiment_id_for(name)
        location = artifact_location or self.store.artifacts.experiment_root(experiment_id)
        self.store.append(
            "experiments",
            [
                {
                    "experiment_id": experiment_id,
                    "name": name,
                    "artifact_location": location,
                    "lifecycle_stage": stage,
                    "creation_time": now_ms(),
                    "event_time": event_time_us(),
                }
            ],
        )
        with self._lock:
            self._experiments_by_name.pop(name, None)
        return experiment_id

    def get_or_create_experiment(self, name: str) -> Experiment:
        experiment = self.get_experiment_by_name(name)
        if experiment is None:
            self._write_experiment(name, None, "active")
            experiment = self.get_experiment_by_name(name)
            assert experiment is not None
        if experiment.lifecycle_stage != "active":
            raise InvalidInputError(
                f"experiment {name!r} (id {experiment.experiment_id}) is deleted; restore it "
                "with TrackingClient.restore_experiment or pick another name"
            )
        return experiment

    def _set_experiment_stage(self, experiment_id: str, stage: str, name: str | None = None):
        experiment = self.get_experiment(experiment_id)
        self.store.append(
            "experiments",
            [
                {
                    "experiment_id": experiment.experiment_id,
                    "name": name or experiment.name,
                    "artifact_location": experiment.artifact_location,
                    "lifecycle_stage": stage,
                    "creation_time": experiment.creation_time,
                    "event_time": event_time_us(),
                }
            ],
        )
        with self._lock:
            self._experiments_by_name.clear()
            self._active_experiments.clear()

    def delete_experiment(self, experiment_id: str) -> None:
        self._set_experiment_stage(experiment_id, "deleted")

    def restore_experiment(self, experiment_id: str) -> None:
        self._set_experiment_stage(experiment_id, "active")
