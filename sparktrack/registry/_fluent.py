"""Module-level registry functions on the fluent API's store (``set_store``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sparktrack.registry._client import RegistryClient
from sparktrack.registry._entities import ModelVersion, RegisteredModel, Transition
from sparktrack.tracking import get_client

__all__ = [
    "delete_model_alias",
    "delete_model_version",
    "delete_registered_model",
    "get_model_history",
    "get_model_version",
    "get_model_version_by_alias",
    "get_registered_model",
    "get_registry_client",
    "register_model",
    "search_model_versions",
    "search_registered_models",
    "set_model_alias",
    "set_model_stage",
]


def get_registry_client() -> RegistryClient:
    """The registry of the fluent API's store (``sparktrack.set_store``).

    Returns:
        ``RegistryClient(sparktrack.get_client())``: every client of a store shares
        the registry's cached state.

    Raises:
        StoreError: The fluent API's store cannot be opened.
    """
    return RegistryClient(get_client())


def register_model(
    model_uri: str,
    name: str,
    *,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> ModelVersion:
    """Register a logged model as the next version of ``name`` (created if needed).

        version = sparktrack.register_model(f"runs:/{run_id}/model", "churn")

    Args:
        model_uri: ``runs:/<run_id>/<path>``, a ``models:/`` URI, a local folder or a
            Hadoop URI holding a model folder (an ``MLmodel`` file).
        name: The registered model.
        tags: Tags of the new version.
        description: Its description.

    Returns:
        The new version.

    Raises:
        NotFoundError: No model folder is at ``model_uri``.
        InvalidInputError: The URI, name, tags or description are invalid.
    """
    return get_registry_client().register_model(model_uri, name, tags=tags, description=description)


def set_model_stage(name: str, version: int | str, stage: str) -> ModelVersion:
    """Move a version to None, Staging, Production or Archived.

    The version that held Staging or Production before is archived in the same commit.

    Args:
        name: The registered model.
        version: The version number.
        stage: The stage (any case).

    Returns:
        The version after the move.

    Raises:
        NotFoundError: The model or the version does not exist.
        InvalidInputError: The stage or the version number is invalid.
    """
    return get_registry_client().transition_model_version_stage(name, version, stage)


def set_model_alias(name: str, alias: str, version: int | str) -> None:
    """Point ``alias`` (e.g. ``champion``) at a version: ``models:/<name>@<alias>``.

    Args:
        name: The registered model.
        alias: The alias.
        version: The version number it points to from now on.

    Raises:
        NotFoundError: The model or the version does not exist.
        InvalidInputError: The alias or the version number is invalid.
    """
    get_registry_client().set_registered_model_alias(name, alias, version)


def delete_model_alias(name: str, alias: str) -> None:
    """Remove an alias of a registered model.

    Args:
        name: The registered model.
        alias: The alias.

    Raises:
        NotFoundError: The model does not exist or has no such alias.
    """
    get_registry_client().delete_registered_model_alias(name, alias)


def get_model_version(name: str, version: int | str) -> ModelVersion:
    """Version ``version`` of registered model ``name``.

    Args:
        name: The registered model.
        version: The version number (an int, or its digits).

    Returns:
        The version.

    Raises:
        NotFoundError: The model or the version does not exist (or was deleted).
        InvalidInputError: ``version`` is not a positive integer.
    """
    return get_registry_client().get_model_version(name, version)


def get_model_version_by_alias(name: str, alias: str) -> ModelVersion:
    """The version an alias points to.

    Args:
        name: The registered model.
        alias: The alias.

    Returns:
        The version.

    Raises:
        NotFoundError: The model does not exist or has no such alias.
    """
    return get_registry_client().get_model_version_by_alias(name, alias)


def get_registered_model(name: str) -> RegisteredModel:
    """The registered model ``name``, with its newest version in each stage.

    Args:
        name: The registered model's name.

    Returns:
        The model.

    Raises:
        NotFoundError: No live model has that name.
    """
    return get_registry_client().get_registered_model(name)


def search_model_versions(
    filter_string: str | None = None,
    *,
    max_results: int | None = None,
    order_by: Sequence[str] | None = None,
) -> list[ModelVersion]:
    """Versions matching e.g. ``"name = 'churn' AND current_stage = 'Production'"``.

    Args:
        filter_string: MLflow's registry filter; None for every version.
        max_results: At most this many; None for all.
        order_by: E.g. ``["version ASC"]``; by name, newest version first, by default.

    Returns:
        The matching live versions.

    Raises:
        SearchSyntaxError: The filter or ordering cannot be read.
    """
    return get_registry_client().search_model_versions(
        filter_string, max_results=max_results, order_by=order_by
    )


def search_registered_models(
    filter_string: str | None = None,
    *,
    max_results: int | None = None,
    order_by: Sequence[str] | None = None,
) -> list[RegisteredModel]:
    """Registered models matching e.g. ``"name LIKE 'churn%'"``.

    Args:
        filter_string: MLflow's registry filter on ``name``, ``tags.<key>``, ``alias``;
            None for every model.
        max_results: At most this many; None for all.
        order_by: E.g. ``["name DESC"]``; by name by default.

    Returns:
        The matching models.

    Raises:
        SearchSyntaxError: The filter or ordering cannot be read.
    """
    return get_registry_client().search_registered_models(
        filter_string, max_results=max_results, order_by=order_by
    )


def get_model_history(name: str, version: int | str | None = None) -> list[Transition]:
    """Registrations, stage changes, alias moves and deletions (who, when, from, to).

    Args:
        name: The registered model.
        version: Only this version's entries; None for the whole model's.

    Returns:
        The entries, oldest first.

    Raises:
        NotFoundError: No live model has that name.
    """
    return get_registry_client().get_model_history(name, version)


def delete_model_version(name: str, version: int | str) -> None:
    """Delete a version (soft delete); its aliases go with it, its number is never reused.

    Args:
        name: The registered model.
        version: The version number.

    Raises:
        NotFoundError: The model or the version does not exist.
    """
    get_registry_client().delete_model_version(name, version)


def delete_registered_model(name: str) -> None:
    """Delete a registered model with its versions and aliases (soft delete).

    Args:
        name: The registered model.

    Raises:
        NotFoundError: No live model has that name.
    """
    get_registry_client().delete_registered_model(name)
