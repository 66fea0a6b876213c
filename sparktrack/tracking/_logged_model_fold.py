"""Logged models' entity and fold: what the ``logged_models`` events mean together.

Per model, the ``create`` event carries the fixed fields; the status, each tag and
each param are those of their latest event (by ``event_time``); ``delete`` hides the
model from reads. ``LoggedModels`` (``_logged_models``) reads and writes the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from sparktrack.store import LoggedModelEvent

__all__ = [
    "TABLE",
    "LoggedModel",
    "LoggedModelFold",
    "LoggedModelStatus",
    "fold_logged_models",
    "is_logged_model_id",
]

TABLE = "logged_models"
# MLflow's ids: "m-" and a uuid4's hex. models:/<id> is told from models:/<name>/<version>
# by the missing '/', and from a registered model named like one by this exact shape.
_ID_LENGTH = 34


def is_logged_model_id(text: str) -> bool:
    """Tell whether ``text`` has the shape of a logged model's id (``m-<32 hex digits>``).

    Args:
        text: The text to look at.

    Returns:
        True for ``m-`` and 32 lower-case hex digits.
    """
    return (
        len(text) == _ID_LENGTH
        and text.startswith("m-")
        and all(c in "0123456789abcdef" for c in text[2:])
    )


class LoggedModelStatus:
    """A logged model's status: PENDING until finalized READY (or FAILED)."""

    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"
    ALL = (PENDING, READY, FAILED)


@dataclass(frozen=True)
class LoggedModel:
    """One logged model, as its events fold.

    Attributes:
        model_id: ``m-<32 hex digits>``; ``models:/<model_id>`` loads it.
        experiment_id: Its experiment.
        name: Its name (``log_model(name=...)``), e.g. ``model``.
        artifact_location: Its folder in the store (a path or URI like the store's).
        creation_timestamp: Milliseconds since the epoch.
        last_updated_timestamp: Milliseconds since the epoch of its last change.
        model_type: Free text (MLflow's ``model_type``), may be empty.
        source_run_id: The run that logged it, if any.
        status: One of ``LoggedModelStatus``.
        tags: Its tags.
        params: Its params.
        user_id: Who created it.
        outputs: Run id -> the step at which that run logged it as an output.
    """

    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    model_type: str
    source_run_id: str | None
    status: str
    tags: dict[str, str]
    params: dict[str, str]
    user_id: str | None
    outputs: dict[str, int] = field(default_factory=dict)

    @property
    def model_uri(self) -> str:
        """The URI that loads this model."""
        return f"models:/{self.model_id}"


@dataclass
class LoggedModelFold:
    """One model's state as its events fold (the ``create`` row, then the changes)."""

    row: dict[str, Any]
    updated: int
    status: str = LoggedModelStatus.PENDING
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, int] = field(default_factory=dict)
    deleted: bool = False


def fold_logged_models(table: pa.Table) -> dict[str, LoggedModelFold]:
    """Each model's fold, by id, from the rows of the ``logged_models`` table."""
    folds: dict[str, LoggedModelFold] = {}
    rows = table.sort_by("event_time").to_pylist() if table.num_rows else []
    for row in rows:
        model_id, event, when = row["model_id"], row["event"], int(row["event_time"])
        if event == LoggedModelEvent.CREATE:
            folds.setdefault(model_id, LoggedModelFold(row, when))
            continue
        fold = folds.get(model_id)
        if fold is None:  # an event of a model whose creation this read did not see
            continue
        fold.updated = max(fold.updated, when)
        key, value = row["key"], row["value"]
        if event == LoggedModelEvent.STATUS:
            fold.status = value
        elif event == LoggedModelEvent.TAG:
            fold.tags[key] = value or ""
        elif event == LoggedModelEvent.UNTAG:
            fold.tags.pop(key, None)
        elif event == LoggedModelEvent.PARAM:
            fold.params[key] = value or ""
        elif event == LoggedModelEvent.OUTPUT:
            fold.outputs[key] = int(value or 0)
        elif event == LoggedModelEvent.DELETE:
            fold.deleted = True
    return folds
