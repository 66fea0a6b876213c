"""The runs table summarized for searches: from gc's saved summary and the events since.

A search folds every run's events (two million at a million runs). Folding them whole
holds per-row codes, orders and picks of every event at once; a new process now
starts from the summary ``sparktrack gc`` saved beside the tables (one row per run,
``_run_summaries``), reads only its columns the search needs, and folds into it the
events of the files committed since, a row group at a time. Without a saved summary
(a store never maintained, or one whose summary is unreadable or covers none of the
table's files any more) the events are summarized a row group at a time from the
start.

A saved summary is a shortcut, as the saved metrics fold is: files compacted since
hold events it has summarized already, and summarizing an event twice changes
nothing (the first and the latest of a run's events stay the same events). The
heartbeat rule is never part of it: it is applied when the runs are read.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

import pyarrow as pa
import pyarrow.compute as pc

from sparktrack.store import Store, StoredFold
from sparktrack.tracking._run_summaries import (
    empty_summary,
    merged,
    summary_columns,
    summary_of_batches,
)
from sparktrack.tracking._state import event_columns

__all__ = ["RUNS_SUMMARY", "runs_summary", "save_runs_summary"]

RUNS_SUMMARY = "runs_summary"
"""The name ``sparktrack gc`` saves the runs table's summary under (``Store.save_fold``)."""
_log = logging.getLogger("sparktrack.tracking")


def runs_summary(store: Store, fields: Collection[str] | None = None) -> pa.Table:
    """The summary of the whole ``runs`` table now, with the columns ``fields`` need.

    Args:
        store: The store to read.
        fields: The run columns to fold (None: all of them).
    """
    saved = _usable(store.saved_fold(RUNS_SUMMARY, columns=summary_columns(fields)), fields)
    # Every column: plain strings, most of them one per run (names, artifact paths),
    # which a dictionary read would encode only to decode them. The deciding columns:
    # dictionary-encoded as Parquet stores them, cheaper than a string per event.
    appended = store.scan_appended(
        "runs",
        None if saved is None else saved.files,
        columns=event_columns(fields),
        dictionary=fields is not None,
    )
    new = summary_of_batches(appended.batches, fields)
    if saved is None or appended.files is None or not appended.files & saved.files:
        return new
    return brought_up_to_date(saved.rows, new)


def brought_up_to_date(earlier: pa.Table, later: pa.Table) -> pa.Table:
    """The summary ``earlier`` with the summary of the events after it, ``later``, merged.

    Only the runs ``later`` names are merged again: a merge of every run would cost
    as much after a few new events as after many.
    """
    if later.num_rows == 0:
        return earlier
    touched = pc.is_in(earlier["run_id"], value_set=later["run_id"])
    refolded = merged([earlier.filter(touched), later.select(earlier.column_names)])
    return pa.concat_tables([earlier.filter(pc.invert(touched)), refolded])


def _usable(saved: StoredFold | None, fields: Collection[str] | None) -> StoredFold | None:
    """The saved summary in the columns and types of ``fields``' summary, or None.

    One written by another version, with other columns, is left aside: the table is
    summarized as if there were none.
    """
    if saved is None:
        return None
    schema = empty_summary(fields).schema
    try:
        return StoredFold(saved.files, saved.rows.select(schema.names).cast(schema))
    except (KeyError, pa.ArrowException) as exc:
        _log.warning("ignoring the saved summary of the runs table: %s", exc)
        return None


def save_runs_summary(store: Store) -> int:
    """Summarize the whole ``runs`` table and save it for readers in new processes.

    What ``sparktrack gc`` does after compacting, beside the latest metrics.

    Returns:
        The number of runs saved (0: the store keeps no saved folds).
    """
    appended = store.scan_appended("runs", None, columns=event_columns(None))
    summary = summary_of_batches(appended.batches)
    if appended.files is None:
        return 0
    store.save_fold(RUNS_SUMMARY, appended.files, summary, [])
    return summary.num_rows
