"""Bookkeeping of trials: what the driver knows about each, and the tags it writes.

A trial's child run carries everything needed to resume the sweep without redoing
it: its number, exact params and their distributions (as JSON), its Optuna grid
point, and its final state.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = [
    "SweepTrials",
    "Tags",
    "TrialRecord",
    "error_summary",
    "params_json",
    "rank",
    "trials_frame",
]


class Tags:
    """The tags a sweep writes on its own run and on each trial's run.

    Exported as ``sparktrack.sweeps.SweepTags`` for the layers that read sweeps back
    (the UI's sweep page); not meant for users' code.
    """

    ROLE = "sparktrack.sweep.role"  # "sweep" on the parent, "trial" on children
    NAME = "sparktrack.sweep.name"
    SPACE = "sparktrack.sweep.space"  # the space's fingerprint
    STRATEGY = "sparktrack.sweep.strategy"
    METRIC = "sparktrack.sweep.metric"
    MODE = "sparktrack.sweep.mode"
    BEST_RUN = "sparktrack.sweep.best_run_id"
    BEST_PARAMS = "sparktrack.sweep.best_params"
    TRIAL = "sparktrack.sweep.trial"
    STATE = "sparktrack.sweep.state"  # complete | pruned | failed | killed
    PARAMS = "sparktrack.sweep.params"
    DISTRIBUTIONS = "sparktrack.sweep.distributions"
    GRID_ID = "sparktrack.sweep.grid_id"
    WORKER = "sparktrack.sweep.worker"
    ERROR = "sparktrack.sweep.error"


FINISHED_STATES = ("complete", "pruned", "failed")


@dataclass
class TrialRecord:
    number: int
    run_id: str
    params: dict[str, Any]
    state: str = "running"
    value: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    start_time: int | None = None
    end_time: int | None = None
    error: str | None = None
    grid_id: int | None = None
    distributions: dict[str, Any] | None = None  # Optuna distributions, for resuming
    resumed: bool = False  # finished in an earlier run of the sweep

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES


def rank(value: float, number: int, *, maximize: bool) -> tuple[float, int]:
    """Orders complete trials, best last; of equal values the earlier trial wins."""
    return (value if maximize else -value, -number)


class SweepTrials:
    """Every trial of one sweep (earlier runs of a resumed sweep included), by number."""

    def __init__(self, *, maximize: bool) -> None:
        self.maximize = maximize
        self._records: dict[int, TrialRecord] = {}

    def add(self, record: TrialRecord) -> None:
        self._records[record.number] = record

    def __len__(self) -> int:
        return len(self._records)

    def by_number(self) -> dict[int, TrialRecord]:
        return dict(self._records)

    def count(self, state: str) -> int:
        return sum(1 for r in self._records.values() if r.state == state)

    def finished_count(self) -> int:
        return sum(1 for r in self._records.values() if r.finished)

    def best(self) -> TrialRecord | None:
        complete = [
            r for r in self._records.values() if r.state == "complete" and r.value is not None
        ]
        if not complete:
            return None
        return max(complete, key=lambda r: rank(r.value or 0.0, r.number, maximize=self.maximize))

    def failed(self) -> list[TrialRecord]:
        """The failed trials, first one first."""
        failed = (r for r in self._records.values() if r.state == "failed")
        return sorted(failed, key=lambda r: r.number)

    def frame(self) -> pd.DataFrame:
        return trials_frame(list(self._records.values()))


# "ValueError: ...", "py4j.protocol.Py4JJavaError: ...": an exception's own line; Java
# stack frames ("\tat ...") and "Caused by: ..." do not match.
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit|Interrupt)\b.*$")


def error_summary(error: str) -> str:
    """The line of a traceback that says what went wrong: the last exception line.

    A task that failed on an executor comes back as a Py4JJavaError whose text ends in
    Java stack frames; the Python worker's exception line before them is the cause.
    """
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    causes = [line for line in lines if _EXCEPTION_LINE.match(line)]
    return (causes or lines or [""])[-1][:500]


def params_json(params: dict[str, Any]) -> str:
    """Params as the trial's tag holds them (keys sorted, other types as text)."""
    return json.dumps(params, sort_keys=True, default=str)


def trials_frame(records: list[TrialRecord]) -> pd.DataFrame:
    rows = []
    for record in sorted(records, key=lambda r: r.number):
        row: dict[str, Any] = {
            "number": record.number,
            "run_id": record.run_id,
            "state": record.state,
            "value": record.value,
        }
        row.update({f"params.{k}": v for k, v in record.params.items()})
        row.update({f"metrics.{k}": v for k, v in record.metrics.items()})
        row["start_time"] = record.start_time
        row["end_time"] = record.end_time
        if record.start_time is not None and record.end_time is not None:
            row["seconds"] = (record.end_time - record.start_time) / 1000.0
        else:
            row["seconds"] = None
        row["resumed"] = record.resumed
        rows.append(row)
    columns = ["number", "run_id", "state", "value"]
    frame = pd.DataFrame(rows)
    return frame if rows else pd.DataFrame(columns=columns)
