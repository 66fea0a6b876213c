"""The rules tests/conftest.py sets for a run.

The skip policy: a run that skips a test for a reason it does not expect fails, an
expected skip passes, and a run that collects nothing fails too. Between tests, the
fluent API starts over, and a test that left a run active fails. A test using a JVM
fixture without its marker stops the run before anything starts.

Each case runs pytest in a child process on a tiny test file outside the suite, with the
suite's conftest loaded as a plugin, and looks at the child's exit status.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._processes import ROOT, Finished, python, run_child

ALLOWED_REASON = "skip-guard self-test: an allowed skip"


def _pytest(tmp_path: Path, source: str | None, **more: str) -> Finished:
    """Run pytest on test_tiny.py holding ``source`` (none when None) and on test files
    named by the keywords of ``more``."""
    folder = tmp_path / "suite"
    folder.mkdir(parents=True)
    if source is not None:
        (folder / "test_tiny.py").write_text(source)
    for name, text in more.items():
        (folder / f"{name}.py").write_text(text)
    return run_child(
        python(
            "-m",
            "pytest",
            # The suite's conftest, as CI loads it (the repo is on sys.path: cwd, -m).
            "-p",
            "tests.conftest",
            "-p",
            "no:cacheprovider",
            # The suite's settings (addopts -rfEs), not the temporary folder's.
            "-c",
            str(ROOT / "pyproject.toml"),
            "--rootdir",
            str(folder),
            str(folder),
        ),
        cwd=ROOT,
        timeout=300,
        expect=None,
    )


def _explain(result: Finished) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def test_a_skip_not_listed_fails_the_run_and_is_reported(tmp_path: Path) -> None:
    result = _pytest(
        tmp_path,
        "import pytest\n"
        "def test_runs():\n    pass\n"
        "def test_skips():\n    pytest.skip('nobody installed the thing')\n",
    )
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, _explain(result)
    assert "unexpected skips fail the run" in result.stdout, _explain(result)
    assert "test_tiny.py::test_skips: nobody installed the thing" in result.stdout
    # -rs: the short summary lists the skip with its reason.
    assert "SKIPPED [1]" in result.stdout, _explain(result)


def test_an_importorskip_in_a_fixture_fails_the_run(tmp_path: Path) -> None:
    # What the H2O fixture used to do: a missing package skipped every H2O test, green.
    result = _pytest(
        tmp_path,
        "import pytest\n"
        "@pytest.fixture\n"
        "def thing():\n    return pytest.importorskip('no_such_package_for_the_guard')\n"
        "def test_needs_it(thing):\n    pass\n",
    )
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, _explain(result)
    assert "no_such_package_for_the_guard" in result.stdout, _explain(result)


def test_a_module_skipped_while_collecting_fails_the_run(tmp_path: Path) -> None:
    result = _pytest(
        tmp_path,
        "import pytest\n"
        "pytest.importorskip('no_such_package_for_the_guard')\n"
        "def test_never_collected():\n    pass\n",
        test_other="def test_runs():\n    pass\n",
    )
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, _explain(result)
    assert "unexpected skips fail the run" in result.stdout, _explain(result)


def test_an_expected_skip_passes_and_is_still_reported(tmp_path: Path) -> None:
    result = _pytest(
        tmp_path,
        "import pytest\n"
        "def test_runs():\n    pass\n"
        f"def test_skips():\n    pytest.skip({ALLOWED_REASON!r})\n",
    )
    assert result.returncode == pytest.ExitCode.OK, _explain(result)
    assert "unexpected skips" not in result.stdout, _explain(result)
    assert f"test_tiny.py:5: {ALLOWED_REASON}" in result.stdout, _explain(result)


def test_a_failure_keeps_its_exit_status_and_an_xfail_is_not_a_skip(tmp_path: Path) -> None:
    result = _pytest(
        tmp_path,
        "import pytest\n"
        "@pytest.mark.xfail(reason='known', strict=True)\n"
        "def test_known():\n    assert False\n",
    )
    assert result.returncode == pytest.ExitCode.OK, _explain(result)
    failing = _pytest(tmp_path / "failing", "def test_fails():\n    assert False\n")
    assert failing.returncode == pytest.ExitCode.TESTS_FAILED, _explain(failing)


def test_a_run_that_collects_nothing_exits_non_zero(tmp_path: Path) -> None:
    # pytest's 5: `make test` and .ci/run stop on it like on any non-zero status.
    result = _pytest(tmp_path, None)
    assert result.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, _explain(result)


# -- the fluent API between tests -------------------------------------------------------------
def test_a_run_left_active_fails_its_test_and_not_the_next_one(tmp_path: Path) -> None:
    result = _pytest(
        tmp_path,
        "import sparktrack\n"
        "def test_leaks():\n    sparktrack.start_run(run_name='forgotten')\n"
        "def test_after():\n"
        "    assert sparktrack.active_run() is None\n"
        "    assert sparktrack.get_client().store.uri == 'memory://'\n"
        "    with sparktrack.start_run() as run:\n        pass\n"
        "    assert run.info.parent_run_id is None\n",
    )
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, _explain(result)
    # pytest counts the test's call as passed, then its teardown as an error.
    assert "2 passed, 1 error" in result.stdout, _explain(result)
    assert "ERROR at teardown of test_leaks" in result.stdout, _explain(result)
    assert "name 'forgotten'" in result.stdout and "(RUNNING" in result.stdout, _explain(result)


def test_a_test_that_failed_is_not_failed_again_for_its_open_run(tmp_path: Path) -> None:
    result = _pytest(
        tmp_path,
        "import sparktrack\n"
        "def test_fails_inside_a_run():\n"
        "    sparktrack.start_run()\n"
        "    assert False, 'the test itself failed'\n"
        "def test_after():\n    assert sparktrack.active_run() is None\n",
    )
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, _explain(result)
    assert "1 failed, 1 passed" in result.stdout, _explain(result)
    assert "left run(s)" not in result.stdout, _explain(result)


def test_autolog_is_off_for_the_next_test(tmp_path: Path) -> None:
    result = _pytest(
        tmp_path,
        "import sparktrack\n"
        "from sparktrack.autologging import enabled_integrations\n"
        "def test_turns_it_on():\n    sparktrack.autolog()\n"
        "    assert enabled_integrations()\n"
        "def test_after():\n    assert enabled_integrations() == []\n",
    )
    assert result.returncode == pytest.ExitCode.OK, _explain(result)


def test_the_reset_opens_its_store_once_the_test_environment_is_restored(tmp_path: Path) -> None:
    # The fluent reset is torn down after monkeypatch: a setting the test broke on
    # purpose would otherwise fail the reset's set_store.
    result = _pytest(
        tmp_path,
        "def test_breaks_a_setting(monkeypatch):\n"
        "    monkeypatch.setenv('SPARKTRACK_FLUSH_INTERVAL_SECONDS', 'not a number')\n",
    )
    assert result.returncode == pytest.ExitCode.OK, _explain(result)


# -- markers ------------------------------------------------------------------------------------
def test_a_test_using_spark_without_the_marker_stops_the_run(tmp_path: Path) -> None:
    # Collection only: the guard refuses the run before any session would start.
    result = _pytest(
        tmp_path,
        "import pytest\n"
        "@pytest.fixture\n"
        "def frame(spark):\n    return spark.range(3)\n"
        "@pytest.mark.spark\n"
        "def test_marked(frame):\n    pass\n"
        "def test_unmarked(frame):\n    pass\n"
        "@pytest.mark.spark\n"
        "def test_h2o_unmarked(h2o_context):\n    pass\n",
    )
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, _explain(result)
    assert "test_tiny.py::test_unmarked: uses 'spark', not marked ['spark']" in result.stderr, (
        _explain(result)
    )
    assert "test_tiny.py::test_h2o_unmarked: uses 'h2o_context', not marked ['h2o']" in (
        result.stderr
    ), _explain(result)
    assert "test_marked" not in result.stderr, _explain(result)
