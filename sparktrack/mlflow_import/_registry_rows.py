"""Registered models as the registry's own event rows, decided on the table's content.

The import appends these through ``Store.transact`` (the registry's optimistic
commit), so numbering and stage rules hold against any writer at the same time. A
model already registered under the name keeps what it has; only its missing versions
are added. MLflow lets two versions sit in Staging (or Production) at once; the
registry keeps one there, the newest, and archives the others (reported).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from sparktrack.mlflow_import._records import MlflowModel, MlflowVersion
from sparktrack.registry import Event, Stage

__all__ = ["RegistryPlan", "registry_events"]

Row = dict[str, Any]


@dataclass
class RegistryPlan:
    """What an import adds to the registry, and what it changed or left out."""

    events: list[Row] = field(default_factory=list)
    models: int = 0
    versions: int = 0
    already: int = 0  # versions the registry already had
    notes: list[str] = field(default_factory=list)


def _registered(table: pa.Table) -> tuple[dict[str, set[int]], int]:
    """The live registered models' version numbers, and the last ``seq``."""
    models: dict[str, set[int]] = {}
    rows = table.select(["seq", "name", "version", "event"]).sort_by("seq").to_pylist()
    for row in rows:
        name, event = row["name"], row["event"]
        if event == Event.MODEL_CREATED:
            models[name] = set()
        elif event == Event.MODEL_DELETED:
            models.pop(name, None)
        elif event == Event.VERSION_CREATED and name in models:
            models[name].add(int(row["version"]))
    return models, max((int(row["seq"]) for row in rows), default=0)


def _version_events(name: str, version: MlflowVersion, source: str, stage: str) -> list[Row]:
    number, created = version.version, version.creation_time
    events: list[Row] = [
        {
            "name": name,
            "version": number,
            "event": Event.VERSION_CREATED,
            "value": version.description,
            "source": source,
            "run_id": version.run_id,
            "user_id": version.user_id,
            "timestamp": created,
        }
    ]
    events += [
        {
            "name": name,
            "version": number,
            "event": Event.VERSION_TAGGED,
            "key": key,
            "value": value,
            "timestamp": created,
        }
        for key, value in version.tags.items()
    ]
    if stage != Stage.NONE:
        events.append(
            {
                "name": name,
                "version": number,
                "event": Event.STAGE_CHANGED,
                "value": stage,
                "previous": Stage.NONE,
                "timestamp": version.last_updated_time,
            }
        )
    return events


def _stages(model: MlflowModel, plan: RegistryPlan) -> dict[int, str]:
    """Each version's stage, with one version at most in Staging and in Production."""
    stages = {v.version: v.stage if v.stage in Stage.ALL else Stage.NONE for v in model.versions}
    for stage in Stage.EXCLUSIVE:
        holders = sorted(n for n, s in stages.items() if s == stage)
        for number in holders[:-1]:
            stages[number] = Stage.ARCHIVED
            plan.notes.append(
                f"model {model.name!r} version {number}: archived, as version {holders[-1]} "
                f"is also in {stage} (the registry holds one version per stage)"
            )
    return stages


def registry_events(
    models: list[MlflowModel],
    table: pa.Table,
    source_of: Callable[[MlflowVersion], str],
    runs: Collection[str] | None,
) -> RegistryPlan:
    """The events that bring ``models`` into a registry whose rows are ``table``.

    Args:
        models: The MLflow store's registered models.
        table: The registry table's rows now.
        source_of: A version's source, as the imported store spells it.
        runs: Only versions of these runs (None: every version).
    """
    plan = RegistryPlan()
    registered, last_seq = _registered(table)
    events: list[Row] = []
    for model in models:
        known = registered.get(model.name)
        wanted = [v for v in model.versions if runs is None or v.run_id in runs]
        plan.notes += [
            f"model {model.name!r} version {v.version}: left out, its run is not imported"
            for v in model.versions
            if v not in wanted
        ]
        if model.versions and not wanted:
            continue
        new = [v for v in wanted if known is None or v.version not in known]
        plan.already += len(wanted) - len(new)
        if known is None:
            plan.models += 1
            events.append(
                {
                    "name": model.name,
                    "event": Event.MODEL_CREATED,
                    "value": model.description,
                    "timestamp": model.creation_time,
                }
            )
            events += [
                {
                    "name": model.name,
                    "event": Event.MODEL_TAGGED,
                    "key": key,
                    "value": value,
                    "timestamp": model.creation_time,
                }
                for key, value in model.tags.items()
            ]
        stages = _stages(model, plan)
        for version in new:
            events += _version_events(
                model.name, version, source_of(version), stages[version.version]
            )
        plan.versions += len(new)
        added = {v.version for v in new}
        events += [
            {
                "name": model.name,
                "version": number,
                "event": Event.ALIAS_SET,
                "key": alias,
                "value": str(number),
                "timestamp": model.last_updated_time,
            }
            for alias, number in sorted(model.aliases.items())
            if number in added
        ]
    plan.events = [
        {**event, "seq": last_seq + offset} for offset, event in enumerate(events, start=1)
    ]
    return plan
