"""RegistryClient: registered models, versions, stages and aliases in the store.

Every change is a ``Store.transact`` on the ``registry`` table: read the events,
check the rules against the folded state, append the new events in one commit.
Transactions on one table never interleave, so version numbers are unique and
Staging and Production never hold two versions, even with many writers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.registry._entities import ModelVersion, RegisteredModel, Stage, Transition
from sparktrack.registry._filter import matches, parse_registry_filter, sort_entities
from sparktrack.registry._state import Event, RegistryState
from sparktrack.registry._validation import (
    check_alias,
    check_description,
    check_model_name,
    check_stage,
    check_tag,
    check_version,
)
from sparktrack.tracking._context import current_user
from sparktrack.tracking._validation import now_ms

if TYPE_CHECKING:
    from sparktrack.tracking import TrackingClient

__all__ = ["RegistryClient"]

_TABLE = "registry"
Decide = Callable[[RegistryState], list[dict[str, Any]]]


class RegistryClient:
    """The model registry of a tracking client's store. Thread- and process-safe."""

    def __init__(self, tracking: TrackingClient) -> None:
        self.tracking = tracking
        self.store = tracking.store
        self._lock = threading.Lock()
        self._cached: tuple[int | None, RegistryState] | None = None

    # -- reading and writing --------------------------------------------------------------
    def _state(self) -> RegistryState:
        version = self.store.version(_TABLE)
        with self._lock:
            if self._cached is not None and version is not None and self._cached[0] == version:
                return self._cached[1]
        state = RegistryState.from_table(self.store.scan(_TABLE))
        with self._lock:
            self._cached = (version, state)
        return state

    def _write(self, decide: Decide) -> RegistryState:
        """Commit what ``decide`` returns for the latest state; the state after it."""
        seen: list[RegistryState] = []

        def transaction(table: Any) -> list[dict[str, Any]]:
            state = RegistryState.from_table(table)
            seen.append(state)
            events = decide(state)
            stamp, user = now_ms(), current_user()
            return [
                {"user_id": user, "timestamp": stamp, **event, "seq": state.last_seq + offset}
                for offset, event in enumerate(events, start=1)
            ]

        rows = self.store.transact(_TABLE, transaction)
        state = seen[-1]
        for row in rows:
            state.apply(row)
        return state

    # -- registered models ----------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        *,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> RegisteredModel:
        """A new, empty registered model; InvalidInputError if the name is taken."""
        name = check_model_name(name)
        checked_tags = [check_tag(f"model {name!r}", k, v) for k, v in (tags or {}).items()]
        text = check_description(description)

        def decide(state: RegistryState) -> list[dict[str, Any]]:
            existing = state.models.get(name)
            if existing is not None and not existing.deleted:
                raise InvalidInputError(
                    f"registered model {name!r} already exists; register new versions "
                    "with register_model, or pick another name"
                )
            return [_model_created(name, text), *_model_tags(name, checked_tags)]

        state = self._write(decide)
        return state.model_entity(state.model(name))

    def get_registered_model(self, name: str) -> RegisteredModel:
        state = self._state()
        return state.model_entity(state.model(check_model_name(name)))

    def search_registered_models(
        self,
        filter_string: str | None = None,
        *,
        max_results: int | None = None,
        order_by: Sequence[str] | None = None,
    ) -> list[RegisteredModel]:
        """Registered models matching ``filter_string`` (fields ``name``, ``tags.<key>``)."""
        clauses = parse_registry_filter(filter_string)
        state = self._state()
        found = []
        for model in state.live_models():
            entity = state.model_entity(model)
            if matches(clauses, lambda field, e=entity: _model_field(e, field)):  # type: ignore[misc]
                found.append(entity)
        return _limit(sort_entities(found, order_by, ["name ASC"]), max_results)

    def update_registered_model(self, name: str, description: str) -> RegisteredModel:
        name = check_model_name(name)
        text = check_description(description)

        def decide(state: RegistryState) -> list[dict[str, Any]]:
            state.model(name)
            return [{"name": name, "event": Event.MODEL_DESCRIBED, "value": text}]

        state = self._write(decide)
        return state.model_entity(state.model(name))

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        name = check_model_name(name)
        tag = check_tag(f"model {name!r}", key, value)

        def decide(state: RegistryState) -> list[dict[str, Any]]:
            state.model(name)
            return _model_tags(name, [tag])

        self._write(decide)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        name = check_model_name(name)

        def decide(state: RegistryState) -> list[dict[str, Any]]:
            if key not in state.model(name).tags:
                raise NotFoundError(f"registered model {name!r} has no tag {key!r}")
            return [{"name": name, "event": Event.MODEL_UNTAGGED, "key": key}]

        self._write(decide)

    def delete_registered_model(self, name: str) -> None:
        """Soft delete: the model, its versions and aliases disappear from every read;
        their events stay in the table, and version numbers are never given again."""
        name = check_model_name(name)

        def decide(state: RegistryState) -> list[dict[str, Any]]:
            model = state.model(name)
            events = [_alias_removed(name, a, n) for a, n in sorted(model.aliases.items())]
            events += [_version_deleted(v.name, v.version) for v in model.live_versions()]
            return [*events, {"name": name, "event": Event.MODEL_DELETED}]

        self._write(decide)

    # -- versions -----------------------------------------------------------------------
    def register_model(
        self,
        model_uri: str,
        name: str,
        *,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        """Register the model at ``model_uri`` as the next version of ``name`` (created
        if needed). The URI must point to a model folder (an ``MLmodel`` file)."""
        name = check_model_name(name)
        checked_tags = [check_tag(f"model {name!r}", k, v) for k, v in (tags or {}).items()]
        text = check_description(description)
        source, run_id = self._source_of(model_uri)
        number: list[int] = []

        def decide(state: RegistryState) -> list[dict[str, Any]]:
            existing = state.models.get(name)
            events = []
            if existing is None or existing.deleted:
                events.append(_model_created(name, ""))
            version = (existing.last_version if existing is not None else 0) + 1
            number.append(version)
            events.append(
                {
                    "name": name,
                    "version": version,
                    "event": Event.VERSION_CREATED,
                    "value": text,
                    "source": source,
                    "run_id": run_id,
                }
            )
            events += [
                {
                    "name": name,
                    "version": version,
                    "event": Event.VERSION_TAGGED,
                    "key": k,
                    "value": v,
                }
                for k, v in checked_tags
            ]
            return events

        state = self._write(decide)
        return state.version_entity(state.version(name, number[-1]))

    def _source_of(self, model_uri: str) -> tuple[str, str | None]:
        """Where the model folder is, kept as given for runs:/ URIs (they survive a
        store moving), absolute otherwise; and the run that logged it, if known."""
        from sparktrack.models._uri import location_for_path, parse_runs_uri, resolve_model_uri

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
        name = check_model_name(name)
        state = self._state()
        return state.version_entity(state.version(name, check_version(name, version)))

    def get_latest_versions(
        self, name: str, stages: Iterable[str] | None = None
    ) -> list[ModelVersion]:
        """The newest version in each of ``stages`` (default: every stage that has one)."""
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
        """Versions matching ``filter_string``, e.g. ``"name = 'churn' AND
        current_stage = 'Production'"``; newest first within each model by default."""
        clauses = parse_registry_filter(filter_string)
        state = self._state()
        found = []
        for model in state.live_models():
            for version in model.live_versions():
                entity = state.version_entity(version)
                if matches(clauses, lambda field, e=entity: _version_field(e, field)):  # type: ignore[misc]
                    found.append(entity)
        return _limit(sort_entities(found, order_by, ["name ASC", "version DESC"]), max_results)

    def update_model_version(self, name: str, version: int | str, description: str) -> ModelVersion:
        name, number = check_model_name(name), check_version(name, version)
        text = check_description(description)

        def decide(state: RegistryState) -> list[dict[str, Any]]:
            state.version(name, number)
            return [
                {"name": name, "version": number, "event": Event.VERSION_DESCRIBED, "value": text}
            ]

        state = self._write(decide)
        return state.version_entity(state.version(name, number))

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: Any) -> None:
        name, number = check_model_name(name), check_version(name, version)
        tag_key, tag_value = check_tag(f"version {number} of model {name!r}", key, value)

        def decide(state: RegistryState) -> list[dict[str, Any]]:
            state.version(name, number)
            return [
                {
                    "name": name,
                    "version": number,
                    "event": Event.VERSION_TAGGED,
                    "key": tag_key,
                    "value": tag_value,
                }
            ]

        self._write(decide)

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        name, number = check_model_name(name), check_version(name, version)

        def decide(state: RegistryState) -> list[dict[str, Any]]:
            if key not in state.version(name, number).tags:
                raise NotFoundError(f"version {number} of model {name!r} has no tag {key!r}")
            return [{"name": name, "version": number, "event": Event.VERSION_UNTAGGED, "key": key}]

        self._write(decide)

    def delete_model_version(self, name: str, version: int | str) -> None:
        """Soft delete; the version's aliases go with it, and its number is never reused."""
        name, number = check_model_name(name), check_version(name, version)

        def decide(state: RegistryState) -> list[dict[str, Any]]:
            state.version(name, number)
            aliases = state.model(name).aliases
            events = [_alias_removed(name, a, n) for a, n in sorted(aliases.items()) if n == number]
            return [*events, _version_deleted(name, number)]

        self._write(decide)

    # -- stages and aliases ---------------------------------------------------------------
    def transition_model_version_stage(
        self, name: str, version: int | str, stage: str
    ) -> ModelVersion:
        """Move a version to ``stage``. Promoting to Staging or Production archives the
        version that held that stage, in the same commit."""
        name, number = check_model_name(name), check_version(name, version)
        target = check_stage(stage)

        def decide(state: RegistryState) -> list[dict[str, Any]]:
            version_state = state.version(name, number)
            if version_state.stage == target:
                return []
            events = []
            if target in Stage.EXCLUSIVE:
                holder = state.holder(name, target)
                if holder is not None:
                    events.append(_stage_changed(name, holder.version, target, Stage.ARCHIVED))
            events.append(_stage_changed(name, number, version_state.stage, target))
            return events

        state = self._write(decide)
        return state.version_entity(state.version(name, number))

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point ``alias`` at ``version``; it leaves the version it pointed to at once."""
        name = check_model_name(name)
        alias = check_alias(name, alias)
        number = check_version(name, version)

        def decide(state: RegistryState) -> list[dict[str, Any]]:
            state.version(name, number)
            previous = state.model(name).aliases.get(alias)
            if previous == number:
                return []
            return [
                {
                    "name": name,
                    "version": number,
                    "event": Event.ALIAS_SET,
                    "key": alias,
                    "value": str(number),
                    "previous": None if previous is None else str(previous),
                }
            ]

        self._write(decide)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        name = check_model_name(name)

        def decide(state: RegistryState) -> list[dict[str, Any]]:
            aliases = state.model(name).aliases
            if alias not in aliases:
                raise NotFoundError(
                    f"model {name!r} has no alias {alias!r}; its aliases are {sorted(aliases)}"
                )
            return [_alias_removed(name, alias, aliases[alias])]

        self._write(decide)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        name = check_model_name(name)
        state = self._state()
        aliases = state.model(name).aliases
        if alias not in aliases:
            raise NotFoundError(
                f"model {name!r} has no alias {alias!r}; its aliases are {sorted(aliases)}"
            )
        return state.version_entity(state.version(name, aliases[alias]))

    def get_model_history(self, name: str, version: int | str | None = None) -> list[Transition]:
        """Every registration, stage change, alias move and deletion, oldest first."""
        name = check_model_name(name)
        state = self._state()
        since = state.model(name).created_seq
        number = None if version is None else check_version(name, version)
        return [
            entry
            for seq, entry in state.history
            if entry.name == name and seq >= since and (number is None or entry.version == number)
        ]

    # -- models:/ URIs ------------------------------------------------------------------------
    def resolve(self, model_uri: str) -> ModelVersion:
        """The version a ``models:/`` URI points to now."""
        from sparktrack.registry._uri import parse_models_uri

        reference = parse_models_uri(model_uri)
        state = self._state()
        model = state.model(reference.name)
        if reference.version is not None:
            return state.version_entity(state.version(reference.name, reference.version))
        if reference.alias is not None:
            if reference.alias not in model.aliases:
                raise NotFoundError(
                    f"{model_uri!r}: model {reference.name!r} has no alias "
                    f"{reference.alias!r}; its aliases are {sorted(model.aliases)}"
                )
            return state.version_entity(
                state.version(reference.name, model.aliases[reference.alias])
            )
        if reference.stage is not None:
            holder = state.holder(reference.name, reference.stage)
            if holder is None:
                raise NotFoundError(
                    f"{model_uri!r}: no version of model {reference.name!r} is in stage "
                    f"{reference.stage}; move one there with set_model_stage"
                )
            return state.version_entity(holder)
        live = model.live_versions()
        if not live:
            raise NotFoundError(f"{model_uri!r}: model {reference.name!r} has no versions")
        return state.version_entity(max(live, key=lambda v: v.version))


def _limit(items: list[Any], max_results: int | None) -> list[Any]:
    if max_results is None:
        return items
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 0:
        raise InvalidInputError(f"max_results must be a non-negative integer, got {max_results!r}")
    return items[:max_results]


def _model_field(model: RegisteredModel, field: str) -> Any:
    if field.startswith("tags."):
        return model.tags.get(field[5:])
    if field == "alias":
        return tuple(model.aliases)
    return getattr(model, field, None)


def _version_field(version: ModelVersion, field: str) -> Any:
    if field.startswith("tags."):
        return version.tags.get(field[5:])
    if field == "alias":
        return version.aliases
    return getattr(version, field, None)


def _model_created(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "event": Event.MODEL_CREATED, "value": description}


def _model_tags(name: str, tags: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"name": name, "event": Event.MODEL_TAGGED, "key": k, "value": v} for k, v in tags]


def _version_deleted(name: str, number: int) -> dict[str, Any]:
    return {"name": name, "version": number, "event": Event.VERSION_DELETED}


def _alias_removed(name: str, alias: str, number: int) -> dict[str, Any]:
    return {
        "name": name,
        "version": number,
        "event": Event.ALIAS_REMOVED,
        "key": alias,
        "previous": str(number),
    }


def _stage_changed(name: str, number: int, old: str, new: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": number,
        "event": Event.STAGE_CHANGED,
        "value": new,
        "previous": old,
    }
