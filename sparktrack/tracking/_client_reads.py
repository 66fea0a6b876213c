"""The reading half of TrackingClient: runs, tags, metric histories, inputs, search.

``TrackingClient`` (``_client``) adds runs and logging on top. Each method hands the
call to the shared store's reader (``_reader``), where the behaviour lives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal, overload

import pandas as pd

from sparktrack.errors import NotFoundError
from sparktrack.tracking._client_base import ClientBase
from sparktrack.tracking._entities import DatasetInput, Metric, Run
from sparktrack.tracking._experiments import RunViewType
from sparktrack.tracking._snapshot import SNAPSHOT_TAG
from sparktrack.tracking._snapshot_store import SourceSnapshot

__all__ = ["ClientReads"]


class ClientReads(ClientBase):
    """A client's reads; see ``TrackingClient``, which documents the arguments.

    Args:
        store: See ``TrackingClient``.
        settings: See ``TrackingClient``.
        record_verdicts: See ``TrackingClient``.
    """

    # -- reading --------------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run:
        """A run as it is now: its metadata, latest metrics, params and tags.

        A RUNNING run whose heartbeat stopped longer than the heartbeat timeout ago is
        returned KILLED, and that verdict is stored (unless the client was made with
        ``record_verdicts=False``).

        Args:
            run_id: The run.

        Returns:
            The run.

        Raises:
            InvalidInputError: ``run_id`` is not a valid run id.
        """
        return self._live.reader.get_run(run_id, record_verdicts=self._record_verdicts)

    def get_source_snapshot(self, run_id: str) -> SourceSnapshot:
        """The run's source snapshot: what ran, git diff, packages, versions, Spark conf.

        A snapshot is stored in the background after the run starts; ``flush()`` waits
        for it.

        Args:
            run_id: The run.

        Returns:
            The snapshot (its manifest, files to read or extract).

        Raises:
            NotFoundError: The run does not exist, has no snapshot (started with
                ``snapshot=False`` or with snapshots off, or storing it failed), or its
                snapshot is not in the store.
        """
        live = self._live
        digest = self.get_tags(run_id).get(SNAPSHOT_TAG)
        if digest is None:
            live.runs.experiment_of(run_id)  # NotFoundError for a run that does not exist
            raise NotFoundError(
                f"run {run_id} has no source snapshot (tag {SNAPSHOT_TAG!r}): it was started "
                "with snapshot=False or with snapshots off (SPARKTRACK_SNAPSHOTS=false), is a "
                "child run (tuning, sweep trial: see its parent), or storing it failed "
                "(a warning said why)"
            )
        return live.snapshots.open(run_id, digest)

    def get_tags(self, run_id: str) -> dict[str, str]:
        """A run's tags as ``get_run(run_id).data.tags``, cheaper: from the tags table alone.

        What this process logged is committed first only if one of the run's tags is.

        Args:
            run_id: The run.

        Returns:
            Tag names and values.

        Raises:
            InvalidInputError: ``run_id`` is not a valid run id.
            NotFoundError: The run does not exist.
        """
        return self._live.reader.get_tags(run_id)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every value logged for a metric, by step then timestamp.

        Args:
            run_id: The run.
            key: The metric's name.

        Returns:
            Its values (empty when the run never logged it).
        """
        return self._live.reader.get_metric_history(run_id, key)

    def get_metric_history_frame(self, run_id: str, key: str) -> pd.DataFrame:
        """Every value logged for a metric, as columns: for long series (charts).

        ``get_metric_history`` as a DataFrame of ``step``, ``timestamp`` and ``value``,
        without a Python object per point: 100,000 points read in tens of milliseconds.

        Args:
            run_id: The run.
            key: The metric's name.

        Returns:
            One row per value logged, by step then timestamp (none: never logged).
        """
        return self._live.reader.get_metric_history_frame(run_id, key)

    def get_metric_history_frames(
        self, run_ids: Sequence[str], keys: Sequence[str]
    ) -> dict[tuple[str, str], pd.DataFrame]:
        """Every value of several metrics of several runs, read together (for charts).

        ``get_metric_history_frame`` for each run and key, in one read of the runs'
        points instead of one per curve.

        Args:
            run_ids: The runs.
            keys: The metrics' names.

        Returns:
            ``(run_id, key)`` -> its points (``step``, ``timestamp``, ``value``, by step
            then timestamp); a run that never logged a key has no entry for it.

        Raises:
            InvalidInputError: A run id is malformed.
            NotFoundError: A run does not exist.
        """
        return self._live.reader.get_metric_history_frames(
            list(dict.fromkeys(run_ids)), list(dict.fromkeys(keys))
        )

    def get_inputs(self, run_id: str) -> list[DatasetInput]:
        """The datasets the run read (``log_input``), each once per role.

        Args:
            run_id: The run.

        Returns:
            Its dataset inputs.
        """
        return self._live.reader.get_inputs(run_id)

    def get_inputs_of(self, run_ids: Sequence[str]) -> dict[str, list[DatasetInput]]:
        """The datasets each of several runs read, in one read (a page of search results).

        Args:
            run_ids: The runs.

        Returns:
            Each run id -> its inputs, as ``get_inputs`` returns them (empty: none).

        Raises:
            InvalidInputError: A run id is malformed.
            NotFoundError: A run does not exist.
        """
        return self._live.reader.get_inputs_of(list(dict.fromkeys(run_ids)))

    @overload
    def search_runs(
        self,
        experiment_ids: Iterable[str] | None = ...,
        filter_string: str | None = ...,
        run_view_type: RunViewType = ...,
        max_results: int = ...,
        order_by: list[str] | None = ...,
        *,
        output_format: Literal["pandas"] = ...,
        columns: Iterable[str] | None = ...,
    ) -> pd.DataFrame: ...

    @overload
    def search_runs(
        self,
        experiment_ids: Iterable[str] | None = ...,
        filter_string: str | None = ...,
        run_view_type: RunViewType = ...,
        max_results: int = ...,
        order_by: list[str] | None = ...,
        *,
        output_format: Literal["list"],
        columns: Iterable[str] | None = ...,
    ) -> list[Run]: ...

    def search_runs(
        self,
        experiment_ids: Iterable[str] | None = None,
        filter_string: str | None = "",
        run_view_type: RunViewType = "ACTIVE_ONLY",
        max_results: int = 100_000,
        order_by: list[str] | None = None,
        *,
        output_format: Literal["pandas", "list"] = "pandas",
        columns: Iterable[str] | None = None,
    ) -> pd.DataFrame | list[Run]:
        """Runs matching a filter, best first (MLflow's search grammar).

        Args:
            experiment_ids: The experiments to search (default: all).
            filter_string: E.g. "metrics.auc > 0.9 AND params.maxDepth = '5'" ("" or
                None: every run).
            run_view_type: "ACTIVE_ONLY", "DELETED_ONLY" or "ALL".
            max_results: How many runs at most.
            order_by: E.g. ["metrics.auc DESC", "start_time"] (default: newest first).
            output_format: "pandas" for a DataFrame (run columns, then ``metrics.*``,
                ``params.*``, ``tags.*``), "list" for ``Run`` records, whose metrics hold
                exactly what each run logged (a DataFrame cannot tell a logged NaN from a
                missing metric).
            columns: Only these params, metrics and tags (``"metrics.auc"``,
                ``"params.maxDepth"``, ``"tags.mlflow.parentRunId"``) beside the run
                columns, or in the records (default: every one). Over many runs, naming
                the few a caller shows saves most of a search's time and memory.

        Returns:
            The runs, as ``output_format`` says.

        Raises:
            InvalidInputError: The filter, order, view type, ``max_results``,
                ``output_format`` or ``columns`` is invalid (the message points at the
                error).
        """
        return self._live.reader.search_runs(
            experiment_ids,
            filter_string,
            run_view_type,
            max_results,
            order_by,
            output_format,
            columns=columns,
            record_verdicts=self._record_verdicts,
        )

    def list_run_keys(
        self,
        kind: Literal["params", "metrics", "tags"],
        experiment_ids: Iterable[str] | None = None,
        run_view_type: RunViewType = "ACTIVE_ONLY",
    ) -> list[str]:
        """The distinct params, metrics or tags keys that some runs have, sorted.

        The names of the ``params.*``, ``metrics.*`` or ``tags.*`` columns that
        ``search_runs`` would return for every run of these experiments (a deleted tag
        is absent), without reading or returning any value: over many runs, a search
        for every column costs hundreds of megabytes, this a list of names.

        Args:
            kind: "params", "metrics" or "tags".
            experiment_ids: The experiments whose runs count (default: all).
            run_view_type: "ACTIVE_ONLY", "DELETED_ONLY" or "ALL".

        Returns:
            The keys, without their ``params.``/``metrics.``/``tags.`` prefix.

        Raises:
            InvalidInputError: ``kind`` or ``run_view_type`` is invalid.
        """
        return self._live.reader.run_keys(kind, experiment_ids, run_view_type)
