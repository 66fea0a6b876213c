"""Replaying the journals of dead writers: commit what they acknowledged, end their runs.

A journal's owner is dead when its ``flock`` is free: no clock is asked. Replay
commits each table's records above the version the table already holds for the
dead writer (its app transaction), so replaying twice commits nothing twice.

Every run the dead writer had open (from its records and its segment headers) ends
KILLED unless the table shows that somebody moved on: the run's latest status event
(the fold's order) is not the very event with which the dead writer opened it, or
is not RUNNING. The recorded end time is when the journal last showed life; it is
shown to users, and decides nothing.

A journal names the store it was written for. One found beside a store with another
id (the folder was deleted and a new store created at the same path) is not
replayed: it is moved to ``other-stores/<store id>/`` with one warning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sparktrack.store._journal import OrphanJournal, find_orphans
from sparktrack.store._schema import TABLES
from sparktrack.store._tables import Tables

__all__ = ["Replayer"]

_log = logging.getLogger("sparktrack")

# table, rows, app id, app transaction version
CommitFn = Callable[[str, list[dict[str, Any]], str, int], None]


class Replayer:
    """Replays the dead writers' journals of one store's journal folder."""

    def __init__(
        self,
        uri: str,
        tables: Tables,
        commit: CommitFn,
        store_id: Callable[[], str],
        directory: Path,
    ) -> None:
        self._uri = uri
        self._tables = tables
        self._commit = commit
        self._store_id = store_id
        self._directory = directory
        self._warned: set[str] = set()  # writers whose replay failed, warned about once

    def replay(self) -> list[str]:
        """Replay every dead writer's journal; return the runs ended KILLED."""
        killed: list[str] = []
        for orphan in find_orphans(self._directory):
            try:
                orphan.load()
                if not orphan.records and not orphan.open_runs:
                    orphan.discard()
                    continue
                if orphan.store_id is not None and orphan.store_id != self._store_id():
                    self._keep_aside(orphan)
                    continue
                killed.extend(self._replay(orphan))
            except Exception as exc:
                orphan.release()
                if orphan.writer_id not in self._warned:
                    self._warned.add(orphan.writer_id)
                    _log.warning(
                        "sparktrack could not replay the journal %s of a dead process into "
                        "store %r yet (%s); it is kept and retried on the next flush or open",
                        self._directory / orphan.writer_id,
                        self._uri,
                        exc,
                    )
            else:
                orphan.discard()
        return killed

    def _keep_aside(self, orphan: OrphanJournal) -> None:
        folder = orphan.keep_aside(self._directory / "other-stores" / str(orphan.store_id))
        _log.warning(
            "sparktrack found the journal of a process that died while logging to an earlier "
            "store at %r (store id %s); the store there now is another one (id %s: it was "
            "deleted and created again). Those records are not replayed into it; they are "
            "kept in %s.",
            self._uri,
            orphan.store_id,
            self._store_id(),
            folder,
        )

    def _replay(self, orphan: OrphanJournal) -> list[str]:
        by_table: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for seq, table, row in orphan.records:
            if table in TABLES:
                by_table.setdefault(table, []).append((seq, row))
        for table, items in by_table.items():
            done = self._tables.landed(table, orphan.writer_id)
            fresh = [row for seq, row in items if done is None or seq > done]
            if fresh:
                self._commit(table, fresh, orphan.writer_id, items[-1][0])
        top_seq = max((seq for seq, _, _ in orphan.records), default=0)
        return self._end_open_runs(orphan, top_seq + 1)

    def _end_open_runs(self, orphan: OrphanJournal, version: int) -> list[str]:
        """Mark KILLED the runs the dead writer left open, unless somebody moved on."""
        if not orphan.open_runs:
            return []
        events = self._tables.read(
            "runs",
            run_ids=sorted(orphan.open_runs),
            columns=["run_id", "status", "event_time"],
            fresh=True,
        )
        latest: dict[str, tuple[int, str]] = {}
        for run_id, status, event_time in zip(
            *(events[c].to_pylist() for c in events.column_names), strict=True
        ):
            if status is not None and (run_id not in latest or event_time > latest[run_id][0]):
                latest[run_id] = (event_time, status)
        doomed = {
            run_id: latest[run_id][0]
            for run_id, opened_at in sorted(orphan.open_runs.items())
            if run_id in latest
            and latest[run_id][1] == "RUNNING"
            and (opened_at is None or latest[run_id][0] == opened_at)
        }
        if not doomed:
            return []
        alive_ms = orphan.last_alive_ms
        now_us = time.time_ns() // 1000
        rows = [
            {
                "run_id": run_id,
                "event": "end",
                "status": "KILLED",
                "end_time": max(alive_ms, opened_at // 1000),
                # After the event it ends, whatever this machine's clock says.
                "event_time": max(now_us, opened_at + 1) + i,
            }
            for i, (run_id, opened_at) in enumerate(doomed.items())
        ]
        self._commit("runs", rows, orphan.writer_id, version)
        return sorted(doomed)
