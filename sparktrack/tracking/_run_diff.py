"""What differs between two runs: params, metrics, code, packages, Spark conf, datasets.

``sparktrack runs diff A B`` prints it. The code, packages, versions and Spark conf
come from the runs' source snapshots; a run without one compares as "unknown" there,
never as "the same".
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sparktrack.errors import NotFoundError
from sparktrack.tracking._client import TrackingClient
from sparktrack.tracking._entities import Run
from sparktrack.tracking._fluent import get_client
from sparktrack.tracking._snapshot_store import SourceSnapshot

__all__ = ["Change", "RunDiff", "diff_runs"]

# Files of a snapshot whose lines are code: their differences are shown as a unified diff.
_CODE_ROLES = ("script", "notebook", "history", "git-diff")
# Tags that say which code ran; the other system tags differ between any two runs.
_CODE_TAGS = ("mlflow.source.name", "mlflow.source.git.commit", "mlflow.source.git.branch")


@dataclass(frozen=True)
class Change:
    """One key whose value differs between the runs (None: the run has none).

    Attributes:
        key: The param, metric, package, conf or dataset.
        a: Its value in the first run.
        b: Its value in the second run.
    """

    key: str
    a: Any
    b: Any


@dataclass(frozen=True)
class RunDiff:
    """What differs between run ``a`` and run ``b`` (``TrackingClient.diff_runs``).

    Attributes:
        run_a: The first run's id.
        run_b: The second run's id.
        params: Params that differ.
        metrics: Latest metric values that differ.
        code: Differing code facts (source, git commit and branch, snapshot digest).
        code_diff: A unified diff of the code files of the two snapshots ("" when
            they hold the same code, or a snapshot is missing: see ``missing``).
        packages: Installed distributions whose versions differ.
        environment: Versions of Python, Java, pyspark... that differ.
        spark_conf: Spark conf entries that differ.
        datasets: Datasets (by name and role) whose digests differ.
        missing: What could not be compared, and why (a run without a snapshot).
    """

    run_a: str
    run_b: str
    params: list[Change] = field(default_factory=list)
    metrics: list[Change] = field(default_factory=list)
    code: list[Change] = field(default_factory=list)
    code_diff: str = ""
    packages: list[Change] = field(default_factory=list)
    environment: list[Change] = field(default_factory=list)
    spark_conf: list[Change] = field(default_factory=list)
    datasets: list[Change] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        """Whether nothing compared differs and nothing was left uncompared."""
        sections = (self.params, self.metrics, self.code, self.packages, self.environment)
        others = (self.spark_conf, self.datasets, self.missing)
        return not any(sections) and not any(others) and not self.code_diff

    def as_dict(self) -> dict[str, Any]:
        """The difference as JSON-ready data (``runs diff --json``).

        Returns:
            The sections as lists of ``{"key", "a", "b"}``, with ``code_diff``,
            ``missing`` and ``identical``.
        """
        changes = {
            name: [{"key": c.key, "a": c.a, "b": c.b} for c in getattr(self, name)]
            for name in ("params", "metrics", "code", "packages", "environment")
        }
        changes["spark_conf"] = [{"key": c.key, "a": c.a, "b": c.b} for c in self.spark_conf]
        changes["datasets"] = [{"key": c.key, "a": c.a, "b": c.b} for c in self.datasets]
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            **changes,
            "code_diff": self.code_diff,
            "missing": self.missing,
            "identical": self.identical,
        }


def diff_runs(run_a: str, run_b: str, *, client: TrackingClient | None = None) -> RunDiff:
    """What differs between two runs (``sparktrack runs diff A B``).

    Args:
        run_a: The first run.
        run_b: The second run.
        client: Their store (default: the fluent API's).

    Returns:
        Params, latest metrics, code (facts and a unified diff of the snapshots' code),
        packages, versions, Spark conf and datasets that differ.

    Raises:
        InvalidInputError: A run id is malformed.
        NotFoundError: A run does not exist.
    """
    client = client if client is not None else get_client()
    a, b = client.get_run(run_a), client.get_run(run_b)
    snap_a, snap_b = _snapshot(client, run_a), _snapshot(client, run_b)
    missing = [
        f"run {run_id} has no source snapshot: its code, packages and Spark conf are not compared"
        for run_id, snap in ((run_a, snap_a), (run_b, snap_b))
        if snap is None
    ]
    diff = RunDiff(
        run_a,
        run_b,
        params=_changes(a.data.params, b.data.params),
        metrics=_changes(a.data.metrics, b.data.metrics),
        code=_changes(*(_code_facts(run, snap) for run, snap in ((a, snap_a), (b, snap_b)))),
        datasets=_changes(_datasets(client, run_a), _datasets(client, run_b)),
        missing=missing,
    )
    if snap_a is None or snap_b is None:
        return diff
    return dataclasses.replace(
        diff,
        code_diff=_code_diff(snap_a, snap_b),
        packages=_changes(_packages(snap_a), _packages(snap_b)),
        environment=_changes(
            _flat_json(snap_a, "environment.json"), _flat_json(snap_b, "environment.json")
        ),
        spark_conf=_changes(
            _flat_json(snap_a, "spark-conf.json"), _flat_json(snap_b, "spark-conf.json")
        ),
    )


def _snapshot(client: TrackingClient, run_id: str) -> SourceSnapshot | None:
    try:
        return client.get_source_snapshot(run_id)
    except NotFoundError:
        return None


def _changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Change]:
    keys = sorted(set(a) | set(b))
    return [Change(k, a.get(k), b.get(k)) for k in keys if not _same(a.get(k), b.get(k))]


def _same(x: Any, y: Any) -> bool:
    # NaN metrics of two runs are the same value here.
    if isinstance(x, float) and isinstance(y, float) and x != x and y != y:
        return True
    return bool(x == y)


def _code_facts(run: Run, snapshot: SourceSnapshot | None) -> dict[str, str]:
    facts = {k: v for k, v in run.data.tags.items() if k in _CODE_TAGS}
    if snapshot is not None:
        facts["snapshot"] = snapshot.digest
    return facts


def _datasets(client: TrackingClient, run_id: str) -> dict[str, str]:
    return {f"{d.name} ({d.context})": d.digest for d in client.get_inputs(run_id)}


def _readable(snapshot: SourceSnapshot, name: str) -> str | None:
    if name not in snapshot.files:
        return None
    return snapshot.read(name).decode("utf-8", "replace")


def _packages(snapshot: SourceSnapshot) -> dict[str, str]:
    text = _readable(snapshot, "requirements.txt") or ""
    found: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and name and not name.startswith("#"):
            found[name.lower()] = version
    return found


def _flat_json(snapshot: SourceSnapshot, name: str) -> dict[str, Any]:
    text = _readable(snapshot, name)
    if not text:
        return {}
    found: dict[str, Any] = {}
    _flatten(json.loads(text), "", found.__setitem__)
    return found


def _flatten(value: Any, prefix: str, put: Callable[[str, Any], None]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(inner, f"{prefix}{key}.", put)
        return
    put(prefix.rstrip("."), value)


def _code_files(snapshot: SourceSnapshot) -> dict[str, str]:
    roles = {name: entry.get("role") for name, entry in snapshot.manifest["files"].items()}
    return {
        name: snapshot.read(name).decode("utf-8", "replace")
        for name, role in sorted(roles.items())
        if role in _CODE_ROLES
    }


def _code_diff(a: SourceSnapshot, b: SourceSnapshot) -> str:
    if a.digest == b.digest:
        return ""
    files_a, files_b = _code_files(a), _code_files(b)
    # The main files are compared with each other even when their names differ.
    pairs = [(a.main, b.main)] if a.main and b.main else []
    pairs += [(n, n) for n in sorted(set(files_a) | set(files_b)) if n not in (a.main, b.main)]
    chunks: list[str] = []
    for name_a, name_b in pairs:
        old, new = files_a.get(name_a or "", ""), files_b.get(name_b or "", "")
        if old == new:
            continue
        chunks.extend(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                new.splitlines(keepends=True),
                fromfile=f"a/{name_a}",
                tofile=f"b/{name_b}",
            )
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in chunks)
