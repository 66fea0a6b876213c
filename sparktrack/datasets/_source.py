"""What describing one leaf of a plan yields, and the cache the leaf readers share."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Memo", "SourceInfo", "last_component"]

T = TypeVar("T")


@dataclass(frozen=True)
class SourceInfo:
    """One leaf of the plan: what to record, and what identifies its data for the digest."""

    source_type: str  # delta / files / table / memory / unknown
    source: dict[str, Any]
    identity: str
    name: str | None = None
    # Rows of the whole source, computed only when asked (it may read the Delta log).
    count: Callable[[], int | None] | None = field(default=None, compare=False, repr=False)


class Memo:
    """A small thread-safe LRU: the same DataFrame is described on every fit."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


def last_component(path: str) -> str | None:
    """The last name of a path or URI (a default dataset name), None for a bare root."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last or None
