"""Settings, resolved with one precedence and checked in one place.

explicit argument > ``SPARKTRACK_<NAME>`` environment variable >
Spark conf ``spark.sparktrack.<camelName>`` of the running session > the config file
(``$SPARKTRACK_CONFIG`` or ``./conf/sparktrack.yaml``) > built-in defaults.

The built-in defaults are the ones ``conf/sparktrack.yaml`` documents; a test keeps
the two equal. ``Settings`` converts and checks its own values when it is built (as
httpx's ``Timeout`` does), so a setting from any source, or built by hand, meets the
same rules; a rejected value raises ConfigurationError naming the setting, the value,
where it came from and what is allowed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from sparktrack.errors import ConfigurationError
from sparktrack.session import running_session

__all__ = [
    "DEFAULTS",
    "HEARTBEAT_MARGIN",
    "OBJECT_STORE_COMMITS",
    "OBJECT_STORE_COMMITS_UNSET",
    "Settings",
    "load_settings",
    "spark_conf_name",
]

OBJECT_STORE_COMMITS = ("conditional-put", "single-writer")
"""How commits to a store on S3 are kept safe when several writers share a table:
S3 conditional writes (put-if-absent of each commit file), or nothing (one writing
process at a time). See ``object_store_commits``."""
OBJECT_STORE_COMMITS_UNSET = "unset"
"""The default of ``object_store_commits``: no choice made, so an S3 store refuses to
open (S3 has no safe default that every S3-compatible server supports)."""

DEFAULTS: dict[str, Any] = {
    "store": "./sparktrack-store",
    "journal_dir": "~/.sparktrack/journal",
    "flush_interval_seconds": 2.0,
    "flush_max_records": 20000,
    "heartbeat_interval_seconds": 30.0,
    "heartbeat_timeout_seconds": 300.0,
    "compact_every_commits": 50,
    "snapshots": True,
    "spark_cost": True,
    "system_metrics": False,
    "system_metrics_interval_seconds": 10.0,
    "profiles": True,
    "monitoring_experiment": "monitoring",
    "object_store_commits": OBJECT_STORE_COMMITS_UNSET,
}
"""The built-in default of every setting, by name; each value's type is the setting's."""

# A beat becomes visible to other processes up to one flush interval after it is
# written, and the next beat comes one heartbeat interval later. A timeout of at least
# this many such gaps lets a live run miss one beat without being judged dead.
HEARTBEAT_MARGIN = 2
"""``heartbeat_timeout_seconds`` must be at least this many times the interval plus the
flush interval."""

# What each numeric setting allows: (lowest value, whether the lowest is allowed).
# heartbeat_timeout_seconds has its own rule, relative to two others (see HEARTBEAT_MARGIN).
_LOWEST: dict[str, tuple[float, bool]] = {
    "flush_interval_seconds": (0.0, False),
    "flush_max_records": (1, True),
    "heartbeat_interval_seconds": (0.0, False),
    "compact_every_commits": (0, True),
    "system_metrics_interval_seconds": (0.0, False),
}

_ARGUMENT = "argument"


@dataclass(frozen=True)
class Settings:
    """Every setting, converted and checked on construction.

    Build it with ``load_settings``, which applies the precedence; built by hand (or
    with ``dataclasses.replace``) it checks its values the same way. Strings are
    converted as they would be from an environment variable.

    Attributes:
        store: Folder or ``hdfs://``, ``s3a://``, ``s3://``, ``abfss://``, ``gs://`` URI
            of the store; ``memory://`` for a throwaway in-memory store.
        journal_dir: Local folder of the write-ahead journal.
        flush_interval_seconds: The writer commits at the latest this often (> 0).
        flush_max_records: ... or as soon as this many records wait (>= 1).
        heartbeat_interval_seconds: How often a running run says it is alive (> 0).
        heartbeat_timeout_seconds: Silence after which a RUNNING run is reported and
            stored KILLED; at least ``HEARTBEAT_MARGIN`` x (heartbeat interval + flush
            interval), so a live run may miss one beat.
        compact_every_commits: A writer compacts a table after this many of its commits
            (0: never).
        snapshots: Every new run stores a snapshot of its source (see "Source snapshots" in
            docs/reproducibility.md); False turns them off for every run.
        spark_cost: Log what each run cost on the cluster as ``spark.*`` metrics.
        system_metrics: Sample the driver host's CPU and memory while a fluent run is
            active (``system/*`` metrics, as MLflow's; needs psutil).
        system_metrics_interval_seconds: How often (> 0).
        profiles: Profile a model's training data into ``profile.json`` when it is
            logged with it (autolog, ``log_model(training_data=...)``).
        monitoring_experiment: The experiment ``sparktrack.monitor`` logs its runs to.
        object_store_commits: How several writers commit safely to a store on S3
            (``s3a://``, ``s3://``): ``conditional-put`` or ``single-writer`` (see
            ``OBJECT_STORE_COMMITS``); ``unset`` makes an S3 store refuse to open.
            Other stores ignore it.
        sources: Where each value came from (filled by ``load_settings``). It only
            shapes error messages and takes no part in equality; a value that differs
            from the one recorded there counts as an argument.

    Raises:
        ConfigurationError: A value is of the wrong type or out of range; the message
            names the setting, the value, where it came from and what is allowed.
    """

    store: str
    journal_dir: str
    flush_interval_seconds: float
    flush_max_records: int
    heartbeat_interval_seconds: float
    heartbeat_timeout_seconds: float
    compact_every_commits: int
    snapshots: bool
    spark_cost: bool
    system_metrics: bool
    system_metrics_interval_seconds: float
    profiles: bool = True
    monitoring_experiment: str = "monitoring"
    object_store_commits: str = OBJECT_STORE_COMMITS_UNSET
    sources: Mapping[str, tuple[str, Any]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in _SETTING_NAMES:
            raw = getattr(self, name)
            value = _converted(name, raw, self.source_of(name, raw))
            object.__setattr__(self, name, value)
        for name, (lowest, inclusive) in _LOWEST.items():
            value = getattr(self, name)
            if not math.isfinite(value) or value < lowest or (value == lowest and not inclusive):
                number = "a whole number" if isinstance(value, int) else "a finite number"
                self._reject(name, f"{number} {'>=' if inclusive else '>'} {lowest:g}")
        choices = ", ".join((*OBJECT_STORE_COMMITS, OBJECT_STORE_COMMITS_UNSET))
        if self.object_store_commits == "dynamodb":
            # delta-rs 1.x dropped its DynamoDB log store (delta-io/delta-rs#4464): it
            # logs an error and commits with conditional writes, without the table.
            self._reject(
                "object_store_commits",
                f"one of {choices}: the deltalake package (delta-rs) no longer commits "
                "through a DynamoDB table; choose conditional-put (AWS S3 and most "
                "S3-compatible servers support conditional writes)",
            )
        if self.object_store_commits not in (*OBJECT_STORE_COMMITS, OBJECT_STORE_COMMITS_UNSET):
            self._reject("object_store_commits", f"one of {choices}")
        gap = self.heartbeat_interval_seconds + self.flush_interval_seconds
        timeout = self.heartbeat_timeout_seconds
        if not math.isfinite(timeout) or timeout < HEARTBEAT_MARGIN * gap:
            self._reject(
                "heartbeat_timeout_seconds",
                f"at least {HEARTBEAT_MARGIN} x (heartbeat_interval_seconds + "
                f"flush_interval_seconds) = {HEARTBEAT_MARGIN * gap:g} seconds, with "
                f"heartbeat_interval_seconds = {self.heartbeat_interval_seconds:g} (from "
                f"{self.source_of('heartbeat_interval_seconds')}) and flush_interval_seconds = "
                f"{self.flush_interval_seconds:g} (from "
                f"{self.source_of('flush_interval_seconds')}); a shorter timeout makes other "
                "processes store this process's live runs as KILLED",
            )

    def source_of(self, name: str, value: Any = None) -> str:
        """Tell where a setting's value came from.

        Args:
            name: The setting, e.g. ``"store"``.
            value: The value to account for (None: the setting's current value); a
                value other than the one recorded in ``sources`` is an argument's.

        Returns:
            ``"argument"``, ``"environment variable SPARKTRACK_<NAME>"``,
            ``"Spark conf spark.sparktrack.<camelName>"``, ``"config file <path>"`` or
            ``"default"``.
        """
        recorded = self.sources.get(name)
        current = getattr(self, name) if value is None else value
        if recorded is None or (recorded[1] is not current and recorded[1] != current):
            return _ARGUMENT
        return str(recorded[0])

    def _reject(self, name: str, allowed: str) -> None:
        raise ConfigurationError(
            f"setting {name!r} is {getattr(self, name)!r} (from {self.source_of(name)}); "
            f"it must be {allowed}"
        )


_SETTING_NAMES = tuple(f.name for f in fields(Settings) if f.name != "sources")


def _converted(name: str, raw: Any, source: str) -> Any:
    """``raw`` as the setting's type; strings (environment, Spark conf) are parsed."""
    kind = type(DEFAULTS[name])

    def reject(what: str) -> ConfigurationError:
        return ConfigurationError(f"setting {name!r} is {raw!r} (from {source}); it must be {what}")

    if kind is bool:
        return _boolean(raw, reject)
    if kind is str:
        if not isinstance(raw, str | os.PathLike) or not str(raw).strip():
            raise reject("a non-empty string")
        return str(raw)
    if isinstance(raw, bool) or raw is None:
        raise reject(f"a number ({kind.__name__})")
    try:
        number = float(raw.strip()) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError):
        raise reject(f"a number ({kind.__name__})") from None
    if kind is int:
        if not number.is_integer():
            raise reject("a whole number")
        return int(number)
    return number


_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def _boolean(raw: Any, reject: Callable[[str], ConfigurationError]) -> bool:
    if isinstance(raw, bool):
        return raw
    text = raw.strip().lower() if isinstance(raw, str) else None
    if text not in _TRUE + _FALSE:
        raise reject(f"true or false (or one of {', '.join(_TRUE + _FALSE)})")
    return text in _TRUE


def spark_conf_name(name: str) -> str:
    """Name the Spark conf that sets a setting.

    Args:
        name: The setting, e.g. ``"heartbeat_timeout_seconds"``.

    Returns:
        Its Spark conf, e.g. ``"spark.sparktrack.heartbeatTimeoutSeconds"``.
    """
    head, *rest = name.split("_")
    return "spark.sparktrack." + head + "".join(p.capitalize() for p in rest)


def _config_file_values() -> tuple[str, dict[str, Any]]:
    """The config file's path and its settings (none if there is no file)."""
    explicit = os.environ.get("SPARKTRACK_CONFIG")
    path = Path(explicit) if explicit else Path("conf") / "sparktrack.yaml"
    if not path.is_file():
        if explicit:
            raise ConfigurationError(
                f"SPARKTRACK_CONFIG={explicit!r} does not name a readable file; "
                "point it at a YAML file or unset it."
            )
        return str(path), {}
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"config file {str(path)!r} is not valid YAML: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ConfigurationError(f"config file {str(path)!r} must hold a mapping of settings")
    unknown = set(loaded) - set(DEFAULTS)
    if unknown:
        raise ConfigurationError(
            f"config file {str(path)!r} has unknown settings {sorted(unknown)}; "
            f"known settings are {sorted(DEFAULTS)}"
        )
    return str(path), loaded


def _active_spark_conf() -> Any:
    # The running session's, from any thread (a client made on autolog's worker thread
    # reads the same settings as one made on the user's); running_session() never
    # imports pyspark for a plain script nor starts a JVM.
    try:
        session = running_session()
        return session.conf if session is not None else None
    except Exception:
        return None


def _spark_conf_value(spark_conf: Any, name: str) -> Any:
    try:
        return spark_conf.get(spark_conf_name(name), None)
    except Exception:  # a stopped session's conf cannot be read: as if unset
        return None


def load_settings(**explicit: Any) -> Settings:
    """Resolve every setting with the one precedence.

    Explicit argument > ``SPARKTRACK_<NAME>`` environment variable > Spark conf
    ``spark.sparktrack.<camelName>`` of the running session > the config file
    (``$SPARKTRACK_CONFIG`` or ``./conf/sparktrack.yaml``) > ``DEFAULTS``.

    Args:
        **explicit: Settings given as arguments, by name; None means not given.

    Returns:
        The settings, each with the source it came from.

    Raises:
        ConfigurationError: A value is of the wrong type or out of range, or the config
            file is missing (when ``SPARKTRACK_CONFIG`` names it), not valid YAML, or
            has unknown settings.
    """
    file_path, file_values = _config_file_values()
    spark_conf = _active_spark_conf()
    values: dict[str, Any] = {}
    sources: dict[str, tuple[str, Any]] = {}
    for name in _SETTING_NAMES:
        env_name = "SPARKTRACK_" + name.upper()
        # Highest precedence first; the first source that sets the value wins.
        candidates = [
            (_ARGUMENT, explicit.get(name)),
            (f"environment variable {env_name}", os.environ.get(env_name)),
            (
                f"Spark conf {spark_conf_name(name)}",
                None if spark_conf is None else _spark_conf_value(spark_conf, name),
            ),
            (f"config file {file_path}", file_values.get(name)),
            ("default", DEFAULTS[name]),
        ]
        source, raw = next((s, v) for s, v in candidates if v is not None)
        values[name] = _converted(name, raw, source)
        sources[name] = (source, values[name])
    return Settings(**values, sources=sources)
