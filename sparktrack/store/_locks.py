"""Inter-process commit locks for stores on the local file system.

Delta's log store for local files is only safe within one JVM, and a store is shared
by many processes (spark-submit jobs, notebooks, sweeps). On local stores every
commit, from delta-rs or delta-spark, takes an exclusive lock per table first, except
registry changes: those are optimistic (``_optimistic``), delta-rs's commit never
replaces a log entry, and delta-spark never commits to the registry table. On object
stores and HDFS the engines' own commit protocols apply and no lock is taken.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from sparktrack.errors import StoreError
from sparktrack.store._uri import StoreLocation

__all__ = ["table_lock"]

_LOCK_TIMEOUT_SECONDS = 120.0


@contextlib.contextmanager
def table_lock(location: StoreLocation, table: str) -> Iterator[None]:
    """Hold the inter-process commit lock of ``table`` on a local store for the block.

    On object stores and HDFS no lock is taken (the engines' commit protocols apply).
    The lock is a file under the store's hidden ``.locks`` folder, so it works across
    processes and engines (delta-rs and delta-spark commit under the same lock). It
    is not re-entrant: do not take the lock of a table you already hold. Waits up to
    two minutes for another process's commit.

    Args:
        location: The store (``parse_store_uri``).
        table: The table to commit to, one of ``TABLE_NAMES``.

    Yields:
        Nothing; the lock is released when the block ends, also when it raises.

    Raises:
        StoreError: The lock could not be taken in time, or its folder cannot be written.
    """
    if not location.is_local or location.local_path is None:
        yield
        return
    # Hidden folder: VACUUM and both Delta engines ignore names starting with '.'.
    lock_dir = Path(location.local_path) / ".locks"
    lock = FileLock(str(lock_dir / f"{table}.lock"), timeout=_LOCK_TIMEOUT_SECONDS)
    try:
        # Never with parents=True: a store folder that vanished must not come back
        # half-made (without its tables) because a writer wanted a lock.
        lock_dir.mkdir(exist_ok=True)
        lock.acquire()
    except Timeout as exc:
        raise StoreError(
            f"table {table!r} of store {location.uri!r} stayed locked for "
            f"{_LOCK_TIMEOUT_SECONDS:.0f} s; another process may be stuck in a commit "
            f"(lock file {lock.lock_file})"
        ) from exc
    except OSError as exc:
        raise StoreError(_unwritable(location, lock_dir, exc)) from exc
    try:
        yield
    finally:
        lock.release()


def _unwritable(location: StoreLocation, lock_dir: Path, exc: OSError) -> str:
    root = Path(location.uri)
    if not root.exists():
        problem = "the store folder does not exist (was it moved or deleted?)"
    elif not root.is_dir():
        problem = "the store path is not a folder"
    else:
        problem = f"cannot take the commit lock in {str(lock_dir)!r}: {exc.strerror or exc}"
    return (
        f"cannot write to store {location.uri!r}: {problem}. Make sure the store folder "
        "exists and is writable by this user (and that its .locks entry is a folder), "
        "or use another store."
    )
