"""The runs fold as Spark SQL, generated from the one description in ``_runs_fold``.

Each ``Choice`` becomes an ordering that is ``event_time`` on the matching events and
NULL elsewhere, so ``min_by``/``max_by`` (which skip rows whose ordering is NULL) pick
the first or latest matching event within one aggregation: one shuffle for the whole
fold. Heartbeats are aggregated apart and joined; the heartbeat rule is applied at
query time (``unix_millis(current_timestamp())``), so a view shows the verdict as of
each query, as ``search_runs`` does.
"""

from __future__ import annotations

from sparktrack.tracking._runs_fold import (
    LAST_SEEN,
    RUNS_FOLD,
    STALE,
    Choice,
    RunsFold,
    Taken,
)

__all__ = ["runs_view_sql"]

_LATEST_EVENT = "_latest_event_time"
_LAST_BEAT = "_last_beat"


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _matches(choice: Choice) -> str:
    if choice.by_status:
        return "status IS NOT NULL"
    return f"event IN ({', '.join(_literal(name) for name in choice.events)})"


def _pick(column: str, choice: Choice) -> str:
    function = "max_by" if choice.latest else "min_by"
    return f"{function}({column}, IF({_matches(choice)}, event_time, NULL))"


def _field_sql(fold: RunsFold) -> list[str]:
    columns = []
    for field in fold.fields:
        if isinstance(field, Taken):
            value = _pick(field.event_column, field.choice)
            if field.fallback is not None:
                value = f"COALESCE({value}, {_pick(field.event_column, field.fallback)})"
        else:
            chosen = _pick("event", field.choice)
            value = (
                f"CASE WHEN {chosen} = {_literal(field.deleting)} "
                f"THEN {_literal(field.deleted)} ELSE {_literal(field.active)} END"
            )
        columns.append(f"{value} AS {field.column}")
    return columns


def runs_view_sql(
    events: str,
    heartbeats: str,
    *,
    heartbeat_timeout_ms: int,
    now_ms: int | None = None,
    fold: RunsFold = RUNS_FOLD,
) -> str:
    """A Spark SQL query folding run events to one row per run, as ``run_states`` does.

    Args:
        events: The table or view holding the ``runs`` table's events.
        heartbeats: The table or view holding the ``heartbeats`` table.
        heartbeat_timeout_ms: How long a RUNNING run may show no sign of life before
            it reads KILLED.
        now_ms: The time to apply the heartbeat rule at (milliseconds since the
            epoch); None: the time of each query.
        fold: The fold to render (the runs fold).

    Returns:
        The query; its columns are ``fold.state_columns``.
    """
    rule = fold.heartbeat
    now = "unix_millis(current_timestamp())" if now_ms is None else str(int(now_ms))
    exists = f"{_matches(fold.exists)} AND event_time IS NOT NULL"
    folded = ",\n    ".join(_field_sql(fold))
    judged = {
        "status": f"CASE WHEN {STALE} THEN {_literal(rule.verdict)} ELSE status END",
        "end_time": f"CASE WHEN {STALE} THEN {LAST_SEEN} ELSE end_time END",
    }
    shown = ",\n  ".join(
        f"{judged[name]} AS {name}" if name in judged else name for name in fold.state_columns
    )
    return f"""SELECT {shown}
FROM (
  SELECT *, COALESCE(status = {_literal(rule.running)}
    AND {LAST_SEEN} < {now} - {int(heartbeat_timeout_ms)}, false) AS {STALE}
  FROM (
    SELECT runs.*,
      greatest(runs.start_time, runs.{_LATEST_EVENT} DIV 1000, beats.{_LAST_BEAT}) AS {LAST_SEEN}
    FROM (
      SELECT run_id,
        {folded},
        max(event_time) AS {_LATEST_EVENT}
      FROM {events}
      GROUP BY run_id
      HAVING count_if({exists}) > 0
    ) runs
    LEFT JOIN (
      SELECT run_id, max(time) AS {_LAST_BEAT} FROM {heartbeats} GROUP BY run_id
    ) beats ON runs.run_id = beats.run_id
  )
)"""
