"""An in-memory store for unit tests and throwaway sessions (``memory://``)."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pyarrow as pa

from sparktrack.errors import StoreError
from sparktrack.store._artifacts import ArtifactRepository
from sparktrack.store._base import Row, Store
from sparktrack.store._schema import TABLE_NAMES, TABLES
from sparktrack.store._uri import parse_store_uri

__all__ = ["MemoryStore"]


class MemoryStore(Store):
    """Rows kept in lists; artifacts in a temporary folder that lives as long as the store."""

    def __init__(self) -> None:
        self.uri = "memory://"
        self._rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLE_NAMES}
        self._versions = dict.fromkeys(TABLE_NAMES, 0)
        self._lock = threading.Lock()
        self._tmp = tempfile.TemporaryDirectory(prefix="sparktrack-memory-")
        self._artifacts = ArtifactRepository(parse_store_uri(self._tmp.name))
        self._closed = False

    @property
    def artifacts(self) -> ArtifactRepository:
        return self._artifacts

    def append(self, table: str, rows: Sequence[Row], *, durable: bool = True) -> None:
        if table not in self._rows:
            raise StoreError(f"unknown table {table!r}; tables are {list(TABLE_NAMES)}")
        if self._closed:
            raise StoreError("the store was closed; open it again to log")
        schema = TABLES[table]
        materialised = [{name: row.get(name) for name in schema.names} for row in rows]
        with self._lock:
            self._rows[table].extend(materialised)
            self._versions[table] += 1

    def scan(
        self,
        table: str,
        *,
        run_ids: Iterable[str] | None = None,
        keys: Iterable[str] | None = None,
        columns: Sequence[str] | None = None,
        dictionary: bool = False,
    ) -> pa.Table:
        with self._lock:
            rows = list(self._rows[table])
        if run_ids is not None:
            wanted = set(run_ids)
            rows = [row for row in rows if row["run_id"] in wanted]
        if keys is not None:
            wanted_keys = set(keys)
            rows = [row for row in rows if row["key"] in wanted_keys]
        result = pa.Table.from_pylist(rows, schema=TABLES[table])
        return result.select(list(columns)) if columns else result

    def transact(
        self, table: str, decide: Callable[[pa.Table], Sequence[Row]]
    ) -> list[dict[str, Any]]:
        if self._closed:
            raise StoreError("the store was closed; open it again to write")
        schema = TABLES[table]
        with self._lock:
            current = pa.Table.from_pylist(list(self._rows[table]), schema=schema)
            rows = [{name: row.get(name) for name in schema.names} for row in decide(current)]
            if rows:
                self._rows[table].extend(rows)
                self._versions[table] += 1
        return [dict(row) for row in rows]

    def version(self, table: str) -> int | None:
        return self._versions[table]

    def flush(self, *, fsync: bool = True) -> None:
        return None

    def close(self) -> None:
        self._closed = True
