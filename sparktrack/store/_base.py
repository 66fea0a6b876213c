"""The store contract: a few append-only tables plus an artifact root.

A back-end implements a small core (``append``, ``scan``, ``flush``, ``close``);
everything about experiments, runs and their state is built on it by the tracking
client, so every back-end behaves the same by construction. A back-end that journals
reports the runs that writers which died left open (``orphaned_runs``); what becomes
of them is decided above the store and handed back (``settle_orphaned``).

Invariants every back-end keeps:

* ``append`` is thread-safe. Once it returns, the rows are acknowledged: they will be
  visible to ``scan`` after ``flush`` and are not lost if the process is killed
  (how is the back-end's business: the Delta store journals them first).
* Rows are never updated or deleted (only compacted); ``scan`` returns every row
  acknowledged and flushed, exactly once.
* ``scan`` sees at least everything this process appended before its last ``flush``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from sparktrack.errors import StoreError
from sparktrack.store._artifacts import ArtifactRepository

__all__ = ["OrphanedRuns", "Row", "Store"]

Row = Mapping[str, Any]


@dataclass(frozen=True)
class OrphanedRuns:
    """The runs a dead writer left open, as its journal shows them.

    The store knows a writer died (its journal's lock is free: no clock is asked) and
    commits what it acknowledged before reporting it. What its open runs mean is not
    the store's to decide: the report waits, its journal kept, until the verdict is
    handed to ``Store.settle_orphaned``.

    Attributes:
        writer_id: The dead writer's id (the app id of its Delta commits).
        open_runs: Run id -> ``event_time`` of the event that opened the run (a
            ``start`` or ``resume``); None when only a journal of an older version
            names the run.
        events: The ``runs`` table's rows of those runs, as committed when reported.
        last_alive_ms: When the journal last showed life (a file time, in
            milliseconds since the epoch): something to show users, not to decide by.
    """

    writer_id: str
    open_runs: Mapping[str, int | None]
    events: pa.Table
    last_alive_ms: int


class Store(abc.ABC):
    """Append-only tables and an artifact root under one URI."""

    uri: str

    @abc.abstractmethod
    def append(self, table: str, rows: Sequence[Row], *, durable: bool = True) -> None:
        """Acknowledge rows for ``table`` (see the class invariants).

        ``durable=False`` is for rows worth nothing after a crash (heartbeats): they
        skip the journal.
        """

    @abc.abstractmethod
    def scan(
        self,
        table: str,
        *,
        run_ids: Iterable[str] | None = None,
        columns: Sequence[str] | None = None,
        dictionary: bool = False,
    ) -> pa.Table:
        """Every committed row of ``table`` (optionally only for ``run_ids``).

        ``dictionary=True`` allows string columns to come back dictionary-encoded,
        which a back-end may read faster; the caller must accept either form.
        """

    @abc.abstractmethod
    def flush(self, *, fsync: bool = True) -> None:
        """Commit everything acknowledged so far; block until it is readable."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush and release resources. Further appends raise."""

    @property
    @abc.abstractmethod
    def artifacts(self) -> ArtifactRepository:
        """The artifact tree of this store."""

    @abc.abstractmethod
    def transact(
        self, table: str, decide: Callable[[pa.Table], Sequence[Row]]
    ) -> list[dict[str, Any]]:
        """Read ``table`` and append what ``decide`` returns, as one serialised step.

        For tables whose rules depend on their whole content (the model registry): no
        other ``transact`` on the table, in any process, commits between the read and
        the append, and the rows are committed (visible to every reader) on return.
        ``decide`` may raise to abort; nothing is written then.
        """

    def request_commit(self, *, fsync: bool) -> None:  # noqa: B027 - optional hook
        """Ask for a commit soon without waiting.

        ``fsync``: the records should soon survive a machine crash too. The caller does
        not wait for the disk: the Delta store's writer fsyncs its journal once, for
        every record written so far, before its next commit (group commit).
        """

    def orphaned_runs(self) -> list[OrphanedRuns]:
        """Runs left open by writers that died, reported once their records are committed.

        Each report stays until it is settled (or the store closes: it is reported
        again by the next store opened on the same journals). A back-end without
        journals has none.
        """
        return []

    def settle_orphaned(self, orphaned: OrphanedRuns, rows: Sequence[Row]) -> None:
        """Append ``rows`` (the verdict, for the ``runs`` table) and forget the report.

        The rows are committed in the dead writer's name, then its journal is deleted;
        if that fails the journal is kept and reported again later, and the verdict
        must then be decided again from the runs' events (which show whether it landed).

        Raises:
            StoreError: ``orphaned`` is not a report of this store awaiting a verdict.
        """
        raise StoreError(f"store {self.uri!r} has no orphaned runs of writer {orphaned.writer_id}")

    def version(self, table: str) -> int | None:
        """A number that changes whenever ``table`` changes (None: unknown)."""
        return None

    def maintain(self, *, vacuum_retention_hours: int | None = None) -> dict[str, Any]:
        """Compact small files and (optionally) vacuum; returns per-table stats."""
        return {}
