"""Getting a SparkSession that can read and maintain the store with delta-spark.

Logging never needs this: the tracking path writes Delta without a JVM. Spark-side
access (tables as DataFrames, Spark SQL, OPTIMIZE/VACUUM on a cluster) does.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from sparktrack.errors import ConfigurationError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "DELTA_CONFS",
    "JAVA17_OPTIONS",
    "check_delta_configured",
    "delta_package",
    "spark_session",
]

DELTA_VERSION = "3.3.2"
DELTA_CONFS = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}
# Sparkling Water's H2O client reaches into these JDK internals; Java 17 closes them.
JAVA17_OPTIONS = (
    "--add-exports=java.base/sun.net.www.protocol.http=ALL-UNNAMED "
    "--add-exports=java.base/sun.net.www.protocol.https=ALL-UNNAMED "
    "--add-opens=java.base/java.nio=ALL-UNNAMED"
)


def delta_package() -> str:
    try:
        from importlib.metadata import version

        delta_version = version("delta-spark")
    except Exception:
        delta_version = DELTA_VERSION
    return f"io.delta:delta-spark_2.12:{delta_version}"


def _required_confs() -> dict[str, str]:
    return {"spark.jars.packages": delta_package(), **DELTA_CONFS}


def check_delta_configured(spark: SparkSession) -> None:
    """Raise a ConfigurationError naming every conf a session lacks for Delta."""
    conf = spark.sparkContext.getConf()
    # A conf may list several values (extensions are comma-separated): look for ours.
    missing = {k: v for k, v in DELTA_CONFS.items() if v not in (conf.get(k, "") or "")}
    jars = " ".join(conf.get(k, "") or "" for k in ("spark.jars.packages", "spark.jars"))
    if "delta-spark" not in jars and "delta-core" not in jars:
        missing = {"spark.jars.packages": delta_package(), **missing}
    if missing:
        lines = "\n".join(f"  --conf {k}={v}" for k, v in missing.items())
        raise ConfigurationError(
            "this SparkSession cannot read Delta tables: it lacks these confs.\n"
            f"Add them to spark-submit / the cluster config:\n{lines}\n"
            "(logging works without them; only Spark-side access to the store needs Delta)"
        )


def spark_session(
    app_name: str = "sparktrack",
    master: str | None = None,
    *,
    extra_conf: dict[str, str] | None = None,
) -> SparkSession:
    """The active SparkSession if there is one (used as it is), else a local one with Delta.

    A new session gets delta-spark (resolved from Maven Central into ``~/.ivy2`` on first
    use), the Java 17 options Sparkling Water needs, and small-machine defaults.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    java_options = JAVA17_OPTIONS
    builder = (
        SparkSession.builder.appName(app_name)
        .master(master or os.environ.get("SPARKTRACK_SPARK_MASTER", "local[*]"))
        .config("spark.jars.packages", delta_package())
        .config("spark.driver.extraJavaOptions", java_options)
        .config("spark.executor.extraJavaOptions", java_options)
        .config("spark.sql.shuffle.partitions", "4")
        # Delta rebuilds table state with this many partitions (50 by default): far
        # too many tasks for the store's small logs on a local machine.
        .config("spark.databricks.delta.snapshotPartitions", "2")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
    )
    if not os.environ.get("PYSPARK_PYTHON"):
        # Python tasks (sweep trials, UDFs) run on this interpreter and its packages,
        # not on whatever `python3` is first on PATH (pyspark reads only the variable).
        os.environ["PYSPARK_PYTHON"] = sys.executable
    for key, value in DELTA_CONFS.items():
        builder = builder.config(key, value)
    for key, value in (extra_conf or {}).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:
        raise ConfigurationError(
            f"could not start a local SparkSession with Delta ({exc}). Check that Java 17 is "
            "on PATH (`java -version`) and that Maven Central is reachable for "
            f"{delta_package()}; `sparktrack doctor` checks both."
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    return session
