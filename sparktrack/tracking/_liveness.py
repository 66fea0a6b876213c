"""Whether runs are alive: heartbeats for this process's runs, verdicts on the dead ones.

A run whose process dies cannot end itself. Two signs tell that it died, and on both
tracking stores the verdict KILLED as an ``end`` event, so every reader (the Arrow
fold, the Spark SQL view, other tools) sees it:

* its heartbeat stopped: the fold's heartbeat rule (``_runs_fold``) flags it stale
  when it is read; the reader hands the stale runs here;
* its writer's journal was found dead by the store (a freed lock, no clock): the
  store reports the runs the writer had open (``Store.orphaned_runs``). Such a run
  ends KILLED unless somebody moved on: its latest status-carrying event (the fold's
  ``STATUS`` choice) is no longer the very event with which the dead writer opened
  it, or is not RUNNING. The end time shown is when the journal last showed life.
"""

from __future__ import annotations

import pyarrow as pa

from sparktrack.store import OrphanedRuns, Store
from sparktrack.tracking._clock import event_time_us
from sparktrack.tracking._columns import take
from sparktrack.tracking._locking import ForkSafeLock
from sparktrack.tracking._rows import Row, end_event
from sparktrack.tracking._runs_fold import RUNS_FOLD, STALE, STATUS
from sparktrack.tracking._state import choose
from sparktrack.tracking._validation import now_ms

__all__ = ["Liveness"]


class Liveness:
    """Writes the heartbeats of live runs and the KILLED verdicts on dead ones (thread-safe)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = ForkSafeLock()
        # Runs whose stale verdict this process stored: each is stored once.
        self._ended_stale: set[str] = set()

    def beat(self, run_ids: list[str]) -> None:
        """Say that ``run_ids`` are alive now.

        Heartbeats skip the journal: after a crash they are worth nothing.
        """
        stamp = now_ms()
        rows = [{"run_id": run_id, "time": stamp} for run_id in run_ids]
        self._store.append("heartbeats", rows, durable=False)

    def store_stale(self, states: pa.Table) -> None:
        """Store the verdict on the runs the heartbeat rule flagged ``stale`` in ``states``.

        Args:
            states: Folded runs after the heartbeat rule (``stale_marked``): a stale
                run's ``status`` is the verdict and its ``end_time`` its last sign of life.
        """
        stale = states.filter(states[STALE])
        if stale.num_rows == 0:
            return
        with self._lock:
            fresh = [
                (run_id, status, end_time)
                for run_id, status, end_time in zip(
                    stale["run_id"].to_pylist(),
                    stale["status"].to_pylist(),
                    stale["end_time"].to_pylist(),
                    strict=True,
                )
                if run_id not in self._ended_stale
            ]
            self._ended_stale.update(run_id for run_id, _, _ in fresh)
        if not fresh:
            return
        stamp = event_time_us()
        rows = [
            end_event(run_id, status, int(end_time), event_time=stamp + i)
            for i, (run_id, status, end_time) in enumerate(fresh)
        ]
        self._store.append("runs", rows)
        self._store.request_commit(fsync=False)

    def settle_orphans(self) -> list[str]:
        """Decide and store what the runs of dead writers become (see the module docstring).

        Returns:
            The runs ended KILLED.
        """
        killed: list[str] = []
        for orphaned in self._store.orphaned_runs():
            verdict = _orphan_verdict(orphaned)
            self._store.settle_orphaned(orphaned, verdict)
            killed.extend(row["run_id"] for row in verdict)
        return sorted(killed)


def _orphan_verdict(orphaned: OrphanedRuns) -> list[Row]:
    """``end`` events for the dead writer's runs nobody moved on with."""
    events = orphaned.events
    if events.num_rows == 0:
        return []
    run_ids, chosen = choose(events, STATUS)
    statuses = take(events["status"], chosen).to_pylist()
    changed = take(events["event_time"], chosen).to_pylist()
    rule = RUNS_FOLD.heartbeat
    doomed = []
    for run_id, status, status_time in zip(run_ids.to_pylist(), statuses, changed, strict=True):
        if run_id not in orphaned.open_runs or status != rule.running:
            continue
        opened_at = orphaned.open_runs[run_id]
        if opened_at is None or status_time == opened_at:
            doomed.append((run_id, status_time))
    now_us = event_time_us()
    return [
        end_event(
            run_id,
            rule.verdict,
            max(orphaned.last_alive_ms, status_time // 1000),
            # After the event it ends, whatever this machine's clock says.
            event_time=max(now_us, status_time + 1) + i,
        )
        for i, (run_id, status_time) in enumerate(sorted(doomed))
    ]
