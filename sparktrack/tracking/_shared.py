"""One open store per (store, settings) in a process, shared by every TrackingClient.

Users open a ``TrackingClient()`` beside the fluent API (as they open ``MlflowClient()``
beside ``mlflow.start_run``) and expect each to see what the other logged. Two clients
with stores of their own cannot: each store has its own writer, so one client's
acknowledged records stay invisible to the other until that writer commits, and each
client's caches (run existence, params, experiments, folded tables) miss the other's
writes. So every client of the same store URI and settings shares one ``SharedStore``:
one store (one writer, whose flush before a read commits what any client logged), one
set of caches that every client's writes update, and one heartbeat.

A store is opened by its first client and closed when its last client closes (a count
of leases). Clients with other settings for the same URI get a store of their own and
see the others' writes once committed, as another process would.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from sparktrack.config import Settings
from sparktrack.store import Store, open_store, parse_store_uri
from sparktrack.tracking._entities import Experiment
from sparktrack.tracking._heartbeat import Heartbeat
from sparktrack.tracking._liveness import Liveness

__all__ = ["SharedStore", "acquire_store", "release_store"]

_MEMORY = "memory://"


@dataclass(eq=False)
class SharedStore:
    """A store and the state every client of it shares (guarded by ``lock``)."""

    key: Hashable
    store: Store
    liveness: Liveness
    heartbeat: Heartbeat
    lock: threading.RLock = field(default_factory=threading.RLock)
    # run_id -> experiment_id of every run seen (runs are never removed).
    run_experiments: dict[str, str] = field(default_factory=dict)
    # run_id -> the params it holds, to refuse a conflicting value before it is logged.
    params: dict[str, dict[str, str]] = field(default_factory=dict)
    experiments_by_name: dict[str, Experiment] = field(default_factory=dict)
    # Active experiments looked up by id: creating a run must not re-read the table.
    active_experiments: dict[str, Experiment] = field(default_factory=dict)
    # Folded tables, each with the table version(s) it was folded at.
    fold_cache: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    logged_inputs: set[tuple[str, str, str]] = field(default_factory=set)
    leases: int = 0


_registry_lock = threading.Lock()
_open: dict[Hashable, SharedStore] = {}


def _key(store: str | Store, settings: Settings) -> Hashable:
    """Stores given as objects are shared by identity; URIs once normalised."""
    if isinstance(store, Store):
        return store
    uri = _MEMORY if store.startswith(_MEMORY) else parse_store_uri(store).uri
    return (uri, dataclasses.replace(settings, store=uri))


def acquire_store(store: str | Store, settings: Settings) -> SharedStore:
    """The shared store for ``store`` (a URI or a Store object), opened if need be.

    Each call takes a lease that ``release_store`` gives back.
    """
    key = _key(store, settings)
    # Opening under the registry lock: two threads opening the same store at once
    # must end up with one store, not two writers.
    with _registry_lock:
        shared = _open.get(key)
        if shared is None:
            opened = store if isinstance(store, Store) else open_store(store, settings)
            liveness = Liveness(opened)
            shared = SharedStore(
                key=key,
                store=opened,
                liveness=liveness,
                heartbeat=Heartbeat(settings.heartbeat_interval_seconds, liveness.beat),
            )
            _open[key] = shared
            # Runs that processes which died while logging here left open end now.
            liveness.settle_orphans()
        shared.leases += 1
        return shared


def release_store(shared: SharedStore) -> None:
    """Give back one lease; the last one stops the heartbeat and closes the store.

    Closing happens under the registry lock, so a client opening the same store
    meanwhile waits for the commit and then sees everything the old store held.
    """
    with _registry_lock:
        shared.leases -= 1
        if shared.leases > 0:
            return
        if _open.get(shared.key) is shared:
            del _open[shared.key]
        shared.heartbeat.stop()
        try:
            shared.liveness.settle_orphans()
        finally:
            shared.store.close()


def _start_over_in_child() -> None:
    # After fork, in the child: a lock another thread of the parent held at the fork
    # stays held forever. Registered before any client's hook (this module is imported
    # first), so clients pick up the renewed locks.
    global _registry_lock
    _registry_lock = threading.Lock()
    for shared in _open.values():
        shared.lock = threading.RLock()


os.register_at_fork(after_in_child=_start_over_in_child)
