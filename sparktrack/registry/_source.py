"""What a registered version records about its model folder: where it is, which run."""

from __future__ import annotations

from collections.abc import Callable

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.models import (
    location_for_path,
    logged_model_id,
    parse_runs_uri,
    resolve_model_uri,
)
from sparktrack.registry._entities import ModelVersion
from sparktrack.tracking import LoggedModels, TrackingClient

__all__ = ["source_of"]


def source_of(
    tracking: TrackingClient, model_uri: str, resolve: Callable[[str], ModelVersion]
) -> tuple[str, str | None]:
    """Where the model folder of ``model_uri`` is, and the run that logged it, if known.

    ``runs:/`` URIs and MLflow 3's ``models:/<model_id>`` are kept as given (they
    survive a store moving; a logged model's run is its ``source_run_id``), other
    ``models:/`` URIs become their version's source (through ``resolve``), others an
    absolute URI.

    Raises:
        InvalidInputError: The URI is empty or cannot be read.
        NotFoundError: No model folder (``MLmodel`` file) is there.
    """
    if not isinstance(model_uri, str) or not model_uri.strip():
        raise InvalidInputError(f"model_uri must be a non-empty string, got {model_uri!r}")
    logged = logged_model_id(model_uri)
    if model_uri.startswith("models:") and logged is None:
        version = resolve(model_uri)
        return version.source, version.run_id
    location = resolve_model_uri(model_uri, tracking)
    if not location.exists("MLmodel"):
        raise NotFoundError(
            f"no model at {model_uri!r} ({location} has no MLmodel file); register "
            "what log_model or save_model wrote, e.g. runs:/<run_id>/model"
        )
    if logged is not None:
        return f"models:/{logged}", LoggedModels(tracking).get(logged).source_run_id
    if model_uri.startswith("runs:"):
        run_id, path = parse_runs_uri(model_uri)
        of_run = LoggedModels(tracking).of_run(run_id, path) if "/" not in path else None
        if of_run is not None and location == location_for_path(of_run.artifact_location):
            # resolve_model_uri found an MLflow 3 logged model of the run, not a folder
            # among its artifacts: registered by its id, as MLflow's client does.
            return f"models:/{of_run.model_id}", run_id
        return f"runs:/{run_id}/{path}", run_id
    return location_for_path(model_uri).spark_uri(), None
