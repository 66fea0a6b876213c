"""Artifacts of a run: files, folders, text, dicts and figures in the run's artifact tree."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.store import ArtifactRepository, FileInfo, Store

__all__ = ["ArtifactsMixin"]


class ArtifactsMixin:
    """The artifact half of TrackingClient (state lives on the client)."""

    @property
    def store(self) -> Store:  # provided by TrackingClient
        raise NotImplementedError

    def _experiment_of(self, run_id: str) -> str:  # provided by TrackingClient
        raise NotImplementedError

    @property
    def artifacts(self) -> ArtifactRepository:
        return self.store.artifacts

    def log_artifact(self, run_id: str, local_path: str | Path, artifact_path: str | None = None):
        self.artifacts.upload(self._experiment_of(run_id), run_id, local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str | Path, artifact_path: str | None = None):
        if not Path(local_dir).is_dir():
            raise NotFoundError(f"log_artifacts needs a folder; {str(local_dir)!r} is not one")
        self.artifacts.upload(self._experiment_of(run_id), run_id, local_dir, artifact_path)

    def log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> None:
        self.artifacts.write_bytes(self._experiment_of(run_id), run_id, artifact_file, data)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.log_bytes(run_id, text.encode("utf-8"), artifact_file)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        """JSON, or YAML when the file name ends in .yaml/.yml; UTF-8, keys in order.

        Non-ASCII text stays as written ("Müller", not "M\\u00fcller"): both formats are
        UTF-8 by definition, and the file is for people to read.
        """
        if artifact_file.endswith((".yaml", ".yml")):
            text = yaml.safe_dump(dictionary, sort_keys=False, allow_unicode=True)
        else:
            text = json.dumps(dictionary, indent=2, default=str, ensure_ascii=False)
        self.log_text(run_id, text, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        """A matplotlib figure (any format savefig knows) or a plotly figure (.html/.png)."""
        buffer = io.BytesIO()
        if hasattr(figure, "savefig"):
            suffix = Path(artifact_file).suffix.lstrip(".") or "png"
            figure.savefig(buffer, format=suffix)
        elif hasattr(figure, "write_html") and artifact_file.endswith(".html"):
            text = io.StringIO()
            figure.write_html(text)
            buffer.write(text.getvalue().encode())
        elif hasattr(figure, "to_image"):
            buffer.write(figure.to_image(format=Path(artifact_file).suffix.lstrip(".")))
        else:
            raise InvalidInputError(
                f"log_figure got a {type(figure).__name__}; pass a matplotlib or plotly figure"
            )
        self.log_bytes(run_id, buffer.getvalue(), artifact_file)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """What lies directly in the run's artifact folder ``path`` (default: the root).

        Paths are relative to the run's artifact root. A file or a missing path lists
        nothing, as in MLflow.
        """
        return self.artifacts.list(self._experiment_of(run_id), run_id, path)

    def download_artifacts(
        self, run_id: str, path: str = "", dst_path: str | Path | None = None
    ) -> Path:
        """Copy a file or folder of the run's artifacts to a local folder; its local path.

        Laid out as MLflow does: ``path`` keeps its place under ``dst_path``
        (``"a/b.txt"`` lands at ``dst_path/a/b.txt``; ``""``, the whole run, directly
        in ``dst_path``). Without ``dst_path``, a new temporary folder is made (the
        caller owns it); a missing ``dst_path`` is created.
        """
        experiment_id = self._experiment_of(run_id)
        if dst_path is not None:
            return self.artifacts.download(experiment_id, run_id, path, dst_path)
        made = tempfile.mkdtemp(prefix="sparktrack-artifacts-")
        try:
            return self.artifacts.download(experiment_id, run_id, path, made)
        except BaseException:
            shutil.rmtree(made, ignore_errors=True)  # a failed call leaves nothing behind
            raise

    def read_artifact(self, run_id: str, path: str) -> bytes:
        return self.artifacts.read_bytes(self._experiment_of(run_id), run_id, path)
