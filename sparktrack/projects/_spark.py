"""The ``spark:`` section of an MLproject (ours, not MLflow's) and the CLI's Spark options.

    spark:
      master: local[2]          # --master
      deploy_mode: client       # --deploy-mode (client or cluster)
      conf:                     # --conf key=value, one per entry
        spark.sql.shuffle.partitions: 4
      packages: [io.delta:delta-spark_2.12:3.3.2]   # --packages a,b
      py_files: [lib.zip]       # --py-files a,b (paths relative to the project)
      archives: [env.tar.gz#env]                     # --archives a,b

An entry point may have a section of its own: its ``conf`` entries are added to the
project's (replacing those of the same key), its other keys replace the project's.
``spark: false`` on an entry point says it is not a Spark job although the project has
a section.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sparktrack.errors import InvalidInputError

__all__ = ["SparkSettings", "parse_spark_section"]

_LISTS = ("packages", "py_files", "archives")
_KEYS = ("master", "deploy_mode", "conf", *_LISTS)
_DEPLOY_MODES = ("client", "cluster")


@dataclass(frozen=True)
class SparkSettings:
    """What ``spark-submit`` is told besides the script: one ``spark:`` section, or several merged.

    Attributes:
        master: ``--master`` (None: spark-submit's default, ``local[*]``).
        deploy_mode: ``--deploy-mode``: "client" or "cluster" (None: client).
        conf: ``--conf key=value`` pairs.
        packages: Maven coordinates for ``--packages``.
        py_files: ``--py-files`` entries.
        archives: ``--archives`` entries.
    """

    master: str | None = None
    deploy_mode: str | None = None
    conf: Mapping[str, str] = field(default_factory=dict)
    packages: tuple[str, ...] = ()
    py_files: tuple[str, ...] = ()
    archives: tuple[str, ...] = ()

    def overridden_by(self, other: SparkSettings) -> SparkSettings:
        """These settings with ``other``'s on top: its conf added, its other values replacing.

        Args:
            other: The more specific settings (an entry point's over the project's).

        Returns:
            The merged settings.
        """
        return SparkSettings(
            master=other.master or self.master,
            deploy_mode=other.deploy_mode or self.deploy_mode,
            conf={**self.conf, **other.conf},
            packages=other.packages or self.packages,
            py_files=other.py_files or self.py_files,
            archives=other.archives or self.archives,
        )

    def is_empty(self) -> bool:
        """Whether nothing is set (no option would be passed to spark-submit).

        Returns:
            True when every field is unset.
        """
        return self == SparkSettings()

    def submit_options(self) -> list[str]:
        """These settings as ``spark-submit`` options, in the order spark-submit documents them.

        Returns:
            The option tokens, e.g. ``["--master", "local[2]", "--conf", "k=v"]``.
        """
        options: list[str] = []
        if self.master:
            options += ["--master", self.master]
        if self.deploy_mode:
            options += ["--deploy-mode", self.deploy_mode]
        for key, value in self.conf.items():
            options += ["--conf", f"{key}={value}"]
        for name in _LISTS:
            values = getattr(self, name)
            if values:
                options += [f"--{name.replace('_', '-')}", ",".join(values)]
        return options


def parse_spark_section(raw: Any, where: str) -> SparkSettings:
    """Read one ``spark:`` mapping, checking every key and value.

    Args:
        raw: The YAML value of the section.
        where: Where it is, for messages (``"MLproject at /p, entry point 'train'"``).

    Returns:
        The settings it holds.

    Raises:
        InvalidInputError: The section is not a mapping, has a key other than master,
            deploy_mode, conf, packages, py_files and archives, or a value of the wrong
            shape; the message names the key.
    """
    if not isinstance(raw, Mapping):
        raise InvalidInputError(
            f"{where}: 'spark' must be a mapping with keys {', '.join(_KEYS)}; got {raw!r}"
        )
    unknown = sorted(str(key) for key in raw if key not in _KEYS)
    if unknown:
        raise InvalidInputError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))} in 'spark'; the keys "
            f"are {', '.join(_KEYS)}"
        )
    master = _text(raw.get("master"), "master", where)
    deploy_mode = _text(raw.get("deploy_mode"), "deploy_mode", where)
    if deploy_mode is not None and deploy_mode not in _DEPLOY_MODES:
        raise InvalidInputError(
            f"{where}: spark.deploy_mode is {deploy_mode!r}; it must be one of {_DEPLOY_MODES}"
        )
    conf_raw = raw.get("conf") or {}
    if not isinstance(conf_raw, Mapping):
        raise InvalidInputError(
            f"{where}: spark.conf must be a mapping of Spark property to value; got {conf_raw!r}"
        )
    conf: dict[str, str] = {}
    for key, value in conf_raw.items():
        if isinstance(value, (Mapping, list)) or value is None:
            raise InvalidInputError(
                f"{where}: spark.conf[{key!r}] must be a single value; got {value!r}"
            )
        # YAML reads `true` and `4` as bool and int; Spark wants its own spellings.
        conf[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    lists = {name: _entries(raw.get(name), name, where) for name in _LISTS}
    return SparkSettings(master, deploy_mode, conf, **lists)


def _text(value: Any, key: str, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (Mapping, list)) or not str(value).strip():
        raise InvalidInputError(f"{where}: spark.{key} must be a non-empty string; got {value!r}")
    return str(value).strip()


def _entries(value: Any, key: str, where: str) -> tuple[str, ...]:
    """A list of strings, or one comma-separated string (as spark-submit takes it)."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise InvalidInputError(
            f"{where}: spark.{key} must be a list of strings (or one comma-separated "
            f"string); got {value!r}"
        )
    return tuple(str(v).strip() for v in value if str(v).strip())
