"""A tracking server that speaks MLflow's REST protocol over a sparktrack store.

MLflow's client, pointed at it with ``MLFLOW_TRACKING_URI=http://host:port``, logs,
searches and registers through the same code paths as sparktrack's own API, so the
runs are the store's runs: ``sparktrack.search_runs``, the UI and Spark SQL see them.
FastAPI and uvicorn (the ``server`` extra) load only when an app is built.
"""

from __future__ import annotations

from sparktrack.mlflow_server._app import API_PREFIXES, create_app
from sparktrack.mlflow_server._errors import MlflowApiError
from sparktrack.mlflow_server._runner import DEFAULT_PORT, run

__all__ = ["API_PREFIXES", "DEFAULT_PORT", "MlflowApiError", "create_app", "run"]
