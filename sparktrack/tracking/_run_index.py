"""Which experiment each run belongs to: the check that a run exists, before any write.

Every log call first asks whether its run exists; reading the runs table each time
would cost more than the call. A run's experiment never changes and runs are never
removed (only soft-deleted), so what was found once is kept for the process.
"""

from __future__ import annotations

from sparktrack.errors import NotFoundError
from sparktrack.store import Store
from sparktrack.tracking._locking import ForkSafeLock
from sparktrack.tracking._runs_fold import RUNS_FOLD
from sparktrack.tracking._state import choose
from sparktrack.tracking._validation import check_run_id

__all__ = ["RunIndex"]


class RunIndex:
    """Run id -> experiment id, for every run seen (thread-safe)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = ForkSafeLock()
        self._experiments: dict[str, str] = {}

    def add(self, run_id: str, experiment_id: str) -> None:
        """Remember a run this process created."""
        with self._lock:
            self._experiments[run_id] = experiment_id

    def known(self, run_id: str) -> bool:
        """Whether the run is known to exist without reading the store."""
        with self._lock:
            return run_id in self._experiments

    def experiment_of(self, run_id: str) -> str:
        """The run's experiment id.

        Raises:
            InvalidInputError: ``run_id`` is not a valid run id.
            NotFoundError: The run does not exist (it has no start event).
        """
        with self._lock:
            known = self._experiments.get(run_id)
        if known is not None:
            return known
        check_run_id(run_id)
        self._store.flush(fsync=False)
        events = self._store.scan(
            "runs", run_ids=[run_id], columns=["run_id", "event", "event_time", "experiment_id"]
        )
        # The start event carries the experiment (the fold's rule); others leave it null.
        _, start = choose(events, RUNS_FOLD.exists)
        if len(start) == 0 or start[0] < 0:
            raise NotFoundError(f"run {run_id!r} does not exist in store {self._store.uri!r}")
        experiment_id = str(events["experiment_id"][int(start[0])].as_py())
        self.add(run_id, experiment_id)
        return experiment_id
