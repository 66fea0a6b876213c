"""MLflow's REST-level registry and logged-model tests, ported, against ``sparktrack server``.

``tests/mlflow_client/test_rest_registry.py`` holds them (its docstring lists what was
changed and what was not ported, and why); they import MLflow, so pytest runs them in
MLflow's environment (.venv-mlflow) with ``MLFLOW_TRACKING_URI`` at the session's server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._mlflow_client import MlflowServer, run_mlflow_child

pytestmark = pytest.mark.slow

PORTED = Path(__file__).parent / "mlflow_client" / "test_rest_registry.py"


def test_mlflows_registry_rest_cases_pass_against_the_server(
    mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    finished = run_mlflow_child(
        mlflow_server,
        [
            "-m",
            "pytest",
            str(PORTED),
            "-q",
            "-p",
            "no:cacheprovider",
            # Not this suite's configuration (pyproject.toml) nor its conftest.py: they
            # import sparktrack, which MLflow's environment does not have.
            "-c",
            "/dev/null",
            "--rootdir",
            str(PORTED.parent),
            "--confcutdir",
            str(PORTED.parent),
        ],
        cwd=tmp_path,
        timeout=600,
    )
    # run_mlflow_child already failed on a non-zero exit; nothing may have been skipped.
    summary = finished.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary, mlflow_server.explain(
        finished.explain("MLflow's ported cases")
    )
