"""The scoring log of a server: scored requests appended in the background, in batches.

A request hands its rows and predictions to ``submit``, which only queues them: the
sampling, the Arrow conversion and the Delta commit happen on the writer's thread, so
logging never delays or fails a response. Rows are committed once ``batch_rows`` are
waiting or ``batch_seconds`` after the first one arrived, and on ``close``. While a
write fails, its rows are counted as lost (``stats``) and a warning is logged once per
kind of failure; the next batch is tried afresh. Past ``max_pending_rows`` waiting rows
(a store slower than the traffic), new rows are dropped and counted.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sparktrack.models._scoring_log import (
    ScoringContext,
    append_scoring_rows,
    check_fraction,
    scoring_rows,
    table_path,
    warn_once,
)
from sparktrack.models._signature import ModelSignature

__all__ = ["ScoringLogWriter"]


@dataclass(frozen=True)
class _Scored:
    inputs: pd.DataFrame
    predictions: pd.Series | pd.DataFrame
    context: ScoringContext
    signature: ModelSignature | None
    request_id: str | None
    scored_at: dt.datetime


class ScoringLogWriter:
    """Appends scored rows to a scoring log from a background thread (public for serving).

    Args:
        path: The Delta table's folder or URI.
        sample: The share of rows kept (above 0, at most 1).
        batch_rows: Commit once this many rows wait.
        batch_seconds: Commit at the latest this long after the first waiting row.
        max_pending_rows: Drop new rows while this many wait.
        storage_options: delta-rs's options for object stores.

    Raises:
        InvalidInputError: ``sample`` is not a fraction or ``path`` is empty.
    """

    def __init__(
        self,
        path: str,
        *,
        sample: float = 1.0,
        batch_rows: int = 1000,
        batch_seconds: float = 5.0,
        max_pending_rows: int = 100_000,
        storage_options: dict[str, str] | None = None,
    ) -> None:
        self.path = table_path(path)
        self.sample = check_fraction(sample)
        self.batch_rows = batch_rows
        self.batch_seconds = batch_seconds
        self.max_pending_rows = max_pending_rows
        self.storage_options = storage_options
        self._pending: list[_Scored] = []
        self._pending_rows = 0
        self._closing = False
        self._condition = threading.Condition()
        self._counts = {"rows_written": 0, "rows_lost": 0, "rows_dropped": 0, "write_failures": 0}
        self.last_error: str | None = None
        self._thread = threading.Thread(
            target=self._run, name="sparktrack-scoring-log-writer", daemon=True
        )
        self._thread.start()

    def submit(
        self,
        inputs: pd.DataFrame,
        predictions: pd.Series | pd.DataFrame,
        context: ScoringContext,
        *,
        signature: ModelSignature | None = None,
        request_id: str | None = None,
    ) -> None:
        """Queue one scored batch; returns at once and never raises for the log's sake.

        Args:
            inputs: The rows as the model read them.
            predictions: The model's output for them.
            context: The model that scored them.
            signature: The model's signature (the logged inputs take its types).
            request_id: The request's id.
        """
        scored = _Scored(
            inputs, predictions, context, signature, request_id, dt.datetime.now(dt.UTC)
        )
        with self._condition:
            if self._closing or self._pending_rows >= self.max_pending_rows:
                self._counts["rows_dropped"] += len(inputs.index)
                return
            self._pending.append(scored)
            self._pending_rows += len(inputs.index)
            # Wakes the writer: the first rows start the batch's clock, a full batch ends it.
            self._condition.notify()

    def _take(self) -> list[_Scored] | None:
        """The next batch to write; None once closed and drained."""
        with self._condition:
            while not self._pending and not self._closing:
                self._condition.wait()
            if not self._closing and self._pending_rows < self.batch_rows:
                # A partial batch waits for more rows, at most batch_seconds.
                self._condition.wait_for(
                    lambda: self._closing or self._pending_rows >= self.batch_rows,
                    timeout=self.batch_seconds,
                )
            if not self._pending:
                return None
            batch, self._pending, self._pending_rows = self._pending, [], 0
            return batch

    def _write(self, batch: list[_Scored]) -> None:
        rows = sum(len(s.inputs.index) for s in batch)
        try:
            tables = [
                table
                for s in batch
                if (
                    table := scoring_rows(
                        s.inputs,
                        s.predictions,
                        s.context,
                        fraction=self.sample,
                        signature=s.signature,
                        request_id=s.request_id,
                        scored_at=s.scored_at,
                    )
                )
                is not None
            ]
            written = append_scoring_rows(self.path, tables, storage_options=self.storage_options)
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            with self._condition:
                self._counts["write_failures"] += 1
                self._counts["rows_lost"] += rows
            warn_once(
                f"serve {type(exc).__name__}",
                f"could not append scored rows to the scoring log at {self.path} "
                f"({self.last_error}); the server keeps serving, their rows are counted "
                "as lost in /health",
            )
            return
        with self._condition:
            self._counts["rows_written"] += written

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            self._write(batch)

    def stats(self) -> dict[str, Any]:
        """What the log did so far, for ``/health``.

        Returns:
            ``path``, ``sample``, ``rows_written`` (sampled rows committed),
            ``rows_lost`` (scored rows of failed writes), ``rows_dropped`` (scored rows
            not queued: too many waiting, or closing), ``write_failures``,
            ``pending_rows`` and ``last_error``.
        """
        with self._condition:
            return {
                "path": self.path,
                "sample": self.sample,
                **self._counts,
                "pending_rows": self._pending_rows,
                "last_error": self.last_error,
            }

    def close(self, timeout: float = 30.0) -> None:
        """Write what is waiting, then stop the thread.

        Args:
            timeout: How long to wait for the last write, in seconds.
        """
        with self._condition:
            self._closing = True
            self._condition.notify_all()
        self._thread.join(timeout=timeout)
