"""One open store per (store, settings) in a process, shared by every TrackingClient.

Users open a ``TrackingClient()`` beside the fluent API (as they open ``MlflowClient()``
beside ``mlflow.start_run``) and expect each to see what the other logged. Two clients
with stores of their own cannot: each store has its own writer, so one client's
acknowledged records stay invisible to the other until that writer commits, and each
client's caches (run existence, params, experiments, folded tables) miss the other's
writes. So every client of the same store URI and settings shares one ``SharedStore``:
one store (one writer, whose flush before a read commits what any client logged), the
collaborators that hold the caches (which every client's writes update), and one
heartbeat.

A store is opened by its first client and closed when its last client closes (a count
of leases). Clients with other settings for the same URI get a store of their own and
see the others' writes once committed, as another process would.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Hashable
from dataclasses import dataclass

from sparktrack.config import Settings
from sparktrack.store import Store, open_store, parse_store_uri
from sparktrack.tracking._artifact_logging import Artifacts
from sparktrack.tracking._cache import TableCache
from sparktrack.tracking._experiments import Experiments
from sparktrack.tracking._heartbeat import Heartbeat
from sparktrack.tracking._liveness import Liveness
from sparktrack.tracking._reader import RunReader
from sparktrack.tracking._run_index import RunIndex
from sparktrack.tracking._run_writer import RunWriter
from sparktrack.tracking._snapshot_writer import SnapshotWriter

__all__ = ["SharedStore", "acquire_store", "release_store"]

_MEMORY = "memory://"


@dataclass(eq=False)
class SharedStore:
    """A store and the collaborators every client of it shares.

    Attributes:
        key: What the store is shared by (see ``_key``).
        store: The open store.
        runs: Which experiment each run belongs to.
        experiments: The experiments, with their caches.
        liveness: Heartbeats and the verdicts on dead runs.
        reader: Reads runs, with the cache of folded tables.
        writer: Starts, ends and logs to runs.
        artifacts: The runs' artifact trees.
        heartbeat: The thread beating for the runs this process has running.
        snapshots: The thread storing the runs' source snapshots.
        leases: How many clients hold the store open.
    """

    key: Hashable
    store: Store
    runs: RunIndex
    experiments: Experiments
    liveness: Liveness
    reader: RunReader
    writer: RunWriter
    artifacts: Artifacts
    heartbeat: Heartbeat
    snapshots: SnapshotWriter
    leases: int = 0

    @staticmethod
    def open(
        key: Hashable, store: Store, settings: Settings, *, settle: bool = True
    ) -> SharedStore:
        """The collaborators over ``store``; the runs dead writers left open are settled.

        ``settle`` False: they are not (the opener must not write to the store).
        """
        cache = TableCache()
        runs = RunIndex(store)
        experiments = Experiments(store, cache)
        liveness = Liveness(store)
        heartbeat = Heartbeat(settings.heartbeat_interval_seconds, liveness.beat)
        reader = RunReader(store, settings, runs, liveness, cache)
        snapshots = SnapshotWriter(store)
        shared = SharedStore(
            key=key,
            store=store,
            runs=runs,
            experiments=experiments,
            liveness=liveness,
            reader=reader,
            writer=RunWriter(store, runs, experiments, reader, heartbeat, snapshots),
            artifacts=Artifacts(store.artifacts, runs),
            heartbeat=heartbeat,
            snapshots=snapshots,
        )
        if settle:
            liveness.settle_orphans()
        return shared


_registry_lock = threading.Lock()
_open: dict[Hashable, SharedStore] = {}


def _key(store: str | Store, settings: Settings) -> Hashable:
    """Stores given as objects are shared by identity; URIs once normalised."""
    if isinstance(store, Store):
        return store
    uri = _MEMORY if store.startswith(_MEMORY) else parse_store_uri(store).uri
    return (uri, dataclasses.replace(settings, store=uri))


def acquire_store(store: str | Store, settings: Settings, *, settle: bool = True) -> SharedStore:
    """The shared store for ``store`` (a URI or a Store object), opened if need be.

    Each call takes a lease that ``release_store`` gives back. ``settle`` False: a
    store this call opens does not settle the runs of dead writers (no write).
    """
    key = _key(store, settings)
    # Opening under the registry lock: two threads opening the same store at once
    # must end up with one store, not two writers.
    with _registry_lock:
        shared = _open.get(key)
        if shared is None:
            opened = store if isinstance(store, Store) else open_store(store, settings)
            shared = SharedStore.open(key, opened, settings, settle=settle)
            _open[key] = shared
        shared.leases += 1
        return shared


def release_store(shared: SharedStore, *, settle: bool = True) -> None:
    """Give back one lease; the last one stops the heartbeat and closes the store.

    The last one also settles the runs of dead writers, unless ``settle`` is False.

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
            shared.snapshots.close()  # their tags go through the store: before it closes
            if settle:
                shared.liveness.settle_orphans()
        finally:
            shared.store.close()


def _start_over_in_child() -> None:
    # After fork, in the child: a lock another thread of the parent held at the fork
    # stays held forever (the collaborators' own locks start over by themselves).
    global _registry_lock
    _registry_lock = threading.Lock()


os.register_at_fork(after_in_child=_start_over_in_child)
