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
"""

from __future__ import annotations

import builtins
import functools
import getpass
import json
import logging
import os
import platform
import re
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from sparktrack.session import running_session

__all__ = ["current_user", "run_context_tags"]

_LOG = logging.getLogger(__name__)
_T = TypeVar("_T")

MAX_TAG_VALUE_LENGTH = 8000
# Enough for `git status` on a large work tree; short enough that a hung git (network
# file system, credential prompt) cannot stall run creation for long.
_GIT_TIMEOUT_SECONDS = 3.0

USER = "mlflow.user"
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
GIT_COMMIT = "mlflow.source.git.commit"
GIT_BRANCH = "mlflow.source.git.branch"
GIT_REPO_URL = "mlflow.source.git.repoURL"
GIT_DIRTY = "sparktrack.git.dirty"
PYTHON_VERSION = "sparktrack.python.version"
HOST = "sparktrack.host"
PACKAGES = "sparktrack.packages"
SPARK_APP_ID = "sparktrack.spark.app_id"
SPARK_APP_NAME = "sparktrack.spark.app_name"
SPARK_MASTER = "sparktrack.spark.master"
SPARK_VERSION = "sparktrack.spark.version"
SPARK_SUBMIT_ARGS = "sparktrack.spark.submit_args"

NOTEBOOK = "NOTEBOOK"
JOB = "JOB"
LOCAL = "LOCAL"
INTERACTIVE = "<interactive>"

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

# spark-submit's PythonRunner hands the driver its gateway through these variables before
# Python starts; pyspark never sets them in its own process when it launches a JVM itself,
# so their presence at import time means "started by spark-submit" (cluster or client mode).
_SPARK_SUBMIT_ENV = ("PYSPARK_GATEWAY_PORT", "SPARK_SUBMIT")
_STARTED_BY_SPARK_SUBMIT = any(os.environ.get(name) for name in _SPARK_SUBMIT_ENV)

# Spark's default spark.redaction.regex, and the text Spark puts in place of a secret.
_SECRET_NAME = re.compile(r"(?i)secret|password|token|access[.]?key")
_REDACTED = "*********(redacted)"


def run_context_tags(*, spark_session: object | None = None) -> dict[str, str]:
    """Tags describing where the current run comes from (see the module docstring).

    ``spark_session`` is the session to describe; without it the active session is used,
    if pyspark is already imported and has one. Never raises.
    """
    tags: dict[str, str] = {}
    source = _attempt(_source)
    if source is not None:
        tags[SOURCE_NAME] = source.name
        tags[SOURCE_TYPE] = source.type
    git_folder = source.git_folder if source is not None and source.git_folder else None
    git_folder = git_folder or _attempt(_current_folder)
    if git_folder:
        tags.update(_attempt(_git_tags, git_folder) or {})
    tags.update(_attempt(_process_tags) or {})
    tags.update(_attempt(_spark_tags, spark_session) or {})
    return {name: value[:MAX_TAG_VALUE_LENGTH] for name, value in tags.items()}


def _attempt(piece: Callable[..., _T], *args: Any) -> _T | None:
    """Run one piece of the context; its failure leaves its tags out instead of raising."""
    try:
        return piece(*args)
    except Exception:
        _LOG.debug("run context: %s failed", getattr(piece, "__name__", piece), exc_info=True)
        return None


# --- the process: user, host, interpreter, libraries ---------------------------------


@functools.cache
def _process_tags() -> dict[str, str]:
    """Facts fixed for the life of the process, computed once."""
    pieces: dict[str, Callable[[], str]] = {
        USER: current_user,
        PYTHON_VERSION: platform.python_version,
        HOST: socket.gethostname,
        PACKAGES: _packages_json,
    }
    return {name: value for name, piece in pieces.items() if (value := _attempt(piece))}


def current_user() -> str:
    """The name of the user running this process (``"unknown"`` if the system has none)."""
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


# --- the source: script, notebook or interactive session -----------------------------


@dataclass(frozen=True)
class _Source:
    name: str
    type: str
    # Folder whose git state describes the source; None means the current directory.
    git_folder: str | None = None


@functools.cache
def _source() -> _Source:
    """What is running; fixed for the process, so computed once."""
    shell = _ipython_shell()
    notebook = _attempt(_jupyter_notebook_path, shell) or _attempt(_databricks_notebook_path, shell)
    if notebook:
        return _Source(notebook, NOTEBOOK, _local_parent(notebook))
    if _is_kernel(shell):
        return _Source(INTERACTIVE, NOTEBOOK)
    source_type = JOB if _STARTED_BY_SPARK_SUBMIT else LOCAL
    script = _script_path()
    if script is not None:
        return _Source(script, source_type, os.path.dirname(os.path.realpath(script)))
    return _Source(_interactive_name(), source_type)


def _ipython_shell() -> Any | None:
    # Only ask an IPython that is already loaded: importing it here would be slow and
    # could only ever answer that there is no shell.
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    return get_ipython() if callable(get_ipython) else None


def _is_kernel(shell: Any | None) -> bool:
    """A Jupyter (ZMQ) kernel, as opposed to the terminal IPython, which is LOCAL."""
    if shell is None:
        return False
    is_zmq = any(cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__)
    return is_zmq or getattr(shell, "kernel", None) is not None


def _jupyter_notebook_path(shell: Any | None) -> str | None:
    # JPY_SESSION_NAME is inherited by anything the notebook spawns (`!python x.py`), so
    # it only names *this* process's source when this process is the kernel.
    if not _is_kernel(shell):
        return None
    user_ns = getattr(shell, "user_ns", None) or {}
    candidates = (
        os.environ.get("JPY_SESSION_NAME"),  # jupyter_server >= 2
        user_ns.get("__vsc_ipynb_file__"),  # VS Code
        user_ns.get("__session__"),  # IPython >= 8 in JupyterLab
    )
    for candidate in candidates:
        if isinstance(candidate, str) and candidate:
            return _absolute_if_local(candidate)
    return _attempt(_launcher_notebook)


def _launcher_notebook() -> str | None:
    """The notebook a headless run executes, from the command line of the process that
    started this kernel.

    papermill, ``jupyter execute`` and ``jupyter nbconvert --execute`` start the kernel
    through nbclient, which tells the kernel nothing about the notebook: no
    JPY_SESSION_NAME, no ``__session__``; only JPY_PARENT_PID, the launcher's process
    id. The launcher's own arguments name the notebook. papermill's name two (input
    and output): the input is the source. Several others: the one in this kernel's
    working folder, where nbclient starts the kernel of a notebook. Linux only (/proc);
    elsewhere, or when the launcher is a script naming no notebook, nothing is found.
    """
    parent = os.environ.get("JPY_PARENT_PID", "")
    if not parent.isdigit():
        return None
    process = os.path.join("/proc", parent)
    try:
        with open(os.path.join(process, "cmdline"), "rb") as cmdline:
            argv = [a.decode("utf-8", "replace") for a in cmdline.read().split(b"\0") if a]
        launcher_cwd = os.readlink(os.path.join(process, "cwd"))
    except OSError:  # not Linux, or the launcher has gone
        return None
    notebooks = [
        arg if "://" in arg else os.path.normpath(os.path.join(launcher_cwd, arg))
        for arg in argv[1:]
        if arg.endswith(".ipynb")
    ]
    if len(notebooks) == 1:
        return notebooks[0]
    if notebooks and any(os.path.basename(arg) == "papermill" for arg in argv[:3]):
        return notebooks[0]
    here = [n for n in notebooks if os.path.dirname(n) == os.getcwd()]
    return here[0] if len(here) == 1 else None


def _absolute_if_local(path: str) -> str:
    """Older Jupyter servers give the path relative to their root, not to the kernel's cwd."""
    if os.path.isabs(path) or not os.path.exists(path):
        return path
    return os.path.abspath(path)


def _databricks_notebook_path(shell: Any | None) -> str | None:
    dbutils = _find_dbutils(shell)
    if dbutils is None:
        return None
    context = dbutils.notebook.entry_point.getDbutils().notebook().getContext()
    path = context.notebookPath().get()  # raises when not in a notebook (a job's wheel task)
    return str(path) if path else None


def _find_dbutils(shell: Any | None) -> Any | None:
    # Databricks puts dbutils in the notebook's namespace; some runtimes only in builtins.
    main = sys.modules.get("__main__")
    namespaces = (
        getattr(shell, "user_ns", None) or {},
        vars(main) if main is not None else {},
        vars(builtins),
    )
    for namespace in namespaces:
        dbutils = namespace.get("dbutils")
        if dbutils is not None:
            return dbutils
    return None


def _local_parent(path: str) -> str | None:
    """The notebook's folder when it is a local file (a Databricks workspace path is not)."""
    return os.path.dirname(os.path.realpath(path)) if os.path.isfile(path) else None


def _script_path() -> str | None:
    argv0 = sys.argv[0] if getattr(sys, "argv", None) else ""
    # __main__.__file__ is absolute (3.9+), so it still finds the script after an
    # os.chdir has made a relative argv[0] point elsewhere.
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    for candidate in (argv0, main_file):
        if isinstance(candidate, str) and candidate and os.path.isfile(candidate):
            return os.path.abspath(candidate)
    return None


def _interactive_name() -> str:
    argv0 = sys.argv[0] if getattr(sys, "argv", None) else ""
    if argv0 in ("", "-c", "-") or hasattr(sys, "ps1") or sys.flags.interactive:
        return INTERACTIVE
    # Embedded or unusual launchers: the interpreter is the most we know.
    return sys.executable or INTERACTIVE


def _current_folder() -> str:
    return os.path.realpath(os.getcwd())


# --- git -------------------------------------------------------------------------------


@functools.cache
def _git_tags(folder: str) -> dict[str, str]:
    """Git state of the work tree holding ``folder``; empty when there is none or no git.

    Cached per folder: the process keeps running the code it loaded, whatever happens to
    the work tree afterwards.
    """
    if shutil.which("git") is None or _git(folder, "rev-parse", "--is-inside-work-tree") != "true":
        return {}
    found = {
        GIT_COMMIT: _git(folder, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"),
        # symbolic-ref fails on a detached HEAD (typical in CI): no branch is better
        # than the literal "HEAD".
        GIT_BRANCH: _git(folder, "symbolic-ref", "--quiet", "--short", "HEAD"),
        GIT_REPO_URL: _remote_url(folder),
        GIT_DIRTY: _dirty(folder),
    }
    return {name: value for name, value in found.items() if value}


def _remote_url(folder: str) -> str | None:
    url = _git(folder, "config", "--get", "remote.origin.url")
    return _without_credentials(url) if url else None


def _without_credentials(url: str) -> str:
    if "://" not in url:
        return url  # scp-like `git@host:org/repo.git`: the user part is no secret
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _dirty(folder: str) -> str | None:
    # Untracked files count (see the module docstring); ignored ones never show here.
    status = _git(folder, "status", "--porcelain", "--untracked-files=normal")
    if status is None:
        return None
    return "true" if status else "false"


def _git(folder: str, *args: str) -> str | None:
    """Output of one git command in ``folder``, or None when it fails or hangs."""
    env = {
        **os.environ,
        # `git status` would otherwise refresh and rewrite the index, racing with the
        # user's own git commands in the same work tree.
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_TERMINAL_PROMPT": "0",
    }
    try:
        completed = subprocess.run(
            ["git", "-C", folder, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=_GIT_TIMEOUT_SECONDS,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


# --- Spark -----------------------------------------------------------------------------


def _spark_tags(spark_session: object | None) -> dict[str, str]:
    """The Spark application, looked up on every call (a session can be stopped and
    replaced within a process; each look-up is a few py4j calls)."""
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
    return {name: value for name, piece in pieces.items() if (value := _attempt(piece, session))}


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
