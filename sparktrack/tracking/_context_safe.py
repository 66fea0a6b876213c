"""No piece of the run context may fail the caller: a piece that fails leaves its tags out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["attempt"]

_LOG = logging.getLogger("sparktrack.tracking._context")
_T = TypeVar("_T")


def attempt(piece: Callable[..., _T], *args: Any) -> _T | None:
    """``piece(*args)``, or None (logged at debug level) when it raises."""
    try:
        return piece(*args)
    except Exception:
        _LOG.debug("run context: %s failed", getattr(piece, "__name__", piece), exc_info=True)
        return None
