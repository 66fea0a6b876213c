"""RegistryClient: registered models, versions, stages and aliases in a tracking store.

The client validates arguments, then hands a rule (``_rules``) to the registry table
(``_table``), which decides and appends the rule's events in one transaction. Reads
are ``RegistryReader``'s (``_reader``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sparktrack.registry import _rules as rules
from sparktrack.registry._entities import ModelVersion, RegisteredModel
from sparktrack.registry._reader import RegistryReader
from sparktrack.registry._source import source_of
from sparktrack.registry._validation import (
    check_alias,
    check_description,
    check_model_name,
    check_stage,
    check_tag,
    check_version,
)

__all__ = ["RegistryClient"]


class RegistryClient(RegistryReader):
    """The model registry of a tracking client's store. Thread- and process-safe.

        registry = RegistryClient(TrackingClient("/data/sparktrack-store"))
        version = registry.register_model("runs:/<run_id>/model", "churn")
        registry.transition_model_version_stage("churn", version.version, "Production")

    Args:
        tracking: The client whose store holds the registry (its ``registry`` table).
    """

    # -- registered models ----------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        *,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> RegisteredModel:
        """Create an empty registered model.

        Args:
            name: The model's name.
            tags: Tags of the model.
            description: Its description.

        Returns:
            The new registered model.

        Raises:
            InvalidInputError: The name is taken, or a name, tag or description is invalid.
        """
        name = check_model_name(name)
        checked = [check_tag(f"model {name!r}", k, v) for k, v in (tags or {}).items()]
        text = check_description(description)
        state = self._table.write(lambda s: rules.create_model(s, name, text, checked))
        return state.model_entity(state.model(name))

    def update_registered_model(self, name: str, description: str) -> RegisteredModel:
        """Set a registered model's description; the model after the change.

        Args:
            name: The registered model.
            description: The new description.

        Returns:
            The model after the change.

        Raises:
            NotFoundError: No live model has that name.
            InvalidInputError: The description is invalid.
        """
        name = check_model_name(name)
        text = check_description(description)
        state = self._table.write(lambda s: rules.describe_model(s, name, text))
        return state.model_entity(state.model(name))

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Rename a registered model; its versions, stages, aliases, tags and history go with it.

        ``models:/<old name>/...`` URIs stop resolving; the old name is left as a
        deleted model's (registering it again continues its numbering).

        Args:
            name: The registered model.
            new_name: Its new name.

        Returns:
            The model under its new name.

        Raises:
            NotFoundError: No live model has that name.
            AlreadyExistsError: A live model is called ``new_name``.
            InvalidInputError: ``new_name`` is not a valid name, or a deleted model had it.
        """
        name, new_name = check_model_name(name), check_model_name(new_name)
        state = self._table.write(lambda s: rules.rename_model(s, name, new_name))
        return state.model_entity(state.model(new_name))

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        """Set a tag of a registered model.

        Args:
            name: The registered model.
            key: The tag's key.
            value: Its value (stored as a string).

        Raises:
            NotFoundError: No live model has that name.
            InvalidInputError: The key or value is invalid.
        """
        name = check_model_name(name)
        tag = check_tag(f"model {name!r}", key, value)
        self._table.write(lambda s: rules.set_model_tags(s, name, [tag]))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Delete a tag of a registered model.

        Args:
            name: The registered model.
            key: The tag's key.

        Raises:
            NotFoundError: No live model has that name, or it has no such tag.
        """
        name = check_model_name(name)
        self._table.write(lambda s: rules.delete_model_tag(s, name, key))

    def delete_registered_model(self, name: str) -> None:
        """Delete a registered model, its versions and its aliases (soft delete).

        They disappear from every read; their events stay in the table, and version
        numbers are never given again.

        Args:
            name: The registered model.

        Raises:
            NotFoundError: No live model has that name.
        """
        name = check_model_name(name)
        self._table.write(lambda s: rules.delete_model(s, name))

    # -- versions -----------------------------------------------------------------------
    def register_model(
        self,
        model_uri: str,
        name: str,
        *,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        """Register a model folder as the next version of ``name`` (created if needed).

        Args:
            model_uri: ``runs:/<run_id>/<path>``, a ``models:/`` URI, a local folder or
                a Hadoop URI; it must hold a model folder (an ``MLmodel`` file).
            name: The registered model.
            tags: Tags of the new version.
            description: Its description.

        Returns:
            The new version.

        Raises:
            NotFoundError: No model folder is at ``model_uri``.
            InvalidInputError: The URI, name, tags or description are invalid.
        """
        name = check_model_name(name)
        checked = [check_tag(f"model {name!r}", k, v) for k, v in (tags or {}).items()]
        text = check_description(description)
        source, run_id = source_of(self.tracking, model_uri, self.resolve)
        state = self._table.write(
            lambda s: rules.register_version(
                s, name, description=text, tags=checked, source=source, run_id=run_id
            )
        )
        return state.version_entity(state.version(name, state.model(name).last_version))

    def update_model_version(self, name: str, version: int | str, description: str) -> ModelVersion:
        """Set a version's description; the version after the change.

        Args:
            name: The registered model.
            version: The version number.
            description: The new description.

        Returns:
            The version after the change.

        Raises:
            NotFoundError: The model or the version does not exist.
            InvalidInputError: The version number or the description is invalid.
        """
        name, number = check_model_name(name), check_version(name, version)
        text = check_description(description)
        state = self._table.write(lambda s: rules.describe_version(s, name, number, text))
        return state.version_entity(state.version(name, number))

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: Any) -> None:
        """Set a tag of a version.

        Args:
            name: The registered model.
            version: The version number.
            key: The tag's key.
            value: Its value (stored as a string).

        Raises:
            NotFoundError: The model or the version does not exist.
            InvalidInputError: The version number, key or value is invalid.
        """
        name, number = check_model_name(name), check_version(name, version)
        key, text = check_tag(f"version {number} of model {name!r}", key, value)
        self._table.write(lambda s: rules.set_version_tag(s, name, number, key, text))

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        """Delete a tag of a version.

        Args:
            name: The registered model.
            version: The version number.
            key: The tag's key.

        Raises:
            NotFoundError: The model, the version or the tag does not exist.
        """
        name, number = check_model_name(name), check_version(name, version)
        self._table.write(lambda s: rules.delete_version_tag(s, name, number, key))

    def delete_model_version(self, name: str, version: int | str) -> None:
        """Delete a version (soft delete); its aliases go with it, its number is never reused.

        Args:
            name: The registered model.
            version: The version number.

        Raises:
            NotFoundError: The model or the version does not exist.
        """
        name, number = check_model_name(name), check_version(name, version)
        self._table.write(lambda s: rules.delete_version(s, name, number))

    # -- stages and aliases ---------------------------------------------------------------
    def transition_model_version_stage(
        self, name: str, version: int | str, stage: str
    ) -> ModelVersion:
        """Move a version to a stage.

        Promoting to Staging or Production archives the version that held that stage,
        in the same commit: a stage never holds two versions, even with concurrent
        writers.

        Args:
            name: The registered model.
            version: The version number.
            stage: None, Staging, Production or Archived (any case).

        Returns:
            The version after the move.

        Raises:
            NotFoundError: The model or the version does not exist.
            InvalidInputError: The stage or the version number is invalid.
        """
        name, number = check_model_name(name), check_version(name, version)
        target = check_stage(stage)
        state = self._table.write(lambda s: rules.transition_stage(s, name, number, target))
        return state.version_entity(state.version(name, number))

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point ``alias`` at a version (``models:/<name>@<alias>``).

        It leaves the version it pointed to in the same commit.

        Args:
            name: The registered model.
            alias: The alias, e.g. ``champion``.
            version: The version number it points to from now on.

        Raises:
            NotFoundError: The model or the version does not exist.
            InvalidInputError: The alias or the version number is invalid.
        """
        name = check_model_name(name)
        alias = check_alias(name, alias)
        number = check_version(name, version)
        self._table.write(lambda s: rules.set_model_alias(s, name, alias, number))

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias.

        Args:
            name: The registered model.
            alias: The alias.

        Raises:
            NotFoundError: The model does not exist or has no such alias.
        """
        name = check_model_name(name)
        self._table.write(lambda s: rules.delete_model_alias(s, name, alias))
