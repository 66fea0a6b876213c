"""Event times: microseconds since the epoch, strictly increasing within a process.

Folding keeps the latest event per key; a strictly increasing clock means two events
of one process never tie, even when logged within the same microsecond.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["event_time_us"]

_lock = threading.Lock()
_last = 0


def event_time_us() -> int:
    """The ``event_time`` of an event appended now.

    Returns:
        Microseconds since the epoch, greater than any this process returned before.
    """
    global _last
    now = time.time_ns() // 1000
    with _lock:
        _last = now if now > _last else _last + 1
        return _last


def _new_lock_in_child() -> None:
    # After fork, in the child: another thread may have held the lock at the fork.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)
