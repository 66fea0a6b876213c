r"""A REST scoring server for sparktrack models, speaking MLflow's scoring protocol.

    sparktrack serve runs:/<run_id>/model --port 5000

    curl -s localhost:5000/invocations -H 'Content-Type: application/json' \
        -d '{"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}}'

Importing this package imports neither fastapi nor pyspark; starting a server needs
the ``serve`` extra (``pip install 'sparktrack[serve]'``).
"""

from __future__ import annotations

from sparktrack.serving._app import DEFAULT_MAX_BODY_MB, create_app, require_serving_extra
from sparktrack.serving._protocol import RequestError, encode_predictions, parse_body
from sparktrack.serving._runner import (
    DEFAULT_PORT,
    DEFAULT_REFRESH_SECONDS,
    DEFAULT_SERVE_LOG_SAMPLE,
    serve,
    serving_spark,
)
from sparktrack.serving._source import ModelSource, ServedModel

__all__ = [
    "DEFAULT_MAX_BODY_MB",
    "DEFAULT_PORT",
    "DEFAULT_REFRESH_SECONDS",
    "DEFAULT_SERVE_LOG_SAMPLE",
    "ModelSource",
    "RequestError",
    "ServedModel",
    "create_app",
    "encode_predictions",
    "parse_body",
    "require_serving_extra",
    "serve",
    "serving_spark",
]
