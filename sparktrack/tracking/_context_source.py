"""What is running: a script, a notebook, a job started by spark-submit, a shell.

Fixed for the life of the process, so found once. The source's folder (a script's, a
local notebook's) is where its git state is read from.
"""

from __future__ import annotations

import builtins
import functools
import os
import sys
from dataclasses import dataclass
from typing import Any

from sparktrack.tracking._context_safe import attempt

__all__ = [
    "INTERACTIVE",
    "JOB",
    "LOCAL",
    "NOTEBOOK",
    "SOURCE_NAME",
    "SOURCE_TYPE",
    "Source",
    "current_folder",
    "current_source",
    "find_dbutils",
    "ipython_shell",
    "is_kernel",
]

SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
NOTEBOOK = "NOTEBOOK"
JOB = "JOB"
LOCAL = "LOCAL"
INTERACTIVE = "<interactive>"

# spark-submit's PythonRunner hands the driver its gateway through these variables before
# Python starts; pyspark never sets them in its own process when it launches a JVM itself,
# so their presence at import time means "started by spark-submit" (cluster or client mode).
_SPARK_SUBMIT_ENV = ("PYSPARK_GATEWAY_PORT", "SPARK_SUBMIT")
_STARTED_BY_SPARK_SUBMIT = any(os.environ.get(name) for name in _SPARK_SUBMIT_ENV)


@dataclass(frozen=True)
class Source:
    """What is running: its name (a path, or ``INTERACTIVE``) and type (``NOTEBOOK``...)."""

    name: str
    type: str
    # Folder whose git state describes the source; None means the current directory.
    git_folder: str | None = None


@functools.cache
def current_source() -> Source:
    """What is running; fixed for the process, so computed once."""
    shell = ipython_shell()
    notebook = attempt(_jupyter_notebook_path, shell) or attempt(_databricks_notebook_path, shell)
    if notebook:
        return Source(notebook, NOTEBOOK, _local_parent(notebook))
    if is_kernel(shell):
        return Source(INTERACTIVE, NOTEBOOK)
    source_type = JOB if _STARTED_BY_SPARK_SUBMIT else LOCAL
    script = _script_path()
    if script is not None:
        return Source(script, source_type, os.path.dirname(os.path.realpath(script)))
    return Source(_interactive_name(), source_type)


def ipython_shell() -> Any | None:
    """The IPython shell running this process (a Jupyter kernel, a terminal), if any."""
    # Only ask an IPython that is already loaded: importing it here would be slow and
    # could only ever answer that there is no shell.
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    return get_ipython() if callable(get_ipython) else None


def is_kernel(shell: Any | None) -> bool:
    """A Jupyter (ZMQ) kernel, as opposed to the terminal IPython, which is LOCAL."""
    if shell is None:
        return False
    is_zmq = any(cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__)
    return is_zmq or getattr(shell, "kernel", None) is not None


def _jupyter_notebook_path(shell: Any | None) -> str | None:
    # JPY_SESSION_NAME is inherited by anything the notebook spawns (`!python x.py`), so
    # it only names *this* process's source when this process is the kernel.
    if not is_kernel(shell):
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
    return attempt(_launcher_notebook)


def _launcher_notebook() -> str | None:
    """The notebook a headless run executes, from the command line of its launcher.

    The launcher is the process that started this kernel.

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
    dbutils = find_dbutils(shell)
    if dbutils is None:
        return None
    context = dbutils.notebook.entry_point.getDbutils().notebook().getContext()
    path = context.notebookPath().get()  # raises when not in a notebook (a job's wheel task)
    return str(path) if path else None


def find_dbutils(shell: Any | None) -> Any | None:
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


def current_folder() -> str:
    """The working folder, symlinks resolved."""
    return os.path.realpath(os.getcwd())
