"""The registry's state, folded from its event table in ``seq`` order.

Every change is one or more event rows appended in one commit, so each table
version is a consistent registry: a promotion and the archiving it causes land
together, and an alias moves in a single row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from sparktrack.errors import NotFoundError
from sparktrack.registry._entities import ModelVersion, RegisteredModel, Stage, Transition
from sparktrack.registry._uri import ModelReference

__all__ = ["Event", "RegistryState"]


class Event:
    """The ``event`` column's values."""

    MODEL_CREATED = "model_created"
    MODEL_DESCRIBED = "model_described"
    MODEL_TAGGED = "model_tagged"
    MODEL_UNTAGGED = "model_untagged"
    MODEL_DELETED = "model_deleted"
    # After a rename's copies of the model's events under its new name: name is the
    # new name, value the old one (see rules.rename_model).
    MODEL_RENAMED = "model_renamed"
    VERSION_CREATED = "version_created"
    VERSION_DESCRIBED = "version_described"
    VERSION_TAGGED = "version_tagged"
    VERSION_UNTAGGED = "version_untagged"
    VERSION_DELETED = "version_deleted"
    STAGE_CHANGED = "stage_changed"
    ALIAS_SET = "alias_set"
    ALIAS_REMOVED = "alias_removed"


# Changes of a version alone: the model's last_updated_timestamp stays (as in MLflow,
# where a version's description or tags do not touch its registered model).
_VERSION_ONLY = frozenset({Event.VERSION_DESCRIBED, Event.VERSION_TAGGED, Event.VERSION_UNTAGGED})


@dataclass
class _Version:
    name: str
    version: int
    source: str
    run_id: str | None
    user_id: str | None
    created: int
    updated: int
    stage: str = Stage.NONE
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    deleted: bool = False


@dataclass
class _Model:
    name: str
    user_id: str | None
    created: int
    updated: int
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    versions: dict[int, _Version] = field(default_factory=dict)
    deleted: bool = False
    created_seq: int = 0  # a name registered again after a delete starts a new history
    # Its event rows since it was (last) created, in order: a rename appends copies.
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def last_version(self) -> int:
        """The highest number ever given, deleted versions included: never reused."""
        return max(self.versions, default=0)

    def live_versions(self) -> list[_Version]:
        return [v for v in self.versions.values() if not v.deleted]


class RegistryState:
    """Registered models and versions (deleted ones kept, for numbering and history)."""

    def __init__(self) -> None:
        self.models: dict[str, _Model] = {}
        self.history: list[tuple[int, Transition]] = []  # (seq, entry)
        self.last_seq = 0

    @classmethod
    def from_table(cls, table: pa.Table) -> RegistryState:
        state = cls()
        rows = table.sort_by("seq").to_pylist() if table.num_rows else []
        for row in rows:
            state.apply(row)
        return state

    # -- folding ------------------------------------------------------------------------
    def apply(self, row: dict[str, Any]) -> None:
        self.last_seq = max(self.last_seq, int(row["seq"]))
        event, name, when = row["event"], row["name"], int(row["timestamp"])
        if event == Event.MODEL_CREATED:
            self.models[name] = _Model(
                name,
                row.get("user_id"),
                when,
                when,
                row.get("value") or "",
                created_seq=self.last_seq,
                events=[row],
            )
            return
        model = self.models.get(name)
        if model is None:  # an event for a model this fold never saw created: ignore it
            return
        model.events.append(row)
        if event not in _VERSION_ONLY:
            model.updated = when
        if event == Event.MODEL_RENAMED:
            self._remember(row, "renamed", row.get("value"), name)
            return
        number = row.get("version")
        version = model.versions.get(int(number)) if number is not None else None
        if event == Event.VERSION_CREATED:
            version = _Version(
                name,
                int(row["version"]),
                row.get("source") or "",
                row.get("run_id"),
                row.get("user_id"),
                when,
                when,
                description=row.get("value") or "",
            )
            model.versions[version.version] = version
            self._remember(row, "registered", None, Stage.NONE)
            return
        if version is not None:
            version.updated = when
        self._apply_change(event, row, model, version)

    def _apply_change(
        self, event: str, row: dict[str, Any], model: _Model, version: _Version | None
    ) -> None:
        key, value = row.get("key"), row.get("value")
        if event == Event.MODEL_DESCRIBED:
            model.description = value or ""
        elif event == Event.MODEL_TAGGED and key is not None:
            model.tags[key] = value or ""
        elif event == Event.MODEL_UNTAGGED and key is not None:
            model.tags.pop(key, None)
        elif event == Event.MODEL_DELETED:
            model.deleted = True
        elif event == Event.ALIAS_SET and key is not None and value is not None:
            model.aliases[key] = int(value)
            self._remember(row, "alias", row.get("previous"), value)
        elif event == Event.ALIAS_REMOVED and key is not None:
            model.aliases.pop(key, None)
            self._remember(row, "alias_removed", row.get("previous"), None)
        elif version is None:
            return
        elif event == Event.VERSION_DESCRIBED:
            version.description = value or ""
        elif event == Event.VERSION_TAGGED and key is not None:
            version.tags[key] = value or ""
        elif event == Event.VERSION_UNTAGGED and key is not None:
            version.tags.pop(key, None)
        elif event == Event.VERSION_DELETED:
            version.deleted = True
            self._remember(row, "deleted", version.stage, None)
        elif event == Event.STAGE_CHANGED and value is not None:
            version.stage = value
            self._remember(row, "stage", row.get("previous"), value)

    def _remember(self, row: dict[str, Any], kind: str, old: str | None, new: str | None) -> None:
        number = row.get("version")
        self.history.append(
            (
                int(row["seq"]),
                Transition(
                    name=row["name"],
                    version=int(number) if number is not None else None,
                    kind=kind,
                    from_value=old,
                    to_value=new,
                    key=row.get("key"),
                    user_id=row.get("user_id"),
                    timestamp=int(row["timestamp"]),
                ),
            )
        )

    # -- lookups --------------------------------------------------------------------------
    def model(self, name: str) -> _Model:
        model = self.models.get(name)
        if model is None or model.deleted:
            known = sorted(n for n, m in self.models.items() if not m.deleted)
            hint = f"; registered models are {known[:20]}" if known else "; none is registered"
            raise NotFoundError(f"registered model {name!r} does not exist{hint}")
        return model

    def version(self, name: str, number: int) -> _Version:
        model = self.model(name)
        version = model.versions.get(number)
        if version is None or version.deleted:
            live = sorted(v.version for v in model.live_versions())
            raise NotFoundError(
                f"model {name!r} has no version {number}; its versions are {live or 'none'}"
            )
        return version

    def holder(self, name: str, stage: str) -> _Version | None:
        """The newest live version in ``stage`` (the only one, for Staging/Production)."""
        holders = [v for v in self.model(name).live_versions() if v.stage == stage]
        return max(holders, key=lambda v: v.version) if holders else None

    # -- entities ---------------------------------------------------------------------------
    def version_entity(self, version: _Version) -> ModelVersion:
        model = self.models[version.name]
        aliases = tuple(sorted(a for a, n in model.aliases.items() if n == version.version))
        return ModelVersion(
            name=version.name,
            version=version.version,
            source=version.source,
            run_id=version.run_id,
            current_stage=version.stage,
            description=version.description,
            tags=dict(version.tags),
            aliases=aliases,
            user_id=version.user_id,
            creation_timestamp=version.created,
            last_updated_timestamp=version.updated,
        )

    def model_entity(self, model: _Model) -> RegisteredModel:
        latest: dict[str, _Version] = {}
        for version in model.live_versions():
            held = latest.get(version.stage)
            if held is None or version.version > held.version:
                latest[version.stage] = version
        return RegisteredModel(
            name=model.name,
            description=model.description,
            tags=dict(model.tags),
            aliases=dict(sorted(model.aliases.items())),
            latest_versions=tuple(
                self.version_entity(v) for v in sorted(latest.values(), key=lambda v: v.version)
            ),
            creation_timestamp=model.created,
            last_updated_timestamp=model.updated,
            user_id=model.user_id,
            version_count=len(model.live_versions()),
        )

    def live_models(self) -> list[_Model]:
        return [m for m in self.models.values() if not m.deleted]

    def resolve(self, reference: ModelReference, model_uri: str) -> _Version:
        """The version a ``models:/`` reference designates in this state.

        Raises:
            NotFoundError: The model, version, alias or stage holder does not exist.
        """
        model = self.model(reference.name)
        if reference.version is not None:
            return self.version(reference.name, reference.version)
        if reference.alias is not None:
            if reference.alias not in model.aliases:
                raise NotFoundError(
                    f"{model_uri!r}: model {reference.name!r} has no alias "
                    f"{reference.alias!r}; its aliases are {sorted(model.aliases)}"
                )
            return self.version(reference.name, model.aliases[reference.alias])
        if reference.stage is not None:
            holder = self.holder(reference.name, reference.stage)
            if holder is None:
                raise NotFoundError(
                    f"{model_uri!r}: no version of model {reference.name!r} is in stage "
                    f"{reference.stage}; move one there with set_model_stage"
                )
            return holder
        live = model.live_versions()
        if not live:
            raise NotFoundError(f"{model_uri!r}: model {reference.name!r} has no versions")
        return max(live, key=lambda v: v.version)
