"""The autolog safety core: patch without ever breaking or changing the user's call.

* a patch keeps the original and can be reverted;
* the user's arguments, return value and exceptions pass through untouched;
* an error inside logging becomes one warning per integration and place, and the
  user's call goes on (in test mode it raises instead, so tests see it);
* a patched call made while the same thread is already inside logging code runs the
  original directly (logging that itself calls ``fit`` must not recurse).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AutologWarning",
    "is_testing",
    "logging_errors_handled",
    "patch",
    "revert",
    "safe_patch",
    "set_silent",
]

_log = logging.getLogger("sparktrack.autolog")
TEST_MODE_VARIABLE = "SPARKTRACK_AUTOLOG_TESTING"


class AutologWarning(UserWarning):
    """Logging failed; the user's training was not affected."""


def is_testing() -> bool:
    return os.environ.get(TEST_MODE_VARIABLE, "").lower() in ("1", "true", "yes")


@dataclass
class _Patch:
    integration: str
    owner: Any
    name: str
    original: Any  # the attribute as it was on ``owner`` itself (None: inherited)
    had_own_attribute: bool


_patches: list[_Patch] = []
_patch_lock = threading.Lock()
_warned: set[tuple[str, str]] = set()
_inside_logging = threading.local()


_silent: set[str] = set()


def set_silent(integration: str, silent: bool) -> None:
    """``autolog(silent=True)``: failures are only logged at debug level."""
    if silent:
        _silent.add(integration)
    else:
        _silent.discard(integration)


def _report(integration: str, where: str, exc: BaseException) -> None:
    if is_testing():
        raise exc
    key = (integration, where)
    if integration in _silent:
        _log.debug("sparktrack autolog (%s, %s) failed: %s", integration, where, exc)
        return
    if key in _warned:
        _log.debug("sparktrack autolog (%s, %s) failed again: %s", integration, where, exc)
        return
    _warned.add(key)
    warnings.warn(
        f"sparktrack autolog for {integration} could not log ({where}): "
        f"{type(exc).__name__}: {exc}. Training is unaffected.",
        AutologWarning,
        stacklevel=3,
    )


@contextmanager
def logging_errors_handled(integration: str, where: str) -> Iterator[None]:
    """Run logging code: errors become a warning (or raise in test mode)."""
    depth = getattr(_inside_logging, "depth", 0)
    _inside_logging.depth = depth + 1
    try:
        yield
    except Exception as exc:
        _report(integration, where, exc)
    finally:
        _inside_logging.depth = depth


def in_logging_code() -> bool:
    return getattr(_inside_logging, "depth", 0) > 0


def patch(integration: str, owner: Any, name: str, replacement: Any) -> None:
    """Set ``owner.name = replacement``, remembering what was there for ``revert``."""
    with _patch_lock:
        had_own = name in vars(owner)
        _patches.append(_Patch(integration, owner, name, vars(owner).get(name), had_own))
        setattr(owner, name, replacement)


def safe_patch(
    integration: str,
    owner: Any,
    name: str,
    wrapper: Callable[..., Any],
) -> None:
    """Patch method ``owner.name`` with ``wrapper(original, self, *args, **kwargs)``.

    The wrapper is responsible for calling ``original`` exactly once and returning
    its result; it must use ``logging_errors_handled`` around its own logging.
    Calls made from inside logging code bypass the wrapper.
    """
    original = getattr(owner, name)

    @functools.wraps(original)
    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        if in_logging_code():
            return original(self, *args, **kwargs)
        return wrapper(original, self, *args, **kwargs)

    patched.__sparktrack_original__ = original  # type: ignore[attr-defined]
    patch(integration, owner, name, patched)


def revert(integration: str) -> int:
    """Undo every patch of ``integration`` (newest first); returns how many."""
    with _patch_lock:
        mine = [p for p in _patches if p.integration == integration]
        for entry in reversed(mine):
            if entry.had_own_attribute:
                setattr(entry.owner, entry.name, entry.original)
            else:
                delattr(entry.owner, entry.name)
            _patches.remove(entry)
        _warned.difference_update({k for k in _warned if k[0] == integration})
        return len(mine)
