"""Shared fixtures: one SparkSession for the whole test session, fresh stores per test.

Also the skip policy: a green run must not hide an untested feature, so any skip whose
reason is not in ``EXPECTED_SKIPS`` fails the run (see ``SkipGuard``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

# Skips a run may take and still pass, as {regular expression matched against the whole
# skip reason: why the skip is legitimate in CI}. Any other skip fails the run: CI has
# Spark, Delta, H2O (Sparkling Water), git and the serving extra, so a skip there means
# a feature went untested. Add an entry only with the reason it is legitimate, here.
EXPECTED_SKIPS: dict[str, str] = {
    # tests/test_skip_guard.py runs a child pytest with this plugin on a test that
    # skips with this reason, to check that an allowed skip passes; no test of the
    # suite itself uses it.
    r"skip-guard self-test: an allowed skip": "the skip guard's own check",
}


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The reason given to pytest.skip/importorskip/skipif, without pytest's prefix."""
    longrepr = report.longrepr
    # A skip's longrepr is (path, line, "Skipped: <reason>").
    message = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return message.removeprefix("Skipped: ")


class SkipGuard:
    """Fails a run that would pass when it skipped a test for a reason not expected."""

    def __init__(self) -> None:
        self.unexpected: list[tuple[str, str]] = []

    def _note(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        # An xfail is reported as skipped too, but it ran: it is not an untested feature.
        if not report.skipped or hasattr(report, "wasxfail"):
            return
        reason = _skip_reason(report)
        if not any(re.fullmatch(pattern, reason) for pattern in EXPECTED_SKIPS):
            self.unexpected.append((report.nodeid, reason))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Skips raised in setup (skipif marks, importorskip in a fixture) or in the test.
        self._note(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        # A whole module skipped while collecting (a module-level importorskip).
        self._note(report)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.unexpected:
            return
        terminalreporter.section("unexpected skips fail the run", sep="=", red=True, bold=True)
        for nodeid, reason in self.unexpected:
            terminalreporter.line(f"{nodeid}: {reason}")
        terminalreporter.line(
            "A skip hides an untested feature: install what the test needs, or add its "
            "reason to EXPECTED_SKIPS in tests/conftest.py with why CI may skip it."
        )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # Only a run that would pass is failed here: failures, and pytest's exit code 5
        # (no tests collected, itself a failure for `make test`), are left as they are.
        if self.unexpected and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(SkipGuard(), "sparktrack-skip-guard")


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
    """One H2OContext for the whole session: H2O cannot restart inside a JVM.

    Sparkling Water is a hard requirement of the suite (the dev extra installs it): when
    it is missing, h2o_context raises ConfigurationError and every H2O test errors.
    """
    from sparktrack.h2o import h2o_context as start

    return start(spark)  # type: ignore[arg-type]


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    return str(tmp_path / "store")
