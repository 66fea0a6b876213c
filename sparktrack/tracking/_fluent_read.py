"""The fluent reading functions: runs and searches in the fluent API's current store."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, overload

import pandas as pd

from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.store import parse_store_uri
from sparktrack.tracking._entities import Metric, Run
from sparktrack.tracking._experiments import RunViewType
from sparktrack.tracking._fluent import active_experiment_id, get_client
from sparktrack.tracking._spark_frame import runs_to_spark_dataframe

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
            Spark DataFrame with the pandas frame's columns, computed by Spark from the
            store's Delta tables, so it scales with the cluster; the session needs
            Delta's confs. Quote its dotted column names with backticks in SQL).
        search_all_experiments: With neither ``experiment_ids`` nor
            ``experiment_names``, search every experiment (else the active one).
        experiment_names: Experiments to search, by name (with ``experiment_ids``).
        spark: The session for ``output_format="spark"`` (default: the running one,
            else a new local one with Delta).

    Returns:
        The runs, as ``output_format`` says.

    Raises:
        InvalidInputError: The filter, order, view type, ``max_results`` or
            ``output_format`` is invalid.
        NotFoundError: An experiment name does not exist.
        ConfigurationError: ``output_format="spark"`` with a session that lacks Delta's
            confs (or s3a, for a store on S3): the message names what to add.
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
    if output_format == "pandas":
        return client.search_runs(ids, filter_string, run_view_type, max_results, order_by)
    if output_format == "spark":
        return _search_in_spark(ids, filter_string, run_view_type, max_results, order_by, spark)
    raise InvalidInputError(f"output_format {output_format!r} must be 'pandas', 'list' or 'spark'")


def _search_in_spark(
    experiment_ids: list[str] | None,
    filter_string: str,
    run_view_type: RunViewType,
    max_results: int,
    order_by: list[str] | None,
    spark: SparkSession | None,
) -> DataFrame:
    """The search as a Spark DataFrame: computed by the cluster, or on the driver.

    On a cluster (a master other than ``local``) whose session reads Delta, Spark
    computes it from the store's Delta tables (``_spark_search``): its executors scan
    the tables. Otherwise the JVM-free search runs here and its result becomes the
    DataFrame: in local mode a search is a few dozen small Spark jobs, seconds where the
    JVM-free one takes milliseconds, and a session without Delta cannot read the tables.
    Both give the same rows, in the same order, with the same columns.
    """
    # pyspark loads only for a Spark result: every other search runs without it.
    from sparktrack.session import spark_session
    from sparktrack.tracking._spark_search import search_in_spark

    client = get_client()
    session = spark if spark is not None else spark_session()
    if not computed_by_cluster(session):
        # The pandas frame names the columns, the Run records hold the values (they
        # tell a missing metric from a logged NaN); the second search reads nothing.
        frame = client.search_runs(
            experiment_ids, filter_string, run_view_type, max_results, order_by
        )
        runs = client.search_runs(
            experiment_ids,
            filter_string,
            run_view_type,
            max_results,
            order_by,
            output_format="list",
        )
        return runs_to_spark_dataframe(runs, list(frame.columns), session)
    client.store.flush(fsync=False)  # what this process logged is in the tables Spark reads
    return search_in_spark(
        session,
        parse_store_uri(client.store.uri),
        heartbeat_timeout_ms=int(client.settings.heartbeat_timeout_seconds * 1000),
        experiment_ids=experiment_ids,
        filter_string=filter_string,
        run_view_type=run_view_type,
        max_results=max_results,
        order_by=order_by,
    )


def computed_by_cluster(spark: SparkSession) -> bool:
    """Whether ``search_runs(output_format="spark")`` has Spark compute the search.

    Yes on a cluster whose session reads Delta; no in local mode (the driver's JVM-free
    search is faster there) and in a session without Delta's confs.
    """
    from sparktrack.session import delta_configured  # pyspark loads with a Spark result

    master = spark.sparkContext.master or "local"
    return not master.startswith("local") and delta_configured(spark)
