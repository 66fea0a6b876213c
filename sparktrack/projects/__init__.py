"""Projects: an ``MLproject``'s entry point run as a tracked run (``sparktrack run``).

MLflow's ``MLproject`` format (name, entry points with typed parameters and defaults,
commands, ``python_env``/``conda_env``/``docker_env`` recorded on the run), plus a
``spark:`` section of our own: entry points that are Spark jobs run through the
installed pyspark's ``spark-submit``, with the run's id and the store in their
environment, so the job's own logging and autolog go to the project's run.

Example:
    ```python
    from sparktrack import projects

    result = projects.run("git+https://github.com/org/repo#jobs/churn", "train",
                          {"reg_param": 0.1}, version="3f2c1e0", experiment_name="churn")
    print(result.run_id, result.status)
    ```
"""

from __future__ import annotations

from sparktrack.projects._rerun import rerun
from sparktrack.projects._run import LOG_ARTIFACT, ProjectInterrupted, ProjectRun, Tags, run
from sparktrack.projects._spark import SparkSettings
from sparktrack.projects._spec import (
    PARAMETER_TYPES,
    EntryPoint,
    Parameter,
    Project,
    load_project,
)

__all__ = [
    "LOG_ARTIFACT",
    "PARAMETER_TYPES",
    "EntryPoint",
    "Parameter",
    "Project",
    "ProjectInterrupted",
    "ProjectRun",
    "SparkSettings",
    "Tags",
    "load_project",
    "rerun",
    "run",
]
