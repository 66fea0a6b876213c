"""Parameter values given to an entry point: checked against its declarations, then typed.

Every problem is found before a run is created, and each message names the parameter:
a required one missing, one the entry point does not declare (MLflow would pass it on
as ``--key value``; here a typo must not go unnoticed), a value that is not of its type.

What each type does with a value (MLflow's rules, read from its documentation):

* ``string``: taken as it is.
* ``float``: must be a finite real number; ``int``: a whole number. Kept as written.
* ``path``: a local file or folder that exists; made absolute. Values typed by the user
  are relative to the folder ``sparktrack run`` runs in, defaults to the project's.
  (MLflow also downloads ``s3://`` paths; we do not: declare such a parameter ``uri``.)
* ``uri``: a URI with a scheme (``s3a://``, ``hdfs://``) is kept; anything else is a
  local path, made absolute as for ``path`` (it need not exist: it may be an output).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

from sparktrack.errors import InvalidInputError
from sparktrack.projects._spec import EntryPoint, Parameter

__all__ = ["resolve_parameters"]


def resolve_parameters(
    entry: EntryPoint,
    given: Mapping[str, object],
    *,
    base: Path,
    project_dir: Path,
) -> dict[str, str]:
    """A value for every declared parameter: the given ones checked, defaults for the rest.

    Args:
        entry: The entry point.
        given: The values passed (``-P name=value``); any type, read as text.
        base: The folder relative ``path``/``uri`` values given by the user start from.
        project_dir: The folder relative defaults start from.

    Returns:
        Each parameter's value as the command and the run's params get it.

    Raises:
        InvalidInputError: A parameter is unknown, required and missing, or its value
            (given or default) is not of its type; the message names it.
    """
    unknown = sorted(name for name in given if name not in entry.parameters)
    if unknown:
        declared = ", ".join(entry.parameters) or "none"
        raise InvalidInputError(
            f"entry point {entry.name!r} has no parameter {', '.join(map(repr, unknown))} "
            f"(its parameters: {declared}); check the spelling of -P"
        )
    missing = [
        p.name for p in entry.parameters.values() if p.name not in given and p.default is None
    ]
    if missing:
        raise InvalidInputError(
            f"entry point {entry.name!r} needs a value for parameter(s) "
            f"{', '.join(map(repr, missing))}, which have no default; pass -P "
            + " -P ".join(f"{name}=..." for name in missing)
        )
    values: dict[str, str] = {}
    for name, parameter in entry.parameters.items():
        if name in given:
            values[name] = _typed(parameter, str(given[name]), base, "")
        else:
            assert parameter.default is not None
            values[name] = _typed(parameter, parameter.default, project_dir, " (its default)")
    return values


def _typed(parameter: Parameter, value: str, base: Path, origin: str) -> str:
    kind = parameter.type
    if kind == "float":
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise _wrong(parameter, value, origin, "a finite real number, e.g. 0.1")
        return value.strip()
    if kind == "int":
        try:
            int(value)
        except ValueError:
            raise _wrong(parameter, value, origin, "a whole number, e.g. 10") from None
        return value.strip()
    if kind == "path":
        if _has_scheme(value) and urlparse(value).scheme != "file":
            raise _wrong(
                parameter,
                value,
                origin,
                "a local file or folder (declare the parameter "
                "'uri' for a distributed storage URI)",
            )
        local = _absolute(value, base)
        if not os.path.exists(local):
            raise _wrong(parameter, value, origin, f"an existing file or folder ({local} is not)")
        return local
    if kind == "uri":
        return value if _has_scheme(value) else _absolute(value, base)
    return value


def _has_scheme(value: str) -> bool:
    # One letter is a Windows drive (C:\data), not a scheme.
    return len(urlparse(value).scheme) > 1


def _absolute(value: str, base: Path) -> str:
    path = urlparse(value).path if value.startswith("file:") else value
    return os.path.abspath(os.path.join(base, os.path.expanduser(path)))


def _wrong(parameter: Parameter, value: str, origin: str, expected: str) -> InvalidInputError:
    return InvalidInputError(
        f"parameter {parameter.name!r} (type {parameter.type}) got {value!r}{origin}; "
        f"it must be {expected}"
    )
