"""An MLflow SQLite store (``sqlite:///mlflow.db``), read with the standard library.

MLflow's SQL schema (``mlflow/store/tracking/dbmodels/models.py`` and the registry's
``model_registry/dbmodels/models.py``): a metric value that was NaN is stored as 0
with ``is_nan`` set; dataset inputs are ``inputs`` rows from a dataset to a run, with
their context in ``input_tags``. The database is opened read-only.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sparktrack.errors import NotFoundError
from sparktrack.mlflow_import._records import (
    LOGGED_MODEL_STATUS,
    MlflowDataset,
    MlflowExperiment,
    MlflowLoggedModel,
    MlflowModel,
    MlflowRun,
    MlflowVersion,
)
from sparktrack.mlflow_import._source import ArtifactTree, tree_at

__all__ = ["SqliteSource"]

# SQLite refuses statements with more bound parameters than this (999 before 3.32).
_MAX_PARAMETERS = 900
# What MLflow keeps that sparktrack has no place for, by table: reported, not carried.
_NOT_CARRIED = {
    "traces": "trace_info",
    "trace assessments": "assessments",
    "evaluation datasets": "evaluation_datasets",
    "scorers": "scorers",
    "webhooks": "webhooks",
}
_PROMPT_TAG = "mlflow.prompt.is_prompt"


class SqliteSource:
    """An MLflow SQLite store.

    Args:
        uri: ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``.

    Raises:
        NotFoundError: No such database file, or not one of MLflow's.
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri
        path = Path(uri[len("sqlite:///") :])
        if not path.is_file():
            raise NotFoundError(f"MLflow database {str(path)!r} (from {uri!r}) does not exist")
        self._base = str(path.resolve().parent)
        self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        self._tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master")}
        if not {"experiments", "runs", "metrics"} <= self._tables:
            raise NotFoundError(f"{str(path)!r} is not an MLflow tracking database")

    def _rows(self, sql: str, parameters: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        return self._db.execute(sql, tuple(parameters)).fetchall()

    def _rows_of(self, sql: str, ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """``sql`` (with one ``{ids}`` placeholder list) for every id, in chunks."""
        found: list[tuple[Any, ...]] = []
        for start in range(0, len(ids), _MAX_PARAMETERS):
            chunk = ids[start : start + _MAX_PARAMETERS]
            found += self._rows(sql.format(ids=",".join("?" * len(chunk))), chunk)
        return found

    def experiments(self) -> list[MlflowExperiment]:
        tags: dict[str, dict[str, str]] = {}
        if "experiment_tags" in self._tables:
            for key, value, experiment_id in self._rows(
                "SELECT key, value, experiment_id FROM experiment_tags"
            ):
                tags.setdefault(str(experiment_id), {})[key] = value
        return [
            MlflowExperiment(
                str(experiment_id), name, location, stage, created, tags.get(str(experiment_id), {})
            )
            for experiment_id, name, location, stage, created in self._rows(
                "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time "
                "FROM experiments ORDER BY experiment_id"
            )
        ]

    def run_ids(self, experiment_id: str) -> list[str]:
        return [
            row[0]
            for row in self._rows(
                "SELECT run_uuid FROM runs WHERE experiment_id = ? ORDER BY start_time, run_uuid",
                [int(experiment_id)],
            )
        ]

    def runs(self, experiment_id: str, run_ids: Sequence[str]) -> list[MlflowRun]:
        runs = {
            row[0]: MlflowRun(
                run_id=row[0],
                experiment_id=experiment_id,
                run_name=row[1],
                user_id=row[2],
                status=row[3],
                start_time=row[4],
                end_time=row[5],
                lifecycle_stage=row[6],
                artifact_uri=row[7],
            )
            for row in self._rows_of(
                "SELECT run_uuid, name, user_id, status, start_time, end_time, "
                "lifecycle_stage, artifact_uri FROM runs WHERE run_uuid IN ({ids})",
                run_ids,
            )
        }
        ids = list(runs)
        for key, value, run_id in self._rows_of(
            "SELECT key, value, run_uuid FROM params WHERE run_uuid IN ({ids})", ids
        ):
            runs[run_id].params[key] = value
        for key, value, run_id in self._rows_of(
            "SELECT key, value, run_uuid FROM tags WHERE run_uuid IN ({ids})", ids
        ):
            runs[run_id].tags[key] = value
        for key, value, step, timestamp, is_nan, run_id in self._rows_of(
            "SELECT key, value, step, timestamp, is_nan, run_uuid FROM metrics "
            "WHERE run_uuid IN ({ids}) ORDER BY run_uuid, key, step, timestamp",
            ids,
        ):
            number = math.nan if is_nan else float(value)
            runs[run_id].metrics.append((key, number, int(step), int(timestamp)))
        for dataset in self._datasets(ids):
            runs[dataset[0]].inputs.append(dataset[1])
        return [runs[run_id] for run_id in run_ids if run_id in runs]

    def _datasets(self, run_ids: Sequence[str]) -> list[tuple[str, MlflowDataset]]:
        if not {"inputs", "datasets"} <= self._tables:
            return []
        contexts: dict[str, str] = {}
        rows = self._rows_of(
            "SELECT i.destination_id, i.input_uuid, d.name, d.digest, d.dataset_source_type, "
            "d.dataset_source, d.dataset_schema, d.dataset_profile FROM inputs i "
            "JOIN datasets d ON d.dataset_uuid = i.source_id "
            "WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' "
            "AND i.destination_id IN ({ids})",
            run_ids,
        )
        if rows and "input_tags" in self._tables:
            for input_id, value in self._rows_of(
                "SELECT input_uuid, value FROM input_tags WHERE name = 'mlflow.data.context' "
                "AND input_uuid IN ({ids})",
                [row[1] for row in rows],
            ):
                contexts[input_id] = value
        return [
            (
                run_id,
                MlflowDataset(
                    name=name,
                    digest=digest,
                    source_type=source_type,
                    source=source,
                    schema=schema,
                    profile=profile,
                    context=contexts.get(input_id),
                ),
            )
            for run_id, input_id, name, digest, source_type, source, schema, profile in rows
        ]

    def logged_models(self) -> list[MlflowLoggedModel]:
        if "logged_models" not in self._tables:
            return []
        tags = self._model_pairs("logged_model_tags", "tag_key", "tag_value")
        params = self._model_pairs("logged_model_params", "param_key", "param_value")
        metrics: dict[str, int] = {}
        if "logged_model_metrics" in self._tables:
            for model_id, count in self._rows(
                "SELECT model_id, COUNT(*) FROM logged_model_metrics GROUP BY model_id"
            ):
                metrics[model_id] = int(count)
        outputs: dict[str, dict[str, int]] = {}
        # A run's logged-model outputs are ``inputs`` rows from the run to the model.
        for run_id, model_id, step in self._rows(
            "SELECT source_id, destination_id, step FROM inputs "
            "WHERE source_type = 'RUN_OUTPUT' AND destination_type = 'MODEL_OUTPUT'"
        ):
            outputs.setdefault(model_id, {})[run_id] = int(step or 0)
        return [
            MlflowLoggedModel(
                model_id,
                str(experiment_id),
                name,
                location,
                run_id,
                status=LOGGED_MODEL_STATUS.get(int(status or 0), "UNSPECIFIED"),
                model_type=model_type,
                creation_timestamp=created,
                last_updated_timestamp=updated,
                tags=tags.get(model_id, {}),
                params=params.get(model_id, {}),
                outputs=outputs.get(model_id, {}),
                metrics=metrics.get(model_id, 0),
            )
            for (
                model_id,
                experiment_id,
                name,
                location,
                run_id,
                status,
                model_type,
                created,
                updated,
            ) in self._rows(
                "SELECT model_id, experiment_id, name, artifact_location, source_run_id, status, "
                "model_type, creation_timestamp_ms, last_updated_timestamp_ms "
                "FROM logged_models WHERE lifecycle_stage = 'active' ORDER BY model_id"
            )
        ]

    def _model_pairs(self, table: str, key: str, value: str) -> dict[str, dict[str, str]]:
        """Model id -> key -> value, of a logged models' tags or params table."""
        found: dict[str, dict[str, str]] = {}
        if table in self._tables:
            for model_id, k, v in self._rows(f"SELECT model_id, {key}, {value} FROM {table}"):
                found.setdefault(model_id, {})[k] = v
        return found

    def registered_models(self) -> list[MlflowModel]:
        if "registered_models" not in self._tables:
            return []
        versions: dict[str, list[MlflowVersion]] = {}
        version_tags: dict[tuple[str, int], dict[str, str]] = {}
        for key, value, name, number in self._rows(
            "SELECT key, value, name, version FROM model_version_tags"
        ):
            version_tags.setdefault((name, int(number)), {})[key] = value
        for row in self._rows(
            "SELECT name, version, current_stage, description, run_id, source, user_id, "
            "creation_time, last_updated_time FROM model_versions "
            "WHERE current_stage != 'Deleted_Internal' ORDER BY name, version"
        ):
            name, number = row[0], int(row[1])
            versions.setdefault(name, []).append(
                MlflowVersion(
                    version=number,
                    stage=row[2] or "None",
                    description=row[3] or "",
                    tags=version_tags.get((name, number), {}),
                    run_id=row[4] or None,
                    source=row[5] or "",
                    user_id=row[6],
                    creation_time=int(row[7] or 0),
                    last_updated_time=int(row[8] or row[7] or 0),
                )
            )
        tags: dict[str, dict[str, str]] = {}
        for key, value, name in self._rows("SELECT key, value, name FROM registered_model_tags"):
            tags.setdefault(name, {})[key] = value
        aliases: dict[str, dict[str, int]] = {}
        for alias, number, name in self._rows(
            "SELECT alias, version, name FROM registered_model_aliases"
        ):
            aliases.setdefault(name, {})[alias] = int(number)
        return [
            MlflowModel(
                name=name,
                description=description or "",
                tags=tags.get(name, {}),
                aliases=aliases.get(name, {}),
                creation_time=int(created or 0),
                last_updated_time=int(updated or created or 0),
                versions=versions.get(name, []),
            )
            for name, created, updated, description in self._rows(
                "SELECT name, creation_time, last_updated_time, description "
                "FROM registered_models ORDER BY name"
            )
            if tags.get(name, {}).get(_PROMPT_TAG) != "true"
        ]

    def run_artifacts(self, run: MlflowRun) -> ArtifactTree | str:
        return tree_at(run.artifact_uri, self._base)

    def model_artifacts(self, model: MlflowLoggedModel) -> ArtifactTree | str:
        return tree_at(model.artifact_location, self._base)

    def not_carried(self) -> dict[str, int]:
        found = {
            kind: int(self._rows(f"SELECT COUNT(*) FROM {table}")[0][0])
            for kind, table in _NOT_CARRIED.items()
            if table in self._tables
        }
        if "registered_model_tags" in self._tables:
            found["prompts"] = int(
                self._rows(
                    "SELECT COUNT(*) FROM registered_model_tags WHERE key = ? AND value = 'true'",
                    [_PROMPT_TAG],
                )[0][0]
            )
        return {kind: count for kind, count in found.items() if count}

    def close(self) -> None:
        self._db.close()
