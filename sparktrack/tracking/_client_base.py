"""The first half of TrackingClient: the store it holds, its experiments and artifacts.

``TrackingClient`` (``_client``) extends this class with runs, logging and reading.
Both halves are thin: each method checks the client is open and hands the call to a
collaborator of the shared store (``_shared``), where the behaviour lives.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from sparktrack.config import Settings, load_settings
from sparktrack.errors import StoreError
from sparktrack.store import ArtifactRepository, FileInfo, LifecycleStage, Store
from sparktrack.tracking._artifact_logging import serialized_dict, serialized_figure
from sparktrack.tracking._entities import Experiment
from sparktrack.tracking._folded_runs import save_runs_summary
from sparktrack.tracking._latest_metrics import save_latest_metrics
from sparktrack.tracking._shared import SharedStore, acquire_store, release_store

__all__ = ["ClientBase"]


class ClientBase:
    """A lease on a shared store, and the experiment and artifact methods.

    Args:
        store: A store URI (a folder, ``hdfs://``, ``s3a://``, ``abfss://``, ...,
            or ``memory://``), a ``Store`` object, or None for the configured store.
        settings: All settings at once (default: resolved from the environment,
            Spark conf and config file); an explicit ``store`` URI wins over theirs.
        record_verdicts: False for a client that only reads and must not write (a
            read-only UI, a read-only mount): a RUNNING run whose heartbeat stopped is
            still reported KILLED by ``get_run`` and ``search_runs``, but that verdict
            is not stored, and the runs of dead writers are not settled.

    Raises:
        ConfigurationError: A setting is invalid.
        StoreError: The store cannot be opened or created.
    """

    def __init__(
        self,
        store: str | Store | None = None,
        *,
        settings: Settings | None = None,
        record_verdicts: bool = True,
    ):
        explicit_uri = store if isinstance(store, str) else None
        if settings is None:
            settings = load_settings(store=explicit_uri)
        elif explicit_uri is not None:
            settings = dataclasses.replace(settings, store=explicit_uri)
        self.settings = settings
        self._record_verdicts = record_verdicts
        # Every client of the same store and settings in this process shares one store
        # (one writer) and its caches, so each sees what any other acknowledged.
        self._shared = acquire_store(
            store if isinstance(store, Store) else settings.store,
            settings,
            settle=record_verdicts,
        )
        self._closed = False

    @property
    def _live(self) -> SharedStore:
        """The shared store, while this client is open."""
        if self._closed:
            raise StoreError(
                f"this TrackingClient of store {self._shared.store.uri!r} was closed; "
                "open a new TrackingClient to keep using the store"
            )
        return self._shared

    @property
    def store(self) -> Store:
        """The store this client reads and writes (shared with the process's other clients).

        Raises:
            StoreError: The client was closed.
        """
        return self._live.store

    @property
    def artifacts(self) -> ArtifactRepository:
        """The store's artifact tree (every run's artifacts, by experiment and run).

        Raises:
            StoreError: The client was closed.
        """
        return self._live.artifacts.repository

    def experiment_of(self, run_id: str) -> str:
        """The id of the experiment a run belongs to (artifacts are filed by it).

        Cheaper than ``get_run``: the answer is cached once the run is known.

        Args:
            run_id: The run's id.

        Returns:
            The experiment id.

        Raises:
            NotFoundError: No run has that id.
        """
        return self._live.runs.experiment_of(run_id)

    # -- experiments ----------------------------------------------------------------------
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment called ``name``, active or deleted.

        Args:
            name: The experiment's name.

        Returns:
            The experiment, or None if there is none of that name.

        Raises:
            InvalidInputError: ``name`` is empty or too long.
        """
        return self._live.experiments.get_by_name(name)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with id ``experiment_id``, active or deleted.

        Args:
            experiment_id: The experiment's id.

        Returns:
            The experiment.

        Raises:
            NotFoundError: There is no such experiment.
        """
        return self._live.experiments.get(experiment_id)

    def search_experiments(self, view_type: str = "ACTIVE_ONLY") -> list[Experiment]:
        """The store's experiments, oldest first.

        Args:
            view_type: "ACTIVE_ONLY", "DELETED_ONLY" or "ALL".

        Returns:
            The experiments in that lifecycle stage.

        Raises:
            InvalidInputError: ``view_type`` is none of the three.
        """
        return self._live.experiments.search(view_type)

    def create_experiment(self, name: str, artifact_location: str | None = None) -> str:
        """Create an experiment.

        Args:
            name: Its name, unique in the store.
            artifact_location: Where its runs' artifacts go (default: under the store).

        Returns:
            Its id (derived from the name, so concurrent creators agree).

        Raises:
            InvalidInputError: The name is invalid or taken (by a deleted one too).
        """
        return self._live.experiments.create(name, artifact_location)

    def get_or_create_experiment(self, name: str) -> Experiment:
        """The active experiment called ``name``, created if there is none.

        Args:
            name: The experiment's name.

        Returns:
            The experiment.

        Raises:
            InvalidInputError: The name is invalid, or the experiment is deleted.
        """
        return self._live.experiments.get_or_create(name)

    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete an experiment (``restore_experiment`` undoes it).

        Args:
            experiment_id: The experiment's id.

        Raises:
            NotFoundError: There is no such experiment.
        """
        self._live.experiments.set_stage(experiment_id, LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        """Make a deleted experiment active again.

        Args:
            experiment_id: The experiment's id.

        Raises:
            NotFoundError: There is no such experiment.
        """
        self._live.experiments.set_stage(experiment_id, LifecycleStage.ACTIVE)

    # -- artifacts ------------------------------------------------------------------------
    def log_artifact(
        self, run_id: str, local_path: str | Path, artifact_path: str | None = None
    ) -> None:
        """Copy a local file or folder into the run's artifacts.

        Args:
            run_id: The run.
            local_path: The file or folder to copy.
            artifact_path: The folder under the run's artifact root to put it in
                (default: the root).

        Raises:
            NotFoundError: The run or ``local_path`` does not exist.
        """
        self._live.artifacts.upload(run_id, local_path, artifact_path)

    def log_artifacts(
        self, run_id: str, local_dir: str | Path, artifact_path: str | None = None
    ) -> None:
        """Copy the contents of a local folder into the run's artifacts.

        Args:
            run_id: The run.
            local_dir: The folder whose contents to copy.
            artifact_path: The folder under the run's artifact root to copy into
                (default: the root).

        Raises:
            NotFoundError: The run does not exist, or ``local_dir`` is not a folder.
        """
        self._live.artifacts.upload_folder(run_id, local_dir, artifact_path)

    def log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> None:
        """Write bytes to a file of the run's artifacts.

        Args:
            run_id: The run.
            data: The file's content.
            artifact_file: Its path under the run's artifact root.

        Raises:
            NotFoundError: The run does not exist.
        """
        self._live.artifacts.write(run_id, data, artifact_file)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Write text (UTF-8) to a file of the run's artifacts.

        Args:
            run_id: The run.
            text: The file's content.
            artifact_file: Its path under the run's artifact root.

        Raises:
            NotFoundError: The run does not exist.
        """
        self._live.artifacts.write(run_id, text.encode("utf-8"), artifact_file)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        """Write a dict as JSON, or as YAML when the file name ends in .yaml/.yml.

        UTF-8, keys in order; non-ASCII text stays as written ("Müller").

        Args:
            run_id: The run.
            dictionary: What to write (values JSON cannot hold are written as text).
            artifact_file: Its path under the run's artifact root.

        Raises:
            NotFoundError: The run does not exist.
        """
        text = serialized_dict(dictionary, artifact_file)
        self._live.artifacts.write(run_id, text.encode("utf-8"), artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        """Save a matplotlib figure (any format savefig knows) or a plotly one (.html/.png).

        Args:
            run_id: The run.
            figure: The figure.
            artifact_file: Its path under the run's artifact root; the suffix is the format.

        Raises:
            InvalidInputError: ``figure`` is neither a matplotlib nor a plotly figure.
            NotFoundError: The run does not exist.
        """
        data = serialized_figure(figure, artifact_file)
        self._live.artifacts.write(run_id, data, artifact_file)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """What lies directly in a folder of the run's artifacts.

        Args:
            run_id: The run.
            path: The folder, relative to the run's artifact root (default: the root).

        Returns:
            Its files and folders; nothing for a file or a missing path, as in MLflow.

        Raises:
            NotFoundError: The run does not exist.
        """
        return self._live.artifacts.list(run_id, path)

    def download_artifacts(
        self, run_id: str, path: str = "", dst_path: str | Path | None = None
    ) -> Path:
        """Copy a file or folder of the run's artifacts to a local folder.

        Laid out as MLflow does: ``path`` keeps its place under ``dst_path`` ("a/b.txt"
        lands at ``dst_path/a/b.txt``; "", the whole run, directly in ``dst_path``).

        Args:
            run_id: The run.
            path: The file or folder, relative to the run's artifact root.
            dst_path: The local folder (created if missing; default: a new temporary
                folder, which the caller owns).

        Returns:
            The local path of what was copied.

        Raises:
            NotFoundError: The run or ``path`` does not exist.
        """
        return self._live.artifacts.download(run_id, path, dst_path)

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """The content of a file of the run's artifacts.

        Args:
            run_id: The run.
            path: The file, relative to the run's artifact root.

        Returns:
            Its bytes.

        Raises:
            NotFoundError: The run or the file does not exist.
        """
        return self._live.artifacts.read(run_id, path)

    # -- lifecycle ------------------------------------------------------------------------
    def flush(self) -> None:
        """Commit everything logged so far and fsync the journal.

        Runs that processes which died while logging to this store left open are
        ended KILLED on the way (unless the client was made with
        ``record_verdicts=False``).

        Raises:
            StoreError: The commit failed (what was logged stays in the journal).
        """
        live = self._live
        live.snapshots.wait()  # their tags are records like any other
        live.store.flush(fsync=True)
        if self._record_verdicts:
            live.liveness.settle_orphans()

    def maintain(
        self, *, vacuum_retention_hours: int | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """What ``sparktrack gc`` runs: compact every table, then save what searches fold.

        After compacting (``Store.maintain``) it saves the latest point of every metric
        of every run beside the tables (``_folds/``), so that the first search of a new
        process reads the few metrics it names from there instead of folding the whole
        metrics table (at a million runs, fifty million rows), and the summary of every
        run's events, which it reads instead of folding the runs table. Searches bring
        both up to date with what was logged since; they are saved again at the next gc.

        Args:
            vacuum_retention_hours: Also vacuum files no table version younger than this
                needs (None: compact only).
            dry_run: Change nothing: report what would be rewritten and vacuumed.

        Returns:
            ``Store.maintain``'s report, per table.

        Raises:
            StoreError: A table could not be compacted, vacuumed or read.
        """
        live = self._live
        report = live.store.maintain(vacuum_retention_hours=vacuum_retention_hours, dry_run=dry_run)
        if not dry_run:
            save_latest_metrics(live.store)
            save_runs_summary(live.store)
        return report

    def close(self) -> None:
        """Commit what was logged, then let go of the store; a second close does nothing.

        The store is shared by every client of this process that opened the same store
        with the same settings: it is closed (heartbeats stop, the writer ends) when the
        last of them closes. Runs a closed client started stay RUNNING until ended.
        After ``close`` this client refuses every call; other clients are unaffected.

        Raises:
            StoreError: The final commit failed (the store is let go all the same).
        """
        if self._closed:
            return
        try:
            self._shared.snapshots.wait()
            self._shared.store.flush(fsync=True)
        finally:
            self._closed = True
            release_store(self._shared, settle=self._record_verdicts)

    def __repr__(self) -> str:
        state = ", closed" if self._closed else ""
        return f"TrackingClient(store={self._shared.store.uri!r}{state})"
