"""MLflow's records as the rows sparktrack's own writes produce (``tracking``'s encoding).

A run is what ``TrackingClient`` writes for it: a ``start`` event (RUNNING, with its
fixed fields), an ``end`` event with its final status, a ``delete`` event when it is
deleted; its params, tags (``mlflow.runName`` included), metric values and dataset
inputs. Event times come from tracking's clock, so they order as its own events do.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sparktrack.mlflow_import._records import MlflowDataset, MlflowRun
from sparktrack.store import RunEvent, RunStatus, Store
from sparktrack.tracking import event_time_us

__all__ = ["SIDE_TABLES", "RunRows", "dataset_source_type", "run_rows", "without_landed"]

Row = dict[str, Any]
# The tables a run's rows go to besides ``runs``, in the order they are appended: the
# ``runs`` events go last, as the mark that the run is complete.
SIDE_TABLES = ("params", "tags", "metrics", "inputs")
_RUN_NAME_TAG = "mlflow.runName"
_PARENT_TAG = "mlflow.parentRunId"
# MLflow's dataset source types, as sparktrack's ``source_type`` words.
_SOURCE_TYPES = {
    "delta_table": "delta",
    "local": "files",
    "http": "files",
    "https": "files",
    "s3": "files",
    "gs": "files",
    "dbfs": "files",
    "uc_volume": "files",
    "spark": "table",
    "code": "memory",
}


@dataclass
class RunRows:
    """The rows of some runs, by table."""

    tables: dict[str, list[Row]] = field(
        default_factory=lambda: {name: [] for name in (*SIDE_TABLES, "runs")}
    )

    def add(self, other: RunRows) -> None:
        for name, rows in other.tables.items():
            self.tables[name] += rows


def dataset_source_type(source_type: str) -> str:
    """Sparktrack's word for an MLflow dataset source type ("unknown" when none fits)."""
    return _SOURCE_TYPES.get(source_type, "unknown")


def _num_rows(profile: str | None) -> int | None:
    try:
        rows = json.loads(profile or "{}").get("num_rows")
    except (ValueError, AttributeError):
        return None
    return int(rows) if isinstance(rows, int) else None


def _input_row(run_id: str, dataset: MlflowDataset, stamp: int) -> Row:
    return {
        "run_id": run_id,
        "dataset_name": dataset.name,
        "digest": dataset.digest,
        "source_type": dataset_source_type(dataset.source_type),
        "source": dataset.source,
        "schema": dataset.schema,
        "num_rows": _num_rows(dataset.profile),
        "context": dataset.context,
        "event_time": stamp,
    }


def run_rows(run: MlflowRun, store: Store) -> RunRows:
    """Every row of ``run``, as sparktrack would have written it."""
    rows = RunRows()
    run_id = run.run_id
    name = run.run_name or run.tags.get(_RUN_NAME_TAG) or run_id
    tags = dict(run.tags)
    tags.setdefault(_RUN_NAME_TAG, name)
    stamp = event_time_us()
    rows.tables["params"] = [
        {"run_id": run_id, "key": k, "value": v, "event_time": stamp} for k, v in run.params.items()
    ]
    rows.tables["tags"] = [
        {"run_id": run_id, "key": k, "value": v, "deleted": False, "event_time": stamp}
        for k, v in tags.items()
    ]
    rows.tables["metrics"] = [
        {"run_id": run_id, "key": k, "value": v, "step": s, "timestamp": t}
        for k, v, s, t in run.metrics
    ]
    rows.tables["inputs"] = [_input_row(run_id, d, stamp) for d in run.inputs]
    start_time = int(run.start_time or 0)
    events: list[Row] = [
        {
            "run_id": run_id,
            "experiment_id": run.experiment_id,
            "event": RunEvent.START,
            "status": RunStatus.RUNNING,
            "run_name": name,
            "user_id": run.user_id or tags.get("mlflow.user"),
            "parent_run_id": tags.get(_PARENT_TAG) or None,
            "start_time": start_time,
            "end_time": None,
            "artifact_uri": store.artifacts.run_root(run.experiment_id, run_id),
            "event_time": event_time_us(),
        }
    ]
    if run.status in RunStatus.TERMINAL:
        events.append(
            {
                "run_id": run_id,
                "event": RunEvent.END,
                "status": run.status,
                "end_time": int(run.end_time if run.end_time is not None else start_time),
                "event_time": event_time_us(),
            }
        )
    if run.lifecycle_stage == "deleted":
        events.append({"run_id": run_id, "event": RunEvent.DELETE, "event_time": event_time_us()})
    rows.tables["runs"] = events
    return rows


def _identity(table: str, row: Row) -> tuple[Any, ...]:
    """What tells a row apart from another of the same run (event times aside)."""
    if table == "params":
        return (row["key"],)
    if table == "tags":
        return (row["key"], row["value"])
    if table == "inputs":
        return (row["digest"], row["context"])
    value = row["value"]
    return (row["key"], "NaN" if value != value else value, row["step"], row["timestamp"])


def without_landed(rows: RunRows, landed: Mapping[str, Iterable[Row]]) -> RunRows:
    """``rows`` less those an interrupted import already committed (``landed``, by table).

    Metric values are counted: a value logged twice in MLflow is imported twice.
    """
    kept = RunRows()
    kept.tables["runs"] = rows.tables["runs"]  # a run cut off has none of its events
    for table in SIDE_TABLES:
        table_rows = rows.tables[table]
        seen = Counter(_identity(table, row) for row in landed.get(table, ()))
        for row in table_rows:
            key = _identity(table, row)
            if seen[key] > 0:
                seen[key] -= 1
            else:
                kept.tables[table].append(row)
    return kept
