"""Logged models (MLflow 3): a model's own identity, artifacts, status, tags and params.

A logged model is what ``log_model`` makes in MLflow 3: an id (``m-<32 hex digits>``)
with a folder of its own, ``artifacts/<exp>/models/<model_id>/artifacts`` in the store,
whether or not a run logged it. ``models:/<model_id>`` loads it; a registered version
may point at it. Its events go to the ``logged_models`` table (append-only like every
table) and are folded on read: per model and key, the event with the greatest
``event_time`` wins.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.store import LifecycleStage, LoggedModelEvent, Store
from sparktrack.tracking._client import TrackingClient
from sparktrack.tracking._clock import event_time_us
from sparktrack.tracking._context import current_user
from sparktrack.tracking._logged_model_fold import (
    TABLE,
    LoggedModel,
    LoggedModelFold,
    LoggedModelStatus,
    fold_logged_models,
)
from sparktrack.tracking._validation import (
    check_key,
    check_param_value,
    check_tag_value,
)

__all__ = ["LoggedModels"]


class _Cache:
    """The fold of one store's table as of one table version, shared in the process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entry: tuple[int | None, dict[str, LoggedModelFold]] | None = None


_caches: weakref.WeakKeyDictionary[Store, _Cache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache_of(store: Store) -> _Cache:
    with _caches_lock:
        cache = _caches.get(store)
        if cache is None:
            cache = _caches[store] = _Cache()
        return cache


class LoggedModels:
    """The logged models of one store. Thread-safe; every write is readable on return.

        models = LoggedModels(TrackingClient("/data/sparktrack-store"))
        model = models.create("0", name="model", source_run_id=run_id)
        models.finalize(model.model_id, LoggedModelStatus.READY)

    Args:
        tracking: The client of the store whose ``logged_models`` table holds them.
    """

    def __init__(self, tracking: TrackingClient) -> None:
        self.tracking = tracking
        self._store = tracking.store
        self._cache = _cache_of(self._store)

    # -- writes -----------------------------------------------------------------------------
    def create(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        model_type: str | None = None,
        source_run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> LoggedModel:
        """Create a logged model (status PENDING) in an active experiment.

        Args:
            experiment_id: Its experiment.
            name: Its name; None for one made from its id.
            model_type: Free text, e.g. ``agent``.
            source_run_id: The run logging it.
            tags: Its first tags.
            params: Its params.

        Returns:
            The new model.

        Raises:
            NotFoundError: The experiment does not exist.
            InvalidInputError: The experiment is deleted, or a key or value is invalid.
        """
        experiment = self.tracking.get_experiment(str(experiment_id))
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidInputError(
                f"experiment {experiment_id} is deleted: restore it before logging models to it"
            )
        model_id = f"m-{uuid.uuid4().hex}"
        create = {
            "model_id": model_id,
            "experiment_id": experiment.experiment_id,
            "event": LoggedModelEvent.CREATE,
            "name": name or f"model-{model_id[2:10]}",
            "model_type": model_type or "",
            "source_run_id": source_run_id or None,
            "user_id": current_user(),
            "event_time": event_time_us(),
        }
        rows = [create, *self._tag_rows(model_id, tags), *self._param_rows(model_id, params)]
        self._commit(rows)
        return self.get(model_id)

    def finalize(self, model_id: str, status: str) -> LoggedModel:
        """Set a model's status (READY once its artifacts are written, or FAILED).

        Args:
            model_id: The logged model.
            status: One of ``LoggedModelStatus``.

        Returns:
            The model after the change.

        Raises:
            NotFoundError: No live model has that id.
            InvalidInputError: The status is not one of ``LoggedModelStatus``.
        """
        if status not in LoggedModelStatus.ALL:
            raise InvalidInputError(
                f"status {status!r} of logged model {model_id} is not one of "
                f"{list(LoggedModelStatus.ALL)}"
            )
        self.get(model_id)
        self._commit([self._event(model_id, LoggedModelEvent.STATUS, value=status)])
        return self.get(model_id)

    def set_tags(self, model_id: str, tags: Mapping[str, Any]) -> None:
        """Set tags of a model.

        Args:
            model_id: The logged model.
            tags: Key to value (stored as strings).

        Raises:
            NotFoundError: No live model has that id.
            InvalidInputError: A key or value is invalid.
        """
        self.get(model_id)
        self._commit(self._tag_rows(model_id, tags))

    def delete_tag(self, model_id: str, key: str) -> None:
        """Delete a tag of a model.

        Args:
            model_id: The logged model.
            key: The tag's key.

        Raises:
            NotFoundError: No live model has that id, or it has no such tag.
        """
        if key not in self.get(model_id).tags:
            raise NotFoundError(f"logged model {model_id} has no tag {key!r}")
        self._commit([self._event(model_id, LoggedModelEvent.UNTAG, key=key)])

    def log_params(self, model_id: str, params: Mapping[str, Any]) -> None:
        """Log params of a model.

        Args:
            model_id: The logged model.
            params: Key to value (stored as strings).

        Raises:
            NotFoundError: No live model has that id.
            InvalidInputError: A key or value is invalid.
        """
        self.get(model_id)
        self._commit(self._param_rows(model_id, params))

    def log_output(self, model_id: str, run_id: str, step: int) -> None:
        """Record that run ``run_id`` produced the model at ``step`` (MLflow's run outputs).

        Args:
            model_id: The logged model.
            run_id: The run that logged it.
            step: The run's step when it did.

        Raises:
            NotFoundError: No live model has that id.
        """
        self.get(model_id)
        row = self._event(model_id, LoggedModelEvent.OUTPUT, key=run_id, value=str(int(step)))
        self._commit([row])

    def log_input(self, model_id: str, run_id: str) -> None:
        """Record that run ``run_id`` used the model (MLflow's run inputs).

        Args:
            model_id: The logged model.
            run_id: The run that used it.

        Raises:
            NotFoundError: No live model has that id.
        """
        self.get(model_id)
        self._commit([self._event(model_id, LoggedModelEvent.INPUT, key=run_id)])

    def delete(self, model_id: str) -> None:
        """Delete a model: it disappears from reads (its folder stays).

        Args:
            model_id: The logged model.

        Raises:
            NotFoundError: No live model has that id.
        """
        self.get(model_id)
        self._commit([self._event(model_id, LoggedModelEvent.DELETE)])

    # -- reads ------------------------------------------------------------------------------
    def get(self, model_id: str, *, allow_deleted: bool = False) -> LoggedModel:
        """The logged model ``model_id``.

        Args:
            model_id: The logged model.
            allow_deleted: Also answer a deleted model.

        Returns:
            The model as its events fold now.

        Raises:
            NotFoundError: No model has that id (or it was deleted).
        """
        fold = self._folds().get(model_id)
        if fold is None or (fold.deleted and not allow_deleted):
            raise NotFoundError(f"logged model {model_id!r} does not exist")
        return self._entity(fold)

    def search(self, experiment_ids: Iterable[str]) -> list[LoggedModel]:
        """The live models of some experiments, newest first.

        Args:
            experiment_ids: The experiments.

        Returns:
            Their models, by creation time, newest first.
        """
        wanted = {str(e) for e in experiment_ids}
        found = [
            self._entity(f)
            for f in self._folds().values()
            if not f.deleted and f.row["experiment_id"] in wanted
        ]
        return sorted(found, key=lambda m: (-m.creation_timestamp, m.model_id))

    def outputs_of(self, run_ids: Iterable[str]) -> dict[str, list[tuple[str, int]]]:
        """The models each run logged as outputs (MLflow's ``run.outputs``).

        Deleted models stay listed, as MLflow keeps a run's outputs when a model is
        deleted; a run's models come in the order they were created.

        Args:
            run_ids: The runs.

        Returns:
            Run id -> (model id, step) pairs; runs that logged none are left out.
        """
        wanted = set(run_ids)
        found: dict[str, list[tuple[str, int]]] = {}
        folds = sorted(
            self._folds().values(), key=lambda f: (f.row["event_time"], f.row["model_id"])
        )
        for fold in folds:
            for run_id, step in fold.outputs.items():
                if run_id in wanted:
                    found.setdefault(run_id, []).append((fold.row["model_id"], step))
        return found

    def of_run(self, run_id: str, name: str) -> LoggedModel | None:
        """The model ``runs:/<run_id>/<name>`` means in MLflow 3, if the run logged one.

        MLflow 3 keeps a logged model in its own folder, not among the run's artifacts;
        ``runs:/<run_id>/<name>`` then names the live model of that name the run
        logged, the one it output at the highest step when there are several (as
        MLflow's client resolves it).

        Args:
            run_id: The run.
            name: The model's name (``log_model(name=...)``).

        Returns:
            The model, or None when the run logged none of that name.

        Raises:
            NotFoundError: The run does not exist.
        """
        experiment_id = self.tracking.experiment_of(run_id)
        found = [
            m for m in self.search([experiment_id]) if m.name == name and m.source_run_id == run_id
        ]
        if not found:
            return None
        return max(found, key=lambda m: (m.outputs.get(run_id, -1), m.creation_timestamp))

    # -- helpers ----------------------------------------------------------------------------
    def _entity(self, fold: LoggedModelFold) -> LoggedModel:
        row = fold.row
        return LoggedModel(
            model_id=row["model_id"],
            experiment_id=row["experiment_id"],
            name=row["name"] or "",
            artifact_location=self.tracking.artifacts.logged_model_root(
                row["experiment_id"], row["model_id"]
            ),
            creation_timestamp=int(row["event_time"]) // 1000,
            last_updated_timestamp=fold.updated // 1000,
            model_type=row["model_type"] or "",
            source_run_id=row["source_run_id"],
            status=fold.status,
            tags=dict(fold.tags),
            params=dict(fold.params),
            user_id=row["user_id"],
            outputs=dict(fold.outputs),
        )

    def _folds(self) -> dict[str, LoggedModelFold]:
        version = self._store.version(TABLE)
        cache = self._cache
        with cache.lock:
            if cache.entry is not None and version is not None and cache.entry[0] == version:
                return cache.entry[1]
        # Folded anew for each table version: entities are built from it, never changed.
        folds = fold_logged_models(self._store.scan(TABLE))
        with cache.lock:
            cache.entry = (version, folds)
        return folds

    def _commit(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        self._store.append(TABLE, rows)
        # MLflow's client reads a model back right after each change (log_model creates,
        # uploads, finalizes, then searches by name): a write must be readable on return.
        self._store.flush(fsync=False)

    def _event(
        self, model_id: str, event: str, *, key: str | None = None, value: str | None = None
    ) -> dict[str, Any]:
        return {
            "model_id": model_id,
            "event": event,
            "key": key,
            "value": value,
            "user_id": current_user(),
            "event_time": event_time_us(),
        }

    def _tag_rows(self, model_id: str, tags: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        rows = []
        for key, value in (tags or {}).items():
            checked = check_key("tag", key, None)
            text = check_tag_value(checked, value, None)
            rows.append(self._event(model_id, LoggedModelEvent.TAG, key=checked, value=text))
        return rows

    def _param_rows(self, model_id: str, params: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        rows = []
        for key, value in (params or {}).items():
            checked = check_key("param", key, None)
            text = check_param_value(checked, value, None)
            rows.append(self._event(model_id, LoggedModelEvent.PARAM, key=checked, value=text))
        return rows
