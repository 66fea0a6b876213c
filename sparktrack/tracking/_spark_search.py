"""search_runs in Spark: the search as a DataFrame the cluster computes.

``search_runs(output_format="spark")`` reads the store's Delta tables with delta-spark
and builds the search as one Spark plan, so its work spreads over the executors as the
tables grow; the driver only receives the names of the result's columns:

1. The runs fold: the Spark SQL of the ``sparktrack_runs`` view (``_runs_sql``, from
   the one description in ``_runs_fold``), its heartbeat rule judged at query time.
2. The runs in scope (experiments), the candidates (lifecycle stage), and beside each
   candidate its value of every metric, param and tag the filter and order name, folded
   per (run, key) as ``KEY_FOLDS`` says, and its verdicts on ``datasets.*`` comparisons.
3. The filter and order compiled to Spark Columns (``_spark_filter``), ordered, and
   ``max_results`` as a limit after the order.
4. The returned runs' every metric, param and tag spread into ``<kind>.<key>`` columns.
   Which keys they have decides the DataFrame's columns, so it is asked of Spark (one
   small job whose answer is the keys' names); the rows are computed when the DataFrame
   is used, each time it is used.

The result has ``search_runs``' pandas columns, in its order: the run columns
(``start_time`` and ``end_time`` as timestamps), then ``metrics.*``, ``params.*`` and
``tags.*`` sorted by key. Unlike the pandas frame, a logged NaN metric is NaN there and
a metric a run never logged is null.

Ties between events of different processes with equal ``event_time`` are broken
arbitrarily by Spark (the JVM-free search keeps commit order), as in the runs view.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce

# This module is imported only for searches whose result is a Spark DataFrame.
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from sparktrack.search import Expr, Identifier, parse_filter, parse_order_by
from sparktrack.session import store_session
from sparktrack.store import LifecycleStage, StoreLocation
from sparktrack.tracking._experiments import check_view
from sparktrack.tracking._runs_sql import runs_view_sql
from sparktrack.tracking._search import (
    BASE_COLUMNS,
    INPUT_FIELDS,
    KINDS,
    TIME_COLUMNS,
    check_max_results,
    query_keys,
)
from sparktrack.tracking._spark_filter import (
    dataset_predicates,
    dataset_verdict,
    filter_column,
    number_of_text,
    sort_keys,
)
from sparktrack.tracking._state import KEY_FOLDS

__all__ = ["search_in_spark"]


class _Tables:
    """The store's tables, as delta-spark reads them in one session."""

    def __init__(self, session: SparkSession, location: StoreLocation) -> None:
        self._session = session
        self._location = location

    def read(self, table: str) -> DataFrame:
        return self._session.read.format("delta").load(self._location.for_spark(table))

    def runs(self, heartbeat_timeout_ms: int) -> DataFrame:
        """The folded runs (the ``sparktrack_runs`` view's query), without a temp view."""
        query = runs_view_sql(
            self._path_table("runs"),
            self._path_table("heartbeats"),
            heartbeat_timeout_ms=heartbeat_timeout_ms,
        )
        return self._session.sql(query)

    def _path_table(self, table: str) -> str:
        # Delta's SQL name for a table by its path: no view is registered in the session.
        return "delta.`" + self._location.for_spark(table).replace("`", "``") + "`"


def _ranking(kind: str) -> Column:
    """The order ``KEY_FOLDS[kind]`` picks its winner in (the numbers' nulls last, as there)."""
    order = KEY_FOLDS[kind].order
    return F.struct(*[c for name in order for c in (F.col(name).isNull(), F.col(name))])


def _spread(rows: DataFrame, kind: str, keys: dict[str, str]) -> DataFrame:
    """One row per run of ``rows`` with each key's winning value (``keys``: key -> column).

    Each key's winner is chosen among the run's rows of that key (``KEY_FOLDS``), in the
    same aggregation as the others': one shuffle, whatever the number of keys. A key a
    run lacks, or whose winner deletes it (tags), is null.
    """
    fold = KEY_FOLDS[kind]
    carried = F.struct("value", *([fold.absent_if] if fold.absent_if else []))
    choose = F.max_by if fold.latest else F.min_by
    columns = []
    for key, name in keys.items():
        # Orderings of other keys' rows are null: max_by and min_by skip those rows.
        winner = choose(carried, F.when(F.col("key") == key, _ranking(kind)))
        value = winner.getField("value")
        if fold.absent_if is not None:
            value = F.when(~F.coalesce(winner.getField(fold.absent_if), F.lit(False)), value)
        columns.append(value.alias(name))
    # A row without a run belongs to none (the join on run_id drops its group).
    return rows.groupBy("run_id").agg(*columns)


def _present_keys(rows: DataFrame, kind: str) -> DataFrame:
    """The keys some run of ``rows`` has a value of, as ``_spread`` would show them."""
    rows = rows.where(F.col("run_id").isNotNull() & F.col("key").isNotNull())
    fold = KEY_FOLDS[kind]
    if fold.absent_if is not None:
        # A key shows where some run's winning row of it does not delete it.
        choose = F.max_by if fold.latest else F.min_by
        rows = (
            rows.groupBy("run_id", "key")
            .agg(choose(F.col(fold.absent_if), _ranking(kind)).alias("absent"))
            .where(~F.coalesce(F.col("absent"), F.lit(False)))
        )
    return rows.select("key").distinct()


def search_in_spark(
    spark: SparkSession | None,
    location: StoreLocation,
    *,
    heartbeat_timeout_ms: int,
    experiment_ids: Iterable[str] | None,
    filter_string: str | None,
    run_view_type: str,
    max_results: int,
    order_by: list[str] | None,
) -> DataFrame:
    """``search_runs``' result as a Spark DataFrame computed by Spark (see the module).

    Args:
        spark: The session to search in; by default the running one (else a new local
            one with Delta).
        location: The store.
        heartbeat_timeout_ms: How long a RUNNING run may show no sign of life before
            it reads KILLED.
        experiment_ids: The experiments to search (None: all).
        filter_string: The filter ("" or None: every run).
        run_view_type: "ACTIVE_ONLY", "DELETED_ONLY" or "ALL".
        max_results: How many runs at most.
        order_by: The order (None: newest first).

    Returns:
        The runs, best first.

    Raises:
        SearchSyntaxError: The filter or order is not valid.
        InvalidInputError: ``run_view_type`` or ``max_results`` is not valid.
        ConfigurationError: The session lacks Delta's confs, or s3a for a store on S3
            (the message names what to add).
    """
    # Bad input fails before a session is looked for.
    expression = parse_filter(filter_string)
    order = parse_order_by(order_by)
    check_view(run_view_type)
    check_max_results(max_results)
    session = store_session(spark, s3a=location.scheme == "s3")
    tables = _Tables(session, location)
    runs = tables.runs(heartbeat_timeout_ms)
    scope = runs
    if experiment_ids is not None:
        scope = runs.where(F.col("experiment_id").isin([str(e) for e in experiment_ids]))
    candidates = scope
    if run_view_type != "ALL":
        stage = LifecycleStage.ACTIVE if run_view_type == "ACTIVE_ONLY" else LifecycleStage.DELETED
        candidates = scope.where(F.col("lifecycle_stage") == stage)
    narrow = _Narrow(tables, candidates, scope)
    narrow.add_keys(query_keys(filter_string, order_by))
    narrow.add_numeric_flags({key.ident.key for key in order if key.ident.kind == "param"})
    narrow.add_dataset_verdicts(expression)
    frame = narrow.frame
    if expression is not None:
        frame = frame.where(filter_column(expression, narrow.value, narrow.verdict))
    keys = sort_keys(order, narrow.value, narrow.numeric)
    sort_names = [f"_sort{i}" for i in range(len(keys))]
    selected = (
        frame.select(
            *BASE_COLUMNS,
            *[column.alias(name) for (column, _), name in zip(keys, sort_names, strict=True)],
        )
        .orderBy(*_directed(sort_names, [ascending for _, ascending in keys]))
        .limit(max_results)
    )
    return _widened(tables, selected, sort_names, [ascending for _, ascending in keys])


def _directed(names: list[str], ascending: list[bool]) -> list[Column]:
    return [
        F.col(name).asc() if up else F.col(name).desc()
        for name, up in zip(names, ascending, strict=True)
    ]


class _Narrow:
    """The candidate runs with the columns a filter and an order read, built up by kind."""

    def __init__(self, tables: _Tables, candidates: DataFrame, scope: DataFrame) -> None:
        self._tables = tables
        self._scope = scope
        self.frame = candidates
        self._columns: dict[str, str] = {}  # frame column (``metrics.auc``) -> its name here
        self._params: DataFrame | None = None
        self._numeric: dict[str, str] = {}
        self._verdicts: dict[Expr, str] = {}

    def value(self, ident: Identifier) -> Column:
        if ident.kind == "attribute":
            return F.col(ident.key)
        return F.col(self._columns[ident.column])

    def numeric(self, key: str) -> Column:
        return F.col(self._numeric[key])

    def verdict(self, expr: Expr) -> Column:
        return F.col(self._verdicts[expr])

    def add_keys(self, keys: dict[str, set[str]]) -> None:
        """Each run's folded value of these keys of each kind (null: it has none)."""
        for kind in KINDS:
            names = {key: f"_{kind}{i}" for i, key in enumerate(sorted(keys[kind]))}
            if not names:
                continue
            rows = self._tables.read(kind).where(F.col("key").isin(list(names)))
            wide = _spread(rows, kind, names)
            self.frame = self.frame.join(wide, "run_id", "left")
            self._columns.update({f"{kind}.{key}": name for key, name in names.items()})
            if kind == "params":
                self._params = wide

    def add_numeric_flags(self, params: set[str]) -> None:
        """Per param of the order, whether every present value in scope is a number.

        Decided over every run of the searched experiments, whatever the filter and
        the lifecycle stage, so a filter never changes how two runs are ordered.
        """
        if not params:
            return
        assert self._params is not None  # add_keys read every key the order names
        in_scope = self._scope.select("run_id").join(self._params, "run_id")
        flags = []
        for i, key in enumerate(sorted(params)):
            text = F.col(self._columns[f"params.{key}"])
            self._numeric[key] = f"_numeric{i}"
            flags.append(
                (F.count_if(text.isNotNull() & number_of_text(text).isNull()) == 0).alias(
                    self._numeric[key]
                )
            )
        # One row: each candidate gets the flags beside it.
        self.frame = self.frame.crossJoin(in_scope.agg(*flags))

    def add_dataset_verdicts(self, expression: Expr | None) -> None:
        """Each run's verdict on each ``datasets.*`` comparison (null: no input)."""
        predicates = dataset_predicates(expression)
        if not predicates:
            return
        verdicts = []
        for i, predicate in enumerate(predicates):
            self._verdicts[predicate] = f"_dataset{i}"
            field = F.col(INPUT_FIELDS[predicate.ident.key])
            verdicts.append(dataset_verdict(predicate, field).alias(f"_dataset{i}"))
        inputs = self._tables.read("inputs").groupBy("run_id").agg(*verdicts)
        self.frame = self.frame.join(inputs, "run_id", "left")


def _widened(
    tables: _Tables, selected: DataFrame, sort_names: list[str], ascending: list[bool]
) -> DataFrame:
    """The selected runs with every metric, param and tag they have, in the order."""
    returned = selected.select("run_id")
    rows = {kind: tables.read(kind).join(returned, "run_id", "left_semi") for kind in KINDS}
    present = reduce(
        DataFrame.unionByName,
        [
            _present_keys(rows[kind], kind).select(F.lit(kind).alias("kind"), "key")
            for kind in KINDS
        ],
    )
    # The one job run here: which keys the returned runs have names the columns.
    found: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for row in present.collect():
        found[row["kind"]].append(row["key"])
    wide = selected
    shown: list[Column] = [
        F.timestamp_millis(F.col(name)).alias(name) if name in TIME_COLUMNS else F.col(name)
        for name in BASE_COLUMNS
    ]
    for kind in KINDS:
        names = {key: f"_{kind}{i}" for i, key in enumerate(sorted(found[kind]))}
        if not names:
            continue
        wide = wide.join(_spread(rows[kind], kind, names), "run_id", "left")
        shown += [F.col(name).alias(f"{kind}.{key}") for key, name in names.items()]
    return wide.orderBy(*_directed(sort_names, ascending)).select(*shown)
