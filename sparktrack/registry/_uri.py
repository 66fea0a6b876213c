"""``models:/`` URIs.

``models:/name/3``, ``models:/name/Production``, ``models:/name/latest`` and
``models:/name@champion``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sparktrack.errors import InvalidInputError
from sparktrack.registry._validation import check_alias, check_model_name, check_stage

__all__ = ["ModelReference", "parse_models_uri"]

_HELP = (
    "write models:/<name>/<version>, models:/<name>/<stage>, models:/<name>/latest "
    "or models:/<name>@<alias>"
)


@dataclass(frozen=True)
class ModelReference:
    """What a models:/ URI names: exactly one of version, stage, alias, or the latest."""

    name: str
    version: int | None = None
    stage: str | None = None
    alias: str | None = None

    @property
    def is_pinned(self) -> bool:
        """A fixed version; stage, alias and latest references can move."""
        return self.version is not None


def parse_models_uri(model_uri: str) -> ModelReference:
    """What a ``models:/`` URI names, without looking it up.

    Args:
        model_uri: ``models:/<name>/<version>``, ``models:/<name>/<stage>``,
            ``models:/<name>/latest`` or ``models:/<name>@<alias>``.

    Returns:
        The model's name and exactly one of version, stage, alias (none: the latest).

    Raises:
        InvalidInputError: The URI cannot be read, or its name, stage or alias is invalid.
    """
    if not isinstance(model_uri, str) or not model_uri.startswith("models:/"):
        raise InvalidInputError(f"{model_uri!r} is not a models:/ URI; {_HELP}")
    rest = model_uri[len("models:/") :].strip("/")
    if "/" in rest:
        name, _, selector = rest.partition("/")
        if not selector or "/" in selector:
            raise InvalidInputError(f"cannot read model URI {model_uri!r}; {_HELP}")
        name = check_model_name(name)
        if selector.isdigit():
            return ModelReference(name, version=int(selector))
        if selector.lower() == "latest":
            return ModelReference(name)
        try:
            return ModelReference(name, stage=check_stage(selector))
        except InvalidInputError as exc:
            raise InvalidInputError(
                f"model URI {model_uri!r} ends in {selector!r}, which is neither a version "
                f"number, a stage nor 'latest'; {_HELP}"
            ) from exc
    if "@" in rest:
        name, _, alias = rest.partition("@")
        name = check_model_name(name)
        return ModelReference(name, alias=check_alias(name, alias))
    raise InvalidInputError(f"model URI {model_uri!r} names no version, stage or alias; {_HELP}")
