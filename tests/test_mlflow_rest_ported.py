"""MLflow's own REST tracking tests, ported, run in MLflow's environment against the server.

tests/mlflow_client/test_rest_tracking_ported.py imports mlflow, so this suite never
collects it (tests/conftest.py): pytest runs it inside .venv-mlflow, with
``MLFLOW_TRACKING_URI`` pointing at the session's ``sparktrack server``, and this test
passes only when all of it passes. Its docstring lists the cases not ported, and why.
"""

from __future__ import annotations

import os

import pytest

from tests._mlflow_client import MlflowServer, run_mlflow_child
from tests._processes import ROOT

pytestmark = pytest.mark.slow

PORTED = ROOT / "tests" / "mlflow_client" / "test_rest_tracking_ported.py"


def test_mlflow_s_rest_tracking_cases_pass_against_sparktrack_server(
    mlflow_server: MlflowServer,
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
            # Neither this project's pytest settings nor its conftest: they import
            # sparktrack, which MLflow's environment does not have.
            "--noconftest",
            "-c",
            os.devnull,
            "--rootdir",
            str(PORTED.parent),
        ],
        expect=None,
        timeout=600,
    )
    assert finished.returncode == 0, mlflow_server.explain(finished.explain("ported MLflow tests"))
    assert " passed" in finished.stdout and " failed" not in finished.stdout, finished.stdout
