"""What ran: the script, or the notebook and the cells the kernel executed.

* A script is read once per process: the process runs the code it loaded, whatever
  happens to the file afterwards.
* A Jupyter notebook is read as saved (again whenever the file changes). The kernel's
  history of executed cells (IPython's raw input history, up to the cell that started
  the run) is added as ``history.py`` when the saved file lags behind it (a cell ran
  that the file does not hold: an unsaved edit) or when there is no file.
* A Databricks notebook is exported through the workspace API the notebook's context
  points to (its URL and token, read from ``dbutils``), in source format.
* Anything else run from an IPython shell (a terminal session) keeps its history.

A file larger than ``MAX_SOURCE_BYTES`` is left out, with a note in the manifest.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sparktrack.tracking._context_safe import attempt
from sparktrack.tracking._context_source import (
    INTERACTIVE,
    NOTEBOOK,
    Source,
    find_dbutils,
    ipython_shell,
)
from sparktrack.tracking._snapshot_parts import (
    MAX_HISTORY_BYTES,
    MAX_SOURCE_BYTES,
    MEMO,
    Part,
)

__all__ = ["CodeParts", "code_parts", "executed_cells"]

# Waiting longer on the workspace API only delays the snapshot's tag; it never blocks a run.
_EXPORT_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class CodeParts:
    """The files of what ran and the name of the main one.

    Attributes:
        parts: The script, notebook and/or history files.
        main: The file ``sparktrack runs source`` prints by default ("" without one).
        omitted: File name -> why it was left out.
    """

    parts: tuple[Part, ...]
    main: str
    omitted: dict[str, str]


def executed_cells() -> tuple[str, ...] | None:
    """The cells this process's IPython shell executed so far; None outside IPython.

    Cheap (a copy of a list): taken on the thread creating the run, so that the history
    ends with the cell that started it.
    """
    shell = ipython_shell()
    history = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    if not isinstance(history, list):
        return None
    return tuple(str(cell) for cell in history[1:])  # entry 0 is always empty


def code_parts(source: Source, cells: Sequence[str] | None) -> CodeParts:
    """The files of ``source``; ``cells`` is ``executed_cells()`` at the run's start."""
    omitted: dict[str, str] = {}
    dbutils = find_dbutils(ipython_shell()) if source.type == NOTEBOOK else None
    if dbutils is not None:
        exported = attempt(_databricks_export, dbutils)
        if exported is not None:
            return CodeParts((exported,), exported.name, omitted)
    # A source with a folder is a file that ran (a script, a local notebook); without
    # one its name is a workspace path, "<interactive>" or the interpreter itself.
    path = source.name if source.git_folder is not None and source.name != INTERACTIVE else None
    saved = _file_part(path, source.type == NOTEBOOK, omitted) if path else None
    parts = [saved] if saved is not None else []
    if cells and (saved is None or saved.role != "notebook" or _lags(saved.data, cells)):
        parts.append(_history_part(cells))
    main = parts[0].name if parts else ""
    return CodeParts(tuple(parts), main, omitted)


def _file_part(path: str, notebook: bool, omitted: dict[str, str]) -> Part | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None  # a Databricks workspace path, a deleted file: nothing to read
    name = os.path.basename(path)
    if stat.st_size > MAX_SOURCE_BYTES:
        omitted[name] = f"{stat.st_size:,} bytes, over the cap of {MAX_SOURCE_BYTES:,}"
        return None
    # A script: once per process (the code loaded). A notebook: again once saved anew.
    key = (path, stat.st_mtime_ns, stat.st_size) if notebook else path
    known, part = MEMO.get(f"code:{path}", key)
    if known:
        return part
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_SOURCE_BYTES + 1)
    except OSError:
        return None
    role = "notebook" if notebook else "script"
    return MEMO.put(f"code:{path}", key, Part(_safe_name(name), role, data))


def _safe_name(name: str) -> str:
    """The source's own name, unless it is one of the snapshot's other files."""
    taken = {
        "manifest.json",
        "history.py",
        "git.diff",
        "untracked.txt",
        "requirements.txt",
        "environment.json",
        "spark-conf.json",
    }
    return f"source-{name}" if name in taken else name


def _lags(notebook: bytes, cells: Sequence[str]) -> bool:
    """Whether a cell ran that the saved notebook does not hold (an unsaved edit)."""
    try:
        saved = json.loads(notebook)
        sources = {
            _joined(cell.get("source", "")).strip()
            for cell in saved.get("cells", [])
            if cell.get("cell_type") == "code"
        }
    except (ValueError, AttributeError, TypeError):
        return True  # unreadable as a notebook: the history is all we can trust
    return any(cell.strip() and cell.strip() not in sources for cell in cells)


def _joined(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


def _history_part(cells: Sequence[str]) -> Part:
    blocks = [f"# In[{number}]:\n{cell.rstrip()}\n" for number, cell in enumerate(cells, 1)]
    kept: list[str] = []
    size = 0
    for block in reversed(blocks):  # the latest cells matter most: they started the run
        size += len(block.encode()) + 1
        if size > MAX_HISTORY_BYTES:
            break
        kept.append(block)
    kept.reverse()
    note = ""
    if len(kept) < len(blocks):
        note = f"the first {len(blocks) - len(kept)} of {len(blocks)} cells left out (cap)"
    return Part("history.py", "history", "\n".join(kept).encode(), note)


def _databricks_export(dbutils: Any) -> Part | None:
    """The notebook, exported through the workspace API its context names."""
    context = dbutils.notebook.entry_point.getDbutils().notebook().getContext()
    path = str(context.notebookPath().get())
    api_url = str(context.apiUrl().get()).rstrip("/")
    token = str(context.apiToken().get())
    query = urllib.parse.urlencode({"path": path, "format": "SOURCE"})
    request = urllib.request.Request(
        f"{api_url}/api/2.0/workspace/export?{query}",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=_EXPORT_TIMEOUT_SECONDS) as response:
        exported = json.loads(response.read())
    data = base64.b64decode(exported["content"])
    if len(data) > MAX_SOURCE_BYTES:
        return None
    suffix = str(exported.get("file_type") or "py")
    return Part(f"{_safe_name(os.path.basename(path))}.{suffix}", "notebook", data)
