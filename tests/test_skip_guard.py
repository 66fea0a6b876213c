"""The skip policy of tests/conftest.py: a run that skips a test for a reason it does not
expect fails, an expected skip passes, and a run that collects nothing fails too.

Each case runs pytest in a child process on a tiny test file outside the suite, with the
suite's conftest loaded as a plugin, and looks at the child's exit status.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ALLOWED_REASON = "skip-guard self-test: an allowed skip"


def _pytest(tmp_path: Path, source: str | None, **more: str) -> subprocess.CompletedProcess[str]:
    """Run pytest on test_tiny.py holding ``source`` (none when None) and on test files
    named by the keywords of ``more``."""
    folder = tmp_path / "suite"
    folder.mkdir(parents=True)
    if source is not None:
        (folder / "test_tiny.py").write_text(source)
    for name, text in more.items():
        (folder / f"{name}.py").write_text(text)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            # The suite's conftest, as CI loads it (the repo is on sys.path: cwd, -m).
            "-p",
            "tests.conftest",
            "-p",
            "no:cacheprovider",
            # The suite's settings (addopts -rfEs), not the temporary folder's.
            "-c",
            str(REPO / "pyproject.toml"),
            "--rootdir",
            str(folder),
            str(folder),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _explain(result: subprocess.CompletedProcess[str]) -> str:
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
