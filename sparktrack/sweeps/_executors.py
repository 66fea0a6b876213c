"""What function trials need on the executors, and the error when the executors lack it.

Executors run the cluster's Python (``PYSPARK_PYTHON``, else ``python3`` on their
PATH), which often has neither sparktrack nor its compiled dependencies (deltalake,
pyarrow). So the code a trial's task runs (``_function``: the task body,
``FunctionTrial``, the payload) travels with each task by value, as cloudpickle sends
functions defined in a script. On an executor a function trial then needs the
standard library, pyspark's own Python side (Spark ships it), what the user's function
imports, and Optuna when ``early_stopping`` prunes inside the task.

Shipping the package as a zip (``SparkContext.addPyFile``) would not do: importing any
sparktrack module runs ``sparktrack/__init__``, which imports deltalake and pyarrow
(compiled: a zip cannot carry them), and an added file stays first on the executors'
``sys.path`` for the rest of the application, shadowing a sparktrack installed there.

What cannot travel (the function's own imports, Optuna) is named as soon as the first
trials fail for it: ``ExecutorImports`` stops the sweep with a ConfigurationError
before the budget is spent on trials that would all fail the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sparktrack.errors import ConfigurationError
from sparktrack.sweeps import _function as task_code
from sparktrack.sweeps._records import TrialRecord

__all__ = ["ExecutorImports", "ImportProblem", "import_problem", "ship_task_code"]

_NO_MODULE = re.compile(r"^ModuleNotFoundError: No module named '([^']+)'.*$", re.MULTILINE)
_CANNOT_IMPORT = re.compile(r"^ImportError: .*?from '([^']+)'.*$", re.MULTILINE)


def ship_task_code() -> None:
    """Send the trial task's code with each task rather than import it by name there."""
    # Imported here, not at the top: `import sparktrack` must not load pyspark.
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(task_code)


@dataclass(frozen=True)
class ImportProblem:
    module: str  # what the executor could not import (dotted)
    line: str  # the exception line, e.g. "ModuleNotFoundError: No module named 'x'"


def import_problem(error: str | None) -> ImportProblem | None:
    """What a failed trial's traceback says its executor could not import, if anything.

    Text is all the driver has: a task that could not even start (its function or
    payload names a module the executor lacks) comes back as a Py4JJavaError whose
    message holds the Python worker's traceback; the last such line is the cause.
    """
    if not error:
        return None
    found = [m for pattern in (_NO_MODULE, _CANNOT_IMPORT) for m in pattern.finditer(error)]
    if not found:
        return None
    last = max(found, key=lambda match: match.start())
    return ImportProblem(last.group(1), last.group(0).strip())


class ExecutorImports:
    """Watches a function sweep's finished trials for executors that lack a module.

    Once ``enough`` trials failed because the executors cannot import the same module,
    and none has completed, more trials would fail alike: ``check`` raises. A trial
    that completed shows the environment works (an import that only some params reach
    fails only those trials, as any failing trial does).
    """

    def __init__(self, fn: Callable[..., Any], *, pruning: bool, python: str, enough: int) -> None:
        self.fn = fn
        self.pruning = pruning
        self.python = python
        self.enough = enough
        self.completed = False
        self.failures: dict[str, list[tuple[TrialRecord, ImportProblem]]] = {}

    def observe(self, record: TrialRecord) -> None:
        if record.state == "complete":
            self.completed = True
            return
        problem = import_problem(record.error) if record.state == "failed" else None
        if problem is not None:
            self.failures.setdefault(problem.module, []).append((record, problem))

    def check(self) -> None:
        if self.completed:
            return
        for failed in self.failures.values():
            if len(failed) >= self.enough:
                raise self.error(failed)

    def error(self, failed: list[tuple[TrialRecord, ImportProblem]]) -> ConfigurationError:
        """The ConfigurationError for trials that failed on one missing module."""
        failed = sorted(failed, key=lambda pair: pair[0].number)
        problem = failed[0][1]
        top = problem.module.split(".")[0]
        trials = ", ".join(f"trial {r.number} (run {r.run_id})" for r, _ in failed)
        optuna_for_pruning = top == "optuna" and self.pruning
        lines = [
            f"function trials cannot run on the executors: their Python ({self.python}) "
            f"cannot import {problem.module!r} ({problem.line} in {trials}; the traceback is "
            "in each run's error.txt). The sweep stopped rather than fail every trial."
        ]
        fn_module = str(getattr(self.fn, "__module__", "") or "")
        if optuna_for_pruning:
            lines.append(
                "early_stopping= prunes inside each trial's task with Optuna, which cannot "
                "travel with the task (it needs compiled packages such as numpy): install "
                "optuna for the executors' Python as below, or sweep without early_stopping."
            )
        elif fn_module == problem.module or fn_module.startswith(problem.module + "."):
            name = f"{fn_module}.{getattr(self.fn, '__qualname__', '?')}"
            lines.append(
                f"The trial function {name} lives in module {fn_module!r}, which Spark "
                "sends by name: the executors import it. Ship the module as below, define "
                "the function in the driver's script (sent by value), or call "
                f"pyspark.cloudpickle.register_pickle_by_value({fn_module}) before the sweep."
            )
        else:
            lines.append(
                f"The trial function (or what it uses) needs {top!r}. sparktrack sends its "
                "own task code with each trial, not the function's imports."
            )
        lines.append(f"Make {top!r} importable where the executors' Python runs:")
        if not optuna_for_pruning:
            lines.append(
                f"  * pure-Python code: spark-submit --py-files {top}.zip, or "
                "spark.sparkContext.addPyFile(path) before the sweep;"
            )
        lines += [
            "  * packages with compiled parts: a packed environment (venv-pack, conda-pack): "
            "spark-submit --archives env.tar.gz#env (the spark.archives conf) "
            "--conf spark.pyspark.python=./env/bin/python;",
            f"  * or install {top!r} into the executors' Python (PYSPARK_PYTHON, else python3 "
            "on their PATH).",
        ]
        return ConfigurationError("\n".join(lines))
