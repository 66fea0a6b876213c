"""RegistryReader: reading the registry (models, versions, aliases, history, URIs)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sparktrack.errors import NotFoundError
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
from sparktrack.registry._validation import check_model_name, check_stage, check_version
from sparktrack.tracking import TrackingClient

__all__ = ["RegistryReader"]


class RegistryReader:
    """The reading half of ``RegistryClient``: what the registry of a store holds now.

    Reads fold the ``registry`` table once per table version; every client of a store
    in the process shares that fold.

    Args:
        tracking: The client whose store holds the registry.
    """

    def __init__(self, tracking: TrackingClient) -> None:
        self.tracking = tracking
        self.store = tracking.store
        self._table = RegistryTable(self.store)

    def get_registered_model(self, name: str) -> RegisteredModel:
        """The registered model ``name``.

        Args:
            name: The registered model's name.

        Returns:
            The model, with its newest version in each stage.

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

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """Version ``version`` of model ``name``.

        Args:
            name: The registered model.
            version: The version number (an int, or its digits).

        Returns:
            The version.

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

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version ``alias`` points to.

        Args:
            name: The registered model.
            alias: The alias.

        Returns:
            The version.

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
