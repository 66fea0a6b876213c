"""The registry's rules: the events each change appends, decided on the current state.

Each function takes the folded state and the change's (already validated)
arguments, raises the error a rule gives (a taken name, a missing version...), and
returns the event rows to append in one commit (``RegistryTable.write`` stamps
them with the user, the time and their ``seq``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sparktrack.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from sparktrack.registry._entities import Stage
from sparktrack.registry._state import Event, RegistryState

__all__ = [
    "create_model",
    "delete_model",
    "delete_model_alias",
    "delete_model_tag",
    "delete_version",
    "delete_version_tag",
    "describe_model",
    "describe_version",
    "register_version",
    "rename_model",
    "set_model_alias",
    "set_model_tags",
    "set_version_tag",
    "transition_stage",
]

Events = list[dict[str, Any]]


def create_model(
    state: RegistryState, name: str, description: str, tags: list[tuple[str, str]]
) -> Events:
    existing = state.models.get(name)
    if existing is not None and not existing.deleted:
        raise AlreadyExistsError(
            f"registered model {name!r} already exists; register new versions "
            "with register_model, or pick another name"
        )
    return [_model_created(name, description), *_model_tags(name, tags)]


def describe_model(state: RegistryState, name: str, description: str) -> Events:
    state.model(name)
    return [{"name": name, "event": Event.MODEL_DESCRIBED, "value": description}]


# What a rename copies of each event row (seq is given anew by the commit).
_COPIED = (
    "event",
    "version",
    "key",
    "value",
    "previous",
    "source",
    "run_id",
    "user_id",
    "timestamp",
)


def rename_model(state: RegistryState, name: str, new_name: str) -> Events:
    """Copy the model's events under the new name, then delete the old one.

    Every event stays keyed by the name it is read under, so each reader of the table
    (this fold, the Spark SQL view of versions) needs no rename rule: the copies keep
    their times and users, so versions, stages, aliases, tags and history read the
    same under the new name; the old name's versions and aliases are deleted.
    """
    model = state.model(name)
    if new_name == name:
        return []
    existing = state.models.get(new_name)
    if existing is not None and not existing.deleted:
        raise AlreadyExistsError(
            f"cannot rename registered model {name!r} to {new_name!r}: a model of that "
            "name already exists; pick another name or delete it first"
        )
    if existing is not None:
        # Its deleted versions' events are still in the table under that name: the
        # copies' version numbers would read as theirs.
        raise InvalidInputError(
            f"cannot rename registered model {name!r} to {new_name!r}: a deleted model "
            "had that name and its version numbers stay reserved; pick another name"
        )
    copies = [{**{k: row.get(k) for k in _COPIED}, "name": new_name} for row in model.events]
    marker = {"name": new_name, "event": Event.MODEL_RENAMED, "value": name}
    return [*copies, marker, *delete_model(state, name)]


def set_model_tags(state: RegistryState, name: str, tags: list[tuple[str, str]]) -> Events:
    state.model(name)
    return _model_tags(name, tags)


def delete_model_tag(state: RegistryState, name: str, key: str) -> Events:
    if key not in state.model(name).tags:
        raise NotFoundError(f"registered model {name!r} has no tag {key!r}")
    return [{"name": name, "event": Event.MODEL_UNTAGGED, "key": key}]


def delete_model(state: RegistryState, name: str) -> Events:
    model = state.model(name)
    events = [_alias_removed(name, a, n) for a, n in sorted(model.aliases.items())]
    events += [_version_deleted(v.name, v.version) for v in model.live_versions()]
    return [*events, {"name": name, "event": Event.MODEL_DELETED}]


def register_version(
    state: RegistryState,
    name: str,
    *,
    description: str,
    tags: list[tuple[str, str]],
    source: str,
    run_id: str | None,
) -> Events:
    """The next version of ``name`` (the model is created, or re-created, if needed)."""
    existing = state.models.get(name)
    events = []
    if existing is None or existing.deleted:
        events.append(_model_created(name, ""))
    version = (existing.last_version if existing is not None else 0) + 1
    events.append(
        {
            "name": name,
            "version": version,
            "event": Event.VERSION_CREATED,
            "value": description,
            "source": source,
            "run_id": run_id,
        }
    )
    events += [_version_tagged(name, version, k, v) for k, v in tags]
    return events


def describe_version(state: RegistryState, name: str, number: int, description: str) -> Events:
    state.version(name, number)
    return [
        {"name": name, "version": number, "event": Event.VERSION_DESCRIBED, "value": description}
    ]


def set_version_tag(state: RegistryState, name: str, number: int, key: str, value: str) -> Events:
    state.version(name, number)
    return [_version_tagged(name, number, key, value)]


def delete_version_tag(state: RegistryState, name: str, number: int, key: str) -> Events:
    if key not in state.version(name, number).tags:
        raise NotFoundError(f"version {number} of model {name!r} has no tag {key!r}")
    return [{"name": name, "version": number, "event": Event.VERSION_UNTAGGED, "key": key}]


def delete_version(state: RegistryState, name: str, number: int) -> Events:
    """The version and the aliases pointing at it go; its number is never reused."""
    state.version(name, number)
    aliases = state.model(name).aliases
    events = [_alias_removed(name, a, n) for a, n in sorted(aliases.items()) if n == number]
    return [*events, _version_deleted(name, number)]


def transition_stage(state: RegistryState, name: str, number: int, target: str) -> Events:
    """Promoting to Staging or Production archives that stage's holder in the same commit."""
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


def set_model_alias(state: RegistryState, name: str, alias: str, number: int) -> Events:
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


def delete_model_alias(state: RegistryState, name: str, alias: str) -> Events:
    aliases = state.model(name).aliases
    if alias not in aliases:
        raise NotFoundError(
            f"model {name!r} has no alias {alias!r}; its aliases are {sorted(aliases)}"
        )
    return [_alias_removed(name, alias, aliases[alias])]


def _model_created(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "event": Event.MODEL_CREATED, "value": description}


def _model_tags(name: str, tags: Iterable[tuple[str, str]]) -> Events:
    return [{"name": name, "event": Event.MODEL_TAGGED, "key": k, "value": v} for k, v in tags]


def _version_tagged(name: str, number: int, key: str, value: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": number,
        "event": Event.VERSION_TAGGED,
        "key": key,
        "value": value,
    }


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
