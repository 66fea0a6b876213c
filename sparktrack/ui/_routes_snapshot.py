"""A run's source snapshot: ``/api/runs/{run_id}/snapshot`` and its files as text.

What ran (script or notebook, uncommitted changes, packages, versions, Spark conf), as
``sparktrack runs source`` shows it. Files come back as JSON text, never as a document
the browser would render: a snapshot holds what a run's process read, not what the UI
may run.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from sparktrack.errors import NotFoundError
from sparktrack.tracking import SourceSnapshot
from sparktrack.ui._artifact_preview import PREVIEW_BYTES
from sparktrack.ui._deps import ui_state
from sparktrack.ui._routes_run import run_exists
from sparktrack.ui._schemas import SnapshotAnswer, SnapshotFile, SnapshotText
from sparktrack.ui._state import UiState

__all__ = ["router"]

router = APIRouter(prefix="/api/runs/{run_id}/snapshot", tags=["snapshots"])
State = Annotated[UiState, Depends(ui_state)]


def _snapshot(state: UiState, run_id: str) -> SourceSnapshot:
    run_exists(state.client, run_id)
    return state.client.get_source_snapshot(run_id)  # NotFoundError (404): it has none


@router.get("", response_model=SnapshotAnswer)
def snapshot(state: State, run_id: str) -> SnapshotAnswer:
    """The run's source snapshot: its digest, what ran, git state and files (404: none)."""
    found = _snapshot(state, run_id)
    manifest = found.manifest
    files = manifest.get("files", {})
    return SnapshotAnswer(
        run_id=run_id,
        digest=found.digest,
        main=found.main,
        source={k: str(v) for k, v in manifest.get("source", {}).items()},
        git=manifest.get("git"),
        files=[
            SnapshotFile(
                name=name,
                role=str(entry.get("role", "")),
                size=int(entry.get("size", 0)),
                note=entry.get("note"),
            )
            for name, entry in sorted(files.items())
        ],
        omitted={k: str(v) for k, v in manifest.get("omitted", {}).items()},
    )


@router.get("/file", response_model=SnapshotText)
def snapshot_file(
    state: State, run_id: str, name: Annotated[str, Query(max_length=1_000)]
) -> SnapshotText:
    """One file of the run's snapshot as text (its first MiB; 404: no such file)."""
    found = _snapshot(state, run_id)
    if name not in found.files:
        raise NotFoundError(f"the source snapshot of run {run_id} has no file {name!r}")
    data = found.read(name)
    return SnapshotText(
        name=name,
        size=len(data),
        truncated=len(data) > PREVIEW_BYTES,
        text=data[:PREVIEW_BYTES].decode("utf-8", "replace"),
    )
