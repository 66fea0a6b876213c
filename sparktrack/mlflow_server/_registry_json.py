"""The registry's entities in MLflow's JSON shapes (``model_registry.proto``)."""

from __future__ import annotations

from typing import Any

from sparktrack.models import logged_model_id
from sparktrack.registry import ModelVersion, RegisteredModel

__all__ = ["model_json", "version_json"]

# sparktrack registers a version once its folder holds a model: it is never PENDING.
_READY = "READY"


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in sorted(tags.items())]


def version_json(version: ModelVersion) -> dict[str, Any]:
    """A ``ModelVersion`` message (``version`` is a string there, as in MLflow)."""
    body: dict[str, Any] = {
        "name": version.name,
        "version": str(version.version),
        "creation_timestamp": version.creation_timestamp,
        "last_updated_timestamp": version.last_updated_timestamp,
        "current_stage": version.current_stage,
        "description": version.description,
        "source": version.source,
        "status": _READY,
        "tags": _tags(version.tags),
        "aliases": list(version.aliases),
    }
    if version.user_id:
        body["user_id"] = version.user_id
    if version.run_id:
        body["run_id"] = version.run_id
    model_id = logged_model_id(version.source)
    if model_id is not None:
        body["model_id"] = model_id
    return body


def model_json(model: RegisteredModel) -> dict[str, Any]:
    """A ``RegisteredModel`` message, with its newest version in each stage."""
    body: dict[str, Any] = {
        "name": model.name,
        "creation_timestamp": model.creation_timestamp,
        "last_updated_timestamp": model.last_updated_timestamp,
        "description": model.description,
        "latest_versions": [version_json(v) for v in model.latest_versions],
        "tags": _tags(model.tags),
        "aliases": [{"alias": a, "version": str(n)} for a, n in model.aliases.items()],
    }
    if model.user_id:
        body["user_id"] = model.user_id
    return body
