"""The system tags of a run, named for people (the run page shows them as facts)."""

from __future__ import annotations

__all__ = ["FACTS", "facts_of"]

# Tag -> what the run page calls it. Written by tracking when a run starts (user,
# source, git, source snapshot), by projects and re-runs, and by the Spark integration
# (application, submit arguments).
FACTS = {
    "mlflow.user": "User",
    "mlflow.source.name": "Source",
    "mlflow.source.type": "Source type",
    "mlflow.source.git.commit": "Git commit",
    "mlflow.source.git.branch": "Git branch",
    "mlflow.source.git.repoURL": "Git repository",
    "sparktrack.git.dirty": "Uncommitted changes",
    "sparktrack.source.snapshot": "Source snapshot",
    "sparktrack.source.notebook": "Notebook",
    "sparktrack.project.uri": "Project",
    "sparktrack.project.entryPoint": "Entry point",
    "sparktrack.rerunOf": "Re-run of",
    "sparktrack.spark.app_name": "Spark application",
    "sparktrack.spark.app_id": "Spark application id",
    "sparktrack.spark.master": "Spark master",
    "sparktrack.spark.version": "Spark version",
    "sparktrack.spark.submit_args": "Submit arguments",
    "sparktrack.host": "Host",
    "sparktrack.python.version": "Python",
}


def facts_of(tags: dict[str, str]) -> dict[str, str]:
    """The run's system tags it has, under their FACTS names, in FACTS' order."""
    return {name: tags[tag] for tag, name in FACTS.items() if tag in tags}
