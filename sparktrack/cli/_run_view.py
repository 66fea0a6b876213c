"""One run in full, as text or JSON, for ``sparktrack runs show``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import typer

from sparktrack.cli._output import (
    format_cell,
    format_duration,
    format_size,
    iso_time,
    render_table,
    short_time,
)
from sparktrack.cli._run_table import clean, duration_seconds
from sparktrack.tracking import SNAPSHOT_TAG, SPARK_COST_METRICS, Run, RunStatus

__all__ = ["echo_run_text", "run_json"]

# Tags the tracking layer sets itself; `runs show` lists them after the user's own.
SYSTEM_TAG_PREFIXES = ("mlflow.", "sparktrack.")
# A param holds up to 6,000 characters and a tag 8,000, on many lines: the text view
# shows the start of the first line; --json shows every value whole.
MAX_SHOWN_CHARACTERS = 120
# What the run cost on the cluster (tracking's spark.* metrics): a section of its own, in
# words and units a reader takes in at a glance; --json keeps the metrics as logged.
SPARK_PREFIX = "spark."
_SPARK_LABELS = {
    key: key.removeprefix(SPARK_PREFIX).replace("_", " ") for key in SPARK_COST_METRICS
}
_SPARK_LABELS.update(
    {
        "spark.executor_run_time_ms": "executor run time",
        "spark.executor_cpu_time_ms": "executor CPU time",
        "spark.jvm_gc_time_ms": "JVM GC time",
        "spark.input_bytes": "input",
        "spark.output_bytes": "output",
        "spark.shuffle_read_bytes": "shuffle read",
        "spark.shuffle_write_bytes": "shuffle write",
        "spark.memory_spill_bytes": "spill (memory)",
        "spark.disk_spill_bytes": "spill (disk)",
        "spark.peak_execution_memory_bytes": "peak execution memory",
    }
)


def _split_tags(tags: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    user = {k: v for k, v in sorted(tags.items()) if not k.startswith(SYSTEM_TAG_PREFIXES)}
    system = {k: v for k, v in sorted(tags.items()) if k.startswith(SYSTEM_TAG_PREFIXES)}
    return user, system


def run_json(run: Run, experiment_name: str | None, artifacts: Sequence[Any]) -> dict[str, Any]:
    """The run with its experiment's name and top-level artifacts, JSON-ready."""
    info = run.info
    user_tags, system_tags = _split_tags(run.data.tags)
    return {
        "info": {
            "run_id": info.run_id,
            "run_name": clean(info.run_name),
            "experiment_id": info.experiment_id,
            "experiment_name": experiment_name,
            "status": info.status,
            "lifecycle_stage": info.lifecycle_stage,
            "user_id": clean(info.user_id),
            "parent_run_id": clean(info.parent_run_id),
            "start_time": iso_time(info.start_time),
            "end_time": iso_time(info.end_time),
            "duration_seconds": duration_seconds(info.start_time, info.end_time),
            "artifact_uri": info.artifact_uri,
        },
        "params": dict(sorted(run.data.params.items())),
        "metrics": dict(sorted(run.data.metrics.items())),
        "tags": user_tags,
        "system_tags": system_tags,
        "artifacts": [
            {"path": a.path, "is_dir": a.is_dir, "file_size": a.file_size} for a in artifacts
        ],
    }


def _abridged(text: str) -> str:
    lines = text.splitlines() or [""]
    if len(lines) == 1 and len(text) <= MAX_SHOWN_CHARACTERS:
        return text
    shown = lines[0][:MAX_SHOWN_CHARACTERS].rstrip()
    size = f"{len(text):,} characters" + (f" on {len(lines)} lines" if len(lines) > 1 else "")
    return f"{shown} ... [{size}; --json shows all]"


def _section(title: str, pairs: Mapping[str, Any], empty: str = "(none)") -> list[str]:
    lines = ["", title]
    if not pairs:
        return [*lines, f"  {empty}"]
    width = max(len(key) for key in pairs)
    return lines + [
        f"  {key.ljust(width)}  {_abridged(format_cell(value))}" for key, value in pairs.items()
    ]


def _spark_section(metrics: Mapping[str, float]) -> dict[str, str]:
    """The run's spark.* metrics, known ones first, as durations and sizes."""
    shown: dict[str, str] = {}
    known = [k for k in SPARK_COST_METRICS if k in metrics]
    others = sorted(k for k in metrics if k.startswith(SPARK_PREFIX) and k not in known)
    for key in known + others:
        value = metrics[key]
        if key.endswith("_ms") and key in _SPARK_LABELS:
            text = format_duration(value / 1000)
        elif key.endswith("_bytes") and key in _SPARK_LABELS:
            text = format_size(int(value))
        else:
            text = f"{value:.6g}"
        shown[_SPARK_LABELS.get(key, key)] = text
    return shown


def echo_run_text(run: Run, experiment_name: str | None, artifacts: Sequence[Any]) -> None:
    """Print the run as sections: overview, params, metrics, Spark, tags, artifacts."""
    info = run.info
    running = info.status == RunStatus.RUNNING
    experiment = (
        f"{experiment_name} (id {info.experiment_id})" if experiment_name else (info.experiment_id)
    )
    overview = {
        "name": clean(info.run_name),
        "experiment": experiment,
        "status": info.status,
        "lifecycle": info.lifecycle_stage,
        "user": clean(info.user_id),
        "parent run": clean(info.parent_run_id),
        "start": short_time(info.start_time),
        "end": short_time(info.end_time),
        "duration": format_duration(
            duration_seconds(info.start_time, info.end_time, running=running)
        )
        + (" (running)" if running else ""),
        "artifact uri": info.artifact_uri,
        "snapshot": run.data.tags.get(SNAPSHOT_TAG),  # `runs source` shows it
    }
    user_tags, system_tags = _split_tags(run.data.tags)
    lines = [f"Run {info.run_id}"]
    lines += [f"  {key.ljust(12)}  {format_cell(value)}" for key, value in overview.items()]
    lines += _section("Params", dict(sorted(run.data.params.items())))
    # Formatted here: a logged NaN is a value ("nan"), while format_cell reads NaN as absent.
    metrics = {
        key: f"{value:.6g}"
        for key, value in sorted(run.data.metrics.items())
        if not key.startswith(SPARK_PREFIX)
    }
    lines += _section("Metrics (latest)", metrics)
    spark = _spark_section(run.data.metrics)
    if spark:
        lines += _section("Spark", spark)
    lines += _section("Tags", user_tags)
    if system_tags:
        lines += _section("System tags", system_tags)
    lines += ["", "Artifacts"]
    if artifacts:
        table = render_table(
            ["PATH", "SIZE"],
            [[a.path + ("/" if a.is_dir else ""), format_size(a.file_size)] for a in artifacts],
        )
        lines += ["  " + line for line in table.splitlines()]
    else:
        lines.append("  (none)")
    typer.echo("\n".join(lines))
