"""The cache of folded tables makes each entry once, however many threads ask at once.

A new UI server folds the store in a background thread while the first page's search
asks for the same folds: that search must wait for them, not fold everything again
beside them on the same two cores.
"""

from __future__ import annotations

import sys
import threading
from types import FrameType

from sparktrack.tracking._cache import Slot, TableCache
from tests._processes import wait_for

SLOT: Slot[str] = Slot("runs folded")


def _waits_for_the_maker(thread: threading.Thread) -> bool:
    """Whether ``thread`` is blocked on the slot's maker lock in ``TableCache.get``."""
    frame: FrameType | None = sys._current_frames().get(thread.ident or -1)
    caller = frame.f_back if frame is not None else None
    return (
        frame is not None
        and caller is not None
        and frame.f_code.co_name == "__enter__"
        and caller.f_code.co_name == "get"
        and "maker" in caller.f_locals
    )


def test_a_second_thread_asking_for_an_entry_being_made_waits_for_it() -> None:
    cache = TableCache()
    made: list[str] = []
    first_started, release = threading.Event(), threading.Event()
    answers: dict[str, str] = {}

    def slow() -> str:
        made.append("first")
        first_started.set()
        release.wait(timeout=60)
        return "folded"

    def second() -> str:
        made.append("second")
        return "folded again"

    first = threading.Thread(target=lambda: answers.update(first=cache.get(SLOT, (1,), slow)))
    other = threading.Thread(target=lambda: answers.update(second=cache.get(SLOT, (1,), second)))
    first.start()
    wait_for(first_started.is_set, "the first fold under way")
    other.start()
    # Either the second thread makes its own entry (each thread folding for itself),
    # or it waits for the first's: release the first once one of them is seen.
    wait_for(lambda: "second" in made or _waits_for_the_maker(other), "the second thread")
    release.set()
    first.join(timeout=60)
    other.join(timeout=60)
    assert made == ["first"]
    assert answers == {"first": "folded", "second": "folded"}
    # Other versions are another entry; an unknown version is never cached.
    assert cache.get(SLOT, (2,), lambda: "newer") == "newer"
    assert cache.get(SLOT, (None,), lambda: "unknown") == "unknown"
    assert cache.get(SLOT, (2,), lambda: "not made") == "newer"
