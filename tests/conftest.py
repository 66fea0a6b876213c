"""The suite's scaffolding: fixtures every test file shares, and the rules of a run.

* One SparkSession and one H2OContext for the whole run (``spark``, ``h2o_context``).
* One S3-compatible server for the whole run (``s3_server``, tests/_s3_server.py), and
  ``s3_env``: the test's process and children pointed at it, as a user on S3 is.
* Fresh stores per test: ``store_uri`` (a Delta store's folder in tmp_path), ``client``
  (a TrackingClient on each kind of store: in-memory and Delta), ``fluent_store`` and
  ``fluent_client`` (the fluent API on a Delta store of the test's own).
* Between tests the fluent API is reset (``_fluent_state``): autolog off, the process's
  client on a fresh in-memory store. A test that leaves a run active fails.
* Markers say what a test needs: a test using the ``spark`` or ``h2o_context`` fixture
  must be marked ``spark`` (and ``h2o``), one using ``standalone_cluster`` (a Spark
  standalone master and two workers, ``tests/_standalone.py``) ``spark``, ``slow`` and
  ``cluster``, so ``-m "not spark"`` never starts a JVM (``JvmMarkerGuard``).
* The skip policy: a green run must not hide an untested feature, so any skip whose
  reason is not in ``EXPECTED_SKIPS`` fails the run (``SkipGuard``).

Child processes are started through ``tests/_processes.py``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

import sparktrack
from sparktrack import TrackingClient
from sparktrack.autologging import enabled_integrations
from sparktrack.store import MemoryStore
from tests._mlflow_client import MlflowServer, running_server
from tests._s3_server import S3Server
from tests._standalone import StandaloneCluster
from tests._standalone import standalone_cluster as start_standalone_cluster

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


# Fixtures that start a JVM, and the markers a test using them (even indirectly) needs.
JVM_FIXTURE_MARKERS: dict[str, tuple[str, ...]] = {
    "spark": ("spark",),
    "h2o_context": ("spark", "h2o"),
    "standalone_cluster": ("spark", "slow", "cluster"),
}


class JvmMarkerGuard:
    """Refuses a run in which a test starts a JVM through a fixture without its markers.

    ``make test-fast`` selects tests by marker (``not spark and not h2o and not slow``);
    an unmarked test using the ``spark`` fixture would start Spark there.
    """

    @pytest.hookimpl(tryfirst=True)  # before -m deselects by the markers
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        unmarked = []
        for item in items:
            used = getattr(item, "fixturenames", ())
            for fixture, markers in JVM_FIXTURE_MARKERS.items():
                missing = [m for m in markers if fixture in used and not item.get_closest_marker(m)]
                if missing:
                    unmarked.append(f"{item.nodeid}: uses {fixture!r}, not marked {missing}")
        if unmarked:
            raise pytest.UsageError(
                "tests that start a JVM must say so with markers (pytest.mark.spark, "
                "pytest.mark.h2o), or `-m 'not spark'` would start one:\n  " + "\n  ".join(unmarked)
            )


_CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Remembered for _fluent_state: a test that failed already is not failed twice.
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_CALL_FAILED] = True
    return report


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(SkipGuard(), "sparktrack-skip-guard")
    config.pluginmanager.register(JvmMarkerGuard(), "sparktrack-jvm-marker-guard")
    # Off between tests too (see ``_isolated_environment``): the fluent API's store of
    # the next test is opened as a test ends, with the environment of the whole run.
    os.environ["SPARKTRACK_SNAPSHOTS"] = "false"
    # The first test starts where every later one does (``_fluent_state``): on a fresh
    # in-memory store, not the default ./sparktrack-store of the folder pytest runs in.
    sparktrack.set_store("memory://")


# Run by pytest inside MLflow's environment (tests/test_mlflow_rest_ported.py starts it),
# never collected here: they import mlflow, which this environment does not have.
collect_ignore = ["mlflow_client"]


@pytest.fixture(autouse=True)
def _fluent_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test: autolog off, the fluent API on a fresh in-memory store.

    Runs the test left active (started with ``start_run`` and never ended) are ended
    KILLED, and fail the test: a run left RUNNING by one test would be the parent of
    the next test's runs. pytest sets up a file's autouse fixtures in the order of their
    names: this one sorts before ``_isolated_environment``, so it is torn down after
    ``monkeypatch`` restored the environment the new store opens with.
    """
    yield
    leaked = []
    while (active := sparktrack.active_run()) is not None:
        run_id = active.info.run_id
        try:
            status = sparktrack.get_run(run_id).info.status
        except sparktrack.SparktrackError as exc:
            status = f"status unknown: {exc}"
        leaked.append(f"{run_id} ({status}, name {active.info.run_name!r})")
        sparktrack.end_run("KILLED")
    if enabled_integrations():
        sparktrack.autolog(disable=True)
    sparktrack.set_store("memory://")
    if leaked and not request.node.stash.get(_CALL_FAILED, False):
        pytest.fail(
            f"the test left run(s) {', '.join(leaked)} active in the fluent API: end them "
            "(`with sparktrack.start_run():`, or `sparktrack.end_run()`)",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own journal folder and no ambient store settings."""
    monkeypatch.setenv("SPARKTRACK_JOURNAL_DIR", str(tmp_path / "journal"))
    for name in list(os.environ):
        if name.startswith("SPARKTRACK_") and name != "SPARKTRACK_JOURNAL_DIR":
            monkeypatch.delenv(name)
    # The suite runs autolog in test mode: an error inside logging raises instead of warning.
    monkeypatch.setenv("SPARKTRACK_AUTOLOG_TESTING", "true")
    # Source snapshots add a tag to each run a moment after it starts, from another
    # thread: tests that compare a run's tags would depend on when it lands. The tests of
    # snapshots (tests/test_snapshots.py) turn them on, as users have them.
    monkeypatch.setenv("SPARKTRACK_SNAPSHOTS", "false")


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    from sparktrack.session import spark_session

    # One JVM holds the whole run's Spark jobs, their retained UI state and H2O's
    # cloud: Spark's 1 GiB default driver heap fills up and the run spends its time
    # in full garbage collections.
    session = spark_session(
        "sparktrack-tests", "local[2]", extra_conf={"spark.driver.memory": "2g"}
    )
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


@pytest.fixture(scope="session")
def standalone_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneCluster]:
    """A Spark standalone master and two workers on loopback (``tests/_standalone.py``),
    started by the first test that needs it and stopped when the run ends."""
    with start_standalone_cluster(tmp_path_factory.mktemp("standalone-cluster")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One S3- and DynamoDB-compatible server (moto) on loopback for the whole run,
    with a bucket; ``S3Server.env`` is the environment that points clients at it."""
    server = S3Server.start(tmp_path_factory.mktemp("s3-server"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One ``sparktrack server`` process for the whole run, on a store of its own, for
    MLflow's client (``tests/_mlflow_client.py``: ``run_mlflow(mlflow_server, code)``).

    Tests share it: each logs into experiments of its own names. Fails (never skips)
    when MLflow's environment is missing: ``make setup-mlflow``.
    """
    root = tmp_path_factory.mktemp("mlflow-server")
    with running_server(root / "store", stderr_dir=root) as server:
        yield server


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process (and the children it starts) pointed at the server, with
    conditional-put commits chosen: the environment of a user on S3."""
    env = {**s3_server.env, "SPARKTRACK_OBJECT_STORE_COMMITS": "conditional-put"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    """Where the test's Delta store lives (created by whoever opens it first)."""
    return str(tmp_path / "store")


@pytest.fixture(params=["memory", "delta"])
def client(request: pytest.FixtureRequest, store_uri: str) -> Iterator[TrackingClient]:
    """A TrackingClient on a fresh store, once in memory and once on Delta.

    The in-memory store is a ``MemoryStore`` of its own: ``memory://`` is the process's
    shared in-memory store, which the fluent API and other clients may hold.
    """
    tracking = TrackingClient(MemoryStore() if request.param == "memory" else store_uri)
    yield tracking
    tracking.close()


@pytest.fixture
def commit_only_on_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients opened in the test commit when flushed or closed, never on a timer."""
    monkeypatch.setenv("SPARKTRACK_FLUSH_INTERVAL_SECONDS", "3600")
    # Heartbeats land with commits: the timeout must outlast the interval.
    monkeypatch.setenv("SPARKTRACK_HEARTBEAT_TIMEOUT_SECONDS", "7260")


@pytest.fixture
def fluent_store(store_uri: str) -> str:
    """The fluent API logging to the test's own Delta store (``_fluent_state`` resets it)."""
    sparktrack.set_store(store_uri)
    return store_uri


@pytest.fixture
def fluent_client(fluent_store: str) -> TrackingClient:
    """The fluent API's client, on the test's own Delta store."""
    return sparktrack.get_client()


@pytest.fixture
def autolog_client(fluent_client: TrackingClient) -> TrackingClient:
    """``fluent_client`` with autolog on, logging to the experiment ``autolog``
    (``_fluent_state`` turns autolog off after the test)."""
    sparktrack.set_experiment("autolog")
    sparktrack.autolog()
    return fluent_client
