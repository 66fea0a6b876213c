"""Keeping a local H2O off the network (see ``sparktrack.h2o``).

H2O's REST API has no authentication by default and can read and write files on the
machine. In local mode the one H2O node runs in the driver JVM, so it can listen on
loopback only:

* the node gets ``-ip 127.0.0.1 -web_ip 127.0.0.1`` (``spark.ext.h2o.extra.properties``):
  ``-ip`` is the address it registers and binds its internal port to, ``-web_ip`` the
  REST API's (H2O binds every interface without it). Sparkling Water passes no ``-ip``
  of its own in local mode; ``spark.ext.h2o.node.network.mask`` and
  ``spark.ext.h2o.client.ip`` apply to clusters only.
* Sparkling Water 3.46 starts a Flow proxy in the driver that binds 0.0.0.0 whatever
  the settings, and forwards to the node: it is stopped once H2O is up, and the Python
  ``h2o`` client connects to the node, which serves the same REST API and Flow.
"""

from __future__ import annotations

import logging
import re
import socket
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "LOOPBACK",
    "LOOPBACK_NODE_OPTIONS",
    "close_flow_proxy",
    "free_base_port",
    "keep_on_loopback",
    "runs_in_driver",
]

LOOPBACK = "127.0.0.1"
LOOPBACK_NODE_OPTIONS = f"-ip {LOOPBACK} -web_ip {LOOPBACK}"
_BASE_PORT_CONF = "spark.ext.h2o.base.port"
_H2O_DEFAULT_PORT = 54321
# Options by which the user already chose H2O's addresses: theirs are kept.
_ADDRESS_OPTIONS = re.compile(r"(^|\s)-(ip|web_ip|network)(\s|$)")

_log = logging.getLogger("sparktrack.h2o")


def keep_on_loopback(spark: SparkSession, conf: Any) -> None:
    """Set up ``conf`` (an H2OConf) so that the local node listens on loopback only."""
    extra = conf.extraProperties() or ""
    if _ADDRESS_OPTIONS.search(extra):
        return
    conf.setExtraProperties(f"{extra} {LOOPBACK_NODE_OPTIONS}".strip())
    if not spark.sparkContext.getConf().contains(_BASE_PORT_CONF):
        conf.setBasePort(free_base_port())


def free_base_port() -> int:
    """A port P, picked by the OS, with P, P + 1 and P + 2 free on every interface.

    The local node takes P (REST API) and P + 1; Sparkling Water's Flow proxy then
    checks P + 2 on Spark's host address but binds it on 0.0.0.0, so a port another
    process's loopback-only H2O holds passes its check and fails its bind (two local
    H2Os starting from the default 54321 do exactly that). Ports free on the wildcard
    address are free on every address.
    """
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as first:
            first.bind(("", 0))
            base = int(first.getsockname()[1])
            if base + 2 <= 65535 and all(_bindable(base + i) for i in (1, 2)):
                return base
    return _H2O_DEFAULT_PORT  # H2O searches upward from it by itself


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("", port))
        except OSError:
            return False
    return True


def runs_in_driver(spark: SparkSession) -> bool:
    """Tell whether the one H2O node runs in the driver JVM (local mode).

    That is Spark's ``isLocal``: ``local`` and ``local[...]``, not ``local-cluster``.
    """
    master = str(spark.sparkContext.master or "")
    return master == "local" or master.startswith("local[")


def close_flow_proxy(spark: SparkSession, context: Any) -> None:
    """Stop Sparkling Water's all-interfaces Flow proxy once the node is on loopback.

    The Python ``h2o`` client then connects to the node itself (the proxy only forwards).
    """
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
    # Sparkling Water printed the proxy's address as Flow's; this is the one that answers.
    _log.info("H2O's REST API and Flow: %s (loopback only)", url)
