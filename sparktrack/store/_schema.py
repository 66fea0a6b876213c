"""The table layout: a public contract, documented in the README.

Every table is append-only. State that changes (run status, tags, experiment
lifecycle) is kept as events and folded on read: for each key the event with the
greatest ``event_time`` wins. ``event_time`` is microseconds since the epoch and is
strictly increasing within a writing process, so one process's events never tie.
Times users see (``start_time``, ``end_time``, metric ``timestamp``) are
milliseconds since the epoch, as in MLflow.

The words the tables hold (run events, run statuses, lifecycle stages) are defined
here, once, for every reader and writer of the tables; what a run's events mean
together (the fold, the heartbeat rule) is the tracking layer's business.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "TABLES",
    "TABLE_NAMES",
    "LifecycleStage",
    "LoggedModelEvent",
    "RunEvent",
    "RunStatus",
    "schema_of",
]


class RunEvent:
    """The values of the ``runs`` table's ``event`` column.

    ``start`` creates a run and carries its fixed fields; ``end`` and ``resume`` change
    its status; ``rename`` its name; ``delete`` and ``restore`` its lifecycle stage.
    """

    START = "start"
    END = "end"
    RESUME = "resume"
    RENAME = "rename"
    DELETE = "delete"
    RESTORE = "restore"
    ALL = (START, END, RESUME, RENAME, DELETE, RESTORE)
    # A writer holds a run open from the event that opens it to the event that closes it.
    OPENING = (START, RESUME)
    CLOSING = (END,)


class RunStatus:
    """Run statuses, MLflow's: the ``runs`` table's ``status`` column and ``RunInfo.status``.

    ``start``, ``resume`` and ``end`` events carry one; other events leave it null.
    ``SCHEDULED`` is MLflow's and never written by sparktrack.
    """

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    ALL = (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)
    TERMINAL = (FINISHED, FAILED, KILLED)


class LoggedModelEvent:
    """The values of the ``logged_models`` table's ``event`` column.

    ``create`` makes a model (status PENDING); ``status`` finalizes it (READY, FAILED);
    ``tag``/``untag``/``param`` change its tags and params; ``delete`` removes it from
    reads; ``output`` and ``input`` record that a run produced or used it.
    """

    CREATE = "create"
    STATUS = "status"
    TAG = "tag"
    UNTAG = "untag"
    PARAM = "param"
    DELETE = "delete"
    OUTPUT = "output"
    INPUT = "input"
    ALL = (CREATE, STATUS, TAG, UNTAG, PARAM, DELETE, OUTPUT, INPUT)


class LifecycleStage:
    """Whether an experiment or run is live or soft-deleted (``lifecycle_stage``)."""

    ACTIVE = "active"
    DELETED = "deleted"
    ALL = (ACTIVE, DELETED)


_str = pa.string()
_long = pa.int64()

TABLES: dict[str, pa.Schema] = {
    "experiments": pa.schema(
        [
            ("experiment_id", _str),
            ("name", _str),
            ("artifact_location", _str),
            ("lifecycle_stage", _str),  # LifecycleStage
            ("creation_time", _long),
            ("event_time", _long),
        ]
    ),
    "runs": pa.schema(
        [
            ("run_id", _str),
            ("experiment_id", _str),
            ("event", _str),  # RunEvent
            ("status", _str),  # RunStatus, on start/end/resume events
            ("run_name", _str),
            ("user_id", _str),
            ("parent_run_id", _str),
            ("start_time", _long),
            ("end_time", _long),
            ("artifact_uri", _str),
            ("event_time", _long),
        ]
    ),
    "params": pa.schema([("run_id", _str), ("key", _str), ("value", _str), ("event_time", _long)]),
    "metrics": pa.schema(
        [
            ("run_id", _str),
            ("key", _str),
            ("value", pa.float64()),
            ("step", _long),
            ("timestamp", _long),
        ]
    ),
    "tags": pa.schema(
        [
            ("run_id", _str),
            ("key", _str),
            ("value", _str),
            ("deleted", pa.bool_()),
            ("event_time", _long),
        ]
    ),
    "heartbeats": pa.schema([("run_id", _str), ("time", _long)]),
    # Dataset lineage: what a run read, and in which role ("training", "validation", ...).
    "inputs": pa.schema(
        [
            ("run_id", _str),
            ("dataset_name", _str),
            ("digest", _str),
            ("source_type", _str),  # delta | files | table | memory | mixed | unknown
            ("source", _str),  # JSON: path / table name, Delta version, file list digest
            ("schema", _str),  # JSON: Spark schema
            ("num_rows", _long),  # null when counting would cost a Spark job
            ("context", _str),
            ("event_time", _long),
        ]
    ),
    # MLflow 3's logged models (a model's identity, apart from any run), as events:
    # ``create`` carries the fixed fields, the others change status, tags and params, or
    # link the model to a run's outputs/inputs. Folded like runs: the event with the
    # greatest ``event_time`` wins per model and key. See sparktrack.tracking.LoggedModels.
    "logged_models": pa.schema(
        [
            ("model_id", _str),  # m-<32 hex digits>, as MLflow names them
            ("experiment_id", _str),
            ("event", _str),  # LoggedModelEvent
            ("name", _str),  # on create
            ("model_type", _str),  # on create
            ("source_run_id", _str),  # on create: the run that logged it, if any
            ("key", _str),  # tag or param key; the run id of output/input events
            ("value", _str),  # tag or param value, the new status, an output's step
            ("user_id", _str),
            ("event_time", _long),
        ]
    ),
    # The model registry, as events in commit order (``seq``): registered models,
    # their versions, stages, aliases, tags and descriptions. See sparktrack.registry.
    "registry": pa.schema(
        [
            ("seq", _long),  # 1, 2, 3, ... : the order events happened in, gap-free
            ("name", _str),  # registered model name
            ("version", _long),  # null for events about the model itself
            ("event", _str),  # the ``Event`` names of sparktrack/registry/_state.py
            ("key", _str),  # tag key or alias
            ("value", _str),  # tag value, description, new stage or alias's version
            ("previous", _str),  # the stage or alias version before this event
            ("source", _str),  # the registered model's location (version_created)
            ("run_id", _str),  # the run that logged it, when known
            ("user_id", _str),
            ("timestamp", _long),  # milliseconds since the epoch
        ]
    ),
}

TABLE_NAMES: tuple[str, ...] = tuple(TABLES)


def schema_of(table: str) -> pa.Schema:
    """The Arrow schema of ``table`` (one of ``TABLE_NAMES``)."""
    return TABLES[table]
