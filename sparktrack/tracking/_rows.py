"""Building the rows tracking appends: validated, stamped, in the table layout.

Every builder validates all it is given before returning anything, so a rejected
call writes nothing. ``event_time`` comes from ``event_time_us`` (strictly increasing
within the process), so two events of one process never tie in a fold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sparktrack.errors import ParamConflictError
from sparktrack.store import RunEvent, RunStatus
from sparktrack.tracking._clock import event_time_us
from sparktrack.tracking._entities import DatasetInput, Metric
from sparktrack.tracking._validation import (
    check_key,
    check_metric,
    check_param_value,
    check_tag_value,
)

__all__ = [
    "Row",
    "end_event",
    "input_row",
    "metric_row",
    "metric_rows",
    "param_rows",
    "run_event",
    "start_event",
    "tag_deletion",
    "tag_rows",
]

Row = dict[str, Any]


def start_event(
    run_id: str,
    experiment_id: str,
    *,
    run_name: str,
    user_id: str | None,
    parent_run_id: str | None,
    start_time: int,
    artifact_uri: str,
) -> Row:
    """The event that creates a run, RUNNING, with its fixed fields."""
    return {
        "run_id": run_id,
        "experiment_id": experiment_id,
        "event": RunEvent.START,
        "status": RunStatus.RUNNING,
        "run_name": run_name,
        "user_id": user_id,
        "parent_run_id": parent_run_id,
        "start_time": start_time,
        "end_time": None,
        "artifact_uri": artifact_uri,
        "event_time": event_time_us(),
    }


def run_event(run_id: str, event: str, **fields: Any) -> Row:
    """An event of a run (``resume``, ``rename``, ``delete``, ``restore``), now."""
    return {"run_id": run_id, "event": event, "event_time": event_time_us(), **fields}


def end_event(run_id: str, status: str, end_time: int, *, event_time: int | None = None) -> Row:
    """The event that ends a run with ``status`` (at ``event_time``, default now)."""
    return {
        "run_id": run_id,
        "event": RunEvent.END,
        "status": status,
        "end_time": end_time,
        "event_time": event_time_us() if event_time is None else event_time,
    }


def tag_rows(run_id: str, tags: Mapping[str, Any]) -> list[Row]:
    """Rows setting ``tags``; raises InvalidInputError for a bad key or value."""
    stamp = event_time_us()
    return [
        {
            "run_id": run_id,
            "key": check_key("tag", key, run_id),
            "value": check_tag_value(key, value, run_id),
            "deleted": False,
            "event_time": stamp,
        }
        for key, value in tags.items()
    ]


def tag_deletion(run_id: str, key: str) -> Row:
    """The row that deletes tag ``key``."""
    return {
        "run_id": run_id,
        "key": key,
        "value": None,
        "deleted": True,
        "event_time": event_time_us(),
    }


def metric_row(run_id: str, key: Any, value: Any, step: Any, timestamp: Any) -> Row:
    """The row of one metric value; raises InvalidInputError for a bad key, value or step."""
    key, value, step, timestamp = check_metric(key, value, step, timestamp, run_id)
    return {"run_id": run_id, "key": key, "value": value, "step": step, "timestamp": timestamp}


def metric_rows(run_id: str, metrics: Iterable[Metric]) -> list[Row]:
    """Rows for ``metrics``; raises InvalidInputError for a bad key, value or step."""
    return [metric_row(run_id, m.key, m.value, m.step, m.timestamp) for m in metrics]


def param_rows(run_id: str, params: Mapping[str, Any], logged: Mapping[str, str]) -> list[Row]:
    """Rows for the ``params`` not ``logged`` yet (params are immutable within a run).

    Raises:
        InvalidInputError: A key or value is invalid.
        ParamConflictError: A param is already logged with another value.
    """
    rows = []
    stamp = event_time_us()
    for key, value in params.items():
        key = check_key("param", key, run_id)
        text = check_param_value(key, value, run_id)
        if key in logged:
            if logged[key] != text:
                raise ParamConflictError(
                    f"param {key!r} of run {run_id} is already {logged[key]!r} and cannot "
                    f"change to {text!r}: params are immutable within a run. Log it under "
                    "another key, or start a new run."
                )
            continue
        rows.append({"run_id": run_id, "key": key, "value": text, "event_time": stamp})
    return rows


def input_row(run_id: str, dataset: DatasetInput, context: str) -> Row:
    """The lineage row: the run read ``dataset`` in the role ``context``."""
    return {
        "run_id": run_id,
        "dataset_name": dataset.name,
        "digest": dataset.digest,
        "source_type": dataset.source_type,
        "source": dataset.source,
        "schema": dataset.schema,
        "num_rows": dataset.num_rows,
        "context": context,
        "event_time": event_time_us(),
    }
