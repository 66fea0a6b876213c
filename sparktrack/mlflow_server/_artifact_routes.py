"""MLflow's artifact proxy (``/api/2.0/mlflow-artifacts/artifacts``) onto the store's tree.

Runs served here have ``artifact_uri = mlflow-artifacts:/<experiment>/<run>/artifacts``;
MLflow's client turns that into requests on these routes, with the path inside the
store's ``artifacts/`` folder (``<experiment>/<run>/artifacts/<file>``)::

    PUT    .../artifacts/<path>        upload one file (the body, streamed to the store)
    GET    .../artifacts/<path>        download one file (streamed)
    DELETE .../artifacts/<path>        delete a file or a folder
    GET    .../artifacts?path=<dir>    list a folder: {"files": [{path, is_dir, file_size}]}

I/O goes through the store's artifact repository's file system (local, S3, HDFS...),
so it works wherever the store is, and clients need no credentials for it. Paths are
relative and stay inside experiment folders: no ``..``, no absolute path, nothing of
the tree's other content (source snapshots). An upload lands under a temporary name
and is moved into place, so readers never see half a file.
"""

from __future__ import annotations

import mimetypes
import posixpath
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pyarrow.fs as pafs

from sparktrack.errors import InvalidInputError, NotFoundError, StoreError
from sparktrack.mlflow_server._context import ServerContext
from sparktrack.store import check_artifact_path

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["ARTIFACT_PREFIXES", "add_artifact_routes"]

ARTIFACT_PREFIXES = ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")
_CHUNK = 1 << 20


class _Tree:
    """The store's artifact tree, addressed by paths relative to its ``artifacts/`` folder."""

    def __init__(self, context: ServerContext) -> None:
        self.fs, self.base = context.tracking.artifacts.filesystem()

    def path_of(self, path: str | None, *, allow_root: bool = False) -> tuple[str, str]:
        """The checked relative path and its location in the file system.

        Raises:
            InvalidInputError: The path is absolute, climbs out with ``..``, or is
                outside every experiment's folder.
        """
        rel = check_artifact_path(path)
        if not rel and allow_root:
            return "", self.base
        if not rel.split("/", 1)[0].isdigit():
            raise InvalidInputError(
                f"artifact path {path!r} is outside the experiments' artifact folders: "
                "expected <experiment id>/<run id>/artifacts/<file>, as in a run's "
                "artifact_uri"
            )
        return rel, f"{self.base}/{rel}"

    def kind(self, location: str) -> pafs.FileType:
        return self.fs.get_file_info(location).type


@contextmanager
def _io_errors(what: str, path: str) -> Iterator[None]:
    try:
        yield
    except FileNotFoundError:
        raise NotFoundError(f"artifact {path!r} does not exist") from None
    except OSError as exc:
        raise StoreError(f"cannot {what} artifact {path!r}: {exc}") from exc


def add_artifact_routes(app: FastAPI, context: ServerContext) -> None:
    """Serve the artifact proxy under both prefixes (before the unknown-path answer)."""
    # Imported here: starlette (the server extra) loads only when an app is built.
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, StreamingResponse

    tree = _Tree(context)

    async def upload(request: Request) -> Response:
        rel, target = tree.path_of(request.path_params["artifact_path"])
        temporary = f"{target}.tmp-{uuid.uuid4().hex}"
        with _io_errors("write", rel):
            if await run_in_threadpool(tree.kind, target) == pafs.FileType.Directory:
                raise InvalidInputError(f"artifact {rel!r} is a folder; upload files into it")
            await run_in_threadpool(tree.fs.create_dir, posixpath.dirname(target), recursive=True)
            out = await run_in_threadpool(tree.fs.open_output_stream, temporary)
            try:
                # Streamed: a model of gigabytes never sits in the server's memory.
                async for chunk in request.stream():
                    if chunk:
                        await run_in_threadpool(out.write, chunk)
                await run_in_threadpool(out.close)
                await run_in_threadpool(tree.fs.move, temporary, target)
            except BaseException:
                if not out.closed:
                    out.close()
                if tree.kind(temporary) == pafs.FileType.File:
                    tree.fs.delete_file(temporary)
                raise
        return JSONResponse({})

    async def download(request: Request) -> Response:
        rel, target = tree.path_of(request.path_params["artifact_path"])
        kind = await run_in_threadpool(tree.kind, target)
        if kind == pafs.FileType.NotFound:
            raise NotFoundError(f"artifact {rel!r} does not exist")
        if kind != pafs.FileType.File:
            raise InvalidInputError(f"artifact {rel!r} is a folder; list it, download its files")
        with _io_errors("read", rel):
            stream = await run_in_threadpool(tree.fs.open_input_stream, target)

        def chunks() -> Iterator[bytes]:
            # A plain iterator: Starlette reads it in a worker thread, chunk by chunk.
            with stream:
                while data := stream.read(_CHUNK):
                    yield bytes(data)

        media_type = mimetypes.guess_type(rel)[0] or "application/octet-stream"
        return StreamingResponse(chunks(), media_type=media_type)

    async def delete(request: Request) -> Response:
        rel, target = tree.path_of(request.path_params["artifact_path"])

        def remove() -> None:
            kind = tree.kind(target)
            if kind == pafs.FileType.NotFound:
                raise NotFoundError(f"artifact {rel!r} does not exist")
            with _io_errors("delete", rel):
                if kind == pafs.FileType.Directory:
                    tree.fs.delete_dir(target)
                else:
                    tree.fs.delete_file(target)

        await run_in_threadpool(remove)
        return JSONResponse({})

    async def listing(request: Request) -> Response:
        rel, target = tree.path_of(request.query_params.get("path"), allow_root=True)

        def entries() -> list[dict[str, Any]]:
            if tree.kind(target) != pafs.FileType.Directory:
                return []  # a file or a missing path lists nothing, as in MLflow
            found = []
            for info in tree.fs.get_file_info(pafs.FileSelector(target)):
                name = posixpath.basename(info.path)
                if not rel and not name.isdigit():
                    continue  # the root shows experiment folders only
                if info.type == pafs.FileType.Directory:
                    found.append({"path": name, "is_dir": True})
                else:
                    found.append({"path": name, "is_dir": False, "file_size": info.size})
            return sorted(found, key=lambda entry: entry["path"])

        return JSONResponse({"files": await run_in_threadpool(entries)})

    for prefix in ARTIFACT_PREFIXES:
        app.add_route(prefix + "/artifacts", listing, methods=["GET"])
        path = prefix + "/artifacts/{artifact_path:path}"
        app.add_route(path, upload, methods=["PUT"])
        app.add_route(path, download, methods=["GET"])
        app.add_route(path, delete, methods=["DELETE"])
