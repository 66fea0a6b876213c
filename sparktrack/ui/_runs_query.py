"""The runs table: one search, then columns picked, nested runs grouped, and a page cut.

Every answer comes from ``TrackingClient.search_runs`` (the grammar, the ordering and
the store's read path are its own): at most ``MAX_MATCHED`` runs match, and a page holds
at most ``MAX_PAGE`` of them, so no request costs more than that whatever it asks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import pandas as pd

from sparktrack.tracking import RunStatus, TrackingClient
from sparktrack.ui._schemas import RunRow, json_value

__all__ = [
    "MAX_CHILDREN",
    "MAX_MATCHED",
    "MAX_PAGE",
    "ViewType",
    "column_keys",
    "matching_runs",
    "millis",
    "run_page",
]

ViewType = Literal["ACTIVE_ONLY", "DELETED_ONLY", "ALL"]
MAX_MATCHED = 100_000  # the scale: a filter over 100k runs is fine
MAX_PAGE = 1_000  # ... a page of 100k rows is not
MAX_CHILDREN = 500  # nested runs shown under one parent (the count says how many)
PARENT = "tags.mlflow.parentRunId"
_ATTRIBUTES = (
    "run_id",
    "run_name",
    "experiment_id",
    "status",
    "lifecycle_stage",
    "user_id",
    "start_time",
    "end_time",
    PARENT,
)
_PREFIXES = {"params": "params.", "metrics": "metrics.", "tags": "tags."}


def matching_runs(
    client: TrackingClient,
    experiment_ids: Sequence[str] | None,
    filter_string: str,
    order_by: Sequence[str] | None,
    view: ViewType = "ACTIVE_ONLY",
) -> pd.DataFrame:
    """Every run matching the filter, in order (newest first when no order is given).

    Raises:
        SearchSyntaxError: The filter or an ordering cannot be read.
    """
    return client.search_runs(
        list(experiment_ids) if experiment_ids else None,
        filter_string or "",
        view,
        MAX_MATCHED,
        list(order_by) if order_by else None,
    )


def millis(value: Any) -> int | None:
    """A timestamp of the runs frame in milliseconds since the epoch (None for none)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return (
            int(value.value // 1_000_000) if value.unit == "ns" else int(value.timestamp() * 1000)
        )
    return int(value)


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and value != value) else str(value)


def column_keys(frame: pd.DataFrame, kind: str) -> list[str]:
    """The params, metrics or tags keys that appear in the frame, sorted."""
    prefix = _PREFIXES[kind]
    return sorted(str(c)[len(prefix) :] for c in frame.columns if str(c).startswith(prefix))


def _row(record: dict[Any, Any], columns: dict[str, list[str]], child_count: int = 0) -> RunRow:
    start, end = millis(record.get("start_time")), millis(record.get("end_time"))
    status = str(record.get("status"))
    duration = None
    if start is not None and end is not None:
        duration = end - start
    params = {k: str(v) for k in columns["params"] if (v := _text(record.get(f"params.{k}")))}
    tags = {k: v for k in columns["tags"] if (v := _text(record.get(f"tags.{k}"))) is not None}
    metrics = {
        k: json_value(record[f"metrics.{k}"])
        for k in columns["metrics"]
        if f"metrics.{k}" in record and not pd.isna(record[f"metrics.{k}"])
    }
    return RunRow(
        run_id=str(record["run_id"]),
        run_name=_text(record.get("run_name")),
        experiment_id=str(record["experiment_id"]),
        status=status,
        lifecycle_stage=str(record.get("lifecycle_stage")),
        user_id=_text(record.get("user_id")),
        start_time=start,
        end_time=end,
        duration_ms=duration,
        parent_run_id=_text(record.get(PARENT)),
        child_count=child_count,
        params=params,
        metrics=metrics,
        tags=tags,
    )


def run_page(
    frame: pd.DataFrame,
    *,
    offset: int,
    limit: int,
    params: Iterable[str] = (),
    metrics: Iterable[str] = (),
    tags: Iterable[str] = (),
    nested: bool = True,
) -> tuple[int, list[RunRow], int]:
    """One page of the matching runs: (how many rows in all, the rows, how many RUNNING).

    With ``nested``, a run whose parent also matched is listed under that parent
    (``children``), not on its own row; a run whose parent did not match stays a row.
    """
    columns = {"params": list(params), "metrics": list(metrics), "tags": list(tags)}
    running = int((frame["status"] == RunStatus.RUNNING).sum()) if len(frame) else 0
    # Only the columns a row shows are turned into Python objects, and only for the
    # page's rows and their children: the frame may hold 100,000 runs.
    wanted = [*_ATTRIBUTES, *(f"{kind}.{key}" for kind, keys in columns.items() for key in keys)]
    slim = frame[[c for c in dict.fromkeys(wanted) if c in frame.columns]]
    if nested and len(frame) and PARENT in frame.columns:
        parents = frame[PARENT]
        nested_mask = parents.notna() & parents.isin(set(frame["run_id"]))
    else:
        nested_mask = pd.Series(False, index=frame.index)
    top = slim[~nested_mask.to_numpy()]
    children = slim[nested_mask.to_numpy()]
    by_parent = children.groupby(PARENT, sort=False).indices if len(children) else {}

    def build(record: dict[Any, Any], depth: int) -> RunRow:
        positions = by_parent.get(record["run_id"], ())
        row = _row(record, columns, len(positions))
        if depth < 8 and len(positions):  # deeper nesting shows under its own parent's page
            mine = children.iloc[list(positions)[:MAX_CHILDREN]].to_dict("records")
            row.children = [build(child, depth + 1) for child in mine]
        return row

    rows = [build(r, 0) for r in top.iloc[offset : offset + limit].to_dict("records")]
    return len(top), rows, running
