"""The FastAPI app: MLflow's scoring endpoints over a :class:`ModelSource`.

    GET  /ping, /health   200 and the served model's details once it is loaded
    GET  /version         the sparktrack version, as text
    POST /invocations     JSON or CSV rows in, {"predictions": [...]} out

Bodies are read with a size limit on the event loop; parsing, scoring and encoding
run in the thread pool, so a slow request never stalls the others. With a scoring log,
each scored request is handed to its writer, which samples and appends in the
background; ``/health`` reports its counts. Every answer to ``/invocations`` carries
``X-Request-ID`` (the client's, or a new one), the request's id in the log.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import TYPE_CHECKING, Any

from sparktrack._http import error_body, read_limited_body, require_web_extra
from sparktrack._version import __version__
from sparktrack.errors import InvalidInputError
from sparktrack.models import Engine, ScoringLogWriter, scoring_context
from sparktrack.serving._protocol import (
    CSV,
    JSON,
    RequestError,
    charset,
    check_columns,
    encode_predictions,
    media_type,
    parse_body,
)
from sparktrack.serving._source import ModelSource, ServedModel

if TYPE_CHECKING:
    from fastapi import FastAPI
    from pyspark.sql import SparkSession
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["DEFAULT_MAX_BODY_MB", "create_app", "require_serving_extra"]

log = logging.getLogger("sparktrack.serving")

DEFAULT_MAX_BODY_MB = 64.0
"""The largest request body the server accepts by default, in megabytes."""


def require_serving_extra() -> None:
    """Check that the ``serve`` extra (FastAPI and uvicorn) is installed.

    Raises:
        ConfigurationError: One of them is missing; the message says what to install.
    """
    require_web_extra("the model server", "serve")


def _spark_failure(exc: BaseException) -> str | None:
    """The innermost message of an error raised by a Spark job; None for other errors.

    Spark wraps a transform's own complaint (a null the assembler rejects, a vector of
    the wrong size) in job and task failures: the innermost cause is the useful part.
    """
    try:
        from py4j.protocol import Py4JJavaError
        from pyspark.errors.exceptions.captured import CapturedException
    except ImportError:
        return None
    if isinstance(exc, CapturedException):
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if not isinstance(exc, Py4JJavaError):
        return None
    try:
        cause = exc.java_exception
        while cause.getCause() is not None:
            cause = cause.getCause()
        return str(cause.getMessage() or cause.toString()).strip().splitlines()[0]
    except Exception:  # the JVM is gone: say what py4j said
        return str(exc).strip().splitlines()[0]


class _Scorer:
    """Turns one request body into a response; runs in the thread pool."""

    def __init__(
        self,
        source: ModelSource,
        engine: Engine,
        drop_extra_columns: bool,
        spark: SparkSession | None,
        scoring_log: ScoringLogWriter | None = None,
    ) -> None:
        self.source = source
        self.engine: Engine = engine
        self.drop_extra_columns = drop_extra_columns
        self.spark = spark
        self.scoring_log = scoring_log

    def _log(self, served: ServedModel, frame: Any, predictions: Any, request_id: str) -> None:
        if self.scoring_log is None:
            return
        try:
            columns = served.accepted_columns
            inputs = frame[[c for c in columns if c in frame.columns]] if columns else frame
            self.scoring_log.submit(
                inputs,
                predictions,
                scoring_context(served.uri, served.target),
                signature=served.model.signature,
                request_id=request_id,
            )
        except Exception:  # the answer matters more than its log
            log.warning("could not queue a request for the scoring log", exc_info=True)

    def __call__(
        self, served: ServedModel, media: str, body: bytes, request_id: str = ""
    ) -> tuple[int, bytes]:
        model = served.model
        signature = model.signature
        positional = signature.input_names if signature is not None else None
        try:
            frame = parse_body(media, body, positional or served.accepted_columns)
            check_columns(frame, served.accepted_columns, self.drop_extra_columns)
            predictions = model.predict(frame, engine=self.engine, spark=self.spark)
            self._log(served, frame, predictions, request_id)
            return 200, encode_predictions(predictions)
        except RequestError as exc:
            return exc.status, error_body(exc.error_code, exc.message)
        except InvalidInputError as exc:
            return 400, error_body("BAD_REQUEST", str(exc))
        except Exception as exc:
            spark_message = _spark_failure(exc)
            if spark_message is not None:
                # As MLflow does: a model that fails on the input is the input's problem.
                return 400, error_body(
                    "BAD_REQUEST",
                    f"the model could not score this input: {spark_message}",
                )
            log.exception("scoring failed")
            return 500, error_body(
                "INTERNAL_ERROR",
                f"the server failed to score the request ({type(exc).__name__}: {exc}); "
                "see the server's log",
            )


def _unsupported(message: str) -> Response:
    from starlette.responses import Response

    return Response(error_body("UNSUPPORTED_MEDIA_TYPE", message), status_code=415, media_type=JSON)


def _status(source: ModelSource, scoring_log: ScoringLogWriter | None) -> dict[str, Any]:
    served = source.current
    return {
        "status": "ok",
        "model_uri": served.uri,
        "target": served.target,
        "loaded_at": dt.datetime.fromtimestamp(served.loaded_at, dt.UTC).isoformat(),
        "engine": served.engine,
        # Whether a JVM holds the model: a model the local scorer covers is served
        # without one until a request needs Spark.
        "spark_loaded": served.model.spark_loaded,
        "refresh_seconds": source.refresh_seconds,
        "refresh_error": source.last_error,
        "scoring_log": scoring_log.stats() if scoring_log is not None else None,
    }


async def _read_body(request: Request, max_body_mb: float) -> bytes:
    """The body, or RequestError as soon as it is known to exceed the limit."""
    body = await read_limited_body(request, int(max_body_mb * 2**20))
    if body is None:
        raise RequestError(
            f"the request body is larger than this server's limit of {max_body_mb:g} MB "
            "(--max-body-mb); send the rows in several smaller requests"
        )
    return body


def create_app(
    source: ModelSource,
    *,
    max_body_mb: float = DEFAULT_MAX_BODY_MB,
    engine: Engine = "auto",
    drop_extra_columns: bool = False,
    spark: SparkSession | None = None,
    scoring_log: ScoringLogWriter | None = None,
) -> FastAPI:
    """Build the scoring app: ``/ping``, ``/health``, ``/version`` and ``/invocations``.

    Args:
        source: The model to serve, loaded already (``source.load()``).
        max_body_mb: Larger request bodies are refused with a 400.
        engine: ``"auto"`` scores with numpy where the model allows and with Spark
            otherwise; ``"local"`` only with numpy; ``"spark"`` always with Spark.
        drop_extra_columns: Drop request columns the model does not read, instead of
            refusing the request (MLflow's ``--ignore-extra-columns``).
        spark: The session that scores what numpy does not (default: the session this
            process runs).
        scoring_log: Where scored requests are logged (sampled, in the background);
            None logs nothing. The caller closes it.

    Returns:
        The FastAPI application, to run with uvicorn.

    Raises:
        ConfigurationError: The ``serve`` extra is not installed.
    """
    require_serving_extra()
    from fastapi import FastAPI
    from fastapi.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, PlainTextResponse, Response

    score = _Scorer(source, engine, drop_extra_columns, spark, scoring_log)
    # No OpenAPI pages: a scoring endpoint has nothing to browse.
    app = FastAPI(
        title="sparktrack model server",
        version=__version__,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )

    # Plain Starlette routes: the handlers take the request as it is, with none of
    # FastAPI's per-request parameter resolution.
    async def health(request: Request) -> Response:
        return JSONResponse(_status(source, scoring_log))

    async def version(request: Request) -> Response:
        return PlainTextResponse(__version__)

    async def invocations(request: Request) -> Response:
        content_type = request.headers.get("content-type")
        media = media_type(content_type)
        if media not in (JSON, CSV):
            shown = media or "none"
            return _unsupported(
                f"Content-Type {shown!r} is not supported; send {JSON!r} "
                f"(dataframe_split, dataframe_records, instances or inputs) or {CSV!r}"
            )
        if charset(content_type) not in (None, "utf-8", "utf8"):
            return _unsupported(
                f"charset {charset(content_type)!r} is not supported; send UTF-8 "
                f"({media}; charset=utf-8)"
            )
        try:
            body = await _read_body(request, max_body_mb)
        except RequestError as exc:
            return Response(
                error_body(exc.error_code, exc.message), status_code=exc.status, media_type=JSON
            )
        # Taken once: a model swapped in meanwhile serves the next request, not this one.
        served = source.current
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        status, content = await run_in_threadpool(score, served, media, body, request_id)
        return Response(
            content,
            status_code=status,
            media_type=JSON,
            headers={"X-Request-ID": request_id},
        )

    app.add_route("/ping", health, methods=["GET"])
    app.add_route("/health", health, methods=["GET"])
    app.add_route("/version", version, methods=["GET"])
    app.add_route("/invocations", invocations, methods=["POST"])
    return app
