"""``spark_udf(log_to=...)``: tasks stage their sampled rows, the driver commits them.

How rows travel, and why:

* Each batch a task scores is written, sampled, as one Parquet file in
  ``<table>/_sparktrack_staging/`` with pyarrow only (executors already have it: pandas
  UDFs need it). The file is written under a temporary name and renamed, so a reader
  never sees half a file. Its name is ``<application>.<stage>.<partition>.<batch>``:
  a retried or speculative attempt of a task scores the same batches in the same order
  and replaces its predecessor's files instead of adding to them.
* The driver commits staged files into the Delta log with delta-rs, in one commit per
  poll (every few seconds, on a daemon thread), once the stage that wrote them is no
  longer running: a finished stage's files are final. Executors never commit, so many
  tasks do not race for the log, and the table gets few commits, not one per task.
  ``read_scoring_log`` commits what is ready first; the process commits the rest when
  it exits.

Failure modes: a task whose staging fails logs a warning on the executor and returns
its scores. A driver killed before it committed leaves its files staged (its last
seconds of rows are missing from the table; the files stay in the staging folder).
Rows are logged each time Spark evaluates the UDF: an action run twice, or a stage
recomputed after an executor was lost, logs its rows again. A task of a job that
failed may have staged rows that are committed. Executors whose Python lacks
sparktrack cannot run ``spark_udf`` at all, logging or not (its scorer is sparktrack
code, pickled by reference); those that have it write plain Parquet through pyarrow's
filesystems (local paths, or URIs pyarrow reaches with the executor's credentials) and
never touch the Delta log. Files that do not fit the table's schema are moved to
``_sparktrack_staging/rejected/`` with a warning.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from sparktrack.errors import NotFoundError, ScoringLogSchemaError
from sparktrack.models._scoring_log import append_scoring_rows, table_path, warn_once

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "COMMIT_SECONDS",
    "STAGING",
    "commit_staged_rows",
    "read_scoring_log",
    "stage_rows",
    "start_committer",
]

STAGING = "_sparktrack_staging"
COMMIT_SECONDS = 5.0
"""How often the driver looks for staged rows to commit."""

# The executor's Python worker scores one task at a time: the batches of the current
# task attempt, counted to name their files.
_attempt_batches: dict[int, int] = {}


def _filesystem(path: str) -> tuple[pafs.FileSystem, str]:
    filesystem, root = pafs.FileSystem.from_uri(path)
    return filesystem, root.rstrip("/")


def _next_batch(attempt: int) -> int:
    if attempt not in _attempt_batches:
        _attempt_batches.clear()
    batch = _attempt_batches.get(attempt, 0)
    _attempt_batches[attempt] = batch + 1
    return batch


def stage_rows(path: str, application_id: str, table: pa.Table) -> str:
    """Write one batch's rows into the table's staging folder (in a Spark task).

    Args:
        path: The table's absolute path or URI.
        application_id: The Spark application's id (its files are its own to commit).
        table: The sampled rows (``scoring_rows``).

    Returns:
        The staged file's path.
    """
    from pyspark import TaskContext  # runs inside a Spark task, where pyspark is

    task = TaskContext.get()
    stage, partition, attempt = (
        (task.stageId(), task.partitionId(), task.taskAttemptId()) if task else (0, 0, -1)
    )
    name = f"{application_id}.{stage}.{partition}.{_next_batch(attempt)}.parquet"
    filesystem, root = _filesystem(path)
    folder = f"{root}/{STAGING}"
    filesystem.create_dir(folder, recursive=True)
    temporary = f"{folder}/.{name}.{attempt}.tmp"  # dot-named: never committed
    pq.write_table(table, temporary, filesystem=filesystem)
    final = f"{folder}/{name}"
    filesystem.move(temporary, final)  # a retried attempt's file replaces this one
    return final


class _Committer:
    """Commits one application's staged files of one table; one per table per process."""

    def __init__(
        self,
        path: str,
        application_id: str,
        active_stages: Callable[[], set[int] | None],
    ) -> None:
        self.path = path
        self.application_id = application_id
        self._active_stages = active_stages
        self._lock = threading.Lock()  # the poller, readers and exit never commit twice
        self._wake = threading.Event()
        self._thread = threading.Thread(
            target=self._poll, name="sparktrack-scoring-log", daemon=True
        )
        self._thread.start()

    def _poll(self) -> None:
        while not self._wake.wait(COMMIT_SECONDS):
            self.commit()

    def _staged(self, filesystem: pafs.FileSystem, folder: str) -> dict[str, int]:
        """This application's staged files and the stage that wrote each."""
        selector = pafs.FileSelector(folder, allow_not_found=True)
        staged = {}
        for info in filesystem.get_file_info(selector):
            parts = info.base_name.split(".")
            if info.type != pafs.FileType.File or info.base_name.startswith("."):
                continue
            if len(parts) == 5 and parts[0] == self.application_id and parts[1].isdigit():
                staged[info.path] = int(parts[1])
        return staged

    def commit(self, *, finished_only: bool = True) -> int:
        """Commit the staged files of stages that are no longer running.

        Returns:
            The number of rows committed; 0 after a failure, which is logged once per
            kind, the files staying staged for the next try.
        """
        with self._lock:
            try:
                return self._commit(finished_only)
            except Exception as exc:
                warn_once(
                    f"commit {type(exc).__name__}",
                    f"could not commit scored rows to the scoring log at {self.path}: "
                    f"{type(exc).__name__}: {exc}; they stay staged and are retried",
                )
                return 0

    def _commit(self, finished_only: bool) -> int:
        filesystem, root = _filesystem(self.path)
        folder = f"{root}/{STAGING}"
        staged = self._staged(filesystem, folder)
        if not staged:
            return 0
        active = self._active_stages() if finished_only else None
        ready = sorted(f for f, stage in staged.items() if active is None or stage not in active)
        if not ready:
            return 0
        tables = [pq.read_table(f, filesystem=filesystem) for f in ready]
        try:
            rows = append_scoring_rows(self.path, tables)
        except ScoringLogSchemaError as exc:
            filesystem.create_dir(f"{folder}/rejected", recursive=True)
            for f in ready:
                filesystem.move(f, f"{folder}/rejected/{f.rsplit('/', 1)[-1]}")
            warn_once(
                f"schema {exc.column}",
                f"scored rows were not logged to {self.path}: {exc} (their files are in "
                f"{folder}/rejected)",
            )
            return 0
        # After the commit: a driver killed in between commits these files again.
        for f in ready:
            filesystem.delete_file(f)
        return rows

    def stop(self) -> None:
        self._wake.set()


_committers: dict[str, _Committer] = {}
_committers_lock = threading.Lock()


def _active_stages_of(spark: SparkSession) -> Callable[[], set[int] | None]:
    context = spark.sparkContext

    def active() -> set[int] | None:
        try:
            return set(context.statusTracker().getActiveStageIds())
        except Exception:  # the SparkContext stopped: no stage runs any more
            return None

    return active


def start_committer(path: str, spark: SparkSession) -> None:
    """Commit the rows ``spark``'s tasks stage for the table at ``path`` from now on.

    Args:
        path: The table's absolute path or URI (``table_path``).
        spark: The driver's session.
    """
    with _committers_lock:
        if path not in _committers:
            application = spark.sparkContext.applicationId
            _committers[path] = _Committer(path, application, _active_stages_of(spark))


def commit_staged_rows(path: str) -> int:
    """Commit the rows this process's tasks staged for ``path`` in finished stages.

    Returns:
        The number of rows committed (0 when this process stages nothing there).
    """
    committer = _committers.get(path)
    return committer.commit() if committer is not None else 0


@atexit.register
def _commit_at_exit() -> None:
    # No stage runs when the process ends: whatever is staged is final.
    for committer in list(_committers.values()):
        committer.stop()
        committer.commit(finished_only=False)


def read_scoring_log(
    spark: SparkSession, path: str, *, storage_options: dict[str, str] | None = None
) -> DataFrame:
    """Read a scoring log (or another Delta table) in any SparkSession, Delta or not.

        df = sparktrack.models.read_scoring_log(spark, "/data/churn_scoring_log")
        sparktrack.monitor("models:/churn/3", df, window="1d")

    delta-rs lists the files of the table's current version, and Spark reads them as
    Parquet: a user's plain session has no Delta confs or jars, and the scoring log is
    append-only (no deletion vectors, no column mapping), so its files are its rows. A
    table whose protocol needs more of a reader is read with Spark's Delta reader,
    which then needs those confs. Rows that ``spark_udf`` tasks of this process staged
    in finished stages are committed first.

    Args:
        spark: The session to read with.
        path: The table's folder or URI.
        storage_options: delta-rs's options for object stores.

    Returns:
        The table's rows.

    Raises:
        NotFoundError: No Delta table is at ``path``.
    """
    from pyspark.sql.pandas.types import from_arrow_schema  # pyspark: only when reading

    location = table_path(path)
    commit_staged_rows(location)
    try:
        table = DeltaTable(location, storage_options=storage_options)
    except TableNotFoundError:
        raise NotFoundError(
            f"no Delta table at {location}: nothing was logged there yet (check the path "
            "given to log_to= or --log-to)"
        ) from None
    if table.protocol().min_reader_version > 1:
        return spark.read.format("delta").load(location)
    files = table.file_uris()
    if not files:
        schema = pa.schema(table.schema().to_arrow())
        return spark.createDataFrame([], from_arrow_schema(schema))
    # mergeSchema: files written before a new input column joined the table lack it.
    return spark.read.option("mergeSchema", "true").parquet(*files)
