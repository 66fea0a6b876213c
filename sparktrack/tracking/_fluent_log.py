"""The fluent logging functions: each logs to this thread's active run.

Without an active run, the first call starts one (MLflow's habit), in the active
experiment; it stays active until ``end_run`` or the interpreter exits (then it ends
FINISHED, or FAILED after an uncaught exception).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sparktrack.tracking._entities import DatasetInput
from sparktrack.tracking._fluent import get_client, run_id_for_logging

__all__ = [
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "set_tag",
    "set_tags",
]


def log_param(key: str, value: Any) -> Any:
    """Log a param of the active run (stored as text; params never change within a run).

    Args:
        key: The param's name.
        value: Its value.

    Returns:
        ``value``, as given.

    Raises:
        InvalidInputError: The key or value is invalid.
        ParamConflictError: The run already has ``key`` with another value.
    """
    return get_client().log_param(run_id_for_logging(), key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Log several params of the active run: all of them, or none when one is rejected.

    Args:
        params: Names and values.

    Raises:
        InvalidInputError: A key or value is invalid.
        ParamConflictError: The run already has one of them with another value.
    """
    get_client().log_params(run_id_for_logging(), params)


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | None = None
) -> None:
    """Log one value of a metric of the active run (NaN and infinities are kept).

    Args:
        key: The metric's name.
        value: The value (int or float).
        step: The training step (default: 0).
        timestamp: When, in milliseconds since the epoch (default: now).

    Raises:
        InvalidInputError: The key, value, step or timestamp is invalid.
    """
    get_client().log_metric(run_id_for_logging(), key, value, timestamp, step)


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
) -> None:
    """Log several metrics of the active run at one step and time: all of them, or none.

    Args:
        metrics: Names and values.
        step: The training step (default: 0).
        timestamp: When, in milliseconds since the epoch (default: now).

    Raises:
        InvalidInputError: A key, value, the step or the timestamp is invalid.
    """
    get_client().log_metrics(run_id_for_logging(), metrics, step, timestamp)


def set_tag(key: str, value: Any) -> None:
    """Set a tag of the active run (stored as text; setting it again replaces it).

    Args:
        key: The tag's name.
        value: Its value.

    Raises:
        InvalidInputError: The key or value is invalid.
    """
    get_client().set_tag(run_id_for_logging(), key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set several tags of the active run: all of them, or none when one is rejected.

    Args:
        tags: Names and values.

    Raises:
        InvalidInputError: A key or value is invalid.
    """
    get_client().set_tags(run_id_for_logging(), tags)


def log_artifact(local_path: str | Path, artifact_path: str | None = None) -> None:
    """Copy a local file or folder into the active run's artifacts.

    Args:
        local_path: The file or folder to copy.
        artifact_path: The folder under the run's artifact root to put it in
            (default: the root).

    Raises:
        NotFoundError: ``local_path`` does not exist.
    """
    get_client().log_artifact(run_id_for_logging(), local_path, artifact_path)


def log_artifacts(local_dir: str | Path, artifact_path: str | None = None) -> None:
    """Copy the contents of a local folder into the active run's artifacts.

    Args:
        local_dir: The folder whose contents to copy.
        artifact_path: The folder under the run's artifact root to copy into
            (default: the root).

    Raises:
        NotFoundError: ``local_dir`` is not a folder.
    """
    get_client().log_artifacts(run_id_for_logging(), local_dir, artifact_path)


def log_dict(dictionary: Any, artifact_file: str) -> None:
    """Write a dict to the active run's artifacts: JSON, or YAML for .yaml/.yml files.

    Args:
        dictionary: What to write (UTF-8, keys in order).
        artifact_file: Its path under the run's artifact root.
    """
    get_client().log_dict(run_id_for_logging(), dictionary, artifact_file)


def log_text(text: str, artifact_file: str) -> None:
    """Write text (UTF-8) to a file of the active run's artifacts.

    Args:
        text: The file's content.
        artifact_file: Its path under the run's artifact root.
    """
    get_client().log_text(run_id_for_logging(), text, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    """Save a matplotlib or plotly figure to the active run's artifacts.

    Args:
        figure: The figure.
        artifact_file: Its path under the run's artifact root; the suffix is the
            format (any format savefig knows; .html or .png for plotly).

    Raises:
        InvalidInputError: ``figure`` is neither a matplotlib nor a plotly figure.
    """
    get_client().log_figure(run_id_for_logging(), figure, artifact_file)


def log_input(dataset: DatasetInput, context: str | None = None) -> None:
    """Record that the active run read ``dataset`` (lineage); again: nothing changes.

    Args:
        dataset: The dataset (see ``sparktrack.datasets``).
        context: Its role, e.g. "training" (default: the dataset's).
    """
    get_client().log_input(run_id_for_logging(), dataset, context)
