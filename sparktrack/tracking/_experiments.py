"""Experiments: named groups of runs, created on first use, soft-deleted and restored."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import pandas as pd

from sparktrack.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from sparktrack.store import LifecycleStage, Store
from sparktrack.tracking._cache import Slot, TableCache
from sparktrack.tracking._clock import event_time_us
from sparktrack.tracking._entities import Experiment
from sparktrack.tracking._locking import ForkSafeLock
from sparktrack.tracking._state import fold_experiments
from sparktrack.tracking._validation import check_experiment_name, now_ms

__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "DEFAULT_EXPERIMENT_NAME",
    "VIEW_TYPES",
    "Experiments",
    "RunViewType",
    "check_view",
    "experiment_id_for",
]

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
VIEW_TYPES = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")
RunViewType = Literal["ACTIVE_ONLY", "DELETED_ONLY", "ALL"]
_FOLDED: Slot[pd.DataFrame] = Slot("experiments folded")


def experiment_id_for(name: str) -> str:
    """Experiment ids derive from names, so concurrent creators agree without a lock."""
    if name == DEFAULT_EXPERIMENT_NAME:
        return DEFAULT_EXPERIMENT_ID
    return str(int(hashlib.sha1(name.encode()).hexdigest()[:13], 16))


def check_view(view: str) -> str:
    """``view`` if it is one of ``VIEW_TYPES``; InvalidInputError otherwise."""
    if view not in VIEW_TYPES:
        raise InvalidInputError(f"run_view_type {view!r} must be one of {list(VIEW_TYPES)}")
    return view


def _to_experiment(row: Any) -> Experiment:
    return Experiment(
        experiment_id=row["experiment_id"],
        name=row["name"],
        artifact_location=row["artifact_location"],
        lifecycle_stage=row["lifecycle_stage"],
        creation_time=int(row["creation_time"]),
    )


class Experiments:
    """Reads and writes the experiments table, with the caches log calls rely on.

    Thread-safe. The methods are ``TrackingClient``'s (documented there).
    """

    def __init__(self, store: Store, cache: TableCache) -> None:
        self._store = store
        self._cache = cache
        self._lock = ForkSafeLock()
        self._by_name: dict[str, Experiment] = {}
        # Active experiments looked up by id: creating a run must not re-read the table.
        self._active: dict[str, Experiment] = {}

    def _folded(self) -> pd.DataFrame:
        self._store.flush(fsync=False)
        version = self._store.version("experiments")
        return self._cache.get(
            _FOLDED, (version,), lambda: fold_experiments(self._store.scan("experiments"))
        )

    def get_by_name(self, name: str) -> Experiment | None:
        check_experiment_name(name)
        with self._lock:
            cached = self._by_name.get(name)
        if cached is not None and cached.lifecycle_stage == LifecycleStage.ACTIVE:
            return cached
        frame = self._folded()
        match = frame[frame["name"] == name] if not frame.empty else frame
        if match.empty:
            return None
        experiment = _to_experiment(match.iloc[-1])
        with self._lock:
            self._by_name[name] = experiment
        return experiment

    def get(self, experiment_id: str) -> Experiment:
        frame = self._folded()
        match = frame[frame["experiment_id"] == str(experiment_id)] if not frame.empty else frame
        if match.empty:
            raise NotFoundError(
                f"experiment id {experiment_id!r} does not exist in store {self._store.uri!r}; "
                "list experiments with `sparktrack experiments list`"
            )
        return _to_experiment(match.iloc[-1])

    def active(self, experiment_id: str) -> Experiment:
        """The experiment, which must be active (runs start only in active ones)."""
        with self._lock:
            cached = self._active.get(experiment_id)
        if cached is not None:
            return cached
        experiment = self.get(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidInputError(
                f"experiment {experiment.name!r} (id {experiment.experiment_id}) is deleted; "
                "restore it before starting runs in it"
            )
        with self._lock:
            self._active[experiment_id] = experiment
        return experiment

    def search(self, view_type: str) -> list[Experiment]:
        check_view(view_type)
        experiments = [_to_experiment(row) for _, row in self._folded().iterrows()]
        if view_type == "ACTIVE_ONLY":
            return [e for e in experiments if e.lifecycle_stage == LifecycleStage.ACTIVE]
        if view_type == "DELETED_ONLY":
            return [e for e in experiments if e.lifecycle_stage == LifecycleStage.DELETED]
        return experiments

    def create(self, name: str, artifact_location: str | None) -> str:
        check_experiment_name(name)
        existing = self.get_by_name(name)
        if existing is not None:
            state = (
                "deleted; restore it or pick another name"
                if (existing.lifecycle_stage == LifecycleStage.DELETED)
                else "already exists"
            )
            raise AlreadyExistsError(f"experiment {name!r} {state} (id {existing.experiment_id})")
        return self._write(name, artifact_location)

    def get_or_create(self, name: str) -> Experiment:
        experiment = self.get_by_name(name)
        if experiment is None:
            self._write(name, None)
            experiment = self.get_by_name(name)
            assert experiment is not None
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidInputError(
                f"experiment {name!r} (id {experiment.experiment_id}) is deleted; restore it "
                "with TrackingClient.restore_experiment or pick another name"
            )
        return experiment

    def set_stage(self, experiment_id: str, stage: str) -> None:
        experiment = self.get(experiment_id)
        row = {
            "experiment_id": experiment.experiment_id,
            "name": experiment.name,
            "artifact_location": experiment.artifact_location,
            "lifecycle_stage": stage,
            "creation_time": experiment.creation_time,
            "event_time": event_time_us(),
        }
        self._store.append("experiments", [row])
        with self._lock:
            self._by_name.clear()
            self._active.clear()

    def _write(self, name: str, artifact_location: str | None) -> str:
        experiment_id = experiment_id_for(name)
        location = artifact_location or self._store.artifacts.experiment_root(experiment_id)
        row = {
            "experiment_id": experiment_id,
            "name": name,
            "artifact_location": location,
            "lifecycle_stage": LifecycleStage.ACTIVE,
            "creation_time": now_ms(),
            "event_time": event_time_us(),
        }
        self._store.append("experiments", [row])
        with self._lock:
            self._by_name.pop(name, None)
        return experiment_id
