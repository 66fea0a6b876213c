"""One H2OContext per Spark application, started so that H2O stays out of the way.

    from sparktrack.h2o import h2o_context
    hc = h2o_context()              # the running SparkSession (or sparktrack's local one)

H2O cannot be stopped and started again in one JVM (``stop()`` then ``getOrCreate()``
kills it), so the context is created once and cached. Its logs go under Spark's
local dir instead of ``./h2ologs``, its Flow notebooks there instead of
``~/h2oflows``, and it logs at WARN.

In local mode H2O listens on loopback only. Its node (inside the driver JVM) gets
``-ip 127.0.0.1 -web_ip 127.0.0.1`` through ``spark.ext.h2o.extra.properties``: ``-ip``
is the address it registers and binds its internal port to, ``-web_ip`` the REST API's
(without it H2O binds every interface; ``setNodeNetworkMask`` and ``setClientIp`` are
not used in local mode). Sparkling Water 3.46 also starts a Flow proxy in the driver
that binds 0.0.0.0 with no setting to change it and forwards to the node: it is
stopped, and the Python ``h2o`` client is pointed at the node itself, which serves the
same REST API and Flow on 127.0.0.1. On a cluster H2O nodes must reach each other
across machines, so nothing changes there.

``pysparkling`` is imported only when this is called: ``import sparktrack`` never
loads Sparkling Water's 240 MB jar.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import tempfile
import threading
from typing import TYPE_CHECKING, Any

from sparktrack.errors import ConfigurationError
from sparktrack.session import spark_session

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
_REQUIRED_EXPORTS = (
    "--add-exports=java.base/sun.net.www.protocol.http=ALL-UNNAMED",
    "--add-exports=java.base/sun.net.www.protocol.https=ALL-UNNAMED",
)
_JAVA_OPTION_CONFS = ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions")
LOOPBACK = "127.0.0.1"
# H2O node options (spark.ext.h2o.extra.properties) that keep a local H2O on loopback.
LOOPBACK_NODE_OPTIONS = f"-ip {LOOPBACK} -web_ip {LOOPBACK}"
# Options by which the user already chose H2O's addresses: theirs are kept.
_ADDRESS_OPTIONS = re.compile(r"(^|\s)-(ip|web_ip|network)(\s|$)")

_log = logging.getLogger(__name__)

_context: Any = None
_lock = threading.Lock()


def required_java_options() -> str:
    return " ".join(_REQUIRED_EXPORTS)


def check_h2o_available() -> None:
    """Raise ConfigurationError unless pysparkling is installed and fits this pyspark."""
    if importlib.util.find_spec("pysparkling") is None:
        raise ConfigurationError(
            "Sparkling Water is not installed: `pip install 'sparktrack[h2o]'` "
            f"(installs {H2O_PACKAGE}, which matches pyspark 3.5)"
        )
    from importlib.metadata import PackageNotFoundError, version

    import pyspark

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
    from pysparkling import H2OConf

    conf = H2OConf()
    root = _log_root(spark)
    conf.setLogDir(os.path.join(root, "logs"))
    conf.setFlowDir(os.path.join(root, "flows"))
    conf.setLogLevel("WARN")
    conf.setClientVerboseDisabled()
    extra = conf.extraProperties() or ""
    if _runs_in_driver(spark) and not _ADDRESS_OPTIONS.search(extra):
        # In local mode Sparkling Water starts the node with these options and no -ip of
        # its own (its network-mask and client-ip settings apply to clusters only).
        conf.setExtraProperties(f"{extra} {LOOPBACK_NODE_OPTIONS}".strip())
    return conf


def _runs_in_driver(spark: SparkSession) -> bool:
    """True in local mode, where the one H2O node runs in the driver JVM (Spark's
    ``isLocal``: ``local`` and ``local[...]``, not ``local-cluster``)."""
    master = str(spark.sparkContext.master or "")
    return master == "local" or master.startswith("local[")


def _close_flow_proxy(spark: SparkSession, context: Any) -> None:
    """Stop Sparkling Water's all-interfaces Flow proxy once the node is on loopback,
    and connect the Python ``h2o`` client to the node instead (the proxy only forwards)."""
    conf = context.getConf()
    node = conf.h2oCluster() or ""
    if not node.startswith(f"{LOOPBACK}:"):
        return  # the node itself is reachable from outside: closing the proxy hides nothing
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    try:
        # The proxy's Jetty server binds 0.0.0.0 (SparklingWaterJettyHelper.startServer);
        # Sparkling Water's own stop() calls this same method.
        jvm.ai.h2o.sparkling.backend.utils.ProxyStarter.stopFlowProxy()
    except Exception as exc:
        _log.warning(
            "could not stop Sparkling Water's Flow proxy (%s): it listens on every "
            "interface (H2O's port %s + 2 by default); firewall it on shared networks",
            exc,
            node.rsplit(":", 1)[-1],
        )
        return
    import h2o  # Sparkling Water's Python client, installed with pysparkling

    https = bool(conf.jks())
    url = f"{'https' if https else 'http'}://{node}"
    if conf.contextPath():
        url = f"{url}/{str(conf.contextPath()).lstrip('/')}"
    auth = (conf.userName(), conf.password()) if conf.userName() and conf.password() else None
    h2o.connect(
        url=url,
        https=https,
        verify_ssl_certificates=conf.verifySslCertificates(),
        cacert=conf.sslCACert(),
        auth=auth,
        verbose=False,
    )


def h2o_context(spark: SparkSession | None = None) -> Any:
    """The application's H2OContext, created on first call (with ``spark`` or the running
    session). Later calls return the same context: H2O cannot restart in a JVM."""
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
        try:
            context = pysparkling.H2OContext.getOrCreate(_conf(spark))
        except Exception as exc:
            raise ConfigurationError(
                f"H2OContext could not start: {exc}. Check the Java options "
                f"({required_java_options()}) and that Spark executors have memory to spare"
            ) from exc
        if _runs_in_driver(spark):
            _close_flow_proxy(spark, context)
        _context = context
        return _context
