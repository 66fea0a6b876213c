"""An oracle for run search, written from the README's rules, not from sparktrack's code.

Everything here is plain Python over row dicts (``pyarrow.Table.to_pylist()``): each
rule below is the README's sentence ("The store: table layout", its folding rules, and
"Searching") turned into a loop, so a slip in sparktrack's columnar code cannot be
copied into the oracle that checks it. Only the filter and order_by *parser* is
sparktrack's (its syntax tree is checked against hand-written cases in
test_search_grammar); what a parsed filter means is evaluated here.

Folding (per run, rows in ``event_time`` order; equal times keep the table's row order,
which is commit order):

* a run exists once it has a ``start`` event; its fixed fields come from the first one;
* ``status`` and ``end_time`` come from its latest event that carries a status;
* the latest ``rename`` sets the name; the latest ``delete``/``restore`` the stage;
* params: the first value per (run, key) wins; tags: the latest row per (run, key)
  wins and a winning deletion removes the tag;
* the latest value of a metric is the one with the greatest ``step``, then
  ``timestamp``, then ``value``. The README does not say where a logged NaN ranks
  among values; here NaN ranks above every number (so it wins a tie on step and
  timestamp), which is what sparktrack does;
* heartbeat rule: a RUNNING run with no sign of life (its start, any of its events, a
  heartbeat) for longer than the timeout is KILLED, ending at its last sign of life.

Searching: missing values follow SQL (unknown, and NOT of unknown stays unknown; only
IS NULL is true), a logged NaN compares as IEEE 754 does, a ``datasets.*`` comparison
holds when it holds for any of the run's inputs (``datasets.x IS NULL``: no input has
an ``x``), order is per key values, then NaN, then missing (in both directions), ties
by ``start_time`` DESC then ``run_id``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable
from typing import Any

import pandas as pd
import pyarrow as pa

# The parser only: its syntax tree is checked against hand-written cases elsewhere.
from sparktrack import search
from sparktrack.search import Expr, Identifier, OrderKey

Row = dict[str, Any]
# SQL's third truth value: a comparison with a missing value.
UNKNOWN = None

# The columns search returns before metrics, params and tags (README, "Searching").
BASE_COLUMNS = [
    "run_id",
    "experiment_id",
    "run_name",
    "status",
    "user_id",
    "artifact_uri",
    "start_time",
    "end_time",
    "lifecycle_stage",
]
# The folded runs frame compared with sparktrack's fold: the base fields, the parent, the
# last sign of life and whether the heartbeat rule fired.
FOLD_COLUMNS = [
    "run_id",
    "experiment_id",
    "run_name",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "artifact_uri",
    "lifecycle_stage",
    "parent_run_id",
    "last_seen",
    "stale",
]
START_FIELDS = ["experiment_id", "run_name", "user_id", "start_time", "artifact_uri"]


def _by_run(rows: Iterable[Row]) -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = {}
    for row in rows:
        grouped.setdefault(row["run_id"], []).append(row)
    return grouped


def _in_time_order(rows: list[Row], time: str = "event_time") -> list[Row]:
    # sorted() is stable: rows with equal times stay in table (commit) order.
    return sorted(rows, key=lambda row: row[time])


def _latest(rows: list[Row], wanted: Any) -> Row | None:
    chosen = [row for row in rows if wanted(row)]
    return chosen[-1] if chosen else None


# -- folding --------------------------------------------------------------------------------
def fold_runs(events: list[Row], heartbeats: list[Row]) -> dict[str, Row]:
    """Each started run's state from its events, before the heartbeat rule."""
    beats = _by_run(heartbeats)
    runs: dict[str, Row] = {}
    for run_id, unordered in _by_run(events).items():
        rows = _in_time_order(unordered)
        starts = [row for row in rows if row["event"] == "start"]
        if not starts:
            continue  # events of a run whose start never landed: no run
        start = starts[0]
        run: Row = {"run_id": run_id, **{name: start[name] for name in START_FIELDS}}
        run["parent_run_id"] = start["parent_run_id"]
        with_status = _latest(rows, lambda row: row["status"] is not None)
        run["status"] = with_status["status"] if with_status else None
        run["end_time"] = with_status["end_time"] if with_status else None
        renamed = _latest(rows, lambda row: row["event"] == "rename")
        if renamed is not None:
            run["run_name"] = renamed["run_name"]
        stage = _latest(rows, lambda row: row["event"] in ("delete", "restore"))
        deleted = stage is not None and stage["event"] == "delete"
        run["lifecycle_stage"] = "deleted" if deleted else "active"
        # Signs of life, in milliseconds (event_time is in microseconds).
        signs = [start["start_time"], *(row["event_time"] // 1000 for row in rows)]
        signs += [beat["time"] for beat in beats.get(run_id, [])]
        run["last_seen"] = max(sign for sign in signs if sign is not None)
        run["stale"] = False
        runs[run_id] = run
    return runs


def apply_heartbeat_rule(runs: dict[str, Row], now_ms: int, timeout_ms: int) -> dict[str, Row]:
    """Runs still RUNNING without a sign of life for longer than the timeout: KILLED."""
    judged = {}
    for run_id, run in runs.items():
        run = dict(run)
        if run["status"] == "RUNNING" and now_ms - run["last_seen"] > timeout_ms:
            run.update(status="KILLED", end_time=run["last_seen"], stale=True)
        judged[run_id] = run
    return judged


def fold_params(rows: list[Row]) -> dict[str, dict[str, str]]:
    """run -> key -> value: the first value logged wins (params are immutable)."""
    params: dict[str, dict[str, str]] = {}
    for row in _in_time_order(rows):
        params.setdefault(row["run_id"], {}).setdefault(row["key"], row["value"])
    return params


def fold_tags(rows: list[Row]) -> dict[str, dict[str, str]]:
    """run -> key -> value: the latest row wins; a winning deletion removes the tag."""
    latest: dict[tuple[str, str], Row] = {}
    for row in _in_time_order(rows):
        latest[(row["run_id"], row["key"])] = row
    tags: dict[str, dict[str, str]] = {}
    for (run_id, key), row in latest.items():
        if not row["deleted"]:
            tags.setdefault(run_id, {})[key] = row["value"]
    return tags


def _value_rank(value: float) -> tuple[int, float]:
    # NaN above every number (see the module docstring).
    return (1, 0.0) if math.isnan(value) else (0, value)


def latest_metrics(rows: list[Row]) -> dict[str, dict[str, float]]:
    """run -> key -> the value with the greatest (step, timestamp, value)."""
    best: dict[tuple[str, str], Row] = {}
    for row in rows:
        rank = (row["step"], row["timestamp"], _value_rank(row["value"]))
        held = best.get((row["run_id"], row["key"]))
        if held is None or rank > (held["step"], held["timestamp"], _value_rank(held["value"])):
            best[(row["run_id"], row["key"])] = row
    metrics: dict[str, dict[str, float]] = {}
    for (run_id, key), row in best.items():
        metrics.setdefault(run_id, {})[key] = row["value"]
    return metrics


def fold_run_events(events: pa.Table, heartbeats: pa.Table | None) -> pd.DataFrame:
    """The folded runs as a frame shaped like sparktrack's (``FOLD_COLUMNS``)."""
    beats = heartbeats.to_pylist() if heartbeats is not None else []
    runs = fold_runs(events.to_pylist(), beats)
    if not runs:
        return pd.DataFrame(columns=FOLD_COLUMNS)
    rows = list(runs.values())
    frame = pd.DataFrame({column: [run[column] for run in rows] for column in FOLD_COLUMNS})
    for column in ("start_time", "last_seen"):
        frame[column] = frame[column].astype("int64")
    frame["end_time"] = frame["end_time"].astype("Int64")
    return frame


# -- filtering ------------------------------------------------------------------------------
def _all(values: list[bool | None]) -> bool | None:
    if any(value is False for value in values):
        return False
    return UNKNOWN if any(value is UNKNOWN for value in values) else True


def _any(values: list[bool | None]) -> bool | None:
    if any(value is True for value in values):
        return True
    return UNKNOWN if any(value is UNKNOWN for value in values) or not values else False


def _number(text: str) -> float | None:
    """A param's text as a number, or None where it is not one."""
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _like(pattern: str, text: str, ignore_case: bool) -> bool:
    regex = "".join(
        ".*" if char == "%" else "." if char == "_" else re.escape(char) for char in pattern
    )
    return re.fullmatch(regex, text, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


_NUMBER_TESTS = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class _Record:
    """What a filter or an order can see of one run."""

    def __init__(self, run: Row, metrics: dict, params: dict, tags: dict, inputs: list[Row]):
        self.run = run
        self.values = {"metric": metrics, "param": params, "tag": tags}
        self.inputs = inputs

    def value(self, ident: Identifier) -> Any:
        """The run's value for ``ident``; None when missing."""
        if ident.kind == "attribute":
            return self.run[ident.key]
        return self.values[ident.kind].get(ident.key)

    def dataset_values(self, ident: Identifier) -> list[str | None]:
        field = {"name": "dataset_name", "digest": "digest", "context": "context"}[ident.key]
        return [row[field] for row in self.inputs]


def _compare_number(expr: search.NumericComparison, value: Any) -> bool | None:
    if value is None:
        return UNKNOWN
    if isinstance(value, str):  # a param: numeric where its text is a number
        value = _number(value)
        if value is None:
            return UNKNOWN
    return bool(_NUMBER_TESTS[expr.op](value, expr.value))  # NaN: IEEE 754 answers


def _compare_text(expr: search.StringComparison | search.InList, value: str | None) -> bool | None:
    if value is None:
        return UNKNOWN
    if isinstance(expr, search.InList):
        return (value in expr.values) != expr.negated
    negated = expr.op.startswith("NOT ")
    op = expr.op.removeprefix("NOT ")
    if op == "=":
        return value == expr.value
    if op == "!=":
        return value != expr.value
    return _like(expr.value, value, ignore_case=op == "ILIKE") != negated


def evaluate(expr: Expr | None, record: _Record) -> bool | None:
    """True, False or UNKNOWN: whether ``record`` matches ``expr`` (None: no filter)."""
    if expr is None:
        return True
    if isinstance(expr, search.And):
        return _all([evaluate(operand, record) for operand in expr.operands])
    if isinstance(expr, search.Or):
        return _any([evaluate(operand, record) for operand in expr.operands])
    if isinstance(expr, search.Not):
        inner = evaluate(expr.operand, record)
        return UNKNOWN if inner is UNKNOWN else not inner
    if expr.ident.kind == "dataset":
        # Any of the run's inputs; a run without inputs is missing.
        values = record.dataset_values(expr.ident)
        if isinstance(expr, search.IsNull):
            # "Testing presence" of the run's value: present when any input has the
            # field. (The README's "any of the run's inputs" could also be read as "IS
            # NULL holds when some input lacks the field"; sparktrack reads it as here,
            # so that IS NULL and IS NOT NULL stay each other's negation.)
            present = any(value is not None for value in values)
            return present == expr.negated
        assert not isinstance(expr, search.NumericComparison)
        return _any([_compare_text(expr, value) for value in values])
    value = record.value(expr.ident)
    if isinstance(expr, search.IsNull):
        return (value is not None) == expr.negated
    if isinstance(expr, search.NumericComparison):
        return _compare_number(expr, value)
    return _compare_text(expr, value)


# -- ordering -------------------------------------------------------------------------------
def _sign(a: Any, b: Any) -> int:
    return (a > b) - (a < b)


def order(records: list[_Record], keys: list[OrderKey], numeric_params: set[str]) -> list[_Record]:
    """Per key: values in the direction asked, then NaN, then missing, in both directions;
    ties by start_time DESC, then run_id."""

    def sort_value(record: _Record, key: OrderKey) -> tuple[int, Any]:
        value = record.value(key.ident)
        if value is None:
            return (2, None)
        if key.ident.kind == "param" and key.ident.key in numeric_params:
            value = _number(value)
        if isinstance(value, float) and math.isnan(value):
            return (1, None)
        return (0, value)

    def compare(a: _Record, b: _Record) -> int:
        for key in keys:
            (class_a, value_a), (class_b, value_b) = sort_value(a, key), sort_value(b, key)
            if class_a != class_b:
                return _sign(class_a, class_b)
            if class_a == 0 and value_a != value_b:
                return _sign(value_a, value_b) * (1 if key.ascending else -1)
        by_start = _sign(b.run["start_time"], a.run["start_time"])
        return by_start or _sign(a.run["run_id"], b.run["run_id"])

    return sorted(records, key=functools.cmp_to_key(compare))


# -- search -----------------------------------------------------------------------------------
class Oracle:
    """``TrackingClient.search_runs`` over raw ``tables`` (keyed by table name)."""

    def __init__(self, tables: dict[str, pa.Table], now_ms: int, heartbeat_timeout_ms: int):
        runs = fold_runs(tables["runs"].to_pylist(), tables["heartbeats"].to_pylist())
        self.runs = apply_heartbeat_rule(runs, now_ms, heartbeat_timeout_ms)
        self.metrics = latest_metrics(tables["metrics"].to_pylist())
        self.params = fold_params(tables["params"].to_pylist())
        self.tags = fold_tags(tables["tags"].to_pylist())
        self.inputs = _by_run(tables["inputs"].to_pylist())

    def _record(self, run: Row) -> _Record:
        run_id = run["run_id"]
        return _Record(
            run,
            self.metrics.get(run_id, {}),
            self.params.get(run_id, {}),
            self.tags.get(run_id, {}),
            self.inputs.get(run_id, []),
        )

    def search(
        self,
        experiment_ids: Iterable[str] | None,
        view: str,
        filter_string: str | None,
        order_by: list[str] | None,
        max_results: int,
    ) -> pd.DataFrame:
        wanted = None if experiment_ids is None else {str(e) for e in experiment_ids}
        in_experiments = [
            run for run in self.runs.values() if wanted is None or run["experiment_id"] in wanted
        ]
        stages = {"ACTIVE_ONLY": {"active"}, "DELETED_ONLY": {"deleted"}}
        shown = stages.get(view, {"active", "deleted"})
        records = [self._record(run) for run in in_experiments if run["lifecycle_stage"] in shown]
        expression = search.parse_filter(filter_string)
        keys = search.parse_order_by(order_by)
        # Numeric or text order of a param: from every run of the searched experiments,
        # whatever the filter and the view, so a filter never changes the order.
        numeric_params = {
            key.ident.key
            for key in keys
            if key.ident.kind == "param"
            and all(
                _number(self.params[run["run_id"]][key.ident.key]) is not None
                for run in in_experiments
                if key.ident.key in self.params.get(run["run_id"], {})
            )
        }
        matching = [record for record in records if evaluate(expression, record) is True]
        # Not a search rule but how sparktrack shapes an empty answer (the README says
        # nothing of dtypes): a store without runs gives text columns of dtype object,
        # a store with runs gives pandas' str dtype even when no run matches.
        text = "str" if self.runs else "object"
        return _frame(order(matching, keys, numeric_params)[:max_results], text)


def _frame(records: list[_Record], text: str) -> pd.DataFrame:
    """Search's result: the base columns, then metrics, params and tags of those runs."""
    columns: dict[str, pd.Series] = {}
    for name in BASE_COLUMNS:
        values = [record.run[name] for record in records]
        if name in ("start_time", "end_time"):
            times = pd.array(values, dtype="Int64")
            columns[name] = pd.Series(pd.to_datetime(times, unit="ms", utc=True))
        else:
            columns[name] = pd.Series(values, dtype=text)
    kinds = [("metric", "metrics", "float64"), ("param", "params", "str"), ("tag", "tags", "str")]
    for kind, prefix, dtype in kinds:
        keys = sorted({key for record in records for key in record.values[kind]})
        for key in keys:
            values = [record.values[kind].get(key) for record in records]
            if dtype == "float64":
                values = [math.nan if value is None else value for value in values]
            columns[f"{prefix}.{key}"] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(columns)
