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
* ``scan`` sees at least everything this process appended before its last ``flush``;
  ``scan_runs`` everything this process appended to the runs it reads, committed or
  not.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from sparktrack.errors import StoreError
from sparktrack.store._artifacts import ArtifactRepository
from sparktrack.store._folds import StoredFold

__all__ = ["Appended", "OrphanedRuns", "Row", "Store"]

Row = Mapping[str, Any]
"""One row of a store table: column name to value (the columns of ``TABLES[table]``)."""


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


@dataclass(frozen=True)
class Appended:
    """The rows of a table's data files that a reader has not read yet.

    Data files are never changed once written: a table grows by new files, and
    compaction replaces files by new ones holding the same rows (rows are never
    deleted). A reader that folded the files it saw can bring its fold up to date from
    the files it did not see; the rows of the files it saw that were removed are among
    those again, which a fold that may see a row twice (a maximum) can ignore.

    Attributes:
        files: Every data file the table has now (paths relative to the table), or
            None when the back-end cannot tell files apart (``batches`` then holds
            every row, every time).
        removed: The files seen that the table no longer has (compacted away).
        batches: The rows of the files not among those seen (every file when nothing
            was seen), a bounded number at a time, read as they are iterated.
    """

    files: frozenset[str] | None
    removed: frozenset[str]
    batches: Iterable[pa.Table]


class Store(abc.ABC):
    """Append-only tables and an artifact root under one URI.

    The contract every back-end keeps is in this module's docstring. Users rarely need
    a store directly: ``TrackingClient`` builds runs, params and metrics on it, and
    ``TrackingClient(...).store`` is the one it uses.

    Attributes:
        uri: The store's URI, normalised (an absolute path for a local store).
    """

    uri: str

    @abc.abstractmethod
    def append(self, table: str, rows: Sequence[Row], *, durable: bool = True) -> None:
        """Acknowledge rows for ``table`` (see the class invariants).

        Args:
            table: One of ``TABLE_NAMES``.
            rows: The rows, with the table's columns (``TABLES[table]``).
            durable: False for rows worth nothing after a crash (heartbeats): they skip
                the journal.

        Raises:
            StoreError: The table is unknown, the store is closed, or the rows could not
                be acknowledged (the journal's disk is full or failing).
        """

    @abc.abstractmethod
    def scan(
        self,
        table: str,
        *,
        run_ids: Iterable[str] | None = None,
        keys: Iterable[str] | None = None,
        columns: Sequence[str] | None = None,
        dictionary: bool = False,
    ) -> pa.Table:
        """Read every committed row of ``table``.

        Args:
            table: One of ``TABLE_NAMES``.
            run_ids: Only the rows of these runs (None: every row).
            keys: Only the rows whose ``key`` is one of these (tables with a ``key``
                column: params, metrics, tags; None: every row).
            columns: Only these columns (None: all of them, in schema order).
            dictionary: Allow string columns to come back dictionary-encoded, which a
                back-end may read faster; the caller must accept either form.

        Returns:
            The rows as an Arrow table with the table's schema (or ``columns``).

        Raises:
            StoreError: The table could not be read.
        """

    def scan_runs(
        self, table: str, run_ids: Collection[str], *, columns: Sequence[str] | None = None
    ) -> pa.Table:
        """Every row of these runs, committed or only appended by this process.

        What a read of a few runs needs to see this process's own writes: by default
        it commits them first (``flush(fsync=False)``); a back-end that can tell which
        rows wait may add them to the committed ones instead, each row exactly once.

        Args:
            table: One of ``TABLE_NAMES`` with a ``run_id`` column.
            run_ids: The runs whose rows to read.
            columns: Only these columns (None: all of them, in schema order).

        Returns:
            The rows, with the table's schema (or ``columns``), committed ones first.

        Raises:
            StoreError: The table could not be read, or a commit failed.
        """
        self.flush(fsync=False)
        return self.scan(table, run_ids=run_ids, columns=columns)

    def scan_appended(
        self,
        table: str,
        seen: Collection[str] | None,
        *,
        keys: Iterable[str] | None = None,
        columns: Sequence[str] | None = None,
        dictionary: bool = False,
    ) -> Appended:
        """Read the rows a reader that saw the data files ``seen`` has not read yet.

        For readers that keep a fold of a large table (the latest value of every
        metric) and bring it up to date as the table grows.

        Args:
            table: One of ``TABLE_NAMES``.
            seen: ``Appended.files`` of the previous call (None: nothing seen yet).
            keys: Only the rows whose ``key`` is one of these (as for ``scan``).
            columns: Only these columns (None: all of them, in schema order).
            dictionary: Allow string columns to come back dictionary-encoded.

        Returns:
            The table's files now and the rows to fold (see ``Appended``). This default
            cannot tell files apart: every row, every time.

        Raises:
            StoreError: The table could not be read.
        """
        rows = self.scan(table, keys=keys, columns=columns, dictionary=dictionary)
        return Appended(files=None, removed=frozenset(), batches=[rows])

    @abc.abstractmethod
    def flush(self, *, fsync: bool = True) -> None:
        """Commit everything acknowledged so far; block until it is readable.

        Args:
            fsync: Also make sure the journal is on disk (survives a machine crash).

        Raises:
            StoreError: A commit failed; what was acknowledged stays in the journal and
                is committed once the store accepts writes again.
        """

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
        """Append what ``decide`` returns for ``table``'s content, on exactly that content.

        For tables whose rules depend on their whole content (the model registry): the
        rows are committed only if nothing was committed to the table, by any process,
        since the read they were decided on; otherwise the table is read again and
        ``decide`` runs again on the new content. A commit that failed is not retried
        before the table shows it did not land, so the rows are committed at most once.
        They are committed (visible to every reader) on return.

        Args:
            table: One of ``TABLE_NAMES``.
            decide: Given the table's current content, returns the rows to append. It
                may raise to abort; nothing is written then. It may be called more
                than once (each time on newer content): only the call whose rows were
                committed counts.

        Returns:
            The rows appended, as written.

        Raises:
            StoreError: The table could not be read or written, or other writers
                committed first on every one of a bounded number of attempts.
        """

    def request_commit(self, *, fsync: bool) -> None:  # noqa: B027 - optional hook
        """Ask for a commit soon without waiting.

        Args:
            fsync: The records should soon survive a machine crash too. The caller does
                not wait for the disk: the Delta store's writer fsyncs its journal once,
                for every record written so far, before its next commit (group commit).
        """

    def orphaned_runs(self) -> list[OrphanedRuns]:
        """Runs left open by writers that died, reported once their records are committed.

        Each report stays until it is settled (or the store closes: it is reported
        again by the next store opened on the same journals).

        Returns:
            One report per dead writer awaiting a verdict (none for a back-end
            without journals).
        """
        return []

    def settle_orphaned(self, orphaned: OrphanedRuns, rows: Sequence[Row]) -> None:
        """Append ``rows`` (the verdict, for the ``runs`` table) and forget the report.

        The rows are committed in the dead writer's name, then its journal is deleted;
        if that fails the journal is kept and reported again later, and the verdict
        must then be decided again from the runs' events (which show whether it landed).

        Args:
            orphaned: A report ``orphaned_runs`` returned.
            rows: The verdict: rows for the ``runs`` table (none: leave the runs as
                they are).

        Raises:
            StoreError: ``orphaned`` is not a report of this store awaiting a verdict.
        """
        raise StoreError(f"store {self.uri!r} has no orphaned runs of writer {orphaned.writer_id}")

    def version(self, table: str) -> int | None:
        """Tell whether ``table`` changed: readers cache what they fold per version.

        Args:
            table: One of ``TABLE_NAMES``.

        Returns:
            A number that changes whenever the table changes; None when the back-end
            cannot tell (then nothing is cached).
        """
        return None

    def save_fold(  # noqa: B027 - optional: stores without saved folds keep none
        self, name: str, files: Collection[str], rows: pa.Table, sort_by: Sequence[str]
    ) -> None:
        """Keep a fold of a large table for readers in other processes (``_folds/``).

        What ``sparktrack gc`` saves: the latest point of every metric, so that a new
        process does not fold the whole metrics table again. This default keeps none.

        Args:
            name: The fold's name.
            files: ``Appended.files`` of the scan the rows were folded from.
            rows: The fold.
            sort_by: Columns to sort it by (``key`` first: readers of a few keys then
                skip the row groups of the others), or none to keep its order.
        """

    def saved_fold(
        self,
        name: str,
        keys: Collection[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> StoredFold | None:
        """The fold ``save_fold`` kept (its rows of ``keys``, its ``columns`` only), or None.

        Args:
            name: The fold's name.
            keys: Only the rows whose ``key`` is one of these (None: every row).
            columns: Only these columns (None: all); a fold without one of them is
                treated as unreadable.

        Returns:
            The fold and the data files it covers; None when there is none, and when
            it cannot be read (a saved fold is a shortcut, never needed).
        """
        return None

    def row_count(self, table: str) -> int | None:
        """How many rows ``table`` holds, if the back-end can tell without reading them.

        Readers size their plans by it (a search of a large store starts reading the
        keys it names while it folds the runs).

        Args:
            table: One of ``TABLE_NAMES``.

        Returns:
            The number of rows, from the table's file statistics; None when unknown.
        """
        return None

    def maintain(
        self, *, vacuum_retention_hours: int | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """Compact small files and, optionally, delete files no recent version needs.

        What ``sparktrack gc`` runs.

        Args:
            vacuum_retention_hours: Also vacuum files that no table version younger than
                this needs (None: compact only).
            dry_run: Change nothing: report what would be rewritten and vacuumed
                (``files_rewritten``, ``vacuumed_files``).

        Returns:
            Per-table statistics of what was done, keyed by table name.
        """
        return {}
