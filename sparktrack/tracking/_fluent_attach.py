"""What autolog and sweeps call to join the run ``SPARKTRACK_RUN_ID`` names (see ``_attach``)."""

from __future__ import annotations

import os

from sparktrack.tracking._attach import RUN_ID_ENV_VAR
from sparktrack.tracking._fluent import ActiveRun, active_run, start_run

__all__ = ["run_from_environment"]


def run_from_environment() -> ActiveRun | None:
    """Join the run ``SPARKTRACK_RUN_ID`` names when no run is active here (internal use).

    For autolog and sweeps, which otherwise start a run of their own: in a job that
    ``sparktrack run`` launched, their fits and trials belong to the project's run.

    Returns:
        The joined run, now this thread's active run; None when the variable is unset
        or a run is already active in this thread.
    """
    if active_run() is not None or not os.environ.get(RUN_ID_ENV_VAR, "").strip():
        return None
    return start_run()
