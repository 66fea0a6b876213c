"""The runs fold, written once: how a run's events become its current state.

The ``runs`` table is append-only: a run is the events logged about it. Its state is
the fold described by ``RUNS_FOLD``:

* a run exists once it has a ``start`` event; the first ``start`` gives its fixed
  fields (experiment, user, start time, artifact root, parent run);
* among the events that carry a status (``start``, ``resume``, ``end``), the latest
  decides ``status`` and ``end_time``;
* the latest ``rename`` gives the name (else the ``start`` does); the latest of
  ``delete``/``restore`` the lifecycle stage (no such event: active);
* the heartbeat rule: a run still RUNNING whose last sign of life (its start time, its
  latest event, its latest heartbeat) is older than the heartbeat timeout is KILLED,
  ending then; it is flagged ``stale`` so that the reader stores that verdict.

"First" and "latest" follow ``event_time`` (microseconds, strictly increasing within a
process, so only events of different processes can tie; ties keep row order in the
Arrow fold and are broken arbitrarily by Spark). Events without an ``event_time`` are
never chosen and are no sign of life.

Two engines read this description: the Arrow fold behind ``get_run``, ``search_runs``
and the CLI (``_state``, through per-run summaries that merge, ``_run_summaries``), and
the Spark SQL of the ``sparktrack_runs`` view (``_runs_sql``). A test folds random
event tables with both and compares the results.
"""

from __future__ import annotations

from dataclasses import dataclass

from sparktrack.store import LifecycleStage, RunEvent, RunStatus

__all__ = [
    "LAST_SEEN",
    "LIFECYCLE",
    "RENAME",
    "RUNS_FOLD",
    "STALE",
    "START",
    "STATUS",
    "Choice",
    "HeartbeatRule",
    "RunsFold",
    "Stage",
    "Taken",
]

# The columns the heartbeat rule adds to the folded runs.
LAST_SEEN = "last_seen"
STALE = "stale"


@dataclass(frozen=True)
class Choice:
    """One event per run: the first or the latest, in ``event_time`` order, that matches.

    Attributes:
        name: What the chosen event is, for people and generated names.
        events: The event names that match; empty: every event that carries a status.
        latest: Choose the latest matching event (else the first).
    """

    name: str
    events: tuple[str, ...] = ()
    latest: bool = True

    @property
    def by_status(self) -> bool:
        """Whether any event carrying a status matches (rather than events by name)."""
        return not self.events


@dataclass(frozen=True)
class Taken:
    """A state column copied from the chosen event's column ``source``.

    Attributes:
        column: The state column.
        choice: The event it comes from.
        source: The event column (default: ``column``).
        fallback: Where it comes from when ``choice`` found no event or a null value.
    """

    column: str
    choice: Choice
    source: str = ""
    fallback: Choice | None = None

    @property
    def event_column(self) -> str:
        """The events' column the value is read from."""
        return self.source or self.column


@dataclass(frozen=True)
class Stage:
    """The lifecycle stage: ``deleted`` if the chosen event is ``deleting``, else ``active``."""

    column: str
    choice: Choice
    deleting: str = RunEvent.DELETE
    deleted: str = LifecycleStage.DELETED
    active: str = LifecycleStage.ACTIVE


@dataclass(frozen=True)
class HeartbeatRule:
    """Which runs died without ending, and what they become.

    A run whose status is ``running`` and whose ``last_seen`` is older than the
    heartbeat timeout reads ``verdict``, with ``end_time`` = ``last_seen``, and
    ``stale`` true (else false). ``last_seen`` is the latest of the run's
    ``start_time``, its latest ``event_time`` (microseconds, so divided by 1000,
    rounding down) and its latest heartbeat ``time``, in milliseconds since the epoch.
    """

    running: str = RunStatus.RUNNING
    verdict: str = RunStatus.KILLED


@dataclass(frozen=True)
class RunsFold:
    """The whole fold: which runs exist, where each state column comes from, staleness.

    Attributes:
        exists: A run exists once it has this event (its other events alone do not
            make a run).
        fields: The state columns, in order, after ``run_id``.
        heartbeat: The heartbeat rule, which adds ``LAST_SEEN`` and ``STALE``.
    """

    exists: Choice
    fields: tuple[Taken | Stage, ...]
    heartbeat: HeartbeatRule

    @property
    def choices(self) -> tuple[Choice, ...]:
        """Every distinct choice the fields use (each is computed once per fold)."""
        found: list[Choice] = [self.exists]
        for field in self.fields:
            extra = field.fallback if isinstance(field, Taken) else None
            for choice in (field.choice, extra):
                if choice is not None and choice not in found:
                    found.append(choice)
        return tuple(found)

    @property
    def state_columns(self) -> tuple[str, ...]:
        """The run's state: ``run_id`` and the fields (what the Spark SQL view shows)."""
        return ("run_id", *(f.column for f in self.fields))

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column of the folded runs: the state, then the heartbeat rule's."""
        return (*self.state_columns, LAST_SEEN, STALE)


START = Choice("start", (RunEvent.START,), latest=False)
STATUS = Choice("status")
RENAME = Choice("rename", (RunEvent.RENAME,))
LIFECYCLE = Choice("lifecycle", (RunEvent.DELETE, RunEvent.RESTORE))

RUNS_FOLD = RunsFold(
    exists=START,
    fields=(
        Taken("experiment_id", START),
        Taken("run_name", RENAME, fallback=START),
        Taken("user_id", START),
        Taken("status", STATUS),
        Taken("start_time", START),
        Taken("end_time", STATUS),
        Taken("artifact_uri", START),
        Stage("lifecycle_stage", LIFECYCLE),
        Taken("parent_run_id", START),
    ),
    heartbeat=HeartbeatRule(),
)
