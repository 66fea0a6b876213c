"""The ``logged_models`` rows of one MLflow 3 logged model, as the server writes them.

A model keeps MLflow's id, name, type, source run, tags, params, outputs and status.
Event times are spelled from MLflow's timestamps (the table's ``creation_timestamp``
is its ``create`` event's time): the ``create`` event at the model's creation, its
tags, params and outputs just after, its status at its last update, so the fold
(latest event wins, ``create`` first) reads back what MLflow held.
"""

from __future__ import annotations

from typing import Any

from sparktrack.mlflow_import._records import MlflowLoggedModel
from sparktrack.store import LoggedModelEvent, Store
from sparktrack.tracking import LoggedModelStatus, event_time_us

__all__ = ["logged_model_rows", "stored_model_ids"]

_USER_TAG = "mlflow.user"
# MLflow's UNSPECIFIED has no counterpart: such a model was never finalized, PENDING.
_STATUS = {"READY": LoggedModelStatus.READY, "FAILED": LoggedModelStatus.FAILED}


def stored_model_ids(store: Store) -> set[str]:
    """The logged models the store holds (a ``create`` event each): an import skips them."""
    table = store.scan("logged_models", columns=["model_id", "event"])
    return {row["model_id"] for row in table.to_pylist() if row["event"] == LoggedModelEvent.CREATE}


def logged_model_rows(model: MlflowLoggedModel) -> list[dict[str, Any]]:
    """Every row of ``model``, its ``create`` event first."""
    created_us = (
        model.creation_timestamp * 1000 if model.creation_timestamp is not None else event_time_us()
    )
    user = model.tags.get(_USER_TAG)

    def event(
        kind: str, when: int, key: str | None = None, value: str | None = None
    ) -> dict[str, Any]:
        return {
            "model_id": model.model_id,
            "event": kind,
            "key": key,
            "value": value,
            "user_id": user,
            "event_time": when,
        }

    rows: list[dict[str, Any]] = [
        {
            **event(LoggedModelEvent.CREATE, created_us),
            "experiment_id": model.experiment_id,
            "name": model.name,
            "model_type": model.model_type or "",
            "source_run_id": model.source_run_id or None,
        }
    ]
    after = created_us + 1
    rows += [event(LoggedModelEvent.TAG, after, k, v) for k, v in model.tags.items()]
    rows += [event(LoggedModelEvent.PARAM, after, k, v) for k, v in model.params.items()]
    rows += [
        event(LoggedModelEvent.OUTPUT, after, run_id, str(step))
        for run_id, step in model.outputs.items()
    ]
    status = _STATUS.get(model.status)
    if status is not None:
        updated_us = (model.last_updated_timestamp or 0) * 1000
        rows.append(event(LoggedModelEvent.STATUS, max(updated_us, after + 1), value=status))
    return rows
