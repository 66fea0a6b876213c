"""Replaying the journals of dead writers: commit what they acknowledged, report their runs.

A journal's owner is dead when its ``flock`` is free: no clock is asked. Replay
commits each table's records above the version the table already holds for the
dead writer (its app transaction), so replaying twice commits nothing twice.

Runs the dead writer had open (from its records and its segment headers) are not
ended here: what they become is the tracking layer's decision. The journal is kept,
still locked by this process, and reported (``reports``) until the verdict comes back
(``settle``): committed in the dead writer's name, then the journal is deleted. A
process that dies before settling leaves the journal to the next replay, which
reports it again; the runs' events then show whether the verdict landed.

A journal names the store it was written for. One found beside a store with another
id (the folder was deleted and a new store created at the same path) is not
replayed: it is moved to ``other-stores/<store id>/`` with one warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sparktrack.store._base import OrphanedRuns, Row
from sparktrack.store._journal import OrphanJournal, find_orphans
from sparktrack.store._schema import TABLES
from sparktrack.store._tables import Tables

__all__ = ["Replayer"]

_log = logging.getLogger("sparktrack")

# table, rows, app id, app transaction version
CommitFn = Callable[[str, list[dict[str, Any]], str, int], None]


@dataclass
class _Awaiting:
    """A replayed journal whose open runs await a verdict (its lock still held)."""

    journal: OrphanJournal
    # The app transaction version the verdict is committed with: after every record.
    version: int


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
        self._awaiting: dict[str, _Awaiting] = {}

    def replay(self) -> None:
        """Commit every dead writer's records; keep those with open runs for a verdict."""
        # A journal awaiting a verdict stays locked by this process, so it is not found.
        for orphan in find_orphans(self._directory):
            try:
                orphan.load()
                if not orphan.records and not orphan.open_runs:
                    orphan.discard()
                    continue
                if orphan.store_id is not None and orphan.store_id != self._store_id():
                    self._keep_aside(orphan)
                    continue
                version = self._commit_records(orphan)
            except Exception as exc:
                orphan.release()
                self._warn(orphan.writer_id, "replay the journal %s of a dead process", exc)
            else:
                if orphan.open_runs:
                    self._awaiting[orphan.writer_id] = _Awaiting(orphan, version)
                else:
                    orphan.discard()

    def reports(self) -> list[OrphanedRuns]:
        """The journals awaiting a verdict, with their runs' events as committed now."""
        if not self._awaiting:
            return []
        run_ids = sorted({r for a in self._awaiting.values() for r in a.journal.open_runs})
        try:
            events = self._tables.read("runs", run_ids=run_ids, fresh=True)
        except Exception as exc:
            for writer_id in self._awaiting:
                self._warn(writer_id, "read the runs a dead process left open (journal %s)", exc)
            return []  # still awaiting: reported again on the next flush
        reports = []
        for writer_id, awaiting in sorted(self._awaiting.items()):
            open_runs = dict(awaiting.journal.open_runs)
            mine = pc.is_in(events["run_id"], value_set=pa.array(list(open_runs), pa.string()))
            reports.append(
                OrphanedRuns(
                    writer_id, open_runs, events.filter(mine), awaiting.journal.last_alive_ms
                )
            )
        return reports

    def settle(self, orphaned: OrphanedRuns, rows: Sequence[Row]) -> bool:
        """Commit the verdict in the dead writer's name and delete its journal.

        Returns False when ``orphaned`` awaits no verdict here. A failed commit keeps
        the journal (released) for a later replay, with one warning.
        """
        awaiting = self._awaiting.pop(orphaned.writer_id, None)
        if awaiting is None:
            return False
        try:
            if rows:
                verdict = [dict(row) for row in rows]
                self._commit("runs", verdict, orphaned.writer_id, awaiting.version)
        except Exception as exc:
            awaiting.journal.release()
            self._warn(
                orphaned.writer_id, "end the runs a dead process left open (journal %s)", exc
            )
        else:
            awaiting.journal.discard()
        return True

    def release(self) -> None:
        """Let go of the journals awaiting a verdict: the next replay reports them again."""
        for awaiting in self._awaiting.values():
            awaiting.journal.release()
        self._awaiting.clear()

    def _commit_records(self, orphan: OrphanJournal) -> int:
        """Commit what the dead writer acknowledged; the version after its last record."""
        by_table: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for seq, table, row in orphan.records:
            if table in TABLES:
                by_table.setdefault(table, []).append((seq, row))
        for table, items in by_table.items():
            done = self._tables.landed(table, orphan.writer_id)
            fresh = [row for seq, row in items if done is None or seq > done]
            if fresh:
                self._commit(table, fresh, orphan.writer_id, items[-1][0])
        return max((seq for seq, _, _ in orphan.records), default=0) + 1

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

    def _warn(self, writer_id: str, what: str, exc: Exception) -> None:
        """Warn once per dead writer; ``what`` names the journal with a ``%s``."""
        if writer_id in self._warned:
            return
        self._warned.add(writer_id)
        _log.warning(
            "sparktrack could not " + what + " in store %r yet (%s); the journal is kept "
            "and retried on the next flush or open",
            self._directory / writer_id,
            self._uri,
            exc,
        )
