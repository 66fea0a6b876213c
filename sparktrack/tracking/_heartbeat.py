"""Heartbeats: a running run says it is alive, so a dead process's run ends KILLED.

Each client beats for the runs it started (or resumed) and has not ended. Beats are
written without the journal: after a crash they are worth nothing. A forked child
beats only for the runs it starts itself (the parent goes on beating for its own).
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Callable

__all__ = ["Heartbeat"]


class Heartbeat:
    def __init__(self, interval_seconds: float, beat: Callable[[list[str]], None]) -> None:
        self._interval = interval_seconds
        self._beat = beat
        self._runs: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        _live_heartbeats.add(self)

    def _start_over_in_child(self) -> None:
        self._runs = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None  # the parent's thread does not exist here

    def add(self, run_id: str) -> None:
        with self._lock:
            self._runs.add(run_id)
            if self._thread is None and self._interval > 0:
                self._thread = threading.Thread(
                    target=self._loop, name="sparktrack-heartbeat", daemon=True
                )
                self._thread.start()

    def remove(self, run_id: str) -> None:
        with self._lock:
            self._runs.discard(run_id)

    def running(self) -> list[str]:
        with self._lock:
            return sorted(self._runs)

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            runs = self.running()
            if runs:
                # A missed beat is harmless: the next one retries.
                with contextlib.suppress(Exception):
                    self._beat(runs)


_live_heartbeats: weakref.WeakSet[Heartbeat] = weakref.WeakSet()


def _start_over_in_child() -> None:
    for heartbeat in list(_live_heartbeats):
        heartbeat._start_over_in_child()


os.register_at_fork(after_in_child=_start_over_in_child)
