"""Where a run comes from: the tags attached automatically to every new run.

``run_context_tags()`` answers who ran what, from which commit, on which machine, with
which library versions and, when the caller already has one, in which Spark application.
Tag names follow MLflow's where MLflow has one (``mlflow.user``, ``mlflow.source.*``) so
MLflow-aware tools read them; the rest live under ``sparktrack.*``.

Choices worth knowing:

* ``sparktrack.git.dirty`` is ``"true"`` when ``git status`` shows anything: staged or
  unstaged changes, *and untracked files*. An untracked module the script imports changes
  what ran just as much as an edit does, and the commit alone cannot reproduce it. Files
  matched by ``.gitignore`` (data, outputs, caches) are not counted.
* ``mlflow.source.git.repoURL`` has any ``user:password@`` part removed: CI clones often
  carry a token there, and tags are readable by everyone who can read the store.
* Arguments recorded in ``sparktrack.spark.submit_args`` have values of secret-looking
  names (Spark's own default ``spark.redaction.regex``) replaced, as the Spark UI does.
* Nothing here imports pyspark or starts a JVM: Spark tags appear only when the process
  already has a session (or one is passed in).
* No piece can fail the caller: a piece that fails (no git, no passwd entry, a stopped
  JVM) only leaves its tags out.

The pieces: the source (``_context_source``), its git state (``_context_git``), the
process (here) and the Spark application (``_context_spark``).
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import platform
import socket
from collections.abc import Callable
from importlib import metadata

from sparktrack.tracking._context_git import git_tags
from sparktrack.tracking._context_safe import attempt
from sparktrack.tracking._context_source import (
    SOURCE_NAME,
    SOURCE_TYPE,
    current_folder,
    current_source,
)
from sparktrack.tracking._context_spark import spark_tags

__all__ = ["MAX_TAG_VALUE_LENGTH", "current_user", "run_context_tags"]

MAX_TAG_VALUE_LENGTH = 8000

USER = "mlflow.user"
PYTHON_VERSION = "sparktrack.python.version"
HOST = "sparktrack.host"
PACKAGES = "sparktrack.packages"

# Distribution names, in the order they appear in the tag.
_PACKAGES = (
    "sparktrack",
    "pyspark",
    "delta-spark",
    "deltalake",
    "pyarrow",
    "pandas",
    "numpy",
    "scikit-learn",
    "xgboost",
    "h2o-pysparkling-3-5",
    "h2o",
    "optuna",
    "mlflow",
)


def run_context_tags(*, spark_session: object | None = None) -> dict[str, str]:
    """Tags describing where the current run comes from (see the module docstring).

    Args:
        spark_session: The session to describe; without it the active session is
            used, if pyspark is already imported and has one.

    Returns:
        Tag names and values; a piece that fails (no git, no passwd entry, a stopped
        JVM) only leaves its tags out. Never raises.
    """
    tags: dict[str, str] = {}
    source = attempt(current_source)
    if source is not None:
        tags[SOURCE_NAME] = source.name
        tags[SOURCE_TYPE] = source.type
    git_folder = source.git_folder if source is not None and source.git_folder else None
    git_folder = git_folder or attempt(current_folder)
    if git_folder:
        tags.update(attempt(git_tags, git_folder) or {})
    tags.update(attempt(_process_tags) or {})
    tags.update(attempt(spark_tags, spark_session) or {})
    return {name: value[:MAX_TAG_VALUE_LENGTH] for name, value in tags.items()}


@functools.cache
def _process_tags() -> dict[str, str]:
    """Facts fixed for the life of the process, computed once."""
    pieces: dict[str, Callable[[], str]] = {
        USER: current_user,
        PYTHON_VERSION: platform.python_version,
        HOST: socket.gethostname,
        PACKAGES: _packages_json,
    }
    return {name: value for name, piece in pieces.items() if (value := attempt(piece))}


def current_user() -> str:
    """The user running this process ("unknown" when the system cannot say).

    Returns:
        The login name, else ``$USER``, else "unknown".
    """
    try:
        return getpass.getuser()
    except Exception:
        # Containers running under an arbitrary uid have no passwd entry and no LOGNAME.
        return os.environ.get("USER") or "unknown"


def _packages_json() -> str:
    versions: dict[str, str] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return json.dumps(versions, separators=(",", ":"))
