"""A run's source snapshot: what ran, with which packages, versions and Spark conf.

A snapshot is a folder of files and a ``manifest.json`` naming each with its sha256;
its digest is the sha256 of the manifest, so equal content gives an equal digest and
a thousand runs of one script share one folder
(``<artifact root>/snapshots/<digest>/``). The manifest holds no time, host or run id
for that reason. A run points to its snapshot with the tag ``SNAPSHOT_TAG``.

``take_snapshot`` runs on the snapshot writer's thread, never on the thread creating
the run (``SnapshotRequest`` is all that thread gathers). Its pieces remember what they
read, so a snapshot of unchanged inputs reads and hashes nothing again (``_snapshot_parts``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sparktrack.tracking._context_safe import attempt
from sparktrack.tracking._context_source import (
    INTERACTIVE,
    NOTEBOOK,
    current_folder,
    current_source,
)
from sparktrack.tracking._snapshot_code import code_parts
from sparktrack.tracking._snapshot_git import git_state
from sparktrack.tracking._snapshot_parts import (
    Part,
    environment_part,
    json_bytes,
    requirements_part,
)
from sparktrack.tracking._snapshot_spark import jvm_facts, spark_conf_part

__all__ = [
    "MANIFEST",
    "MANIFEST_FORMAT",
    "NOTEBOOK_TAG",
    "SNAPSHOT_TAG",
    "Snapshot",
    "SnapshotRequest",
    "take_snapshot",
]

SNAPSHOT_TAG = "sparktrack.source.snapshot"
NOTEBOOK_TAG = "sparktrack.source.notebook"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class SnapshotRequest:
    """What the thread creating a run gathers for its snapshot (cheap, no I/O).

    Attributes:
        run_id: The run.
        session: The Spark session running then, or None.
        cells: The IPython cells executed until then (None outside IPython).
    """

    run_id: str
    session: Any
    cells: tuple[str, ...] | None


@dataclass(frozen=True)
class Snapshot:
    """A snapshot ready to store.

    Attributes:
        digest: The sha256 (hex) of ``manifest``: the snapshot's name.
        manifest: ``manifest.json``'s bytes.
        parts: The other files.
        notebook: The notebook's path, when a notebook ran.
    """

    digest: str
    manifest: bytes
    parts: tuple[Part, ...]
    notebook: str | None

    def tags(self) -> dict[str, str]:
        """The tags pointing a run to this snapshot."""
        tags = {SNAPSHOT_TAG: self.digest}
        if self.notebook:
            tags[NOTEBOOK_TAG] = self.notebook
        return tags


def take_snapshot(request: SnapshotRequest) -> Snapshot:
    """The snapshot of what this process runs, for ``request``'s run."""
    source = current_source()
    code = code_parts(source, request.cells)
    parts: list[Part] = list(code.parts)
    folder = source.git_folder or attempt(current_folder)
    git = attempt(git_state, folder) if folder else None
    if git is not None:
        parts.extend(git.parts)
    parts.append(requirements_part())
    parts.append(environment_part(jvm_facts(request.session)))
    if request.session is not None:
        conf = spark_conf_part(request.session)
        if conf is not None:
            parts.append(conf)
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "source": {"name": source.name, "type": source.type},
        "main": code.main,
        "files": _files(parts),
    }
    if git is not None:
        manifest["git"] = {"commit": git.commit, "root": git.root}
    if code.omitted:
        manifest["omitted"] = code.omitted
    manifest_bytes = json_bytes(manifest)
    notebook = source.name if source.type == NOTEBOOK and source.name != INTERACTIVE else None
    return Snapshot(
        hashlib.sha256(manifest_bytes).hexdigest(), manifest_bytes, tuple(parts), notebook
    )


def _files(parts: Sequence[Part]) -> dict[str, dict[str, Any]]:
    files: dict[str, dict[str, Any]] = {}
    for part in parts:
        entry: dict[str, Any] = {"role": part.role, "sha256": part.sha256, "size": len(part.data)}
        if part.note:
            entry["note"] = part.note
        files[part.name] = entry
    return files
