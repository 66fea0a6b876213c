"""The table layout: a public contract, documented in the README.

Every table is append-only. State that changes (run status, tags, experiment
lifecycle) is kept as events and folded on read: for each key the event with the
greatest ``event_time`` wins. ``event_time`` is microseconds since the epoch and is
strictly increasing within a writing process, so one process's events never tie.
Times users see (``start_time``, ``end_time``, metric ``timestamp``) are
milliseconds since the epoch, as in MLflow.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["RUN_EVENTS", "TABLES", "TABLE_NAMES", "schema_of"]

_str = pa.string()
_long = pa.int64()

TABLES: dict[str, pa.Schema] = {
    "experiments": pa.schema(
        [
            ("experiment_id", _str),
            ("name", _str),
            ("artifact_location", _str),
            ("lifecycle_stage", _str),  # active | deleted
            ("creation_time", _long),
            ("event_time", _long),
        ]
    ),
    "runs": pa.schema(
        [
            ("run_id", _str),
            ("experiment_id", _str),
            ("event", _str),  # start | end | resume | rename | delete | restore
            ("status", _str),  # RUNNING | FINISHED | FAILED | KILLED (on start/end/resume)
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
    # The model registry, as events in commit order (``seq``): registered models,
    # their versions, stages, aliases, tags and descriptions. See sparktrack.registry.
    "registry": pa.schema(
        [
            ("seq", _long),  # 1, 2, 3, ... : the order events happened in, gap-free
            ("name", _str),  # registered model name
            ("version", _long),  # null for events about the model itself
            ("event", _str),  # see sparktrack.registry._events
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

RUN_EVENTS = ("start", "end", "resume", "rename", "delete", "restore")


def schema_of(table: str) -> pa.Schema:
    return TABLES[table]
