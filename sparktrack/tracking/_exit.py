"""Running code as the interpreter exits, knowing whether an uncaught error ends it.

Importing sparktrack must leave the interpreter as it was, so nothing is installed
until first use. The excepthook chains the one current *then* (IPython and others
install their own) and only notes that an uncaught error ends the program.
"""

from __future__ import annotations

import atexit
import sys
import threading
from collections.abc import Callable
from types import TracebackType

__all__ = ["at_exit"]

_uncaught = threading.Event()
_hooked = False
# The atexit hook of each callback: the same one each time, so that it can be moved.
_hooks: dict[Callable[[bool], None], Callable[[], None]] = {}


def at_exit(callback: Callable[[bool], None]) -> None:
    """Call ``callback(failed)`` as the interpreter exits; ``failed``: after an uncaught error.

    Registering again moves the callback after every exit hook registered meanwhile:
    atexit runs hooks last-in first-out, so it runs before them (before a store that
    opened since closes, say).
    """
    global _hooked
    if not _hooked:
        _hooked = True
        previous = sys.excepthook

        def excepthook(
            exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
        ) -> None:
            _uncaught.set()
            previous(exc_type, exc, tb)

        sys.excepthook = excepthook
    hook = _hooks.setdefault(callback, lambda: callback(_failed()))
    atexit.unregister(hook)
    atexit.register(hook)


def _failed() -> bool:
    return getattr(sys, "last_value", None) is not None or _uncaught.is_set()
