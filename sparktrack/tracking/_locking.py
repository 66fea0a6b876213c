"""A re-entrant lock that a forked child gets anew.

After ``fork`` only the forking thread exists in the child: a lock another thread
held at that moment stays held forever there. Every ``ForkSafeLock`` is replaced by a
fresh one in the child, so the objects holding one need no fork hook of their own.
"""

from __future__ import annotations

import os
import threading
import weakref
from types import TracebackType

__all__ = ["ForkSafeLock"]


class ForkSafeLock:
    """``threading.RLock`` that starts over, unlocked, in a forked child."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        _live_locks.add(self)

    def __enter__(self) -> ForkSafeLock:
        self._lock.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.release()

    def _start_over_in_child(self) -> None:
        self._lock = threading.RLock()


_live_locks: weakref.WeakSet[ForkSafeLock] = weakref.WeakSet()


def _start_over_in_child() -> None:
    for lock in list(_live_locks):
        lock._start_over_in_child()


os.register_at_fork(after_in_child=_start_over_in_child)
