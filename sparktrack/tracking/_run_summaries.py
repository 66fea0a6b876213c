"""The runs fold in pieces: per-run summaries that merge, so events fold a batch at a time.

A summary of some rows of the ``runs`` table holds one row per run they name, with
what ``RUNS_FOLD`` needs to go on folding: for each of its choices the chosen event's
``event_time`` (``<choice>.event_time``, null: none chosen) and the event columns the
fold takes from it (``<choice>.<column>``), and the run's latest ``event_time``
(``latest_time``). Summaries of consecutive pieces of the table, concatenated in
order, fold like events: per run and choice, the row with the first (or latest) time,
ties keeping row order (the earlier piece wins a tie for "first", the later for
"latest"), just as the whole table would. So a table is folded a row group at a
time, never holding per-row codes of all its events, and ``sparktrack gc`` saves
the summary of the whole table, which a new process brings up to date with the events
committed since (``_folded_runs``).

The heartbeat rule is no part of a summary: it depends on the time of reading and is
applied to the states made from it (``_state.states_of``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from sparktrack.store import TABLES
from sparktrack.tracking._columns import Codes, Ranking, encode, flags, numbers, pick, positions
from sparktrack.tracking._columns import take as take_rows
from sparktrack.tracking._runs_fold import RUNS_FOLD, Choice, Stage, Taken

__all__ = [
    "LATEST_TIME",
    "chosen_events",
    "empty_summary",
    "fold_fields",
    "given",
    "merged",
    "summarized",
    "summary_columns",
    "summary_of_batches",
    "time_column",
    "value_column",
]

LATEST_TIME = "latest_time"
# Summaries are merged once the pieces waiting hold this many rows (and then when they
# hold twice what the last merge left), as the metrics fold merges its pieces.
_MERGE_ROWS = 1_000_000


def fold_fields(fields: Collection[str] | None) -> list[Taken | Stage]:
    """The fold's fields named by ``fields`` (None: all), in the fold's order."""
    if fields is None:
        return list(RUNS_FOLD.fields)
    unknown = set(fields) - set(RUNS_FOLD.state_columns)
    if unknown:
        raise ValueError(f"not columns of the runs fold: {sorted(unknown)}")
    return [field for field in RUNS_FOLD.fields if field.column in fields]


def given(fields: Collection[str] | None) -> dict[Choice, list[str]]:
    """Per choice the fields use, the event columns taken from its chosen event.

    The run's existence always gives ``start_time``: the heartbeat rule counts it as a
    sign of life, whether or not the fields show it.
    """
    found: dict[Choice, list[str]] = {RUNS_FOLD.exists: ["start_time"]}
    for field in fold_fields(fields):
        if isinstance(field, Taken):
            uses = [(field.choice, field.event_column)]
            if field.fallback is not None:
                uses.append((field.fallback, field.event_column))
        else:
            uses = [(field.choice, "event")]
        for choice, column in uses:
            columns = found.setdefault(choice, [])
            if column not in columns:
                columns.append(column)
    return found


def time_column(choice: Choice) -> str:
    """The summary column holding the ``event_time`` of the event ``choice`` picked."""
    return value_column(choice, "event_time")


def value_column(choice: Choice, column: str) -> str:
    """The summary column holding ``column`` of the event ``choice`` picked."""
    return f"{choice.name}.{column}"


def summary_columns(fields: Collection[str] | None) -> list[str]:
    """The columns of a summary made for ``fields`` (None: every field)."""
    names = ["run_id"]
    for choice, columns in given(fields).items():
        names += [time_column(choice), *(value_column(choice, c) for c in columns)]
    return [*names, LATEST_TIME]


def _chosen(
    runs: Codes,
    count: int,
    candidates: npt.NDArray[np.bool_],
    times: pa.ChunkedArray | pa.Array,
    order: Ranking | None,
    latest: bool,
) -> Codes:
    """Per run code (``count`` of them), the row of ``candidates`` whose time comes first.

    Or latest, with ``latest``: in ``order`` (default: by ``times``); -1 for none.
    """
    groups, rows = pick(
        np.where(candidates & flags(pc.is_valid(times)), runs, -1),
        [numbers(times)] if order is None else order,
        last=latest,
    )
    per_run = np.full(count, -1, dtype=np.int64)
    per_run[groups] = rows
    return per_run


def _matching(events: pa.Table, choice: Choice) -> npt.NDArray[np.bool_]:
    if choice.by_status:
        return flags(pc.is_valid(events["status"]))
    return positions(events["event"], pa.array(choice.events, pa.string())) >= 0


def chosen_events(events: pa.Table, choice: Choice) -> tuple[pa.Array, Codes]:
    """The run ids of ``events`` and, per run, the row of the event ``choice`` picks (-1)."""
    runs, run_ids = encode(events["run_id"])
    times = events["event_time"]
    matching = _matching(events, choice)
    return run_ids, _chosen(runs, len(run_ids), matching, times, None, choice.latest)


def summarized(events: pa.Table, fields: Collection[str] | None = None) -> pa.Table:
    """The summary of ``events`` (rows of the ``runs`` table, strings plain or encoded).

    One row per run that has an event with an ``event_time`` (events without one are
    never chosen and are no sign of life), in the order of the run ids' codes.
    """
    if events.num_rows == 0:
        return empty_summary(fields)
    runs, run_ids = encode(events["run_id"])
    times = events["event_time"]
    by_time = Ranking.of([numbers(times)])
    columns: dict[str, pa.Array | pa.ChunkedArray] = {"run_id": run_ids}
    for choice, taken in given(fields).items():
        picked = _chosen(
            runs, len(run_ids), _matching(events, choice), times, by_time, choice.latest
        )
        columns[time_column(choice)] = take_rows(times, picked)
        for column in taken:
            columns[value_column(choice, column)] = take_rows(events[column], picked)
    everything = np.ones(events.num_rows, dtype=np.bool_)
    latest = _chosen(runs, len(run_ids), everything, times, by_time, latest=True)
    columns[LATEST_TIME] = take_rows(times, latest)
    return pa.table(columns).filter(pa.array(latest >= 0))


def merged(pieces: Sequence[pa.Table]) -> pa.Table:
    """The summary of consecutive pieces of a table, from theirs (``pieces`` in order).

    The pieces' rows are folded as events are: per run and choice, the row with the
    first or latest time, ties keeping row order; and the latest ``latest_time``.
    """
    filled = [piece for piece in pieces if piece.num_rows]
    if len(filled) <= 1:
        return filled[0] if filled else pieces[0]
    table = pa.concat_tables(filled)
    runs, run_ids = encode(table["run_id"])
    everywhere = np.ones(table.num_rows, dtype=np.bool_)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {"run_id": run_ids}
    for choice in RUNS_FOLD.choices:
        if time_column(choice) not in table.column_names:
            continue
        times = table[time_column(choice)]
        picked = _chosen(runs, len(run_ids), everywhere, times, None, choice.latest)
        prefix = value_column(choice, "")
        for name in table.column_names:
            if name.startswith(prefix):
                columns[name] = take_rows(table[name], picked)
    latest = _chosen(runs, len(run_ids), everywhere, table[LATEST_TIME], None, latest=True)
    columns[LATEST_TIME] = take_rows(table[LATEST_TIME], latest)
    return pa.table(columns).select(table.column_names)


def summary_of_batches(
    batches: Iterable[pa.Table], fields: Collection[str] | None = None
) -> pa.Table:
    """The summary of the events ``batches`` hold, in order, folded a batch at a time."""
    pieces: list[pa.Table] = []
    held = 0
    merge_at = _MERGE_ROWS
    for batch in batches:
        if batch.num_rows == 0:
            continue
        piece = summarized(batch, fields)
        pieces.append(piece)
        held += piece.num_rows
        if held > merge_at and len(pieces) > 1:
            pieces = [merged(pieces)]
            held = pieces[0].num_rows
            merge_at = max(_MERGE_ROWS, 2 * held)
    if not pieces:
        return empty_summary(fields)
    return merged(pieces)


def empty_summary(fields: Collection[str] | None) -> pa.Table:
    """A summary of no events."""
    return pa.table({name: pa.array([], _type_of(name)) for name in summary_columns(fields)})


def _type_of(column: str) -> pa.DataType:
    if column == LATEST_TIME:
        return pa.int64()
    return TABLES["runs"].field(column.split(".", 1)[-1]).type
