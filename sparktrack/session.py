"""Where sparktrack gets a SparkSession, and the rule that keeps the user's session theirs.

The rule: **sparktrack never changes a session it did not create.**

* When a SparkContext runs in this process, its session is used exactly as it is:
  no builder with confs, no ``spark.conf.set``, no catalog or extension changes.
  ``SparkSession.builder...getOrCreate()`` on a running session writes every conf it
  was given into that live session (a Delta catalog there breaks the user's next
  ``fit``, ``cache()`` or SQL when their JVM lacks Delta's jars), so such a builder is
  only ever used when no SparkContext exists.
* ``running_session()`` is that session, found from any thread (the thread's active
  session, else the process's default one, else the running SparkContext's), or None.
  ``spark_session()`` is it too, and creates a local session with Delta only when no
  SparkContext runs.
* Work done later for a user's call (autolog's post-fit logging runs on a background
  thread, where pyspark's ``getActiveSession()`` is None) runs inside
  ``using_session(df.sparkSession)``: the session captured from the fit's DataFrame is
  the one every look-up above returns on that thread.
* Logging never needs Delta in the session: the tracking path writes Delta with
  delta-rs, and a model folder is written with Spark ML's own writer. Spark-side access
  to the store (``sparktrack.spark``) needs Delta and says which confs to add
  (``check_delta_configured``); it fails only itself.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sparktrack.errors import ConfigurationError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "DELTA_CONFS",
    "H2O_JAVA_EXPORTS",
    "JAVA17_OPTIONS",
    "check_delta_configured",
    "check_s3a_configured",
    "delta_configured",
    "delta_package",
    "hadoop_aws_package",
    "running_session",
    "s3a_confs",
    "spark_session",
    "store_session",
    "using_session",
]

DELTA_VERSION = "3.3.2"
DELTA_CONFS = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}
"""The Spark confs, besides Delta's jars (``delta_package()``), a session needs for Delta."""
# Sparkling Water's H2O client reaches into these JDK internals; Java 17 closes them.
H2O_JAVA_EXPORTS = (
    "--add-exports=java.base/sun.net.www.protocol.http=ALL-UNNAMED",
    "--add-exports=java.base/sun.net.www.protocol.https=ALL-UNNAMED",
)
JAVA17_OPTIONS = " ".join((*H2O_JAVA_EXPORTS, "--add-opens=java.base/java.nio=ALL-UNNAMED"))
"""The Java 17 options Sparkling Water needs in ``spark.driver.extraJavaOptions`` (and
``spark.executor.extraJavaOptions`` on a cluster)."""


def delta_package() -> str:
    """Name the Maven package of Delta's jars that matches the installed delta-spark.

    Returns:
        ``io.delta:delta-spark_2.12:<version>``, for ``spark.jars.packages``.
    """
    try:
        from importlib.metadata import version

        delta_version = version("delta-spark")
    except Exception:
        delta_version = DELTA_VERSION
    return f"io.delta:delta-spark_2.12:{delta_version}"


def _required_confs() -> dict[str, str]:
    return {"spark.jars.packages": delta_package(), **DELTA_CONFS}


def delta_configured(spark: SparkSession) -> bool:
    """Whether a session can read and write Delta tables (``check_delta_configured``).

    Args:
        spark: The session to look at; it is only read, never changed.

    Returns:
        True when it has Delta's jars and confs.
    """
    try:
        check_delta_configured(spark)
    except ConfigurationError:
        return False
    return True


def check_delta_configured(spark: SparkSession) -> None:
    """Check that a session can read and write Delta tables.

    Args:
        spark: The session to check; it is only read, never changed.

    Raises:
        ConfigurationError: The session lacks Delta's jars or confs; the message lists
            each ``--conf`` to add.
    """
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


# pip's pyspark 3.5 is built on Hadoop 3.3.4; used when its jars folder cannot be read.
HADOOP_VERSION = "3.3.4"
_HADOOP_CLIENT_JAR = re.compile(r"hadoop-client-api-(\d+\.\d+\.\d+)\.jar")
_S3A = "spark.hadoop.fs.s3a."


def hadoop_aws_package() -> str:
    """Name the Maven package that gives Spark ``s3a://``, for the installed pyspark.

    hadoop-aws must be of the Hadoop version Spark was built with (its classes extend
    that version's file system API); it brings the AWS SDK bundle it was built against.
    The version is read from pyspark's own ``hadoop-client-api`` jar, without a JVM.

    Returns:
        ``org.apache.hadoop:hadoop-aws:<Spark's Hadoop version>``, for ``spark.jars.packages``.
    """
    version = HADOOP_VERSION
    try:
        import pyspark

        jars = Path(pyspark.__file__).parent / "jars"
        for jar in sorted(jars.glob("hadoop-client-api-*.jar")):
            if found := _HADOOP_CLIENT_JAR.fullmatch(jar.name):
                version = found.group(1)
    except ImportError:  # pyspark is optional for this name; the default fits pyspark 3.5
        pass
    return f"org.apache.hadoop:hadoop-aws:{version}"


def s3a_confs(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The Spark confs that point ``s3a://`` where the AWS_* variables point delta-rs.

    delta-rs and Arrow read the AWS SDKs' usual variables; Hadoop's S3A reads its own
    ``fs.s3a.*`` settings, so the same facts are spelled again for it:

    * ``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3``): ``fs.s3a.endpoint``, with
      path-style access (S3-compatible servers rarely serve bucket subdomains) and, for
      an ``http://`` endpoint, ssl off;
    * ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``): ``fs.s3a.endpoint.region``;
    * ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (and ``AWS_SESSION_TOKEN``):
      ``fs.s3a.access.key``/``secret.key``/``session.token``, which Spark redacts in its
      UI and logs. As confs they reach the executors, whose environment may lack them.

    Without credentials S3A's default chain applies (environment, instance role).

    Args:
        environ: The variables to read (default ``os.environ``).

    Returns:
        ``spark.hadoop.fs.s3a.*`` confs; empty when no variable is set.
    """
    env = os.environ if environ is None else environ
    confs: dict[str, str] = {}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        confs[_S3A + "endpoint"] = endpoint
        confs[_S3A + "path.style.access"] = "true"
        if endpoint.startswith("http://"):
            confs[_S3A + "connection.ssl.enabled"] = "false"
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        confs[_S3A + "endpoint.region"] = region
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        confs[_S3A + "access.key"] = env["AWS_ACCESS_KEY_ID"]
        confs[_S3A + "secret.key"] = env["AWS_SECRET_ACCESS_KEY"]
        if env.get("AWS_SESSION_TOKEN"):
            confs[_S3A + "session.token"] = env["AWS_SESSION_TOKEN"]
            confs[_S3A + "aws.credentials.provider"] = (
                "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
            )
    return confs


# Conf values printed in advice instead of the secrets themselves.
_PLACEHOLDERS = {
    _S3A + "access.key": "$AWS_ACCESS_KEY_ID",
    _S3A + "secret.key": "$AWS_SECRET_ACCESS_KEY",
    _S3A + "session.token": "$AWS_SESSION_TOKEN",
}


def check_s3a_configured(spark: SparkSession) -> None:
    """Check that a session can reach ``s3a://`` (a store on S3).

    The test is whether the session's JVM can load the class Hadoop maps ``s3a`` to:
    hadoop-aws may come from ``spark.jars.packages`` or from a cluster's own classpath.

    Args:
        spark: The session to check; it is only read, never changed.

    Raises:
        ConfigurationError: The session has no ``s3a`` file system; the message names
            the package and the confs to add (credentials as the variables to use).
    """
    context = spark.sparkContext
    jvm = context._jvm
    assert jvm is not None
    try:
        jvm.org.apache.hadoop.fs.FileSystem.getFileSystemClass(
            "s3a", context._jsc.hadoopConfiguration()
        )
        return
    except Exception:  # no file system for s3a, or its class is not on the classpath
        pass
    confs = {key: _PLACEHOLDERS.get(key, value) for key, value in s3a_confs().items()}
    lines = "\n".join(f"  --conf {key}={value}" for key, value in confs.items())
    raise ConfigurationError(
        "this SparkSession cannot reach the store on S3: it has no s3a:// file system "
        "(pip's pyspark lacks the hadoop-aws jars).\nAdd to spark-submit / the cluster "
        f"config:\n  --packages {hadoop_aws_package()} (beside Delta's; it brings the "
        "AWS SDK bundle)\n"
        + (
            f"and the confs that point it at your S3 (from this process's AWS_* variables):\n"
            f"{lines}\n"
            if lines
            else ""
        )
        + "(logging works without them; only Spark-side access to the store needs s3a)"
    )


_bound = threading.local()  # the session using_session() gives this thread
# Serialises creating sparktrack's own session: two threads finding no SparkContext
# must not both build one.
_create_lock = threading.Lock()


@contextmanager
def using_session(spark: SparkSession | None) -> Iterator[None]:
    """Within the block, ``running_session()`` in this thread returns ``spark``.

    For work done on another thread on behalf of a user's call: pass the session of
    the DataFrame the user handed over.

    Args:
        spark: The session to use; None leaves the look-up as it is.

    Yields:
        Nothing; the binding ends with the block.
    """
    previous = getattr(_bound, "session", None)
    _bound.session = spark if spark is not None else previous
    try:
        yield
    finally:
        _bound.session = previous


def running_session() -> SparkSession | None:
    """Find the session this process already runs, as it is.

    In order: the session ``using_session`` bound to this thread, this thread's
    active session, the process's default session, and for a SparkContext started
    without a session, a session over it (``SparkSession(sc)``, which applies no conf).
    Never starts a JVM, and never imports pyspark for a process that has not.

    Returns:
        The session; None when no SparkContext runs.
    """
    bound = getattr(_bound, "session", None)
    if bound is not None:
        return bound
    if "pyspark" not in sys.modules:
        return None
    from pyspark import SparkContext
    from pyspark.errors import PySparkRuntimeError
    from pyspark.sql import SparkSession

    # pyspark has no public "is a SparkContext running" (getOrCreate would start one);
    # this class attribute is what its own getActiveSession() consults.
    context = SparkContext._active_spark_context
    if context is None:
        return None
    try:
        session = SparkSession.active()  # this thread's active session, else the default
    except PySparkRuntimeError:
        session = None
    if session is not None and session.sparkContext is context:
        return session
    return SparkSession(context)


def spark_session(
    app_name: str = "sparktrack",
    master: str | None = None,
    *,
    extra_conf: dict[str, str] | None = None,
    s3a: bool = False,
) -> SparkSession:
    """Get the running SparkSession as it is, or start a local one with Delta.

    When a SparkContext runs, its session is returned untouched (see
    ``running_session``), from any thread. Only when none runs is a new local session
    built, with delta-spark (resolved from Maven Central into ``~/.ivy2`` on first use),
    the Java 17 options Sparkling Water needs, and small-machine defaults.

    Args:
        app_name: The new session's application name.
        master: The new session's master URL (default: ``$SPARKTRACK_SPARK_MASTER``,
            else ``local[*]``).
        extra_conf: More Spark confs for the new session.
        s3a: Whether the new session must reach a store on S3: it then gets
            ``hadoop_aws_package()`` beside Delta's jars and ``s3a_confs()``. A running
            session is returned as it is (``check_s3a_configured`` tells what it lacks).

    Returns:
        The session.

    Raises:
        ConfigurationError: A new session could not start (no Java 17 on PATH, Maven
            Central unreachable for Delta's jars).
    """
    with _create_lock:
        running = running_session()
        if running is not None:
            return running
        conf = {**s3a_confs(), **(extra_conf or {})} if s3a else dict(extra_conf or {})
        return _new_local_session(app_name, master, conf, s3a=s3a)


def store_session(spark: SparkSession | None = None, *, s3a: bool = False) -> SparkSession:
    """The session for Spark-side access to a store, checked for what reading it needs.

    Args:
        spark: The session to use; by default ``spark_session(s3a=s3a)`` (the running
            one as it is, else a new local one with Delta).
        s3a: Whether the store is on S3 (the session then needs ``s3a://`` too).

    Returns:
        The session, never changed.

    Raises:
        ConfigurationError: The session lacks Delta's confs, or s3a for a store on S3
            (the message names what to add).
    """
    session = spark if spark is not None else spark_session(s3a=s3a)
    check_delta_configured(session)
    if s3a:
        check_s3a_configured(session)
    return session


@contextmanager
def _jvm_console_on_stderr() -> Iterator[None]:
    """Start a JVM with its standard output on this process's stderr, for its whole life.

    What the JVM prints on its own console (Ivy's resolution banner, H2O's progress bars
    and log lines, which bypass log4j) is diagnostics, like Spark's log4j output on
    stderr; the program's stdout stays the program's. pyspark starts the JVM with the
    stdout this process has at that moment, so fd 1 points at stderr while the session
    starts, and back after. When a JVM runs already, nothing changes.
    """
    from pyspark import SparkContext

    if SparkContext._gateway is not None:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _new_local_session(
    app_name: str, master: str | None, extra_conf: dict[str, str], *, s3a: bool
) -> SparkSession:
    from pyspark.sql import SparkSession

    java_options = JAVA17_OPTIONS
    packages = [delta_package(), *([hadoop_aws_package()] if s3a else [])]
    builder = (
        SparkSession.builder.appName(app_name)
        .master(master or os.environ.get("SPARKTRACK_SPARK_MASTER", "local[*]"))
        .config("spark.jars.packages", ",".join(packages))
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
    for key, value in extra_conf.items():
        builder = builder.config(key, value)
    try:
        with _jvm_console_on_stderr():
            session = builder.getOrCreate()
    except Exception as exc:
        raise ConfigurationError(
            f"could not start a local SparkSession with Delta ({exc}). Check that Java 17 is "
            "on PATH (`java -version`) and that Maven Central is reachable for "
            f"{', '.join(packages)}; `sparktrack doctor` checks both."
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    return session
