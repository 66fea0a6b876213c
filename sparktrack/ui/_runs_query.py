"""The runs table: one search for the order, nesting and counts, one for the page's columns.

Every answer comes from ``TrackingClient.search_runs`` (the grammar, the ordering and
the store's read path are its own): at most ``MAX_MATCHED`` runs match, and a page holds
at most ``MAX_PAGE`` of them, so no request costs more than that whatever it asks.
The first search returns every matching run but only its run columns and parent (at
100,000 runs, every param, metric and tag of every run would take seconds and a GiB);
the second reads the columns the table shows for the page's rows and their children.
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


def matching_runs(
    client: TrackingClient,
    experiment_ids: Sequence[str] | None,
    filter_string: str,
    order_by: Sequence[str] | None,
    view: ViewType = "ACTIVE_ONLY",
) -> pd.DataFrame:
    """Every run matching the filter, in order (newest first when no order is given).

    Only the run columns and the parent tag: ``page_columns`` reads the others for the
    runs a page shows.

    Raises:
        SearchSyntaxError: The filter or an ordering cannot be read.
    """
    return client.search_runs(
        list(experiment_ids) if experiment_ids else None,
        filter_string or "",
        view,
        MAX_MATCHED,
        list(order_by) if order_by else None,
        columns=[PARENT],
    )


_IDS_PER_SEARCH = 2_000  # an IN list of run ids the grammar parses in milliseconds


def page_columns(
    client: TrackingClient, run_ids: Sequence[str], names: Sequence[str]
) -> pd.DataFrame:
    """The ``names`` columns (``params.x``, ...) of some runs, indexed by run id."""
    if not run_ids or not names:
        return pd.DataFrame(index=pd.Index(list(run_ids), name="run_id"))
    parts = []
    for start in range(0, len(run_ids), _IDS_PER_SEARCH):
        chunk = run_ids[start : start + _IDS_PER_SEARCH]
        quoted = ", ".join("'" + run_id.replace("'", "''") + "'" for run_id in chunk)
        parts.append(
            client.search_runs(
                None,
                f"attributes.run_id IN ({quoted})",
                "ALL",
                len(chunk),
                columns=list(names),
            )
        )
    found = pd.concat(parts) if len(parts) > 1 else parts[0]
    kept = [c for c in found.columns if c in set(names)]
    return found.set_index("run_id")[kept]


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
    client: TrackingClient,
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

    ``frame`` is ``matching_runs``'; the params, metrics and tags shown are read for
    the page's rows and their children only. With ``nested``, a run whose parent also
    matched is listed under that parent (``children``), not on its own row; a run
    whose parent did not match stays a row.
    """
    columns = {"params": list(params), "metrics": list(metrics), "tags": list(tags)}
    running = int((frame["status"] == RunStatus.RUNNING).sum()) if len(frame) else 0
    # Only the columns a row shows are turned into Python objects, and only for the
    # page's rows and their children: the frame may hold 100,000 runs.
    slim = frame[[c for c in _ATTRIBUTES if c in frame.columns]]
    if nested and len(frame) and PARENT in frame.columns:
        parents = frame[PARENT]
        nested_mask = parents.notna() & parents.isin(set(frame["run_id"]))
    else:
        nested_mask = pd.Series(False, index=frame.index)
    top = slim[~nested_mask.to_numpy()]
    children = slim[nested_mask.to_numpy()]
    by_parent = children.groupby(PARENT, sort=False).indices if len(children) else {}

    def shown(record: dict[Any, Any], depth: int) -> dict[Any, Any]:
        """The record with the children the page shows under it (``_children``)."""
        positions = by_parent.get(record["run_id"], ())
        record["_count"] = len(positions)
        record["_children"] = []
        if depth < 8 and len(positions):  # deeper nesting shows under its own parent's page
            mine = children.iloc[list(positions)[:MAX_CHILDREN]].to_dict("records")
            record["_children"] = [shown(child, depth + 1) for child in mine]
        return record

    def every(records: list[dict[Any, Any]]) -> Iterable[dict[Any, Any]]:
        for record in records:
            yield record
            yield from every(record["_children"])

    page = [shown(r, 0) for r in top.iloc[offset : offset + limit].to_dict("records")]
    names = [f"{kind}.{key}" for kind, keys in columns.items() for key in keys]
    details = page_columns(client, [str(r["run_id"]) for r in every(page)], names)
    values = details.to_dict("index") if len(details.columns) else {}

    def build(record: dict[Any, Any]) -> RunRow:
        row = _row({**record, **values.get(record["run_id"], {})}, columns, record["_count"])
        if record["_children"]:
            row.children = [build(child) for child in record["_children"]]
        return row

    return len(top), [build(r) for r in page], running
