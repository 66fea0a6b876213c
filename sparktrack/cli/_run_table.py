"""Runs as table rows and JSON records, for ``sparktrack runs list`` and ``runs search``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sparktrack.cli._output import (
    as_datetime,
    echo_table,
    format_duration,
    is_missing,
    iso_time,
    short_time,
)
from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.search import ATTRIBUTES
from sparktrack.tracking import SNAPSHOT_TAG, Run, RunStatus, TrackingClient

__all__ = [
    "DEFAULT_METRIC_COLUMNS",
    "SHOWN_COLUMNS",
    "clean",
    "duration_seconds",
    "echo_runs_table",
    "experiment_ids",
    "kept_keys",
    "parse_columns",
    "record",
    "row",
    "top_metrics",
]

KINDS = ("metrics", "params", "tags")
# How many metric columns a table gets when --columns does not say.
DEFAULT_METRIC_COLUMNS = 3
# Columns every runs table starts with (frame column, header).
_BASE_COLUMNS = [
    ("run_id", "RUN ID"),
    ("run_name", "NAME"),
    ("status", "STATUS"),
    ("start_time", "START"),
    ("duration", "DURATION"),
]
# Shown after the base columns when a listed run has a source snapshot: enough of the
# digest to tell snapshots apart (`runs source RUN_ID` shows the whole of it).
_SNAPSHOT_COLUMN = ("snapshot", "SNAPSHOT")
_SNAPSHOT_SHOWN_CHARACTERS = 12
# Attributes the base columns already show (end_time through the duration).
SHOWN_COLUMNS = {"run_id", "run_name", "status", "start_time", "end_time", "duration"}
# What a --columns entry may start with, mapped to the frame's column prefix ("" for
# run attributes); the same aliases the filter grammar accepts.
_COLUMN_PREFIXES = {
    "metrics": "metrics.",
    "metric": "metrics.",
    "params": "params.",
    "param": "params.",
    "tags": "tags.",
    "tag": "tags.",
    "attributes": "",
    "attribute": "",
    "attr": "",
    "run": "",
}


def experiment_ids(client: TrackingClient, names: Sequence[str] | None) -> list[str] | None:
    """Experiment names to ids; None (all experiments) when no name was given."""
    if not names:
        return None
    ids = []
    for name in names:
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise NotFoundError(
                f"experiment {name!r} does not exist in store {client.store.uri!r}; "
                "list experiments with `sparktrack experiments list --all`"
            )
        ids.append(experiment.experiment_id)
    return ids


def clean(value: Any) -> Any:
    """None for pandas' kinds of "no value", else the value."""
    return None if is_missing(value) else value


def duration_seconds(start: Any, end: Any, *, running: bool = False) -> float | None:
    """End minus start; for a running run (``running``), the time elapsed so far."""
    started = as_datetime(start)
    ended = as_datetime(end)
    if ended is None and running:
        ended = datetime.now(UTC)
    if started is None or ended is None:
        return None
    return (ended - started).total_seconds()


def row(run: Run) -> dict[str, Any]:
    """A run as one flat table row: attributes, then ``metrics.<key>`` and the like.

    Built from the Run, not from a DataFrame row: only the Run tells a logged NaN
    metric (a float NaN here) from one the run never logged (no entry).
    """
    flat: dict[str, Any] = dict(run.info.__dict__)
    flat["snapshot"] = run.data.tags.get(SNAPSHOT_TAG)
    for kind, values in _data(run).items():
        flat.update({f"{kind}.{key}": value for key, value in values.items()})
    return flat


def _data(run: Run) -> dict[str, Mapping[str, Any]]:
    return {"metrics": run.data.metrics, "params": run.data.params, "tags": run.data.tags}


def record(run: Run, keep: Mapping[str, set[str]] | None = None) -> dict[str, Any]:
    """A run as JSON-ready nested data; ``keep`` limits the keys per kind."""
    info = run.info
    nested: dict[str, Any] = {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "status": info.status,
        "lifecycle_stage": info.lifecycle_stage,
        "user_id": info.user_id,
        "start_time": iso_time(info.start_time),
        "end_time": iso_time(info.end_time),
        # Scripts get facts: no end time, no duration (tables show time elapsed so far).
        "duration_seconds": duration_seconds(info.start_time, info.end_time),
        "artifact_uri": info.artifact_uri,
    }
    for kind, values in _data(run).items():
        # A logged NaN stays (echo_json prints it as "NaN", as `runs show --json` does).
        nested[kind] = {
            key: value for key, value in sorted(values.items()) if keep is None or key in keep[kind]
        }
    return nested


def _cell(flat: Mapping[str, Any], column: str) -> Any:
    if column == "duration":
        return format_duration(
            duration_seconds(
                flat.get("start_time"),
                flat.get("end_time"),
                running=flat.get("status") == RunStatus.RUNNING,
            )
        )
    if column in ("start_time", "end_time"):
        return short_time(flat.get(column))
    if column == "snapshot":
        return (flat.get(column) or "")[:_SNAPSHOT_SHOWN_CHARACTERS] or None
    value = flat.get(column)
    if column.startswith("metrics.") and isinstance(value, float):
        # As `runs show` prints it: a logged NaN reads "nan" (format_cell would say "-").
        return f"{value:.6g}"
    return value


def echo_runs_table(rows: Sequence[Mapping[str, Any]], extra: Sequence[str]) -> None:
    """Print runs (from ``row``) as a table: the base columns, then ``extra``."""
    base = list(_BASE_COLUMNS)
    if any(flat.get("snapshot") for flat in rows):
        base.append(_SNAPSHOT_COLUMN)
    headers = [header for _, header in base] + [c.upper() if c in ATTRIBUTES else c for c in extra]
    columns = [column for column, _ in base] + list(extra)
    echo_table(
        headers,
        [[_cell(flat, column) for column in columns] for flat in rows],
        empty="No runs matched.",
    )


def top_metrics(runs: Sequence[Run], exclude: Iterable[str], limit: int) -> list[str]:
    """The metrics most ``runs`` have (then by name): a table's default columns."""
    skip = set(exclude)
    present = Counter(f"metrics.{key}" for run in runs for key in run.data.metrics)
    metrics = sorted((c for c in present if c not in skip), key=lambda c: (-present[c], c))
    return metrics[: max(limit, 0)]


def parse_columns(specs: Sequence[str]) -> list[str]:
    """``--columns params.lr,metrics.auc`` (repeatable) to frame column names."""
    columns: list[str] = []
    for spec in specs:
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            prefix, dot, key = part.partition(".")
            key = key.strip("`\"'")
            if dot and prefix in _COLUMN_PREFIXES and key:
                column = _COLUMN_PREFIXES[prefix] + key
            else:
                column = part
            if not column.startswith(("metrics.", "params.", "tags.")) and (
                column not in ATTRIBUTES
            ):
                raise InvalidInputError(
                    f"--columns: {part!r} is not a run column; use metrics.<key>, "
                    f"params.<key>, tags.<key> or one of {', '.join(sorted(ATTRIBUTES))}"
                )
            if column not in columns:
                columns.append(column)
    return columns


def kept_keys(columns: Sequence[str]) -> dict[str, set[str]]:
    """The metric, param and tag keys named by ``columns``, per kind."""
    keep: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for column in columns:
        kind, _, key = column.partition(".")
        if kind in keep:
            keep[kind].add(key)
    return keep
