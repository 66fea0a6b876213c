"""Running the scoring server: Spark, the model, the socket, uvicorn.

Everything slow happens before the socket listens: the model loads and its local
scorer compiles from the model's Spark ML save. Spark starts only for a model the
local scorer does not cover (the JVM loads it and stays warm), a model folder at a
Hadoop URI, or ``engine="spark"``; a covered model is served without a JVM. So once
``/ping`` answers, requests are fast.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sparktrack._http import LOOPBACK_HOSTS, bind, configure_logging, url_of
from sparktrack.errors import ConfigurationError, InvalidInputError
from sparktrack.models import ENGINES, Engine, ScoringLogWriter
from sparktrack.serving._app import DEFAULT_MAX_BODY_MB, create_app, require_serving_extra
from sparktrack.serving._source import ModelSource
from sparktrack.session import JAVA17_OPTIONS, running_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparktrack.tracking import TrackingClient

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_REFRESH_SECONDS",
    "DEFAULT_SERVE_LOG_SAMPLE",
    "serve",
    "serving_spark",
]

log = logging.getLogger("sparktrack.serving")

DEFAULT_PORT = 5000  # MLflow's `models serve` default
"""The port ``sparktrack serve`` listens on by default (MLflow's ``models serve`` one)."""
DEFAULT_REFRESH_SECONDS = 10.0
"""How often the server asks by default where a moving model reference points."""
DEFAULT_SERVE_LOG_SAMPLE = 1.0
"""The share of scored rows ``sparktrack serve --log-to`` logs by default: all of them."""


def serving_spark() -> SparkSession:
    """Get the running SparkSession as it is, else start a local one sized for scoring.

    The new session has no Delta (scoring reads no tables, and resolving its jars slows
    startup), no Spark UI, and the driver on loopback when local: the server opens no
    other port.

    Returns:
        The session.

    Raises:
        ConfigurationError: Spark could not start (no Java 17 on PATH).
    """
    from pyspark.sql import SparkSession  # pyspark loads only when a server starts

    running = running_session()
    if running is not None:
        return running
    master = os.environ.get("SPARKTRACK_SPARK_MASTER", "local[*]")
    local = master.startswith("local")
    # Sparkling Water (H2O MOJO models) needs these JDK internals opened on Java 17.
    driver_options = JAVA17_OPTIONS
    if local:
        # The JVM only loads the model and runs request-sized jobs: the optimising JIT
        # (C2) compiles more than it pays back, and on a small machine its threads
        # compete with the load. On 2 cores, C1 alone loaded the model 15% faster
        # (40% under heavy load) and Spark-scored requests were no slower.
        driver_options += " -XX:TieredStopAtLevel=1"
    builder = (
        SparkSession.builder.appName("sparktrack-serve")
        .master(master)
        .config("spark.driver.extraJavaOptions", driver_options)
        .config("spark.executor.extraJavaOptions", JAVA17_OPTIONS)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
    )
    if local:
        builder = builder.config("spark.driver.bindAddress", "127.0.0.1").config(
            "spark.driver.host", "127.0.0.1"
        )
    try:
        session = builder.getOrCreate()
    except Exception as exc:
        raise ConfigurationError(
            f"could not start Spark to load the model ({exc}); check that Java 17 is on "
            "PATH (`sparktrack doctor` checks it)"
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


def serve(
    model_uri: str,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
    max_body_mb: float = DEFAULT_MAX_BODY_MB,
    engine: Engine = "auto",
    drop_extra_columns: bool = False,
    access_log: bool = False,
    client: TrackingClient | None = None,
    announce: Callable[[str], None] | None = None,
    log_to: str | None = None,
    log_sample: float = DEFAULT_SERVE_LOG_SAMPLE,
) -> None:
    """Serve a model over HTTP with MLflow's scoring protocol until interrupted.

    What ``sparktrack serve`` runs. It returns on SIGINT or SIGTERM, after requests in
    flight finish.

    Args:
        model_uri: The model: ``runs:/<run_id>/<path>``, ``models:/<name>/<version>``,
            ``models:/<name>/<stage>``, ``models:/<name>/latest``,
            ``models:/<name>@<alias>``, a folder or a Hadoop URI.
        host: The address to listen on; anything but loopback is reachable by others
            (a warning says so).
        port: The port (0: a free port the OS picks).
        refresh_seconds: How often to ask the registry where a moving reference points
            (0: never).
        max_body_mb: Larger request bodies are refused with a 400.
        engine: ``"auto"``, ``"local"`` (numpy only) or ``"spark"`` (see
            ``create_app``).
        drop_extra_columns: Drop request columns the model does not read instead of
            refusing the request.
        access_log: Log every request (uvicorn's access log).
        client: The tracking client whose store holds the model (default: the fluent
            API's).
        announce: Receives the ``http://host:port`` URL once the socket listens
            (default: prints ``Listening on <url>`` on stdout).
        log_to: A scoring log (a Delta table's folder or URI) to append the scored
            rows and predictions to, in the background; what is waiting is written
            when the server stops.
        log_sample: The share of scored rows logged (above 0, at most 1).

    Raises:
        ConfigurationError: The ``serve`` extra is missing, Spark could not start, or
            the address cannot be listened on.
        InvalidInputError: ``engine``, ``max_body_mb`` or ``log_sample`` is not valid.
        NotFoundError: ``model_uri`` names no model.
    """
    require_serving_extra()
    if engine not in ENGINES:
        raise InvalidInputError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    if max_body_mb <= 0:
        raise InvalidInputError(f"max_body_mb must be positive, got {max_body_mb}")
    configure_logging()
    if host not in LOOPBACK_HOSTS:
        log.warning("listening on %s: anyone who can reach it can score with the model", host)
    source = ModelSource(
        model_uri,
        refresh_seconds=refresh_seconds,
        client=client,
        session=serving_spark,
        load_spark_model=engine == "spark",
    )
    folder_needs_spark = source.check()
    scoring_log = None if log_to is None else ScoringLogWriter(log_to, sample=log_sample)
    if scoring_log is not None:
        _sigterm_unwinds()
    try:
        if folder_needs_spark or engine == "spark":
            serving_spark()
        # A model the local scorer covers loads without Spark: no JVM starts unless a
        # model (or an input) needs it, and then the session is serving_spark's.
        source.load()
        app = create_app(
            source,
            max_body_mb=max_body_mb,
            engine=engine,
            drop_extra_columns=drop_extra_columns,
            scoring_log=scoring_log,
        )
        _run(app, source, host, port, access_log, announce, model_uri)
    finally:
        if scoring_log is not None:
            scoring_log.close()  # what the server holds is written before it exits
            log.info("scoring log: %s", scoring_log.stats())


def _sigterm_unwinds() -> None:
    """Make SIGTERM unwind the stack (``finally`` blocks run) instead of ending the process.

    uvicorn catches SIGTERM to stop gracefully, then restores the handler it found and
    raises the signal again: with Python's default handler the process would end there,
    before the scoring log writes the rows it holds. Exits with 143 (128 + SIGTERM), as
    a shell reports a process ended by it.
    """
    if threading.current_thread() is not threading.main_thread():
        return  # handlers can only be set from the main thread; uvicorn sets none either
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def _run(
    app: Any,
    source: ModelSource,
    host: str,
    port: int,
    access_log: bool,
    announce: Callable[[str], None] | None,
    model_uri: str,
) -> None:
    import uvicorn  # the serve extra: checked by require_serving_extra, loaded only here

    sock = bind(host, port)
    config = uvicorn.Config(
        app,
        log_level="info",
        access_log=access_log,
        lifespan="off",
        timeout_graceful_shutdown=30,
    )
    server = uvicorn.Server(config)
    url = url_of(sock)
    if announce is None:
        print(f"Listening on {url}", flush=True)
    else:
        announce(url)
    log.info("serving %s at %s (POST %s/invocations)", model_uri, url, url)
    source.start()
    try:
        server.run(sockets=[sock])
    finally:
        source.stop()
        sock.close()
