"""``import_mlflow``: an MLflow store into a sparktrack store, in bulk, resumable.

The order makes an interrupted import safe to run again. Experiments first. Then
runs, a batch at a time: artifacts copied, then the batch's params, tags, metrics and
inputs appended, then its run events (the mark that a run is complete), then a commit.
Rows acknowledged by the store survive the process (its journal); a run cut off
before its events is imported again on the next run, less what landed (``_plan``).
Then MLflow 3's logged models: folders copied where the server keeps them
(``artifacts/<exp>/models/<model_id>/artifacts``), then each model's rows in one
append (a model is in the store whole, or not at all). The registry last, in one
optimistic commit.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
from tqdm import tqdm

from sparktrack.errors import InvalidInputError
from sparktrack.mlflow_import._model_rows import logged_model_rows, stored_model_ids
from sparktrack.mlflow_import._open import open_source
from sparktrack.mlflow_import._plan import (
    ExperimentPlan,
    landed_rows,
    plan_experiments,
    started_runs,
    touched_runs,
)
from sparktrack.mlflow_import._records import MlflowExperiment, MlflowRun, MlflowVersion
from sparktrack.mlflow_import._registry_rows import registry_events
from sparktrack.mlflow_import._report import ImportReport
from sparktrack.mlflow_import._rows import SIDE_TABLES, RunRows, run_rows, without_landed
from sparktrack.mlflow_import._source import ArtifactTree, MlflowSource
from sparktrack.store import RunStatus, Store
from sparktrack.tracking import Experiment, TrackingClient, event_time_us, now_ms

__all__ = ["import_mlflow"]

DEFAULT_BATCH_RUNS = 1000
# Each append is one line of the store's journal: runs with long metric histories are
# appended in parts, so that no line holds the memory of millions of rows at once.
_ROWS_PER_APPEND = 100_000
_MODELS_PREFIX = "models:/"
_LOGGED_MODEL_ID = "m-"


def import_mlflow(
    source: str,
    client: TrackingClient,
    *,
    experiments: Sequence[str] = (),
    dry_run: bool = False,
    batch_runs: int = DEFAULT_BATCH_RUNS,
    progress: bool = True,
) -> ImportReport:
    """Import an MLflow store into the store of ``client``, keeping MLflow's ids.

    Running it again adds nothing; after an interruption it finishes what is missing.

    Args:
        source: ``sqlite:///path.db``, a ``./mlruns`` folder or ``file:`` URI, or an
            ``http(s)://`` MLflow tracking server.
        client: The client of the store to import into.
        experiments: Only the experiments of these names (default: all).
        dry_run: Write nothing: count what would be imported.
        batch_runs: Runs per commit.
        progress: Draw a progress bar on stderr.

    Returns:
        What was imported, what was there already and what could not be carried.

    Raises:
        InvalidInputError: ``source`` is not a supported URI, or an experiment named
            is not in it.
        NotFoundError: Nothing is at ``source``.
        StoreError: The store could not be written (run the import again to finish).
    """
    if batch_runs < 1:
        raise InvalidInputError(f"batch_runs must be at least 1, got {batch_runs}")
    reader = open_source(source)
    try:
        job = _Import(reader, client.store, dry_run=dry_run, progress=progress)
        return job.run(client.search_experiments("ALL"), experiments, batch_runs)
    finally:
        reader.close()


class _Import:
    def __init__(self, source: MlflowSource, store: Store, *, dry_run: bool, progress: bool):
        self.source = source
        self.store = store
        self.dry_run = dry_run
        self.progress = progress
        self.report = ImportReport(source.uri, store.uri, dry_run)
        self.models: set[str] = set()  # logged models in the store once the import is done
        self.running = 0  # runs not ended in MLflow
        fs, base = store.artifacts.filesystem()
        self.fs, self.base = fs, base

    def run(
        self, existing: Sequence[Experiment], names: Sequence[str], batch_runs: int
    ) -> ImportReport:
        every = self.source.experiments()
        chosen = _chosen(every, names)
        plan = plan_experiments(chosen, existing)
        self._experiments(plan)
        imported = self._runs(plan, batch_runs)
        self._logged_models(plan)
        if self.running:
            self.report.notes.append(
                f"{self.running} runs never ended in MLflow: imported RUNNING, they read "
                "KILLED once the heartbeat timeout passes without a heartbeat"
            )
        self._registry(imported if names else None)
        self._not_carried(chosen)
        if not self.dry_run:
            self.store.flush()
        return self.report

    # -- experiments ----------------------------------------------------------------
    def _experiments(self, plan: ExperimentPlan) -> None:
        self.report.carried.experiments = len(plan.new)
        self.report.already.experiments = len(plan.present)
        for experiment_id, why in plan.conflicts.items():
            runs = len(self.source.run_ids(experiment_id))
            self.report.leave(f"experiment {experiment_id} with its {runs} runs", 1, why)
        if self.dry_run or not plan.new:
            return
        self.store.append(
            "experiments",
            [
                {
                    "experiment_id": e.experiment_id,
                    "name": e.name,
                    "artifact_location": self.store.artifacts.experiment_root(e.experiment_id),
                    "lifecycle_stage": e.lifecycle_stage,
                    "creation_time": now_ms() if e.creation_time is None else e.creation_time,
                    "event_time": event_time_us(),
                }
                for e in plan.new
            ],
        )
        self.store.flush(fsync=False)

    # -- runs -----------------------------------------------------------------------
    def _runs(self, plan: ExperimentPlan, batch_runs: int) -> set[str]:
        done = started_runs(self.store)
        todo = {e.experiment_id: self.source.run_ids(e.experiment_id) for e in plan.importable}
        every = {run_id for ids in todo.values() for run_id in ids}
        self.report.already.runs = len(every & done)
        pending = {e: [r for r in ids if r not in done] for e, ids in todo.items()}
        touched = touched_runs(self.store, (r for ids in pending.values() for r in ids))
        total = sum(len(ids) for ids in pending.values())
        with tqdm(
            total=total,
            unit="run",
            desc="import-mlflow",
            file=sys.stderr,
            disable=not self.progress,
        ) as bar:
            for experiment_id, ids in pending.items():
                for batch in _chunks(ids, batch_runs):
                    runs = self.source.runs(experiment_id, batch)
                    self._batch(runs, touched)
                    bar.update(len(batch))
        return every

    def _batch(self, runs: list[MlflowRun], touched: set[str]) -> None:
        landed = landed_rows(self.store, [r.run_id for r in runs if r.run_id in touched])
        rows = RunRows()
        for run in runs:
            self._artifacts(run)
            one = run_rows(run, self.store)
            if run.run_id in landed:
                one = without_landed(one, landed[run.run_id])
            rows.add(one)
        self.running += sum(1 for run in runs if run.status not in RunStatus.TERMINAL)
        counts = self.report.carried
        counts.runs += len(runs)
        counts.params += len(rows.tables["params"])
        counts.tags += len(rows.tables["tags"])
        counts.metric_points += len(rows.tables["metrics"])
        counts.inputs += len(rows.tables["inputs"])
        if self.dry_run:
            return
        for table in (*SIDE_TABLES, "runs"):  # the run events last: the mark of a whole run
            table_rows = rows.tables[table]
            for start in range(0, len(table_rows), _ROWS_PER_APPEND):
                self.store.append(table, table_rows[start : start + _ROWS_PER_APPEND])
        self.store.flush(fsync=False)

    def _artifacts(self, run: MlflowRun) -> None:
        root = f"{self.base}/{run.experiment_id}/{run.run_id}/artifacts"
        tree = self.source.run_artifacts(run)
        if isinstance(tree, str):
            self.report.leave(f"artifacts of run {run.run_id}", 1, tree)
        else:
            self._copy(tree, root)

    def _copy(self, tree: ArtifactTree, folder: str) -> None:
        files = tree.files()
        self.report.carried.artifact_files += len(files)
        self.report.carried.artifact_bytes += sum(size for _path, size in files)
        if not self.dry_run and files:
            tree.copy_to(self.fs, folder)

    # -- logged models --------------------------------------------------------------
    def _logged_models(self, plan: ExperimentPlan) -> None:
        """Carry MLflow 3's logged models into the ``logged_models`` table, keeping ids.

        Each model's folder goes where ``sparktrack server`` keeps one, so
        ``models:/<model_id>`` and ``runs:/<run_id>/<name>`` load it as they load a
        model logged through the server.
        """
        importable = {e.experiment_id for e in plan.importable}
        models = [m for m in self.source.logged_models() if m.experiment_id in importable]
        present = stored_model_ids(self.store)
        rows: list[dict[str, Any]] = []
        for model in models:
            if model.model_id in present:
                self.report.already.logged_models += 1
                continue
            tree = self.source.model_artifacts(model)
            if isinstance(tree, str):
                self.report.leave(f"files of logged model {model.model_id}", 1, tree)
            else:
                self._copy(
                    tree, f"{self.base}/{model.experiment_id}/models/{model.model_id}/artifacts"
                )
            rows += logged_model_rows(model)
            self.report.carried.logged_models += 1
        self.models = present | {m.model_id for m in models}
        self.report.leave(
            "metric values of logged models",
            sum(m.metrics for m in models if m.model_id not in present),
            "sparktrack keeps no metrics on a logged model; those of the run that logged "
            "it are imported",
        )
        if rows and not self.dry_run:
            self.store.append("logged_models", rows)  # one journal line: all or nothing
            self.store.flush(fsync=False)

    # -- registry -------------------------------------------------------------------
    def _registry(self, runs: set[str] | None) -> None:
        models = self.source.registered_models()
        if not models:
            return
        unmapped: list[str] = []
        notes: list[str] = []  # the rule may run again on newer content: the last counts

        def source_of(version: MlflowVersion) -> str:
            source = version.source
            if source.startswith(_MODELS_PREFIX + _LOGGED_MODEL_ID):
                # models:/<model_id>, as MLflow 3 and sparktrack's server register one.
                if source[len(_MODELS_PREFIX) :].split("/")[0] not in self.models:
                    unmapped.append(source)
                return source
            marker = f"/{version.run_id}/artifacts/" if version.run_id else None
            if marker and marker in source:
                return f"runs:/{version.run_id}/{source.split(marker, 1)[1]}"
            return source

        def decide(table: pa.Table) -> list[dict[str, Any]]:
            unmapped.clear()
            plan = registry_events(models, table, source_of, runs)
            self.report.carried.models = plan.models
            self.report.carried.versions = plan.versions
            self.report.already.versions = plan.already
            notes[:] = plan.notes
            return [] if self.dry_run else plan.events

        if self.dry_run:
            decide(self.store.scan("registry"))
        else:
            self.store.transact("registry", decide)
        self.report.notes += notes
        self.report.leave(
            "model version sources",
            len(unmapped),
            "their logged model is not in the MLflow store (deleted) or its experiment was "
            "not imported: the versions keep MLflow's models:/ URI, which loads nothing here",
        )

    # -- the rest -------------------------------------------------------------------
    def _not_carried(self, chosen: Sequence[MlflowExperiment]) -> None:
        tags = sum(len(e.tags) for e in chosen)
        self.report.leave(
            "experiment tags", tags, "sparktrack's experiments table has no tags column"
        )
        for what, count in self.source.not_carried().items():
            self.report.leave(what, count, f"sparktrack has no {what}")


def _chosen(every: list[MlflowExperiment], names: Sequence[str]) -> list[MlflowExperiment]:
    if not names:
        return every
    known = {e.name for e in every}
    missing = [n for n in names if n not in known]
    if missing:
        raise InvalidInputError(
            f"no experiment named {missing} in the MLflow store; its experiments are "
            f"{sorted(known)[:50]}"
        )
    return [e for e in every if e.name in set(names)]


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
