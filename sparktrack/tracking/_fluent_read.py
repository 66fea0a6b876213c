"""The fluent reading functions: runs and searches in the fluent API's current store."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, overload

import pandas as pd

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.tracking._entities import Metric, Run
from sparktrack.tracking._experiments import RunViewType
from sparktrack.tracking._fluent import active_experiment_id, get_client
from sparktrack.tracking._spark_frame import to_spark_dataframe

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["get_metric_history", "get_run", "search_runs"]


def get_run(run_id: str) -> Run:
    """A run as it is now (see ``TrackingClient.get_run``).

    Args:
        run_id: The run.

    Returns:
        The run: its metadata, latest metrics, params and tags.

    Raises:
        NotFoundError: The run does not exist.
    """
    return get_client().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    """Every value logged for a metric of a run, by step then timestamp.

    Args:
        run_id: The run.
        key: The metric's name.

    Returns:
        Its values (empty when the run never logged it).

    Raises:
        NotFoundError: The run does not exist.
    """
    return get_client().get_metric_history(run_id, key)


@overload
def search_runs(
    experiment_ids: Iterable[str] | None = ...,
    filter_string: str = ...,
    run_view_type: RunViewType = ...,
    max_results: int = ...,
    order_by: list[str] | None = ...,
    output_format: Literal["pandas"] = ...,
    search_all_experiments: bool = ...,
    experiment_names: Iterable[str] | None = ...,
    spark: SparkSession | None = ...,
) -> pd.DataFrame: ...


@overload
def search_runs(
    experiment_ids: Iterable[str] | None = ...,
    filter_string: str = ...,
    run_view_type: RunViewType = ...,
    max_results: int = ...,
    order_by: list[str] | None = ...,
    *,
    output_format: Literal["list"],
    search_all_experiments: bool = ...,
    experiment_names: Iterable[str] | None = ...,
    spark: SparkSession | None = ...,
) -> list[Run]: ...


@overload
def search_runs(
    experiment_ids: Iterable[str] | None = ...,
    filter_string: str = ...,
    run_view_type: RunViewType = ...,
    max_results: int = ...,
    order_by: list[str] | None = ...,
    *,
    output_format: Literal["spark"],
    search_all_experiments: bool = ...,
    experiment_names: Iterable[str] | None = ...,
    spark: SparkSession | None = ...,
) -> DataFrame: ...


def search_runs(
    experiment_ids: Iterable[str] | None = None,
    filter_string: str = "",
    run_view_type: RunViewType = "ACTIVE_ONLY",
    max_results: int = 100_000,
    order_by: list[str] | None = None,
    output_format: Literal["pandas", "list", "spark"] = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Iterable[str] | None = None,
    spark: SparkSession | None = None,
) -> Any:
    """Runs matching a filter, best first (see ``TrackingClient.search_runs``).

    Args:
        experiment_ids: The experiments to search.
        filter_string: E.g. "metrics.auc > 0.9" ("": every run).
        run_view_type: "ACTIVE_ONLY", "DELETED_ONLY" or "ALL".
        max_results: How many runs at most.
        order_by: E.g. ["metrics.auc DESC"].
        output_format: "pandas" (a DataFrame), "list" (``Run`` records) or "spark" (a
            Spark DataFrame; quote its dotted column names with backticks in SQL).
        search_all_experiments: With neither ``experiment_ids`` nor
            ``experiment_names``, search every experiment (else the active one).
        experiment_names: Experiments to search, by name (with ``experiment_ids``).
        spark: The session for ``output_format="spark"`` (default: the active one).

    Returns:
        The runs, as ``output_format`` says.

    Raises:
        InvalidInputError: The filter, order, view type, ``max_results`` or
            ``output_format`` is invalid.
        NotFoundError: An experiment name does not exist.
    """
    client = get_client()
    ids: list[str] | None = None
    if experiment_ids is not None or experiment_names is not None:
        ids = [str(e) for e in (experiment_ids or [])]
        for name in experiment_names or []:
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise NotFoundError(f"experiment {name!r} does not exist in {client.store.uri!r}")
            ids.append(experiment.experiment_id)
    elif not search_all_experiments:
        ids = [active_experiment_id(client)]
    if output_format == "list":
        return client.search_runs(
            ids, filter_string, run_view_type, max_results, order_by, output_format="list"
        )
    frame = client.search_runs(ids, filter_string, run_view_type, max_results, order_by)
    if output_format == "pandas":
        return frame
    if output_format == "spark":
        return to_spark_dataframe(frame, spark)
    raise InvalidInputError(f"output_format {output_format!r} must be 'pandas', 'list' or 'spark'")
