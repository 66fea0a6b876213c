"""The store contract: a few append-only tables plus an artifact root.

A back-end implements a small core (``append``, ``scan``, ``flush``, ``close``);
everything about experiments, runs and their state is built on it by the tracking
client, so every back-end behaves the same by construction.

Invariants every back-end keeps:

* ``append`` is thread-safe. Once it returns, the rows are acknowledged: they will be
  visible to ``scan`` after ``flush`` and are not lost if the process is killed
  (how is the back-end's business: the Delta store journals them first).
* Rows are never updated or deleted (only compacted); ``scan`` returns every row
  acknowledged and flushed, exactly once.
* ``scan`` sees at least everything this process appended before its last ``flush``,
  and every row of a run and table this process appended before its last
  ``flush_run`` of them.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from sparktrack.store._artifacts import ArtifactRepository

__all__ = ["Row", "Store"]

Row = Mapping[str, Any]


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

    def flush_run(self, table: str, run_id: str) -> None:
        """Make every row of run ``run_id`` that this process appended to ``table``
        readable, committing only if one of them is not committed yet (a read of one
        run's rows of one table need not wait for the commits of everything else).
        By default: ``flush``."""
        self.flush(fsync=False)

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

    def version(self, table: str) -> int | None:
        """A number that changes whenever ``table`` changes (None: unknown)."""
        return None

    def maintain(self, *, vacuum_retention_hours: int | None = None) -> dict[str, Any]:
        """Compact small files and (optionally) vacuum; returns per-table stats."""
        return {}
