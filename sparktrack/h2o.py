"""One H2OContext per Spark application, started so that H2O stays out of the way.

    from sparktrack.h2o import h2o_context
    hc = h2o_context()              # the running SparkSession (or sparktrack's local one)

H2O cannot be stopped and started again in one JVM (``stop()`` then ``getOrCreate()``
kills it), so the context is created once and cached. Its logs go under Spark's
local dir instead of ``./h2ologs``, its Flow notebooks there instead of
``~/h2oflows``. Its console stays quiet: it logs errors only, prints no progress bar
and no model summary after training, and the cluster description ``getOrCreate``
prints goes to this module's debug log. Set any of ``spark.ext.h2o.log.level``,
``spark.ext.h2o.progressbar.enabled``, ``spark.ext.h2o.model.print.after.training.enabled``
or ``spark.ext.h2o.client.verbose`` in the session to choose otherwise.

In local mode H2O listens on loopback only, on ports the OS picked (see
``sparktrack._h2o_loopback``); on a cluster H2O nodes must reach each other across
machines, so nothing changes there.

``pysparkling`` is imported only when this is called: ``import sparktrack`` never
loads Sparkling Water's 240 MB jar.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import io
import logging
import os
import tempfile
import threading
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from sparktrack._h2o_loopback import (
    LOOPBACK_NODE_OPTIONS,
    close_flow_proxy,
    keep_on_loopback,
    runs_in_driver,
)
from sparktrack.errors import ConfigurationError
from sparktrack.session import H2O_JAVA_EXPORTS, spark_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "H2O_PACKAGE",
    "LOOPBACK_NODE_OPTIONS",
    "check_h2o_available",
    "h2o_context",
    "required_java_options",
]

H2O_PACKAGE = "h2o-pysparkling-3-5"
# The JDK internals Sparkling Water's H2O client opens; Java 17 closes them by default.
_REQUIRED_EXPORTS = H2O_JAVA_EXPORTS
_log = logging.getLogger(__name__)
_JAVA_OPTION_CONFS = ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions")

# Sparkling Water's defaults that print to the driver's console, and sparktrack's.
_QUIET_CONSOLE = {
    "spark.ext.h2o.log.level": "ERROR",
    "spark.ext.h2o.client.verbose": "false",
    "spark.ext.h2o.progressbar.enabled": "false",
    "spark.ext.h2o.model.print.after.training.enabled": "false",
}

_context: Any = None
_lock = threading.Lock()


def required_java_options() -> str:
    """The JVM options Sparkling Water's H2O client needs on Java 17.

    Returns:
        The ``--add-exports`` options to put in ``spark.driver.extraJavaOptions`` (and
        ``spark.executor.extraJavaOptions`` on a cluster) when the session is created.
    """
    return " ".join(_REQUIRED_EXPORTS)


def check_h2o_available() -> None:
    """Check that Sparkling Water is installed and fits this pyspark, without importing it.

    Raises:
        ConfigurationError: pysparkling is not installed, or not the package of this
            pyspark's Spark line (``h2o-pysparkling-3-5`` for pyspark 3.5).
    """
    if importlib.util.find_spec("pysparkling") is None:
        raise ConfigurationError(
            "Sparkling Water is not installed: `pip install 'sparktrack[h2o]'` "
            f"(installs {H2O_PACKAGE}, which matches pyspark 3.5)"
        )
    import pyspark  # only when H2O is asked for: importing sparktrack never loads pyspark

    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    try:
        installed = version(H2O_PACKAGE)
    except PackageNotFoundError:
        installed = None
    # The distribution name carries the Spark line it was built for (h2o-pysparkling-3-5).
    if installed is None or spark_minor != "3.5":
        raise ConfigurationError(
            f"pysparkling does not fit pyspark {pyspark.__version__}: Sparkling Water "
            f"needs the h2o-pysparkling-<major>-<minor> package of the same Spark line "
            f"(installed: {H2O_PACKAGE} {installed or 'absent'}); sparktrack supports "
            "pyspark 3.5 with `pip install 'sparktrack[h2o]'`"
        )


def _check_java_options(spark: SparkSession) -> None:
    conf = spark.sparkContext.getConf()
    master = str(spark.sparkContext.master or "")
    # In local mode the executors live in the driver JVM: the driver's options suffice.
    confs = _JAVA_OPTION_CONFS[:1] if master.startswith("local") else _JAVA_OPTION_CONFS
    missing = [
        key
        for key in confs
        if not all(option in (conf.get(key, "") or "") for option in _REQUIRED_EXPORTS)
    ]
    if missing:
        lines = "\n".join(f'  --conf "{key}={required_java_options()}"' for key in missing)
        raise ConfigurationError(
            "this SparkSession cannot start H2O on Java 17: H2O's client needs JDK "
            "internals that these confs open, and they must be set when the JVM starts "
            f"(before the SparkSession is created):\n{lines}\n"
            "sparktrack.spark_session() sets them for a session it creates."
        )


def _log_root(spark: SparkSession) -> str:
    conf = spark.sparkContext.getConf()
    local_dir = (conf.get("spark.local.dir", "") or "").split(",")[0].strip()
    root = os.path.join(local_dir or tempfile.gettempdir(), "sparktrack-h2o")
    return os.path.join(root, spark.sparkContext.applicationId)


def _conf(spark: SparkSession) -> Any:
    from pysparkling import H2OConf  # loads Sparkling Water's 240 MB jar: only when asked

    conf = H2OConf()
    root = _log_root(spark)
    conf.setLogDir(os.path.join(root, "logs"))
    conf.setFlowDir(os.path.join(root, "flows"))
    # H2O's console chatter (progress bars, each model's summary after training, its
    # version nags) would bury the user's own output; what the user set wins.
    for key, value in _QUIET_CONSOLE.items():
        if spark.sparkContext.getConf().get(key) is None:
            conf.set(key, value)
    if runs_in_driver(spark):
        keep_on_loopback(spark, conf)
    return conf


def h2o_context(spark: SparkSession | None = None) -> Any:
    """The application's H2OContext, created on first call.

    Later calls return the same context: H2O cannot restart in a JVM. Its logs go under
    Spark's local dir, its console stays quiet (errors only, no progress bars or model
    summaries, unless the session's ``spark.ext.h2o.*`` confs say otherwise), and in
    local mode it listens on loopback only.

    Args:
        spark: The session to start H2O in (first call only); by default the running
            one, else a local one sparktrack creates with the options H2O needs.

    Returns:
        The ``pysparkling.H2OContext``.

    Raises:
        ConfigurationError: Sparkling Water is missing or does not fit pyspark, the
            session lacks the Java 17 options (they must be set before it starts), or
            H2O could not start.
    """
    global _context
    with _lock:
        if _context is not None:
            return _context
        check_h2o_available()
        if spark is None:
            spark = spark_session()
        _check_java_options(spark)
        try:
            import pysparkling
        except Exception as exc:  # pysparkling raises a bare Exception on version mismatch
            raise ConfigurationError(
                f"pysparkling cannot be imported with this pyspark: {exc}. Install the "
                "matching Sparkling Water: `pip install 'sparktrack[h2o]'`"
            ) from exc
        banner = io.StringIO()
        try:
            # getOrCreate prints the cluster's description and the H2O client's version
            # warnings; they go to the debug log instead of the user's output.
            with contextlib.redirect_stdout(banner):
                context = pysparkling.H2OContext.getOrCreate(_conf(spark))
        except Exception as exc:
            raise ConfigurationError(
                f"H2OContext could not start: {exc}. Check the Java options "
                f"({required_java_options()}) and that Spark executors have memory to spare"
            ) from exc
        if runs_in_driver(spark):
            with contextlib.redirect_stdout(banner):  # the client reconnects, and says so
                close_flow_proxy(spark, context)
        _log.debug("H2OContext started:\n%s", banner.getvalue())
        # After H2O's client registered its own exit hook, which prints as it closes.
        atexit.register(_close_h2o_client)
        _context = context
        return _context


def _close_h2o_client() -> None:
    """At exit: close H2O's Python client quietly, before its own hook prints that it does."""
    import h2o  # Sparkling Water's Python client: loaded already when this is registered

    with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
        connection = h2o.connection()
        if connection is not None:
            connection.close()
