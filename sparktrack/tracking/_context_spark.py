"""The Spark application a run comes from, when the process already has a session.

Nothing here imports pyspark or starts a JVM: the session is the caller's, or the one
already running. Arguments given to spark-submit are recorded with the values of
secret-looking names replaced, as the Spark UI does.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from collections.abc import Callable, Iterable
from typing import Any

from sparktrack.session import running_session
from sparktrack.tracking._context_safe import attempt

__all__ = [
    "SPARK_APP_ID",
    "SPARK_APP_NAME",
    "SPARK_MASTER",
    "SPARK_SUBMIT_ARGS",
    "SPARK_VERSION",
    "spark_tags",
]

SPARK_APP_ID = "sparktrack.spark.app_id"
SPARK_APP_NAME = "sparktrack.spark.app_name"
SPARK_MASTER = "sparktrack.spark.master"
SPARK_VERSION = "sparktrack.spark.version"
SPARK_SUBMIT_ARGS = "sparktrack.spark.submit_args"

# Spark's default spark.redaction.regex, and the text Spark puts in place of a secret.
_SECRET_NAME = re.compile(r"(?i)secret|password|token|access[.]?key")
_REDACTED = "*********(redacted)"


def spark_tags(spark_session: object | None) -> dict[str, str]:
    """Tags naming the Spark application of ``spark_session`` (else the running one).

    Looked up on every call: a session can be stopped and replaced within a process,
    and each look-up is a few py4j calls.
    """
    session = spark_session if spark_session is not None else running_session()
    if session is None:
        return {}
    pieces: dict[str, Callable[[Any], str | None]] = {
        SPARK_APP_ID: _app_id,
        SPARK_APP_NAME: _app_name,
        SPARK_MASTER: _master,
        SPARK_VERSION: _spark_version,
        SPARK_SUBMIT_ARGS: _submit_args_json,
    }
    return {name: value for name, piece in pieces.items() if (value := attempt(piece, session))}


def _context_value(session: Any, attribute: str, conf_key: str) -> str | None:
    try:
        value = getattr(session.sparkContext, attribute)
    except Exception:
        # Spark Connect sessions have no SparkContext; the server's conf still knows.
        value = session.conf.get(conf_key, None)
    return None if value is None else str(value)


def _app_id(session: Any) -> str | None:
    return _context_value(session, "applicationId", "spark.app.id")


def _app_name(session: Any) -> str | None:
    return _context_value(session, "appName", "spark.app.name")


def _master(session: Any) -> str | None:
    return _context_value(session, "master", "spark.master")


def _spark_version(session: Any) -> str | None:
    return str(session.version)


def _submit_args_json(session: Any) -> str:
    """What spark-submit was given, as far as the driver can see it."""
    confs = _submit_confs(session)
    submitted: dict[str, Any] = {"argv": _redact_args(sys.argv[1:])}
    env_args = os.environ.get("PYSPARK_SUBMIT_ARGS")
    if env_args:
        submitted["PYSPARK_SUBMIT_ARGS"] = _redact_args(_split_args(env_args))
    submitted["deployMode"] = confs.get("spark.submit.deployMode", "client")
    submitted["conf"] = confs
    return json.dumps(submitted, separators=(",", ":"))


def _submit_confs(session: Any) -> dict[str, str]:
    prefix = "spark.submit."
    try:
        # One call for the few spark.submit.* entries: SparkContext.getConf().getAll()
        # would cost two py4j round trips per entry of the whole conf.
        entries = session.sparkContext._jsc.sc().conf().getAllWithPrefix(prefix)
        pairs = [(prefix + str(entry._1()), str(entry._2())) for entry in entries]
    except Exception:
        # Spark Connect: no JVM handle, so ask for the keys spark-submit is known to set.
        keys = (prefix + "deployMode", prefix + "pyFiles")
        pairs = [(key, str(value)) for key in keys if (value := session.conf.get(key, None))]
    return {key: _REDACTED if _SECRET_NAME.search(key) else value for key, value in sorted(pairs)}


def _split_args(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # unbalanced quotes: still worth recording
        return text.split()


def _redact_args(args: Iterable[str]) -> list[str]:
    """Hide values of secret-looking names: ``--password x``, ``--conf a.secret.key=x``."""
    redacted: list[str] = []
    hide_next = False
    for arg in args:
        if hide_next and not arg.startswith("-"):
            redacted.append(_REDACTED)
            hide_next = False
            continue
        name, equals, _ = arg.partition("=")
        secret = bool(_SECRET_NAME.search(name))
        redacted.append(f"{name}={_REDACTED}" if equals and secret else arg)
        hide_next = secret and not equals and arg.startswith("-")
    return redacted
