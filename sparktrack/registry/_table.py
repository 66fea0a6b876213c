"""The ``registry`` table: its folded state, cached, and transactional appends.

Every change is one ``Store.transact`` on the table: read the events, let a rule
decide the new events against the folded state, append them in one commit. The
commit lands only on the table version the rule saw; when another writer committed
first, the rule decides again on the new state (and may then refuse). So version
numbers are unique and Staging and Production never hold two versions, with any
number of writers on any kind of store.

The folded state is cached per store and table version, shared by every
``RegistryClient`` of that store in the process.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

from sparktrack.registry._state import RegistryState
from sparktrack.store import Store
from sparktrack.tracking import current_user, now_ms

__all__ = ["TABLE", "Decide", "RegistryTable"]

TABLE = "registry"
# A rule: the events one change appends, decided on the latest state (or an error).
Decide = Callable[[RegistryState], list[dict[str, Any]]]


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entry: tuple[int | None, RegistryState] | None = None


_caches: weakref.WeakKeyDictionary[Store, _Cache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache_of(store: Store) -> _Cache:
    with _caches_lock:
        cache = _caches.get(store)
        if cache is None:
            cache = _caches[store] = _Cache()
        return cache


class RegistryTable:
    """Reads and changes the registry table of one store. Thread- and process-safe."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache = _cache_of(store)

    def state(self) -> RegistryState:
        """The registry as of the table's latest version (cached per version)."""
        version = self.store.version(TABLE)
        cache = self._cache
        with cache.lock:
            if cache.entry is not None and version is not None and cache.entry[0] == version:
                return cache.entry[1]
        state = RegistryState.from_table(self.store.scan(TABLE))
        with cache.lock:
            cache.entry = (version, state)
        return state

    def write(self, decide: Decide) -> RegistryState:
        """Commit what ``decide`` returns for the latest state; the state after it."""
        seen: list[RegistryState] = []

        def transaction(table: Any) -> list[dict[str, Any]]:
            state = RegistryState.from_table(table)
            seen.append(state)
            events = decide(state)
            stamp, user = now_ms(), current_user()
            return [
                {"user_id": user, "timestamp": stamp, **event, "seq": state.last_seq + offset}
                for offset, event in enumerate(events, start=1)
            ]

        rows = self.store.transact(TABLE, transaction)
        state = seen[-1]  # the rule may have run more than once: the last one committed
        for row in rows:
            state.apply(row)
        return state
