"""Which fits are nested inside a tracked fit, across threads.

A Pipeline fits its stages, a CrossValidator fits copies of its estimator from a
thread pool, OneVsRest fits its classifier per class. None of those is a run of its
own. ``Params.copy`` keeps ``uid``, so the uids of every estimator reachable from a
tracked fit identify its nested fits in any thread, copies included.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

__all__ = ["claim_nested", "is_nested"]

_claimed: Counter[str] = Counter()
_lock = threading.Lock()


@contextmanager
def claim_nested(uids: Iterable[str]) -> Iterator[None]:
    """Mark ``uids`` as nested for the duration of the block (re-entrant, thread-safe).

    Internal use: sweeps claim their trials' estimators, which are runs already, so
    that autolog does not log their fits again. A fit of an estimator whose ``uid`` is
    claimed, in any thread, is not logged as a run of its own while the block lasts.
    Blocks may overlap and nest: a uid stays claimed until every block that claimed it
    has ended.

    Args:
        uids: The ``uid`` of each estimator to treat as nested (see
            ``nested_estimator_uids``). Read once, when the block starts.

    Yields:
        Nothing; the claim ends with the block, also when it raises.
    """
    owned = list(uids)
    with _lock:
        _claimed.update(owned)
    try:
        yield
    finally:
        with _lock:
            _claimed.subtract(owned)
            for uid in owned:
                if _claimed[uid] <= 0:
                    del _claimed[uid]


def is_nested(uid: str) -> bool:
    with _lock:
        return _claimed[uid] > 0
