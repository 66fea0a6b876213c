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
from sparktrack.store import ArtifactRepository, FileInfo
from sparktrack.tracking._run_index import RunIndex

__all__ = ["Artifacts", "serialized_dict", "serialized_figure"]


def serialized_dict(dictionary: Any, artifact_file: str) -> str:
    r"""JSON, or YAML when the file name ends in .yaml/.yml; UTF-8, keys in order.

    Non-ASCII text stays as written ("Müller", not "M\\u00fcller"): both formats are
    UTF-8 by definition, and the file is for people to read.
    """
    if artifact_file.endswith((".yaml", ".yml")):
        return yaml.safe_dump(dictionary, sort_keys=False, allow_unicode=True)
    return json.dumps(dictionary, indent=2, default=str, ensure_ascii=False)


def serialized_figure(figure: Any, artifact_file: str) -> bytes:
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
    return buffer.getvalue()


class Artifacts:
    """A run's artifact tree, found through the run's experiment.

    The methods are ``TrackingClient``'s (documented there).
    """

    def __init__(self, repository: ArtifactRepository, runs: RunIndex) -> None:
        self.repository = repository
        self._runs = runs

    def upload(self, run_id: str, local_path: str | Path, artifact_path: str | None) -> None:
        self.repository.upload(self._runs.experiment_of(run_id), run_id, local_path, artifact_path)

    def upload_folder(self, run_id: str, local_dir: str | Path, artifact_path: str | None) -> None:
        if not Path(local_dir).is_dir():
            raise NotFoundError(f"log_artifacts needs a folder; {str(local_dir)!r} is not one")
        self.upload(run_id, local_dir, artifact_path)

    def write(self, run_id: str, data: bytes, artifact_file: str) -> None:
        experiment_id = self._runs.experiment_of(run_id)
        self.repository.write_bytes(experiment_id, run_id, artifact_file, data)

    def list(self, run_id: str, path: str | None) -> list[FileInfo]:
        return self.repository.list(self._runs.experiment_of(run_id), run_id, path)

    def download(self, run_id: str, path: str, dst_path: str | Path | None) -> Path:
        experiment_id = self._runs.experiment_of(run_id)
        if dst_path is not None:
            return self.repository.download(experiment_id, run_id, path, dst_path)
        made = tempfile.mkdtemp(prefix="sparktrack-artifacts-")
        try:
            return self.repository.download(experiment_id, run_id, path, made)
        except BaseException:
            shutil.rmtree(made, ignore_errors=True)  # a failed call leaves nothing behind
            raise

    def read(self, run_id: str, path: str) -> bytes:
        return self.repository.read_bytes(self._runs.experiment_of(run_id), run_id, path)
