"""MLflow's logged model endpoints over sparktrack's clients."""

from __future__ import annotations

from sparktrack.mlflow_server._routes import Endpoint

__all__ = ["ENDPOINTS"]

ENDPOINTS: list[Endpoint] = []
