"""What kind of file an artifact is, and its preview: text, a table, or an MLmodel's summary.

Nothing here executes or renders what a run uploaded: previews are text, parsed data
(JSON, YAML, CSV) the page puts into the DOM as text, or images the page loads from
the raw route, which serves only allow-listed image types under a sandboxing CSP.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
from typing import Any

import yaml

from sparktrack.ui._schemas import ArtifactPreview

__all__ = ["IMAGE_TYPES", "PREVIEW_BYTES", "kind_of", "preview"]

PREVIEW_BYTES = 1 << 20  # the head of a file a preview shows
MAX_TABLE_ROWS = 500
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}
_TEXT = {".txt", ".log", ".md", ".py", ".sql", ".html", ".htm", ".xml", ".ini", ".cfg", ".toml"}
_TEXT |= {".sh", ".r", ".scala", ".java", ".ipynb", ".conf", ".properties", ".out", ".err"}


def kind_of(path: str, is_dir: bool = False) -> str:
    """``dir``, ``mlmodel``, ``json``, ``yaml``, ``csv``, ``image``, ``text`` or ``binary``."""
    if is_dir:
        return "dir"
    name = posixpath.basename(path)
    suffix = posixpath.splitext(name)[1].lower()
    if name == "MLmodel":
        return "mlmodel"
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in IMAGE_TYPES:
        return "image"
    if suffix in _TEXT or name in ("requirements.txt", "conda.yaml", "python_env.yaml"):
        return "text"
    return "binary"


def _decoded(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the preview limit is fine; other bytes are not text.
        if exc.start >= len(data) - 3:
            return data[: exc.start].decode("utf-8")
        return None


def _mlmodel(text: str) -> dict[str, Any]:
    spec = yaml.safe_load(text) or {}
    if not isinstance(spec, dict):
        return {"flavors": [], "signature": None}
    signature = spec.get("signature") or None
    if isinstance(signature, dict):
        parsed = {}
        for part in ("inputs", "outputs", "params"):
            raw = signature.get(part)
            try:
                parsed[part] = json.loads(raw) if isinstance(raw, str) else raw
            except ValueError:
                parsed[part] = raw
        signature = parsed
    return {
        "flavors": sorted((spec.get("flavors") or {}).keys()),
        "signature": signature,
        "run_id": spec.get("run_id"),
        "utc_time_created": spec.get("utc_time_created"),
        "model_uuid": spec.get("model_uuid"),
    }


def preview(path: str, data: bytes, size: int) -> ArtifactPreview:
    """The preview of an artifact from its first bytes (``size``: its whole size)."""
    kind = kind_of(path)
    truncated = size > len(data)
    answer = ArtifactPreview(path=path, kind=kind, size=size, truncated=truncated)
    if kind == "image":
        return answer  # the page loads it from the raw route
    text = _decoded(data)
    if text is None:
        answer.kind = "binary"
        return answer
    if kind == "binary":
        answer.kind = "text"
    answer.text = text
    if kind == "csv":
        delimiter = "\t" if path.lower().endswith(".tsv") else ","
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        if truncated and rows:
            rows = rows[:-1]  # the last line may be cut
        if rows:
            answer.columns = rows[0]
            answer.rows = rows[1 : MAX_TABLE_ROWS + 1]
            answer.truncated = truncated or len(rows) - 1 > MAX_TABLE_ROWS
    elif kind == "mlmodel" and not truncated:
        try:
            answer.mlmodel = _mlmodel(text)
        except yaml.YAMLError:
            answer.kind = "text"
    elif kind == "json" and not truncated:
        try:
            answer.text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            answer.kind = "text"
    return answer
