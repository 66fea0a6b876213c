"""Storage back-ends: Delta tables (default) and an in-memory store for tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sparktrack.store._artifacts import ArtifactRepository, FileInfo, filesystem_for
from sparktrack.store._base import OrphanedRuns, Row, Store
from sparktrack.store._delta import DeltaStore
from sparktrack.store._memory import MemoryStore
from sparktrack.store._schema import TABLE_NAMES, TABLES, LifecycleStage, RunEvent, RunStatus
from sparktrack.store._uri import StoreLocation, parse_store_uri

if TYPE_CHECKING:
    from sparktrack.config import Settings

__all__ = [
    "TABLES",
    "TABLE_NAMES",
    "ArtifactRepository",
    "DeltaStore",
    "FileInfo",
    "LifecycleStage",
    "MemoryStore",
    "OrphanedRuns",
    "Row",
    "RunEvent",
    "RunStatus",
    "Store",
    "StoreLocation",
    "filesystem_for",
    "open_store",
    "parse_store_uri",
]


def open_store(uri: str, settings: Settings) -> Store:
    """A new store behind a URI: ``memory://`` or a Delta store at a path / cluster URI.

    Each call opens a store of its own, with its own writer. Tracking clients do not
    call this per client: they share one store per URI and settings in a process
    (``sparktrack.tracking``), so that each sees what the others logged.
    """
    if uri.startswith("memory://"):
        return MemoryStore()
    return DeltaStore(uri, settings)
