"""Drift over time per model version, read from the monitoring runs ``sparktrack.monitor`` logs.

Every pass of every version comes from one ``search_runs`` over the monitoring
experiment, filtered on the ``sparktrack.monitor.model`` tag and reading only the
monitoring tags and the ``drift.*``, ``decay.*`` and ``current.*`` metrics (their names
come from ``list_run_keys``, which reads no value): no run is read on its own, so
thousands of passes cost one search. Per version, the latest pass's
``drift_report.json`` is read too (one file per version, never per pass): it alone
holds each column's status, the reasons, and the thresholds the pass was judged by.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from sparktrack.errors import NotFoundError
from sparktrack.monitoring import DEFAULT_THRESHOLDS
from sparktrack.tracking import TrackingClient
from sparktrack.ui._runs_query import MAX_MATCHED, millis
from sparktrack.ui._schemas import (
    DriftColumn,
    DriftDecay,
    DriftLatest,
    DriftPass,
    DriftVersion,
    Value,
    json_value,
)

__all__ = [
    "COLUMN_STATS",
    "MAX_PASSES",
    "REPORT_JSON",
    "TAG_MODEL",
    "TAG_STATUS",
    "TAG_VERSION",
    "TAG_WINDOW",
    "default_thresholds",
    "how_to_start",
    "monitored_versions",
]

TAG_MODEL = "sparktrack.monitor.model"
TAG_VERSION = "sparktrack.monitor.version"
TAG_WINDOW = "sparktrack.monitor.window"
TAG_STATUS = "sparktrack.monitor.status"
REPORT_JSON = "drift_report.json"
COLUMN_STATS = ("psi", "js", "ks", "chi2_p", "null_delta", "unseen")
"""The per-column statistics ``monitor`` logs as ``drift.<stat>.<column>``."""
MAX_PASSES = 2_000  # per version, newest kept: a chart of more points shows no more
_PREDICTION = "drift.prediction."
_TAGS = (TAG_MODEL, TAG_VERSION, TAG_WINDOW, TAG_STATUS)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def how_to_start(model: str, store_uri: str) -> str:
    """The command that makes a model's first monitoring pass (the page's empty state)."""
    return (
        f"sparktrack --store {store_uri} monitor models:/{model}/<version> "
        "--table <scored table> [--label-col <label column>]"
    )


def _metric_columns(client: TrackingClient, experiment_id: str) -> list[str]:
    keys = client.list_run_keys("metrics", [experiment_id])
    wanted = ("drift.", "decay.", "current.")
    return [f"metrics.{k}" for k in keys if k.startswith(wanted)]


def _window_millis(text: str | None) -> tuple[int | None, int | None]:
    """A window tag's ``start/end`` (ISO 8601) in milliseconds; naive times read as UTC."""
    if not text or "/" not in text:
        return None, None
    bounds = []
    for part in text.split("/", 1):
        try:
            stamp = pd.Timestamp(part)
        except ValueError:
            return None, None
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        bounds.append(int(stamp.value // 1_000_000))
    return bounds[0], bounds[1]


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and value != value)


def _pass(record: dict[Any, Any], metric_keys: Iterable[str]) -> DriftPass:
    window = record.get(f"tags.{TAG_WINDOW}")
    window = str(window) if _present(window) else None
    start, end = _window_millis(window)
    started = millis(record.get("start_time"))
    drift: dict[str, dict[str, Value]] = {stat: {} for stat in COLUMN_STATS}
    prediction: dict[str, Value] = {}
    decay: dict[str, Value] = {}
    current: dict[str, Value] = {}
    for column in metric_keys:
        value = record.get(column)
        if not _present(value):
            continue
        key = column[len("metrics.") :]
        if key.startswith(_PREDICTION):
            prediction[key[len(_PREDICTION) :]] = json_value(value)
        elif key.startswith("decay."):
            decay[key[len("decay.") :]] = json_value(value)
        elif key.startswith("current."):
            current[key[len("current.") :]] = json_value(value)
        else:
            stat, _, name = key[len("drift.") :].partition(".")
            if stat in drift and name:
                drift[stat][name] = json_value(value)
    status = record.get(f"tags.{TAG_STATUS}")
    return DriftPass(
        run_id=str(record["run_id"]),
        run_name=str(record["run_name"]) if _present(record.get("run_name")) else None,
        time=start if start is not None else started,
        window=window,
        window_start=start,
        window_end=end,
        start_time=started,
        status=str(status) if _present(status) else None,
        run_status=str(record.get("status")),
        drift={stat: values for stat, values in drift.items() if values},
        prediction=prediction,
        decay=decay,
        current=current,
    )


def _latest(client: TrackingClient, run_id: str) -> DriftLatest:
    """The latest pass's per-column statuses, from its report (none without one)."""
    try:
        report = json.loads(client.read_artifact(run_id, REPORT_JSON))
    except (NotFoundError, ValueError):
        return DriftLatest(run_id=run_id, from_report=False)

    def number(row: dict[str, Any], key: str) -> Value:
        value = row.get(key)
        return json_value(value) if isinstance(value, int | float) else None

    columns = [
        DriftColumn(
            column=str(row.get("column")),
            role=str(row.get("role", "feature")),
            status=row.get("status"),
            reasons=str(row.get("reasons") or ""),
            **{stat: number(row, stat) for stat in COLUMN_STATS},
        )
        for row in report.get("columns", [])
    ]
    decay = [
        DriftDecay(
            metric=str(row.get("metric")),
            training=number(row, "training"),
            current=number(row, "current"),
            decay=number(row, "decay"),
            status=row.get("status"),
        )
        for row in report.get("decay", [])
    ]
    thresholds = {
        str(k): [json_value(x) if isinstance(x, int | float) else None for x in v]
        for k, v in (report.get("thresholds") or {}).items()
        if isinstance(v, list)
    }
    return DriftLatest(
        run_id=run_id,
        from_report=True,
        rows=report.get("rows") if isinstance(report.get("rows"), int) else None,
        columns=columns,
        decay=decay,
        thresholds=thresholds,
    )


def default_thresholds() -> dict[str, list[Value]]:
    """``DEFAULT_THRESHOLDS`` as the API shows thresholds: statistic -> [warn, alert]."""
    return {k: [json_value(x) for x in v] for k, v in DEFAULT_THRESHOLDS.items()}


def _version_order(version: str) -> tuple[int, float, str]:
    try:
        return (0, -float(version), version)
    except ValueError:
        return (1, 0.0, version)


def monitored_versions(
    client: TrackingClient, experiment_id: str, model: str, version: str | None = None
) -> list[DriftVersion]:
    """Each monitored version of ``model`` (newest first) with its passes in time order.

    One search finds every pass; each version keeps its newest ``MAX_PASSES`` (the
    count says how many there are), and its latest pass's report is read.
    """
    condition = f"tags.`{TAG_MODEL}` = {_quoted(model)}"
    if version is not None:
        condition += f" AND tags.`{TAG_VERSION}` = {_quoted(version)}"
    metric_keys = _metric_columns(client, experiment_id)
    frame = client.search_runs(
        [experiment_id],
        condition,
        "ACTIVE_ONLY",
        MAX_MATCHED,
        columns=[f"tags.{t}" for t in _TAGS] + metric_keys,
    )
    if not len(frame):
        return []
    versions = frame.get(f"tags.{TAG_VERSION}", pd.Series(None, index=frame.index))
    # A model monitored from a runs:/ URI or a folder has no version: shown as "-".
    frame = frame.assign(_version=versions.where(versions.notna(), "-").astype(str))
    found = []
    for name, group in frame.groupby("_version", sort=False):
        # Newest first (the search's order): the newest MAX_PASSES are kept.
        passes = [_pass(r, metric_keys) for r in group.head(MAX_PASSES).to_dict("records")]
        passes.sort(key=lambda p: (p.time or 0, p.start_time or 0))
        found.append(
            DriftVersion(
                version=str(name),
                pass_count=len(group),
                truncated=len(group) > MAX_PASSES,
                passes=passes,
                latest=_latest(client, passes[-1].run_id),
            )
        )
    found.sort(key=lambda v: _version_order(v.version))
    return found
