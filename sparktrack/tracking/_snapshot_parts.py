"""The files of a source snapshot, and the two that describe the interpreter.

A snapshot is a few files (``Part``): what ran (``_snapshot_code``), its git state
(``_snapshot_git``), the Spark conf (``_snapshot_spark``), and here the installed
packages (``requirements.txt``) and the versions of Python, Java and pyspark
(``environment.json``). Each file is hashed once per content: a part built from inputs
that did not change is the same object, its digest already known.

The caps (``MAX_*``) bound what a snapshot may hold; "Source snapshots" in
docs/reproducibility.md states them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import sys
import threading
from collections.abc import Hashable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from sparktrack._version import __version__

__all__ = [
    "MAX_DIFF_BYTES",
    "MAX_HISTORY_BYTES",
    "MAX_SOURCE_BYTES",
    "MAX_UNTRACKED_FILES",
    "MEMO",
    "Part",
    "environment_part",
    "json_bytes",
    "requirements_part",
]

MAX_SOURCE_BYTES = 16 * 1024 * 1024
"""A script or notebook larger than this is left out (the manifest says so)."""
MAX_DIFF_BYTES = 1024 * 1024
"""``git.diff`` is cut after this many bytes (at a line end; the manifest says so)."""
MAX_UNTRACKED_FILES = 1000
"""``untracked.txt`` lists at most this many files (the manifest counts the rest)."""
MAX_HISTORY_BYTES = 1024 * 1024
"""The executed cells kept: the latest ones, up to this many bytes."""


@dataclass(frozen=True)
class Part:
    """One file of a snapshot.

    Attributes:
        name: Its file name in the snapshot's folder.
        role: What it is ("script", "notebook", "history", "git-diff", ...).
        data: Its content.
        note: Why it is incomplete (cut at a cap), or "".
        sha256: Its digest (hex), computed once when the part is made.
    """

    name: str
    role: str
    data: bytes
    note: str = ""
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", hashlib.sha256(self.data).hexdigest())


def json_bytes(value: Any) -> bytes:
    """``value`` as canonical JSON: the same value always gives the same bytes."""
    return (json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()


class _Memo:
    """The last part built per input key: unchanged inputs are neither read nor hashed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: dict[str, tuple[Hashable, Part | None]] = {}

    def get(self, slot: str, key: Hashable) -> tuple[bool, Part | None]:
        with self._lock:
            found = self._parts.get(slot)
        return (True, found[1]) if found is not None and found[0] == key else (False, None)

    def put(self, slot: str, key: Hashable, part: Part | None) -> Part | None:
        with self._lock:
            self._parts[slot] = (key, part)
        return part


MEMO = _Memo()
"""The process's memo of parts (the snapshot writer's thread is its only user)."""


# The folders of sys.path that held distributions when they were last listed, per
# sys.path (the snapshot writer's thread is the only user).
_distribution_folders: dict[tuple[str, ...], tuple[str, ...]] = {}


def _stamps(folders: tuple[str, ...]) -> Hashable:
    # Installing or removing a distribution adds or removes an entry in its folder, which
    # changes the folder's modification time: a cheap test that the packages are as before.
    stamps = []
    for folder in folders:
        try:
            stamps.append((folder, os.stat(folder or ".").st_mtime_ns))
        except OSError:
            continue
    return tuple(stamps)


def requirements_part() -> Part:
    """``requirements.txt``: the interpreter's distributions, as ``pip freeze`` lists them.

    Read with ``importlib.metadata`` (no ``pip`` subprocess): ``name==version``, or
    ``name @ url`` for a distribution installed from a folder or URL (PEP 610's
    ``direct_url.json``). The first of a name on ``sys.path`` is the one imported.
    Listed again only when ``sys.path`` changes or a folder of it that holds
    distributions does: not for the folders that change all the time without holding
    any (Spark's folder of the files ``addFile`` fetched, which Sparkling Water adds to
    on every fit).
    """
    path = tuple(sys.path)
    watched = _distribution_folders.get(path)
    if watched is not None:
        known, part = MEMO.get("requirements", (path, _stamps(watched)))
        if known and part is not None:
            return part
    folders = {os.path.normpath(folder or ".") for folder in path}
    lines: dict[str, str] = {}
    holding: set[str] = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        base = os.path.normpath(str(dist.locate_file("")))
        if base in folders:
            holding.add(base)
        if not name or name.lower() in lines:
            continue
        lines[name.lower()] = _requirement(dist, name)
    watched = tuple(sorted(holding))
    _distribution_folders[path] = watched
    text = "".join(lines[lowered] + "\n" for lowered in sorted(lines))
    made = Part("requirements.txt", "requirements", text.encode())
    MEMO.put("requirements", (path, _stamps(watched)), made)
    return made


def _requirement(dist: metadata.Distribution, name: str) -> str:
    direct = dist.read_text("direct_url.json")
    if direct:
        try:
            url = json.loads(direct).get("url")
        except ValueError:
            url = None
        if url:
            return f"{name} @ {url}"
    return f"{name}=={dist.version}"


def environment_part(jvm: dict[str, str]) -> Part:
    """``environment.json``: Python, the platform, pyspark, sparktrack and ``jvm``'s facts.

    Args:
        jvm: What the Spark session's JVM says of itself (Java and Spark versions), or
            what ``JAVA_HOME`` says without a session.
    """
    key = tuple(sorted(jvm.items()))
    known, part = MEMO.get("environment", key)
    if known and part is not None:
        return part
    made = Part("environment.json", "environment", json_bytes({**_process_facts(), **jvm}))
    MEMO.put("environment", key, made)
    return made


@functools.cache
def _process_facts() -> dict[str, Any]:
    # Fixed for the process: the pyspark it imports is the one installed when it started.
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_executable": sys.executable,
        "platform": platform.platform(),
        "sparktrack": __version__,
        "pyspark": _version("pyspark"),
    }


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
