"""What the registry holds: registered models, their versions, and their history."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ModelVersion", "RegisteredModel", "Stage", "Transition"]


class Stage:
    """The four stages. Staging and Production hold at most one version each."""

    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"

    ALL = (NONE, STAGING, PRODUCTION, ARCHIVED)
    EXCLUSIVE = (STAGING, PRODUCTION)


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    source: str  # where the model folder is: runs:/..., a path or a Hadoop URI
    run_id: str | None
    current_stage: str
    description: str
    tags: dict[str, str]
    aliases: tuple[str, ...]
    user_id: str | None
    creation_timestamp: int  # ms since the epoch
    last_updated_timestamp: int

    @property
    def model_uri(self) -> str:
        """The URI that loads exactly this version."""
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, int]  # alias -> version
    latest_versions: tuple[ModelVersion, ...]  # the newest version in each stage
    creation_timestamp: int
    last_updated_timestamp: int
    user_id: str | None = None
    version_count: int = field(default=0)


@dataclass(frozen=True)
class Transition:
    """One entry of a model's history: a version registered, moved, aliased or deleted.

    ``kind`` is ``registered``, ``stage``, ``alias``, ``alias_removed``, ``deleted`` or
    ``renamed`` (``from_value`` the old name, ``to_value`` the new);
    ``from_value``/``to_value`` are stages for ``stage`` and versions for aliases.
    """

    name: str
    version: int | None
    kind: str
    from_value: str | None
    to_value: str | None
    key: str | None  # the alias, for alias entries
    user_id: str | None
    timestamp: int
