"""Settings, resolved with one precedence.

explicit argument > ``SPARKTRACK_<NAME>`` environment variable >
Spark conf ``spark.sparktrack.<camelName>`` of the running session > the config file
(``$SPARKTRACK_CONFIG`` or ``./conf/sparktrack.yaml``) > built-in defaults.

The built-in defaults are the ones ``conf/sparktrack.yaml`` documents; a test keeps
the two equal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from sparktrack.errors import ConfigurationError
from sparktrack.session import running_session

__all__ = ["DEFAULTS", "Settings", "load_settings", "spark_conf_name"]

DEFAULTS: dict[str, Any] = {
    "store": "./sparktrack-store",
    "journal_dir": "~/.sparktrack/journal",
    "flush_interval_seconds": 2.0,
    "flush_max_records": 20000,
    "heartbeat_interval_seconds": 30.0,
    "heartbeat_timeout_seconds": 300.0,
    "compact_every_commits": 50,
}


@dataclass(frozen=True)
class Settings:
    store: str
    journal_dir: str
    flush_interval_seconds: float
    flush_max_records: int
    heartbeat_interval_seconds: float
    heartbeat_timeout_seconds: float
    compact_every_commits: int


def spark_conf_name(name: str) -> str:
    """``heartbeat_timeout_seconds`` -> ``spark.sparktrack.heartbeatTimeoutSeconds``."""
    head, *rest = name.split("_")
    return "spark.sparktrack." + head + "".join(p.capitalize() for p in rest)


def _config_file_values() -> dict[str, Any]:
    explicit = os.environ.get("SPARKTRACK_CONFIG")
    path = Path(explicit) if explicit else Path("conf") / "sparktrack.yaml"
    if not path.is_file():
        if explicit:
            raise ConfigurationError(
                f"SPARKTRACK_CONFIG={explicit!r} does not name a readable file; "
                "point it at a YAML file or unset it."
            )
        return {}
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
    return loaded


def _active_spark_conf() -> Any:
    # The running session's, from any thread (a client made on autolog's worker thread
    # reads the same settings as one made on the user's); running_session() never
    # imports pyspark for a plain script nor starts a JVM.
    try:
        session = running_session()
        return session.conf if session is not None else None
    except Exception:
        return None


def _coerce(name: str, raw: Any) -> Any:
    kind = type(DEFAULTS[name])
    try:
        if kind is str:
            return str(raw)
        return kind(float(raw)) if kind is int else kind(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"setting {name!r} has value {raw!r}, which is not a {kind.__name__}"
        ) from exc


def load_settings(**explicit: Any) -> Settings:
    """Resolve every setting; keyword arguments that are not None win."""
    file_values = _config_file_values()
    spark_conf = _active_spark_conf()
    resolved: dict[str, Any] = {}
    for field in fields(Settings):
        name = field.name
        value = explicit.get(name)
        if value is None:
            value = os.environ.get("SPARKTRACK_" + name.upper())
        if value is None and spark_conf is not None:
            try:
                value = spark_conf.get(spark_conf_name(name), None)
            except Exception:
                value = None
        if value is None:
            value = file_values.get(name, DEFAULTS[name])
        resolved[name] = _coerce(name, value)
    return Settings(**resolved)
