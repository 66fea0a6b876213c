"""RegistryClient: registered models, versions, stages and aliases in a tracking store.

The client validates arguments, then hands a rule (``_rules``) to the registry table
(``_table``), which decides and appends the rule's events in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.models import location_for_path, parse_runs_uri, resolve_model_uri
from sparktrack.registry import _rules as rules
from sparktrack.registry._entities import ModelVersion, RegisteredModel, Transition
from sparktrack.registry._filter import (
    limit,
    matches,
    model_field,
    parse_registry_filter,
    sort_entities,
    version_field,
)
from sparktrack.registry._table import RegistryTable
from sparktrack.registry._uri import parse_models_uri
from sparktrack.registry._validation import (
    check_alias,
    check_description,
    check_model_name,
    check_stage,
    check_tag,
    check_version,
)
from sparktrack.tracking import TrackingClient

__all__ = ["RegistryClient"]


class RegistryClient:
    """The model registry of a tracking client's store. Thread- and process-safe.

        registry = RegistryClient(TrackingClient("/data/sparktrack-store"))
        version = registry.register_model("runs:/<run_id>/model", "churn")
        registry.transition_model_version_stage("churn", version.version, "Production")

    Args:
        tracking: The client whose store holds the registry (its ``registry`` table).
    """

    def __init__(self, tracking: TrackingClient) -> None:
        self.tracking = tracking
        self.store = tracking.store
        self._table = RegistryTable(self.store)

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

    def get_registered_model(self, name: str) -> RegisteredModel:
        """The registered model ``name``.

        Raises:
            NotFoundError: No live model has that name.
        """
        state = self._table.state()
        return state.model_entity(state.model(check_model_name(name)))

    def search_registered_models(
        self,
        filter_string: str | None = None,
        *,
        max_results: int | None = None,
        order_by: Sequence[str] | None = None,
    ) -> list[RegisteredModel]:
        """Registered models matching a filter, e.g. ``"name LIKE 'churn%'"``.

        Args:
            filter_string: MLflow's registry filter on ``name``, ``tags.<key>``, ``alias``
                (clauses joined by AND); None for every model.
            max_results: At most this many; None for all.
            order_by: E.g. ``["name DESC"]``; by name by default.

        Returns:
            The matching models.

        Raises:
            SearchSyntaxError: The filter or ordering cannot be read.
            InvalidInputError: ``max_results`` is not a non-negative integer.
        """
        clauses = parse_registry_filter(filter_string)
        state = self._table.state()
        found = []
        for model in state.live_models():
            entity = state.model_entity(model)
            if matches(clauses, lambda field, e=entity: model_field(e, field)):  # type: ignore[misc]
                found.append(entity)
        return limit(sort_entities(found, order_by, ["name ASC"]), max_results)

    def update_registered_model(self, name: str, description: str) -> RegisteredModel:
        """Set a registered model's description; the model after the change.

        Raises:
            NotFoundError: No live model has that name.
            InvalidInputError: The description is invalid.
        """
        name = check_model_name(name)
        text = check_description(description)
        state = self._table.write(lambda s: rules.describe_model(s, name, text))
        return state.model_entity(state.model(name))

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        """Set a tag of a registered model.

        Raises:
            NotFoundError: No live model has that name.
            InvalidInputError: The key or value is invalid.
        """
        name = check_model_name(name)
        tag = check_tag(f"model {name!r}", key, value)
        self._table.write(lambda s: rules.set_model_tags(s, name, [tag]))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Delete a tag of a registered model.

        Raises:
            NotFoundError: No live model has that name, or it has no such tag.
        """
        name = check_model_name(name)
        self._table.write(lambda s: rules.delete_model_tag(s, name, key))

    def delete_registered_model(self, name: str) -> None:
        """Delete a registered model, its versions and its aliases (soft delete).

        They disappear from every read; their events stay in the table, and version
        numbers are never given again.

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
        source, run_id = self._source_of(model_uri)
        state = self._table.write(
            lambda s: rules.register_version(
                s, name, description=text, tags=checked, source=source, run_id=run_id
            )
        )
        return state.version_entity(state.version(name, state.model(name).last_version))

    def _source_of(self, model_uri: str) -> tuple[str, str | None]:
        """Where the model folder is, kept as given for runs:/ URIs (they survive a
        store moving), absolute otherwise; and the run that logged it, if known."""
        if not isinstance(model_uri, str) or not model_uri.strip():
            raise InvalidInputError(f"model_uri must be a non-empty string, got {model_uri!r}")
        if model_uri.startswith("models:"):
            version = self.resolve(model_uri)
            return version.source, version.run_id
        location = resolve_model_uri(model_uri, self.tracking)
        if not location.exists("MLmodel"):
            raise NotFoundError(
                f"no model at {model_uri!r} ({location} has no MLmodel file); register "
                "what log_model or save_model wrote, e.g. runs:/<run_id>/model"
            )
        if model_uri.startswith("runs:"):
            run_id, path = parse_runs_uri(model_uri)
            return f"runs:/{run_id}/{path}", run_id
        return location_for_path(model_uri).spark_uri(), None

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """Version ``version`` of model ``name``.

        Raises:
            NotFoundError: The model or the version does not exist (or was deleted).
            InvalidInputError: ``version`` is not a positive integer.
        """
        name = check_model_name(name)
        state = self._table.state()
        return state.version_entity(state.version(name, check_version(name, version)))

    def get_latest_versions(
        self, name: str, stages: Iterable[str] | None = None
    ) -> list[ModelVersion]:
        """The newest version in each stage.

        Args:
            name: The registered model.
            stages: The stages to report; None for every stage that has a version.

        Returns:
            One version per stage that has one.

        Raises:
            NotFoundError: No live model has that name.
            InvalidInputError: A stage is not None, Staging, Production or Archived.
        """
        model = self.get_registered_model(name)
        wanted = {check_stage(s) for s in stages} if stages is not None else None
        return [v for v in model.latest_versions if wanted is None or v.current_stage in wanted]

    def search_model_versions(
        self,
        filter_string: str | None = None,
        *,
        max_results: int | None = None,
        order_by: Sequence[str] | None = None,
    ) -> list[ModelVersion]:
        """Versions matching a filter, e.g. ``"name = 'churn' AND current_stage = 'Production'"``.

        Args:
            filter_string: MLflow's registry filter on ``name``, ``version``, ``run_id``,
                ``source``, ``current_stage``, ``user_id``, timestamps, ``alias`` and
                ``tags.<key>``; None for every version.
            max_results: At most this many; None for all.
            order_by: E.g. ``["version ASC"]``; by name, newest version first, by default.

        Returns:
            The matching live versions.

        Raises:
            SearchSyntaxError: The filter or ordering cannot be read.
            InvalidInputError: ``max_results`` is not a non-negative integer.
        """
        clauses = parse_registry_filter(filter_string)
        state = self._table.state()
        found = []
        for model in state.live_models():
            for version in model.live_versions():
                entity = state.version_entity(version)
                if matches(clauses, lambda field, e=entity: version_field(e, field)):  # type: ignore[misc]
                    found.append(entity)
        return limit(sort_entities(found, order_by, ["name ASC", "version DESC"]), max_results)

    def update_model_version(self, name: str, version: int | str, description: str) -> ModelVersion:
        """Set a version's description; the version after the change.

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

        Raises:
            NotFoundError: The model or the version does not exist.
            InvalidInputError: The version number, key or value is invalid.
        """
        name, number = check_model_name(name), check_version(name, version)
        key, text = check_tag(f"version {number} of model {name!r}", key, value)
        self._table.write(lambda s: rules.set_version_tag(s, name, number, key, text))

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        """Delete a tag of a version.

        Raises:
            NotFoundError: The model, the version or the tag does not exist.
        """
        name, number = check_model_name(name), check_version(name, version)
        self._table.write(lambda s: rules.delete_version_tag(s, name, number, key))

    def delete_model_version(self, name: str, version: int | str) -> None:
        """Delete a version (soft delete); its aliases go with it, its number is never reused.

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
        """Point ``alias`` at a version (``models:/<name>@<alias>``); it leaves the
        version it pointed to in the same commit.

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

        Raises:
            NotFoundError: The model does not exist or has no such alias.
        """
        name = check_model_name(name)
        self._table.write(lambda s: rules.delete_model_alias(s, name, alias))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version ``alias`` points to.

        Raises:
            NotFoundError: The model does not exist or has no such alias.
        """
        name = check_model_name(name)
        state = self._table.state()
        aliases = state.model(name).aliases
        if alias not in aliases:
            raise NotFoundError(
                f"model {name!r} has no alias {alias!r}; its aliases are {sorted(aliases)}"
            )
        return state.version_entity(state.version(name, aliases[alias]))

    def get_model_history(self, name: str, version: int | str | None = None) -> list[Transition]:
        """Every registration, stage change, alias move and deletion, oldest first.

        Args:
            name: The registered model.
            version: Only this version's entries; None for the whole model's.

        Returns:
            The entries (who, when, from, to) since the model was (last) created.

        Raises:
            NotFoundError: No live model has that name.
        """
        name = check_model_name(name)
        state = self._table.state()
        since = state.model(name).created_seq
        number = None if version is None else check_version(name, version)
        return [
            entry
            for seq, entry in state.history
            if entry.name == name and seq >= since and (number is None or entry.version == number)
        ]

    # -- models:/ URIs ------------------------------------------------------------------------
    def resolve(self, model_uri: str) -> ModelVersion:
        """The version a ``models:/`` URI points to now.

        Args:
            model_uri: ``models:/<name>/<version>``, ``models:/<name>/<stage>``,
                ``models:/<name>/latest`` or ``models:/<name>@<alias>``.

        Returns:
            The version; its ``source`` is where the model folder is.

        Raises:
            InvalidInputError: The URI cannot be read.
            NotFoundError: The model, version, alias or stage holder does not exist.
        """
        reference = parse_models_uri(model_uri)
        state = self._table.state()
        return state.version_entity(state.resolve(reference, model_uri))
