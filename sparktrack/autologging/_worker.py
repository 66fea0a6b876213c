"""Post-fit logging off the user's thread.

What autolog does after a fit (training-summary metrics, the model folder, the
dataset description) costs Spark jobs and I/O. It runs on one background thread so
``fit`` returns as soon as training is done. ``sparktrack.flush()``, interpreter exit
and ``SparkContext.stop()`` wait for the queue, so nothing is cut short.
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

from sparktrack.tracking import before_flush

__all__ = ["drain", "submit"]

_queue: queue.Queue[tuple[Callable[[], Any], threading.Event] | None] = queue.Queue()
_thread: threading.Thread | None = None
_lock = threading.Lock()


def _run() -> None:
    while True:
        item = _queue.get()
        if item is None:
            return
        job, done = item
        try:
            job()  # jobs handle (warn about) their own errors
        finally:
            done.set()
            _queue.task_done()


def submit(job: Callable[[], Any], *, synchronous: bool = False) -> threading.Event:
    """Queue ``job`` on autolog's background thread (internal use: autolog and sweeps).

    Jobs run one at a time, in the order they were submitted. ``sparktrack.flush()``
    and interpreter exit wait for the queue. In a child process forked after this
    call, the queued jobs are left to the parent.

    Args:
        job: What to run, with no arguments; its result is discarded. It must catch
            and report its own errors: on the background thread nothing else does.
        synchronous: Run ``job`` here and now instead, on the calling thread (test
            mode); its exceptions then reach the caller.

    Returns:
        An event set once ``job`` has finished, whether it succeeded or not (already
        set when ``synchronous``).
    """
    done = threading.Event()
    if synchronous:
        try:
            job()
        finally:
            done.set()
        return done
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="sparktrack-autolog", daemon=True)
            _thread.start()
            # Registered after the store's exit hook: atexit runs this one first.
            atexit.unregister(drain)
            atexit.register(drain)
    _queue.put((job, done))
    return done


def drain(timeout: float | None = None) -> None:
    """Block until every queued job has run."""
    if _thread is None or threading.current_thread() is _thread:
        return
    marker = threading.Event()
    _queue.put((lambda: None, marker))
    marker.wait(timeout)


def _start_over_in_child() -> None:
    # After fork, in the child: the queued jobs are the parent's (it runs them), and
    # the parent's thread does not exist here; waiting for it would never end.
    global _queue, _thread, _lock
    _queue = queue.Queue()
    _thread = None
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_start_over_in_child)
# sparktrack.flush() waits for the queue: tracking, below autologging, calls this hook.
before_flush(drain)
