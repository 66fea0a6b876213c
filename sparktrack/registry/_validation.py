"""Checks on names, versions, stages and aliases; each rejection names the value."""

from __future__ import annotations

import re
from typing import Any

from sparktrack.errors import InvalidInputError
from sparktrack.registry._entities import Stage
from sparktrack.tracking import MAX_TAG_VALUE, check_key

__all__ = [
    "check_alias",
    "check_description",
    "check_model_name",
    "check_stage",
    "check_tag",
    "check_version",
]

MAX_NAME = 256
MAX_DESCRIPTION = 65_536
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,255}$")
_VERSION_LIKE = re.compile(r"^v\d+$", re.IGNORECASE)
_STAGES = {stage.lower(): stage for stage in Stage.ALL}
# Characters that would make models:/<name>/<version> and models:/<name>@<alias> ambiguous.
_NAME_FORBIDDEN = re.compile(r"[/@\x00-\x1f]")


def check_model_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"registered model name must be a non-empty string, got {name!r}")
    if name != name.strip():
        raise InvalidInputError(
            f"registered model name {name!r} starts or ends with spaces; remove them"
        )
    if len(name) > MAX_NAME:
        raise InvalidInputError(
            f"registered model name {name[:40]!r}... is {len(name)} characters; "
            f"the limit is {MAX_NAME}"
        )
    if _NAME_FORBIDDEN.search(name):
        raise InvalidInputError(
            f"registered model name {name!r} contains '/', '@' or a control character; "
            "those separate the name from the version in models:/ URIs"
        )
    return name


def check_version(name: str, version: Any) -> int:
    text = str(version).strip() if isinstance(version, int | str) else None
    if isinstance(version, bool) or text is None or not text.isdigit() or int(text) < 1:
        raise InvalidInputError(
            f"version {version!r} of model {name!r} is not a version number; "
            "versions are integers from 1"
        )
    return int(text)


def check_stage(stage: Any) -> str:
    """Validate a stage name; exported for the CLI, not part of the user-facing API.

    Args:
        stage: A stage name in any case, e.g. ``"production"``.

    Returns:
        The canonical spelling (``"Production"``).

    Raises:
        InvalidInputError: ``stage`` is not one of the registry's stages.
    """
    canonical = _STAGES.get(str(stage).strip().lower()) if isinstance(stage, str) else None
    if canonical is None:
        raise InvalidInputError(f"stage {stage!r} is not a stage; use one of {list(Stage.ALL)}")
    return canonical


def check_alias(name: str, alias: Any) -> str:
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias):
        raise InvalidInputError(
            f"alias {alias!r} of model {name!r} is not valid: use letters, digits, '_' "
            "and '-', starting with a letter or '_' (at most 256 characters)"
        )
    if alias.lower() == "latest" or _VERSION_LIKE.fullmatch(alias):
        raise InvalidInputError(
            f"alias {alias!r} of model {name!r} is reserved: 'latest' and 'v<number>' "
            "already mean something in models:/ URIs"
        )
    return alias


def check_description(description: Any) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise InvalidInputError(
            f"description must be a string, got {type(description).__name__} {description!r}"
        )
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInputError(
            f"description is {len(description)} characters; the limit is {MAX_DESCRIPTION}"
        )
    return description


def check_tag(owner: str, key: Any, value: Any) -> tuple[str, str]:
    checked = check_key("tag", key, None)
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TAG_VALUE:
        raise InvalidInputError(
            f"tag {checked!r} of {owner} has a value of {len(text)} characters; "
            f"the limit is {MAX_TAG_VALUE}"
        )
    return checked, text
