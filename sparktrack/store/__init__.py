"""Storage back-ends: Delta tables (default) and an in-memory store for tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sparktrack.store._adopted_files import commit_written_files
from sparktrack.store._artifacts import (
    ArtifactRepository,
    FileInfo,
    check_artifact_path,
    filesystem_for,
)
from sparktrack.store._base import Appended, OrphanedRuns, Row, Store
from sparktrack.store._delta import DeltaStore
from sparktrack.store._folds import StoredFold
from sparktrack.store._locks import table_lock
from sparktrack.store._memory import MemoryStore
from sparktrack.store._schema import (
    TABLE_NAMES,
    TABLES,
    LifecycleStage,
    LoggedModelEvent,
    RunEvent,
    RunStatus,
)
from sparktrack.store._uri import StoreLocation, parse_store_uri

if TYPE_CHECKING:
    from sparktrack.config import Settings

__all__ = [
    "TABLES",
    "TABLE_NAMES",
    "Appended",
    "ArtifactRepository",
    "DeltaStore",
    "FileInfo",
    "LifecycleStage",
    "LoggedModelEvent",
    "MemoryStore",
    "OrphanedRuns",
    "Row",
    "RunEvent",
    "RunStatus",
    "Store",
    "StoreLocation",
    "StoredFold",
    "check_artifact_path",
    "commit_written_files",
    "filesystem_for",
    "open_store",
    "parse_store_uri",
    "table_lock",
]


def open_store(uri: str, settings: Settings) -> Store:
    """Open a new store behind a URI.

    Each call opens a store of its own, with its own writer. Tracking clients do not
    call this per client: they share one store per URI and settings in a process
    (``sparktrack.tracking``), so that each sees what the others logged.

    Args:
        uri: ``memory://`` for a throwaway in-memory store, else a folder or cluster URI
            of a Delta store (see ``parse_store_uri``).
        settings: The settings to write with (``sparktrack.config.load_settings()``).

    Returns:
        A ``MemoryStore`` or a ``DeltaStore``.

    Raises:
        ConfigurationError: The URI is empty or its scheme is not supported.
        StoreError: The Delta store could not be created or opened.
    """
    if uri.startswith("memory://"):
        return MemoryStore()
    return DeltaStore(uri, settings)
