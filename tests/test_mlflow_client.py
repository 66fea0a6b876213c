"""MLflow's own client (in .venv-mlflow) against ``sparktrack server`` as a real process.

What MLflow users run — the fluent API, ``MlflowClient`` searches, artifacts through the
server — and then sparktrack's own API and Spark SQL reading what they logged. Each
client call pays MLflow's import (seconds), so scenarios are grouped into few calls.
"""

from __future__ import annotations

import pytest

from tests._mlflow_client import MlflowServer, run_mlflow

pytestmark = pytest.mark.slow


def test_the_client_reaches_the_server_and_reads_its_errors(mlflow_server: MlflowServer) -> None:
    found = run_mlflow(
        mlflow_server,
        """
        import mlflow, requests
        answer = requests.get(mlflow.get_tracking_uri() + "/api/2.0/mlflow/no-such-endpoint")
        emit({"status": answer.status_code, "body": answer.json()})
        """,
    )
    assert found["status"] == 404, found
    assert found["body"]["error_code"] == "ENDPOINT_NOT_FOUND", found
