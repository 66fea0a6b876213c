"""Where a registered version's model is, spelled for sparktrack and for MLflow's client.

MLflow's client sends a version's ``source`` as ``models:/<model_id>`` (MLflow 3),
``runs:/<run_id>/<path>`` or the URI it resolved a ``runs:/`` URI to, which on this
server is ``mlflow-artifacts:/<exp>/<run_id>/artifacts/<path>``. The registry keeps
``runs:/`` and ``models:/<model_id>`` as they are, and store paths as paths: so
sparktrack's ``load_model("models:/<name>/<version>")`` finds the same folder.

Going back, ``get-download-uri`` answers an ``mlflow-artifacts:/`` URI for anything in
the store's artifact tree (``artifacts/<path>`` of the store is ``mlflow-artifacts:/<path>``),
which the client downloads through the artifacts routes; a folder outside the store is
answered as it is, for a client that can read it itself.
"""

from __future__ import annotations

import posixpath
from urllib.parse import urlparse

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.mlflow_server._context import ServerContext
from sparktrack.mlflow_server._shapes import ARTIFACTS_SCHEME
from sparktrack.models import logged_model_id, parse_runs_uri
from sparktrack.registry import ModelVersion
from sparktrack.tracking import LoggedModels

__all__ = ["download_uri", "registry_source"]


def _tree_root(context: ServerContext) -> str:
    # experiment_root joins "artifacts" and the id; with no id it is the tree's root.
    return context.tracking.artifacts.experiment_root("").rstrip("/")


def _relative_to_tree(context: ServerContext, location: str) -> str | None:
    """The path of ``location`` in the store's artifact tree, or None if it is outside."""
    parsed = urlparse(location)
    path = parsed.path if parsed.scheme == "file" else location
    root = _tree_root(context)
    if path == root:
        return ""
    if path.startswith(root + "/"):
        return path[len(root) + 1 :]
    return None


def registry_source(context: ServerContext, source: str, where: str) -> str:
    """What ``RegistryClient.register_model`` is given for an MLflow version's source.

    Raises:
        InvalidInputError: The source is an ``mlflow-artifacts:`` URI that leaves the tree.
    """
    if not source.startswith(ARTIFACTS_SCHEME):
        return source
    rel = posixpath.normpath(source[len(ARTIFACTS_SCHEME) :].lstrip("/"))
    if rel.startswith("..") or rel == ".":
        raise InvalidInputError(f"{where}: source {source!r} leaves the store's artifacts")
    parts = rel.split("/")
    # <exp>/models/<model_id>/artifacts: a logged model's folder, kept by its id.
    in_models = len(parts) == 4 and parts[1] == "models" and parts[3] == "artifacts"
    if in_models and logged_model_id(f"models:/{parts[2]}") is not None:
        return f"models:/{parts[2]}"
    if len(parts) >= 4 and parts[2] == "artifacts":
        # <exp>/<run_id>/artifacts/<path>: a run's artifacts, kept as runs:/ like ours.
        experiment_id, run_id = parts[0], parts[1]
        try:
            if context.tracking.experiment_of(run_id) == experiment_id:
                return f"runs:/{run_id}/{'/'.join(parts[3:])}"
        except NotFoundError:
            pass
    return f"{_tree_root(context)}/{rel}"


def download_uri(context: ServerContext, version: ModelVersion) -> str:
    """Where MLflow's client downloads a version's model from.

    Raises:
        NotFoundError: The logged model or run of the source no longer exists.
    """
    source = version.source
    model_id = logged_model_id(source)
    if model_id is not None:
        location = LoggedModels(context.tracking).get(model_id).artifact_location
    elif source.startswith("runs:"):
        run_id, path = parse_runs_uri(source)
        experiment_id = context.tracking.experiment_of(run_id)
        location = context.tracking.artifacts.run_root(experiment_id, run_id)
        location = f"{location}/{path}" if path else location
    else:
        location = source
    rel = _relative_to_tree(context, location)
    return location if rel is None else f"{ARTIFACTS_SCHEME}/{rel}"
