"""Optimistic transactions: decide on a table at version v, commit only as version v + 1.

The registry's rules (unique version numbers, one version per stage) depend on the
whole ``registry`` table, so a change must be decided on the table as it is when the
change commits. A lock file would give that on local disks only. Instead each
attempt of a change:

1. reads the table at its latest version v, and whether an earlier attempt of this
   change landed after all;
2. lets ``decide`` choose the rows on that content;
3. commits them on top of v, with delta-rs's own retries off. delta-rs writes the
   log entry of a version only if none is there yet (a rename without replace on
   local disks and HDFS, a conditional put or a DynamoDB lock on object stores), so
   once another writer took version v + 1 the commit is refused instead of being
   rebased on rows the decision never saw. (delta-spark's commit on a local disk may
   replace an entry: it never commits to such a table, see ``sparktrack.spark``.)

A commit that failed is never retried blindly: one that raised (a timeout, a lost
connection) may have landed. Every attempt commits with an app transaction of its
own (an app id unique to the change, the attempt's number as version), and the next
attempt's read tells whether one of them landed. Only when none did is the change
decided again, on the fresh content. This needs nothing but Delta's commit
protocol, so the same code protects every kind of store.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa

from sparktrack.errors import StoreError
from sparktrack.store._base import Row
from sparktrack.store._tables import Snapshot, Tables

__all__ = ["commit_optimistically"]

# Attempts of one change that Delta may refuse because another writer committed first.
# Four processes changing the registry back to back (the race test) saw up to 12
# attempts for one change; a table this busy for this long is no registry's.
_ATTEMPTS = 50
# Commits of one change that may fail (not refused: raised, like a timeout) before it
# gives up: a store that is down or read-only fails every time.
_FAILED_COMMITS = 3
# Pauses between attempts, random up to a bound that doubles per attempt: writers that
# raced once do not race again in lockstep.
_FIRST_PAUSE_SECONDS = 0.02
_LONGEST_PAUSE_SECONDS = 0.5


def commit_optimistically(
    tables: Tables, table: str, decide: Callable[[pa.Table], Sequence[Row]], *, uri: str
) -> list[dict[str, Any]]:
    """Commit what ``decide`` returns for ``table``'s content, on exactly that content.

    Args:
        tables: The store's tables.
        table: The table to change.
        decide: Given the table's rows, the rows to append; may raise to abort (the
            error propagates, nothing is written). It is called once per attempt,
            each time on the table's latest content.
        uri: The store's URI, for messages.

    Returns:
        The rows committed (none when ``decide`` returned none).

    Raises:
        StoreError: The table could not be read, or the change could not be committed
            (other writers came first every time, or the commit kept failing).
    """
    change = f"transact-{uuid.uuid4().hex}"
    decided: dict[int, list[dict[str, Any]]] = {}
    failures: list[Exception] = []
    refused = 0
    uncertain: Exception | None = None  # how the previous attempt failed, if it did
    while True:
        snapshot = _read(tables, table, change, uri, uncertain=uncertain)
        if snapshot.landed is not None:
            return decided[snapshot.landed]
        if refused + len(failures) >= _ATTEMPTS or len(failures) >= _FAILED_COMMITS:
            last = failures[-1] if failures else None
            raise StoreError(_gave_up(table, uri, refused, failures)) from last
        attempt = len(decided) + 1
        rows = [dict(row) for row in decide(snapshot.rows)]
        if not rows:
            return []
        decided[attempt] = rows
        try:
            if tables.append_at(
                table, rows, read_version=snapshot.version, app_id=change, version=attempt
            ):
                return rows
            refused, uncertain = refused + 1, None
        except Exception as exc:  # failed, and perhaps landed: the next read tells
            failures.append(exc)
            uncertain = exc
        time.sleep(random.uniform(0, _pause_bound(attempt)))


def _gave_up(table: str, uri: str, refused: int, failures: list[Exception]) -> str:
    what = f"could not commit a change to table {table!r} of store {uri!r}"
    if not failures:
        return (
            f"{what}: another writer committed first on each of {refused} attempts. Nothing "
            "of this change was committed; try again, and if this keeps happening, look "
            "for a process that changes this table in a loop."
        )
    last = failures[-1]
    return (
        f"{what}: the commit failed {len(failures)} times (and was refused {refused} "
        f"times because another writer came first); the last error: "
        f"{type(last).__name__}: {last}. Nothing of this change was committed; make sure "
        "the store is reachable and writable, then try again."
    )


def _pause_bound(attempt: int) -> float:
    return min(_LONGEST_PAUSE_SECONDS, _FIRST_PAUSE_SECONDS * 2**attempt)


def _read(
    tables: Tables, table: str, change: str, uri: str, *, uncertain: Exception | None
) -> Snapshot:
    try:
        return tables.snapshot(table, change)
    except Exception as exc:
        outcome = (
            f" The previous commit of this change failed ({type(uncertain).__name__}: "
            f"{uncertain}) and may have landed: read the table before making the change again."
            if uncertain is not None
            else ""
        )
        raise StoreError(f"cannot read table {table!r} of store {uri!r}: {exc}.{outcome}") from exc
