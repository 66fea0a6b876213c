"""A run's artifacts: list a folder, preview a file, download it.

Paths are checked before any file is touched: absolute paths, ``..`` and (on a local
store) links leading out of the run's artifact folder are answered 404, as a file that
is not there. Raw files are served as ``text/plain`` or as attachments, images only of
allow-listed types, all under ``X-Content-Type-Options: nosniff`` and a sandboxing CSP,
so nothing a run uploaded can run script in the UI's origin.
"""

from __future__ import annotations

import os
import posixpath
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from starlette.responses import FileResponse, Response

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.store import check_artifact_path
from sparktrack.tracking import TrackingClient
from sparktrack.ui._artifact_preview import IMAGE_TYPES, PREVIEW_BYTES, kind_of, preview
from sparktrack.ui._deps import ui_state
from sparktrack.ui._routes_run import run_exists
from sparktrack.ui._schemas import Artifact, ArtifactList, ArtifactPreview
from sparktrack.ui._state import UiState

__all__ = ["RAW_HEADERS", "router"]

router = APIRouter(prefix="/api/runs/{run_id}/artifacts", tags=["artifacts"])
State = Annotated[UiState, Depends(ui_state)]
PathQuery = Annotated[str, Query(max_length=4_096)]
RAW_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "no-store",
}


def _safe(client: TrackingClient, run_id: str, path: str) -> str:
    """The normalised path, or NotFoundError when it would leave the run's artifacts."""
    missing = NotFoundError(f"run {run_id} has no artifact {path!r}")
    if "\x00" in path:
        raise missing
    try:
        rel = check_artifact_path(path)
    except InvalidInputError:
        raise missing from None
    experiment_id = client.experiment_of(run_id)
    root = client.artifacts.local_path_for(experiment_id, run_id)
    target = client.artifacts.local_path_for(experiment_id, run_id, rel)
    if root is not None and target is not None:
        real_root, real = os.path.realpath(root), os.path.realpath(target)
        if real != real_root and not real.startswith(real_root + os.sep):
            raise missing  # a link out of the run's folder
    return rel


def _size(client: TrackingClient, run_id: str, rel: str) -> int:
    parent = posixpath.dirname(rel)
    for info in client.list_artifacts(run_id, parent or None):
        if info.path == rel and not info.is_dir:
            return info.file_size or 0
    raise NotFoundError(f"run {run_id} has no artifact file {rel!r}")


def _head(client: TrackingClient, run_id: str, rel: str, size: int) -> bytes:
    local = client.artifacts.local_path_for(client.experiment_of(run_id), run_id, rel)
    if local is not None:
        with open(local, "rb") as stream:
            return stream.read(PREVIEW_BYTES)
    if size > 16 * PREVIEW_BYTES:
        return b""  # a remote file this large is downloaded, not previewed
    return client.read_artifact(run_id, rel)[:PREVIEW_BYTES]


@router.get("", response_model=ArtifactList)
def list_folder(state: State, run_id: str, path: PathQuery = "") -> ArtifactList:
    """What lies directly in a folder of the run's artifacts (the root by default)."""
    run_exists(state.client, run_id)
    rel = _safe(state.client, run_id, path)
    files = [
        Artifact(
            path=f.path,
            name=posixpath.basename(f.path),
            is_dir=f.is_dir,
            file_size=f.file_size,
            kind=kind_of(f.path, f.is_dir),
        )
        for f in state.client.list_artifacts(run_id, rel or None)
    ]
    return ArtifactList(path=rel, files=files)


@router.get("/preview", response_model=ArtifactPreview)
def preview_file(state: State, run_id: str, path: PathQuery) -> ArtifactPreview:
    """A file's preview: text, pretty JSON, YAML, a CSV as a table, an MLmodel's summary."""
    run_exists(state.client, run_id)
    rel = _safe(state.client, run_id, path)
    size = _size(state.client, run_id, rel)
    return preview(rel, _head(state.client, run_id, rel, size), size)


@router.get("/raw", response_class=Response)
def raw_file(state: State, run_id: str, path: PathQuery, download: bool = False) -> Response:
    """The file itself: images inline, anything else as text or an attachment."""
    run_exists(state.client, run_id)
    rel = _safe(state.client, run_id, path)
    _size(state.client, run_id, rel)
    name = posixpath.basename(rel)
    suffix = posixpath.splitext(name)[1].lower()
    headers = dict(RAW_HEADERS)
    if download or kind_of(rel) == "binary":
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
        media = "application/octet-stream"
    elif suffix in IMAGE_TYPES:
        media = IMAGE_TYPES[suffix]
    else:
        media = "text/plain; charset=utf-8"
    local = state.client.artifacts.local_path_for(state.client.experiment_of(run_id), run_id, rel)
    if local is not None:
        return FileResponse(local, media_type=media, headers=headers)
    return Response(state.client.read_artifact(run_id, rel), media_type=media, headers=headers)
