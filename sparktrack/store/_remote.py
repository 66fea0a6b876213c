"""delta-rs for forked children: the same table operations, run in a helper process.

delta-rs keeps one tokio runtime per process and refuses to use it in a forked child
("Forked process detected", delta-io/delta-rs#2765): once a process has touched a
Delta table, none of its forked children can read or commit with delta-rs, whatever
new handles they create. Such a child (``multiprocessing``'s default start method on
Linux) sends each table operation to a helper: a fresh interpreter started with
``subprocess`` (exec, not fork) that runs ``DeltaTables`` and answers over a pipe.
The helper starts on the child's first table operation and exits when the pipe
closes, that is when the child exits or dies. Commit locks stay with the child: they
are file locks, which hold across processes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pickle
import struct
import subprocess
import sys
import threading
import weakref
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from sparktrack.errors import StoreError
from sparktrack.store._base import Appended
from sparktrack.store._folds import StoredFold
from sparktrack.store._tables import DeltaTables, Snapshot, Tables
from sparktrack.store._uri import StoreLocation, parse_store_uri

__all__ = ["RemoteTables", "open_tables", "serve"]

_OPERATIONS = frozenset(
    {
        "ensure_exist",
        "store_id",
        "read",
        "read_with_landed",
        "read_appended",
        "append",
        "snapshot",
        "append_at",
        "landed",
        "version",
        "row_count",
        "compact",
        "maintain",
        "maintenance_plan",
        "write_fold",
        "read_fold",
    }
)
_FRAME = struct.Struct("!Q")

# Whether delta-rs's runtime was started in this process or in one it was forked from.
_runtime_started = False
_runtime_inherited = False
_live_remotes: weakref.WeakSet[RemoteTables] = weakref.WeakSet()


def open_tables(location: StoreLocation) -> Tables:
    """The store's tables, served here, or by a helper where delta-rs cannot run."""
    global _runtime_started
    if _runtime_inherited:
        return RemoteTables(location)
    _runtime_started = True
    return DeltaTables(location)


def _after_fork_in_child() -> None:
    global _runtime_inherited
    _runtime_inherited = _runtime_inherited or _runtime_started
    for remote in list(_live_remotes):
        remote.forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


class RemoteTables:
    """``Tables`` whose every operation runs in a helper process."""

    def __init__(self, location: StoreLocation) -> None:
        self._location = location
        self._lock = threading.Lock()  # one request at a time on the pipe
        self._helper: subprocess.Popen[bytes] | None = None
        _live_remotes.add(self)

    # -- Tables ---------------------------------------------------------------------
    def ensure_exist(self) -> None:
        self._call("ensure_exist")

    def store_id(self) -> str:
        return str(self._call("store_id"))

    def read(
        self,
        table: str,
        *,
        run_ids: Sequence[str] | None = None,
        keys: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        dictionary: bool = False,
        fresh: bool = False,
    ) -> pa.Table:
        result: pa.Table = self._call(
            "read",
            table,
            run_ids=None if run_ids is None else list(run_ids),
            keys=None if keys is None else list(keys),
            columns=None if columns is None else list(columns),
            dictionary=dictionary,
            fresh=fresh,
        )
        return result

    def read_with_landed(
        self,
        table: str,
        run_ids: Sequence[str],
        app_id: str,
        *,
        columns: Sequence[str] | None = None,
    ) -> tuple[pa.Table, int | None]:
        rows, landed = self._call(
            "read_with_landed",
            table,
            list(run_ids),
            app_id,
            columns=None if columns is None else list(columns),
        )
        return rows, None if landed is None else int(landed)

    def read_appended(
        self,
        table: str,
        seen: Collection[str] | None,
        *,
        keys: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        dictionary: bool = False,
    ) -> Appended:
        result: Appended = self._call(
            "read_appended",
            table,
            None if seen is None else frozenset(seen),
            keys=None if keys is None else list(keys),
            columns=None if columns is None else list(columns),
            dictionary=dictionary,
        )
        return result

    def append(
        self,
        table: str,
        rows: list[dict[str, Any]],
        *,
        app_id: str | None = None,
        version: int | None = None,
    ) -> None:
        self._call("append", table, rows, app_id=app_id, version=version)

    def snapshot(self, table: str, app_id: str) -> Snapshot:
        result: Snapshot = self._call("snapshot", table, app_id)
        return result

    def append_at(
        self,
        table: str,
        rows: list[dict[str, Any]],
        *,
        read_version: int,
        app_id: str,
        version: int,
    ) -> bool:
        committed = self._call(
            "append_at", table, rows, read_version=read_version, app_id=app_id, version=version
        )
        return bool(committed)

    def landed(self, table: str, app_id: str) -> int | None:
        version = self._call("landed", table, app_id)
        return None if version is None else int(version)

    def version(self, table: str) -> int:
        return int(self._call("version", table))

    def row_count(self, table: str) -> int | None:
        count = self._call("row_count", table)
        return None if count is None else int(count)

    def compact(self, table: str) -> None:
        self._call("compact", table)

    def maintain(self, table: str, vacuum_retention_hours: int | None) -> dict[str, Any]:
        report: dict[str, Any] = self._call("maintain", table, vacuum_retention_hours)
        return report

    def maintenance_plan(self, table: str, vacuum_retention_hours: int | None) -> dict[str, Any]:
        plan: dict[str, Any] = self._call("maintenance_plan", table, vacuum_retention_hours)
        return plan

    def write_fold(
        self, name: str, files: Collection[str], rows: pa.Table, sort_by: Sequence[str]
    ) -> None:
        self._call("write_fold", name, frozenset(files), rows, list(sort_by))

    def read_fold(
        self, name: str, keys: Collection[str] | None, columns: Sequence[str] | None
    ) -> StoredFold | None:
        found: StoredFold | None = self._call(
            "read_fold",
            name,
            None if keys is None else frozenset(keys),
            None if columns is None else list(columns),
        )
        return found

    def close(self) -> None:
        with self._lock:
            helper, self._helper = self._helper, None
        if helper is not None:
            _stop(helper)

    def forget_after_fork(self) -> None:
        """In a forked child: the helper is the parent's; close our ends of its pipes."""
        self._lock = threading.Lock()  # another thread may have held it at the fork
        helper, self._helper = self._helper, None
        if helper is not None:
            for pipe in (helper.stdin, helper.stdout):
                with contextlib.suppress(OSError):
                    if pipe is not None:
                        pipe.close()  # unbuffered: closes the descriptor, writes nothing

    # -- the pipe -----------------------------------------------------------------------
    def _call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        request = pickle.dumps((operation, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            helper = self._running_helper()
            assert helper.stdin is not None and helper.stdout is not None
            try:
                _send(helper.stdin, request)
                reply = _receive(helper.stdout)
            except (OSError, EOFError) as exc:
                self._helper = None
                _stop(helper)
                raise StoreError(
                    f"sparktrack's helper process for store {self._location.uri!r} stopped "
                    f"({exc!r}); its error output above says why. The operation is retried "
                    "with a new helper."
                ) from exc
        succeeded, value = pickle.loads(reply)
        if succeeded:
            return value
        raise value

    def _running_helper(self) -> subprocess.Popen[bytes]:
        if self._helper is not None and self._helper.poll() is None:
            return self._helper
        if not sys.executable:
            raise StoreError(
                "this forked process cannot use delta-rs, and sparktrack cannot start a "
                "helper because sys.executable is empty; start worker processes with "
                "multiprocessing's 'spawn' or 'forkserver' method instead"
            )
        # The package's own folder first: the helper must import this very sparktrack.
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])
        self._helper = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from sparktrack.store._remote import serve; "
                "serve(sys.argv[1], sys.argv[2])",
                self._location.uri,
                json.dumps(self._location.storage_options),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            env={**os.environ, "PYTHONPATH": path},
        )
        return self._helper


def _send(pipe: IO[bytes], payload: bytes) -> None:
    pipe.write(_FRAME.pack(len(payload)) + payload)
    pipe.flush()


def _receive(pipe: IO[bytes]) -> bytes:
    (size,) = _FRAME.unpack(_read_exactly(pipe, _FRAME.size))
    return _read_exactly(pipe, size)


def _read_exactly(pipe: IO[bytes], size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = pipe.read(remaining)
        if not chunk:
            raise EOFError("the helper's pipe closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _stop(helper: subprocess.Popen[bytes]) -> None:
    for pipe in (helper.stdin, helper.stdout):
        with contextlib.suppress(OSError):
            if pipe is not None:
                pipe.close()
    try:
        helper.wait(timeout=10)
    except subprocess.TimeoutExpired:
        helper.kill()
        helper.wait()


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a StoreError with its text."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return StoreError(f"{type(exc).__name__}: {exc}")
    return exc


def serve(uri: str, storage_options: str = "[]") -> None:
    """The helper's loop: run each requested operation on ``DeltaTables``, reply, repeat.

    Args:
        uri: The store's URI.
        storage_options: The location's ``storage_options``, as JSON pairs.
    """
    requests = sys.stdin.buffer
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    # Anything a library prints goes to stderr, never into the reply channel.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    options = tuple((str(key), str(value)) for key, value in json.loads(storage_options))
    tables = DeltaTables(dataclasses.replace(parse_store_uri(uri), storage_options=options))
    while True:
        try:
            operation, args, kwargs = pickle.loads(_receive(requests))
        except EOFError:
            return  # the child exited
        try:
            if operation not in _OPERATIONS:
                raise StoreError(f"unknown table operation {operation!r}")
            value = getattr(tables, operation)(*args, **kwargs)
            if isinstance(value, Appended):
                # A lazy iterator cannot cross the pipe: send the rows themselves.
                value = Appended(value.files, value.removed, list(value.batches))
            reply: tuple[bool, Any] = (True, value)
        except Exception as exc:
            reply = (False, _portable(exc))
        try:
            _send(replies, pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
        except BrokenPipeError:
            return  # the child died while we worked
