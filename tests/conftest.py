"""Shared fixtures: one SparkSession for the whole test session, fresh stores per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own journal folder and no ambient store settings."""
    monkeypatch.setenv("SPARKTRACK_JOURNAL_DIR", str(tmp_path / "journal"))
    for name in list(os.environ):
        if name.startswith("SPARKTRACK_") and name != "SPARKTRACK_JOURNAL_DIR":
            monkeypatch.delenv(name)
    # The suite runs autolog in test mode: an error inside logging raises instead of warning.
    monkeypatch.setenv("SPARKTRACK_AUTOLOG_TESTING", "true")


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    from sparktrack.session import spark_session

    session = spark_session("sparktrack-tests", "local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def h2o_context(spark: object) -> object:
    """One H2OContext for the whole session: H2O cannot restart inside a JVM."""
    pytest.importorskip("pysparkling")
    from sparktrack.h2o import h2o_context as start

    return start(spark)  # type: ignore[arg-type]


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    return str(tmp_path / "store")
