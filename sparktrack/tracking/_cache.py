"""What was read or folded from the store's tables, kept while the tables stay the same.

Every entry is made at some table version(s) and served again only while those
versions are unchanged: a store that cannot tell a version (None) is never served
from the cache. Each kind of entry is a ``Slot``, so what a slot holds has a type.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sparktrack.tracking._locking import ForkSafeLock

__all__ = ["Slot", "TableCache", "Versions"]

T = TypeVar("T")
# The version of each table an entry was made from (``Store.version``; None: unknown).
Versions = tuple[int | None, ...]


@dataclass(frozen=True)
class Slot(Generic[T]):
    """One kind of cache entry: what it is made from, and (by its type) what it holds.

    Attributes:
        name: What the entry is, e.g. "runs folded" or "params encoded".
    """

    name: Hashable


class TableCache:
    """Entries by slot, each with the table versions it was made at (thread-safe)."""

    def __init__(self) -> None:
        self._lock = ForkSafeLock()
        self._entries: dict[Slot[Any], tuple[Versions, Any]] = {}

    def get(self, slot: Slot[T], versions: Versions, make: Callable[[], T]) -> T:
        """The entry of ``slot`` made at ``versions``, made now if there is none.

        ``make`` runs outside the lock: two threads may both make an entry, and the
        later one is kept; both are equally right.
        """
        known = None not in versions
        with self._lock:
            cached = self._entries.get(slot)
        if known and cached is not None and cached[0] == versions:
            value: T = cached[1]
            return value
        value = make()
        if known:
            with self._lock:
                self._entries[slot] = (versions, value)
        return value
