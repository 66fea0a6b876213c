"""Finding a named sweep again, and what its trials already did."""

from __future__ import annotations

import json
from typing import Any

from sparktrack.sweeps._records import Tags, TrialRecord
from sparktrack.sweeps._study import optuna_module
from sparktrack.tracking import Run, RunStatus, TrackingClient

__all__ = ["find_sweep_run", "previous_trials"]


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def find_sweep_run(client: TrackingClient, experiment_id: str, name: str) -> Run | None:
    """The newest sweep run called ``name`` in the experiment, if any."""
    found = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{Tags.NAME}` = {_quoted(name)} AND tags.`{Tags.ROLE}` = 'sweep'",
        order_by=["start_time DESC"],
        max_results=1,
    )
    if found.empty:
        return None
    return client.get_run(str(found["run_id"].iloc[0]))


def previous_trials(
    client: TrackingClient, experiment_id: str, parent_id: str
) -> list[TrialRecord]:
    """Every trial run of the sweep, with its state; unfinished ones count as killed."""
    json_to_distribution = optuna_module().distributions.json_to_distribution
    rows = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = {_quoted(parent_id)}",
        max_results=1_000_000,
    )
    records = []
    for _, row in rows.iterrows():
        number = _get(row, f"tags.{Tags.TRIAL}")
        if number is None:
            continue  # a run someone else nested under the sweep
        params = json.loads(_get(row, f"tags.{Tags.PARAMS}") or "{}")
        state = _get(row, f"tags.{Tags.STATE}") or "killed"
        if row["status"] == RunStatus.RUNNING:
            # Its driver died (the store marks such runs KILLED): it will be run again.
            client.set_terminated(str(row["run_id"]), RunStatus.KILLED)
            state = "killed"
        raw = _get(row, f"tags.{Tags.DISTRIBUTIONS}")
        distributions = (
            {k: json_to_distribution(v) for k, v in json.loads(raw).items()} if raw else None
        )
        metrics = {
            str(column)[len("metrics.") :]: float(value)
            for column, value in row.items()
            if str(column).startswith("metrics.") and value == value and value is not None
        }
        grid_id = _get(row, f"tags.{Tags.GRID_ID}")
        records.append(
            TrialRecord(
                number=int(number),
                run_id=str(row["run_id"]),
                params=params,
                state=state,
                value=None,
                metrics=metrics,
                start_time=_int(row.get("start_time")),
                end_time=_int(row.get("end_time")),
                grid_id=int(grid_id) if grid_id is not None else None,
                distributions=distributions,
                resumed=True,
            )
        )
    return records


def _get(row: Any, column: str) -> Any:
    value = row.get(column)
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value


def _int(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    try:
        return int(value.timestamp() * 1000) if hasattr(value, "timestamp") else int(value)
    except (TypeError, ValueError):
        return None
