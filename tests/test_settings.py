"""Settings are checked wherever they come from, and errors say where that was."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sparktrack import TrackingClient
from sparktrack.config import DEFAULTS, Settings, load_settings
from sparktrack.errors import ConfigurationError

BAD_VALUES = [
    ("flush_max_records", "0", "a whole number >= 1"),
    ("flush_max_records", "2.5", "a whole number"),
    ("flush_interval_seconds", "-1", "a finite number > 0"),
    ("flush_interval_seconds", "0", "a finite number > 0"),
    ("flush_interval_seconds", "nan", "a finite number > 0"),
    ("heartbeat_interval_seconds", "0", "a finite number > 0"),
    ("heartbeat_timeout_seconds", "-5", "at least 2 x"),
    ("heartbeat_timeout_seconds", "10", "at least 2 x"),  # below the 30 s interval
    ("compact_every_commits", "-1", "a whole number >= 0"),
]


@pytest.fixture
def no_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where ./conf/sparktrack.yaml does not exist, so the defaults apply."""
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("no_config_file")
@pytest.mark.parametrize(("name", "value", "allowed"), BAD_VALUES)
def test_a_bad_environment_variable_is_named(
    name: str, value: str, allowed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    variable = "SPARKTRACK_" + name.upper()
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    message = str(raised.value)
    assert f"setting {name!r}" in message
    assert f"from environment variable {variable}" in message
    assert allowed in message
    with pytest.raises(ConfigurationError, match=variable):
        TrackingClient()  # the client refuses before it opens anything


@pytest.mark.usefixtures("no_config_file")
@pytest.mark.parametrize(("name", "value", "allowed"), BAD_VALUES)
def test_a_bad_config_file_value_is_named(
    name: str, value: str, allowed: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text(f"{name}: {value}\n")
    monkeypatch.setenv("SPARKTRACK_CONFIG", str(config))
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    message = str(raised.value)
    assert f"setting {name!r}" in message
    assert f"from config file {config}" in message
    assert allowed in message


@pytest.mark.parametrize(
    ("changes", "name", "allowed"),
    [
        ({"flush_max_records": 0}, "flush_max_records", "a whole number >= 1"),
        ({"flush_interval_seconds": -1.0}, "flush_interval_seconds", "> 0"),
        ({"heartbeat_timeout_seconds": 29.0}, "heartbeat_timeout_seconds", "at least 2 x"),
        ({"flush_max_records": True}, "flush_max_records", "a number"),
        ({"store": ""}, "store", "a non-empty string"),
    ],
)
def test_a_bad_argument_is_named(changes: dict[str, Any], name: str, allowed: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings(**{**DEFAULTS, **changes})
    assert f"setting {name!r}" in str(raised.value)
    assert "(from argument)" in str(raised.value)
    assert allowed in str(raised.value)
    with pytest.raises(ConfigurationError, match=f"setting {name!r}.*from argument"):
        dataclasses.replace(load_settings(), **changes)


@pytest.mark.usefixtures("no_config_file")
def test_the_heartbeat_rule_names_every_setting_it_involves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPARKTRACK_HEARTBEAT_TIMEOUT_SECONDS", "13")
    monkeypatch.setenv("SPARKTRACK_HEARTBEAT_INTERVAL_SECONDS", "5")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    message = str(raised.value)
    assert "= 14 seconds" in message  # 2 x (5 + 2)
    assert "heartbeat_interval_seconds = 5 (from environment variable" in message
    assert "flush_interval_seconds = 2 (from default)" in message
    monkeypatch.setenv("SPARKTRACK_FLUSH_INTERVAL_SECONDS", "1")
    assert load_settings().heartbeat_timeout_seconds == 13.0  # 2 x (5 + 1) = 12 <= 13


@pytest.mark.usefixtures("no_config_file")
def test_values_are_converted_and_remember_their_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARKTRACK_FLUSH_MAX_RECORDS", " 500 ")
    settings = load_settings(store="/explicit")
    assert settings.flush_max_records == 500
    assert settings.source_of("flush_max_records") == (
        "environment variable SPARKTRACK_FLUSH_MAX_RECORDS"
    )
    assert settings.source_of("store") == "argument"
    assert settings.source_of("compact_every_commits") == "default"
    # Where a value came from is no part of what the settings are.
    by_hand = {**DEFAULTS, "store": "/explicit", "flush_max_records": 500}
    # The suite sets these two for every test (tests/conftest.py).
    from_suite = {"journal_dir": settings.journal_dir, "snapshots": settings.snapshots}
    assert settings == Settings(**{**by_hand, **from_suite})


@pytest.fixture
def spark_conf(spark: Any) -> Iterator[Any]:
    names: list[str] = []

    def set_conf(name: str, value: str) -> None:
        names.append(name)
        spark.conf.set(name, value)

    yield set_conf
    for name in names:
        spark.conf.unset(name)


@pytest.mark.spark
@pytest.mark.usefixtures("no_config_file")
def test_a_bad_spark_conf_is_named(spark_conf: Any) -> None:
    spark_conf("spark.sparktrack.flushMaxRecords", "0")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    message = str(raised.value)
    assert "setting 'flush_max_records' is 0" in message
    assert "from Spark conf spark.sparktrack.flushMaxRecords" in message
    spark_conf("spark.sparktrack.flushMaxRecords", "7")
    assert load_settings().flush_max_records == 7
