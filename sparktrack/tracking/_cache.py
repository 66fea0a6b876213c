"""What was read or folded from the store's tables, kept while the tables stay the same.

Every entry is made at some table version(s) and served again only while those
versions are unchanged: a store that cannot tell a version (None) is never served
from the cache. Each kind of entry is a ``Slot``, so what a slot holds has a type.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

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
        self._makers: dict[Slot[Any], ForkSafeLock] = {}

    def _cached(self, slot: Slot[Any], versions: Versions) -> tuple[bool, Any]:
        """(True, the entry) if the slot holds one made at ``versions``, else (False, None)."""
        with self._lock:
            cached = self._entries.get(slot)
        if cached is not None and cached[0] == versions:
            return True, cached[1]
        return False, None

    def holds(self, slot: Slot[Any], versions: Versions) -> bool:
        """Whether ``slot`` holds an entry made at ``versions`` now."""
        return None not in versions and self._cached(slot, versions)[0]

    def get(self, slot: Slot[T], versions: Versions, make: Callable[[], T]) -> T:
        """The entry of ``slot`` made at ``versions``, made now if there is none.

        One thread at a time makes a slot's entry: another asking for the same entry
        meanwhile waits for it rather than making it again (a first fold of 100,000
        runs takes seconds, and two at once take longer). Other slots are made
        meanwhile. ``make`` must not ask for its own slot's entry at other versions.
        """
        if None in versions:
            return make()
        found, value = self._cached(slot, versions)
        if found:
            return cast(T, value)
        with self._lock:
            maker = self._makers.setdefault(slot, ForkSafeLock())
        with maker:
            found, value = self._cached(slot, versions)
            if found:
                return cast(T, value)
            made = make()
            with self._lock:
                self._entries[slot] = (versions, made)
            return made
