"""The Spark side of a snapshot: the session's conf (secrets redacted) and its JVM.

``spark-conf.json`` holds every conf the session has set (the SparkContext's, which a
session copies at its start, and those set later with ``spark.conf.set``), sorted.

* A conf whose name looks secret has its value replaced by ``*********(redacted)``:
  names matching password, passwd, secret, token, credential or key (case aside, so
  ``spark.hadoop.fs.s3a.secret.key``, ``fs.azure.account.key.<account>``,
  ``spark.ssl.keyStorePassword``), and those matching the session's own
  ``spark.redaction.regex``. A ``user:password@`` inside a URL value is redacted too.
* Confs that differ in every Spark application (its id, start time, the driver's host
  and port) are left out: they say nothing about what ran, and would make every run of
  an unchanged job a new snapshot. The tags keep the application id.

Nothing here imports pyspark: the session is the caller's.
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Any

from sparktrack.tracking._context_safe import attempt
from sparktrack.tracking._snapshot_parts import Part, json_bytes

__all__ = ["REDACTED", "jvm_facts", "redacted_conf", "spark_conf_part"]

REDACTED = "*********(redacted)"  # what Spark's UI shows in place of a secret
_SECRET_NAME = re.compile(r"(?i)password|passwd|secret|token|credential|key")
_URL_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")
# Confs that change with every application, not with what ran.
_PER_APPLICATION = frozenset(
    {
        "spark.app.id",
        "spark.app.startTime",
        "spark.app.submitTime",
        "spark.app.initial.jar.urls",
        "spark.app.initial.file.urls",
        "spark.driver.host",
        "spark.driver.port",
        "spark.repl.class.uri",
        "spark.repl.class.outputDir",
    }
)
# Separates the conf entries read in one py4j call; no conf holds it.
_SEPARATOR = "\x00"


def redacted_conf(conf: dict[str, str]) -> dict[str, str]:
    """``conf`` without per-application entries, secrets redacted (module docstring).

    Args:
        conf: Conf names and values as the session holds them.

    Returns:
        What a snapshot records, sorted by name.
    """
    extra = _session_pattern(conf.get("spark.redaction.regex"))
    kept: dict[str, str] = {}
    for name in sorted(conf):
        if name in _PER_APPLICATION:
            continue
        secret = _SECRET_NAME.search(name) or (extra is not None and extra.search(name))
        kept[name] = REDACTED if secret else _URL_CREDENTIALS.sub(rf"\1{REDACTED}@", conf[name])
    return kept


def _session_pattern(regex: str | None) -> re.Pattern[str] | None:
    if not regex:
        return None
    try:
        return re.compile(regex)
    except re.error:  # a Java regex Python cannot read: ours still applies
        return None


def spark_conf_part(session: Any) -> Part | None:
    """``spark-conf.json`` of ``session``; None when its conf cannot be read."""
    conf = attempt(_session_conf, session) or attempt(_context_conf, session)
    if conf is None:
        return None
    return Part("spark-conf.json", "spark-conf", json_bytes(redacted_conf(conf)))


def _session_conf(session: Any) -> dict[str, str]:
    # One py4j call for the whole conf: RuntimeConfig has no getAll in Spark 3.5's
    # Python API, and SparkConf.getAll() costs two round trips per entry. The session's
    # conf includes the SparkContext's (copied at its start) and later spark.conf.set.
    joined = session._jsparkSession.conf().getAll().mkString(_SEPARATOR)
    conf: dict[str, str] = {}
    for entry in str(joined).split(_SEPARATOR):
        # Scala 2.12 prints a map's entries as "name -> value", 2.13 as "(name,value)";
        # conf names hold neither " -> " nor ",".
        name, arrow, value = entry.partition(" -> ")
        if arrow:
            conf[name] = value
        elif entry.startswith("(") and entry.endswith(")") and "," in entry:
            name, value = entry[1:-1].split(",", 1)
            conf[name] = value
    return conf


def _context_conf(session: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in session.sparkContext.getConf().getAll()}


def jvm_facts(session: Any | None) -> dict[str, str]:
    """Java and Spark versions: the session's JVM's, else ``JAVA_HOME``'s Java version."""
    facts: dict[str, str] = {}
    if session is not None:
        version = attempt(lambda: str(session.version))
        if version:
            facts["spark"] = version
        system = attempt(lambda: session.sparkContext._jvm.java.lang.System)
        for prop in ("java.version", "java.vendor", "java.vm.name"):
            value = attempt(lambda p=prop: system.getProperty(p)) if system is not None else None
            if value:
                facts[prop.replace(".", "_")] = str(value)
    if "java_version" not in facts:
        release = attempt(_java_home_release)
        if release:
            facts["java_version"] = release
    return facts


def _java_home_release() -> str | None:
    """JAVA_VERSION from the ``release`` file of ``$JAVA_HOME`` or of ``java`` on the PATH.

    The Java pyspark would start (it looks in the same places), read without starting it.
    """
    home = os.environ.get("JAVA_HOME")
    if not home:
        java = shutil.which("java")
        if java is None:
            return None
        home = os.path.dirname(os.path.dirname(os.path.realpath(java)))
    with open(os.path.join(home, "release"), encoding="utf-8") as release:
        for line in release:
            if line.startswith("JAVA_VERSION="):
                return line.split("=", 1)[1].strip().strip('"')
    return None
