"""The ``MLproject`` file, read as MLflow reads it, plus our ``spark:`` section.

    name: churn
    python_env: python_env.yaml        # or conda_env: / docker_env: (recorded, not built)
    spark: {master: local[2]}          # ours: see _spark
    entry_points:
      main:
        parameters:
          reg_param: {type: float, default: 0.1}
          data: path                   # just a type: the parameter is required
        command: "python train.py --reg-param {reg_param} --data {data}"
        spark: {conf: {spark.sql.shuffle.partitions: 4}}

As in MLflow: the file is found whatever the case of its name; a parameter is
``name: type`` or ``name: {type: ..., default: ...}``, of type string (the default),
float, path or uri (we add int); a parameter without a default is required; ``.py`` and
``.sh`` files of the project run as entry points of their own (``-e src/job.py``), also
without an MLproject file; at most one environment field. Stricter than MLflow, an
MLproject is checked when it is read: unknown types and commands naming undeclared
parameters are errors, not surprises at run time. Keys we do not know are ignored, as
MLflow ignores them (``version``, ``description``), with a warning that names them.
"""

from __future__ import annotations

import logging
import shlex
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.projects._spark import SparkSettings, parse_spark_section

__all__ = ["PARAMETER_TYPES", "EntryPoint", "Parameter", "Project", "load_project"]

PARAMETER_TYPES = ("string", "float", "int", "path", "uri")
"""The parameter types an MLproject may declare: MLflow's four, and ``int``."""

_log = logging.getLogger("sparktrack")
_FILE_NAME = "mlproject"
_ENV_FIELDS = ("python_env", "conda_env", "docker_env")
_TOP_KEYS = ("name", "entry_points", "spark", *_ENV_FIELDS)
_ENTRY_KEYS = ("parameters", "command", "spark")
# Scripts that run as entry points without being declared, and what runs them (MLflow's).
_SCRIPT_RUNNERS = {".py": "python", ".sh": "bash"}


@dataclass(frozen=True)
class Parameter:
    """One declared parameter of an entry point.

    Attributes:
        name: Its name, as the command's ``{name}`` placeholder.
        type: One of ``PARAMETER_TYPES``.
        default: Its default as text, or None when the parameter is required.
    """

    name: str
    type: str = "string"
    default: str | None = None


@dataclass(frozen=True)
class EntryPoint:
    """A command of the project and the parameters it takes.

    Attributes:
        name: The entry point's name (``main`` by default), or a script's path.
        command: The command, a Python format string over the parameters.
        parameters: The declared parameters, by name.
        spark: Its own ``spark:`` section (None: the project's applies; ``spark: false``
            gives an empty one and ``spark_disabled``).
        spark_disabled: ``spark: false``: not a Spark job, whatever the project says.
    """

    name: str
    command: str
    parameters: Mapping[str, Parameter] = field(default_factory=dict)
    spark: SparkSettings | None = None
    spark_disabled: bool = False

    def render(self, values: Mapping[str, str]) -> str:
        """The command with each ``{name}`` replaced by its value, shell-quoted.

        Args:
            values: A value for every declared parameter (see ``resolve_parameters``).

        Returns:
            The command line, safe to hand to a shell: values are quoted with
            ``shlex.quote`` (as MLflow does), so spaces and ``;`` stay inside them.
        """
        return self.command.format_map({k: shlex.quote(str(v)) for k, v in values.items()})


@dataclass(frozen=True)
class Project:
    """An MLproject file read and checked (or a folder without one: scripts only).

    Attributes:
        directory: The project's folder.
        name: Its ``name``, if any.
        entry_points: The declared entry points, by name.
        env_type: ``python_env``, ``conda_env`` or ``docker_env`` when one is given;
            recorded on the run, never built.
        env_spec: That field's value (a file of the project, or a Docker image).
        spark: The project's ``spark:`` section, if any.
    """

    directory: Path
    name: str | None = None
    entry_points: Mapping[str, EntryPoint] = field(default_factory=dict)
    env_type: str | None = None
    env_spec: str | None = None
    spark: SparkSettings | None = None

    def entry_point(self, name: str) -> EntryPoint:
        """The entry point called ``name``: a declared one, else a ``.py``/``.sh`` file.

        Args:
            name: An entry point of the MLproject, or the path of a script in the
                project (``src/job.py``), which runs as ``python``/``bash`` with it.

        Returns:
            The entry point.

        Raises:
            NotFoundError: Neither an entry point nor a script of the project.
        """
        if name in self.entry_points:
            return self.entry_points[name]
        script = (self.directory / name).resolve()
        runner = _SCRIPT_RUNNERS.get(script.suffix)
        if runner and script.is_file() and script.is_relative_to(self.directory.resolve()):
            return EntryPoint(name, f"{runner} {shlex.quote(name)}")
        declared = ", ".join(map(repr, self.entry_points)) or "none (no MLproject file)"
        raise NotFoundError(
            f"project {str(self.directory)!r} has no entry point {name!r} (entry points: "
            f"{declared}), and {name!r} is not a .py or .sh file of the project; pass one "
            "of them with -e"
        )


def load_project(directory: str | Path) -> Project:
    """Read the project in ``directory``: its MLproject file, if it has one.

    Args:
        directory: The project's folder.

    Returns:
        The project, checked.

    Raises:
        NotFoundError: ``directory`` is not a folder.
        InvalidInputError: The MLproject is not valid YAML, or breaks a rule of the
            format (the message names the key, entry point or parameter).
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise NotFoundError(f"project folder {str(folder)!r} does not exist")
    found = [p for p in folder.iterdir() if p.name.lower() == _FILE_NAME and p.is_file()]
    if not found:
        return Project(folder)
    where = f"MLproject at {str(found[0])!r}"
    try:
        raw = yaml.safe_load(found[0].read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{where} is not valid YAML: {exc}") from None
    if not isinstance(raw, Mapping):
        raise InvalidInputError(f"{where} must be a YAML mapping; got {type(raw).__name__}")
    _check_keys(raw, _TOP_KEYS, where)
    envs = [name for name in _ENV_FIELDS if raw.get(name)]
    if len(envs) > 1:
        raise InvalidInputError(f"{where} names more than one environment: {envs}; keep one")
    env_spec = raw[envs[0]] if envs else None
    if isinstance(env_spec, Mapping):  # docker_env: {image: ...}
        env_spec = env_spec.get("image")
    entries = raw.get("entry_points") or {}
    if not isinstance(entries, Mapping):
        raise InvalidInputError(f"{where}: entry_points must be a mapping of name to entry point")
    spark = raw.get("spark")
    return Project(
        directory=folder,
        name=str(raw["name"]) if raw.get("name") is not None else None,
        entry_points={str(k): _entry_point(str(k), v, where) for k, v in entries.items()},
        env_type=envs[0] if envs else None,
        env_spec=str(env_spec) if env_spec is not None else None,
        spark=parse_spark_section(spark, where) if spark is not None else None,
    )


def _entry_point(name: str, raw: Any, where: str) -> EntryPoint:
    where = f"{where}, entry point {name!r}"
    if not isinstance(raw, Mapping):
        raise InvalidInputError(f"{where} must be a mapping with a 'command'")
    _check_keys(raw, _ENTRY_KEYS, where)
    command = raw.get("command")
    if not isinstance(command, str) or not command.strip():
        raise InvalidInputError(f"{where} has no 'command' (a non-empty string)")
    params_raw = raw.get("parameters") or {}
    if not isinstance(params_raw, Mapping):
        raise InvalidInputError(f"{where}: parameters must be a mapping of name to type")
    parameters = {str(k): _parameter(str(k), v, where) for k, v in params_raw.items()}
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(command) if f is not None}
    except ValueError as exc:
        raise InvalidInputError(
            f"{where}: command {command!r} is not a format string: {exc}"
        ) from None
    undeclared = sorted(f for f in fields if f not in parameters)
    if undeclared:
        raise InvalidInputError(
            f"{where}: command {command!r} uses {', '.join('{' + f + '}' for f in undeclared)}, "
            "which is not a declared parameter; declare it under 'parameters' (write {{ and }} "
            "for literal braces)"
        )
    spark = raw.get("spark")
    disabled = spark is False
    settings = None if spark is None or disabled else parse_spark_section(spark, where)
    return EntryPoint(name, command, parameters, settings, disabled)


def _parameter(name: str, raw: Any, where: str) -> Parameter:
    if isinstance(raw, Mapping):
        _check_keys(raw, ("type", "default"), f"{where}, parameter {name!r}")
        kind, default = raw.get("type", "string"), raw.get("default")
    else:
        kind, default = raw, None
    if kind not in PARAMETER_TYPES:
        raise InvalidInputError(
            f"{where}: parameter {name!r} has type {kind!r}; the types are "
            f"{', '.join(PARAMETER_TYPES)}"
        )
    if isinstance(default, (Mapping, list)):
        raise InvalidInputError(
            f"{where}: parameter {name!r} has default {default!r}; a default is one value"
        )
    return Parameter(name, str(kind), None if default is None else str(default))


def _check_keys(raw: Mapping[Any, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(str(key) for key in raw if key not in allowed)
    if unknown:
        _log.warning(
            "%s: ignoring unknown key(s) %s (the keys read are %s)",
            where,
            ", ".join(map(repr, unknown)),
            ", ".join(allowed),
        )
