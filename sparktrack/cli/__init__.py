"""The ``sparktrack`` command line: ``sparktrack --help`` lists the commands.

The root app (global ``--store``, ``--version``) lives in ``_app``; each command group
in its own module. They are attached here, where nothing imports back, so the command
modules can use ``_app``'s helpers without an import cycle.
"""

from __future__ import annotations

from sparktrack.cli._app import app
from sparktrack.cli._doctor import doctor
from sparktrack.cli._experiments import experiments_app
from sparktrack.cli._import_mlflow import import_mlflow_command
from sparktrack.cli._maintenance import gc
from sparktrack.cli._models import models_app
from sparktrack.cli._monitor import monitor
from sparktrack.cli._project import rerun_run, run_project
from sparktrack.cli._runs import runs_app
from sparktrack.cli._serve import serve
from sparktrack.cli._server import server
from sparktrack.cli._ui import ui

__all__ = ["app", "main"]

app.add_typer(experiments_app, name="experiments")
app.add_typer(runs_app, name="runs")
app.add_typer(models_app, name="models")
app.command("run")(run_project)
app.command("rerun")(rerun_run)
app.command("gc")(gc)
app.command("doctor")(doctor)
app.command("serve")(serve)
app.command("ui")(ui)
app.command("server")(server)
app.command("monitor")(monitor)
app.command("import-mlflow")(import_mlflow_command)
# `sparktrack models serve` is the same command, next to the other model commands.
models_app.command("serve")(serve)


def main() -> None:
    """Run the ``sparktrack`` command line on ``sys.argv``.

    The console-script entry point (``[project.scripts] sparktrack``) and what
    ``python -m sparktrack.cli`` runs. Failures are printed as ``error: <message>``
    on stderr, never as a traceback.

    Raises:
        SystemExit: Always, when the command ends: code 0 when it succeeded, 1 when it
            failed (a SparktrackError: bad input, nothing found, a store problem), 2
            when the command line itself is wrong.
    """
    # prog_name keeps usage lines reading "sparktrack", also under `python -m sparktrack.cli`.
    app(prog_name="sparktrack")
