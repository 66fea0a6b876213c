"""What the sweep's loop and its two kinds of trials say to each other.

``Sweep`` asks Optuna for a trial, hands it to a ``TrialRunner`` as a ``LiveTrial``
(its params, its run, and the study's pruner behind a lock), gets an ``Outcome``
back and tells Optuna. The runners: ``EstimatorTrials`` (pyspark.ml fits from driver
threads) and ``FunctionTrials`` (a Python function as one Spark task per trial).
"""

from __future__ import annotations

import threading
import time
import traceback
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

from sparktrack.errors import SparktrackError
from sparktrack.sweeps._records import TrialRecord
from sparktrack.tracking import TrackingClient

if TYPE_CHECKING:
    from optuna import Study
    from optuna.pruners import BasePruner
    from optuna.trial import FrozenTrial, Trial

__all__ = ["BestModel", "LiveTrial", "Outcome", "PruningSnapshot", "TrialRunner", "now_ms"]

OutcomeState = Literal["complete", "pruned", "failed"]


def now_ms() -> int:
    """Wall-clock milliseconds, as runs record their start and end times."""
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Outcome:
    """How one trial ended, as its runner reports it to the loop.

    ``value`` is the optimised metric (complete trials), ``metrics`` everything to log
    on the trial's run, ``error`` the traceback of a failed trial; ``start_ms`` and
    ``end_ms`` time the training itself; ``worker`` names the executor of a function
    trial.
    """

    state: OutcomeState
    value: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    worker: str | None = None

    @classmethod
    def failure(
        cls, exc: BaseException, *, start_ms: int | None = None, end_ms: int | None = None
    ) -> Outcome:
        """A failed trial, with ``exc``'s traceback as its error."""
        error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls("failed", error=error, start_ms=start_ms, end_ms=end_ms)


class PruningSnapshot(NamedTuple):
    """What a pruner away from the study needs: itself and the trials finished so far."""

    pruner: BasePruner
    finished: list[FrozenTrial]


class BestModel(NamedTuple):
    """The sweep's best model (estimator sweeps) and the version it was registered as."""

    model: Any = None
    registered_version: int | None = None


class LiveTrial:
    """One running trial as its runner sees it: its params and run, and the study.

    The study is shared by every running trial: each call here that touches it holds
    the sweep's lock.
    """

    def __init__(
        self,
        trial: Trial,
        record: TrialRecord,
        *,
        study: Study,
        pruner: BasePruner | None,
        client: TrackingClient,
        lock: threading.RLock,
    ) -> None:
        self.trial = trial
        self.record = record
        self._study = study
        self._pruner = pruner
        self._client = client
        self._lock = lock

    @property
    def number(self) -> int:
        return self.record.number

    @property
    def params(self) -> dict[str, Any]:
        return self.record.params

    def log_intermediate(self, value: float, step: int) -> None:
        """Log ``value`` as the trial run's ``intermediate_value`` at ``step``."""
        self._client.log_metric(self.record.run_id, "intermediate_value", value, step=step)

    def report(self, value: float, step: int) -> None:
        """Log an intermediate value and report it to the study.

        The study's pruner compares later trials (and, with ``should_prune``, this one)
        with it.
        """
        self.log_intermediate(value, step)
        with self._lock:
            self.trial.report(value, step)

    def should_prune(self) -> bool:
        """Whether the study's pruner would stop the trial now."""
        with self._lock:
            return bool(self.trial.should_prune())

    def pruning_snapshot(self) -> PruningSnapshot | None:
        """The pruner and the finished trials, for pruning elsewhere.

        None without a pruner (then no copy of the trials is made).
        """
        if self._pruner is None:
            return None
        with self._lock:
            finished = [t for t in self._study.get_trials() if t.state.is_finished()]
        return PruningSnapshot(self._pruner, finished)


class TrialRunner(Protocol):
    """Runs a sweep's trials of one kind; ``Sweep`` drives it.

    ``metric``, ``maximize`` and ``parallelism`` are fixed when the runner is built
    (which checks the arguments of its kind); ``spark`` is the session whose jobs the
    trials start (``Sweep`` cancels them on Ctrl-C).
    """

    @property
    def metric(self) -> str: ...

    @property
    def maximize(self) -> bool: ...

    @property
    def parallelism(self) -> int: ...

    @property
    def spark(self) -> Any: ...

    def running(self) -> AbstractContextManager[None]:
        """The span in which trials run: what they share is set up and released here."""
        ...

    def run(self, trial: LiveTrial) -> Outcome:
        """Run one trial to its end (called from the sweep's pool threads)."""
        ...

    def check_finished(self, finished: list[TrialRecord]) -> None:
        """Look at the trials that just finished; raise to stop the sweep early."""
        ...

    def best_model(self, best: TrialRecord, *, client: TrackingClient, run_id: str) -> BestModel:
        """The best trial's model, logged into the sweep's run ``run_id``."""
        ...

    def explain_failure(self, first: TrialRecord) -> SparktrackError | None:
        """A more telling error than SweepFailedError when every trial failed, if any."""
        ...
