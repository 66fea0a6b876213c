"""Registry changes racing each other: optimistic commits, faults at delta-rs's commit.

A registry change is decided on the table at version v and committed only as version
v + 1 (see ``sparktrack.store._optimistic``). Faults are injected where sparktrack
hands a commit to delta-rs (``write_deltalake`` as the store module calls it); the
competing writer is another process running sparktrack, as it would be for users.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from sparktrack import TrackingClient
from sparktrack.errors import InvalidInputError, StoreError
from sparktrack.registry import RegistryClient
from sparktrack.registry._state import RegistryState
from sparktrack.store import _optimistic, _tables, parse_store_uri, table_lock
from tests._processes import child_env, python, run_child, run_workers, start_worker
from tests._s3_server import S3Server
from tests._workers import register_and_promote

# Another process's registry change: python -c _COMPETITOR STORE ACTION NAME MODEL_DIR
_COMPETITOR = """
import sys
from sparktrack import TrackingClient
from sparktrack.registry import RegistryClient

store, action, name, model_dir = sys.argv[1:5]
client = TrackingClient(store)
registry = RegistryClient(client)
if action == "register":
    registry.register_model(model_dir, name)
elif action == "create":
    registry.create_registered_model(name)
elif action == "tag":
    registry.set_registered_model_tag(name, "touched", "yes")
client.close()
"""

_real_write = _tables.write_deltalake


@pytest.fixture
def model_dir(tmp_path: Path) -> str:
    """A model folder as far as registration is concerned: it has an MLmodel file."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    return str(folder)


@pytest.fixture
def registry(store_uri: str) -> Iterator[RegistryClient]:
    client = TrackingClient(store_uri)
    yield RegistryClient(client)
    client.close()


def _compete(store: str, action: str, name: str, model_dir: str) -> None:
    """Make a registry change from another process, and wait until it is committed."""
    command = python("-c", _COMPETITOR, store, action, name, model_dir)
    run_child(command, env=child_env(), timeout=120)


def _registry_rows(store: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = DeltaTable(f"{store}/registry").to_pyarrow_table().to_pylist()
    return sorted(rows, key=lambda row: row["seq"])


def _events(store: str, event: str) -> list[dict[str, Any]]:
    return [row for row in _registry_rows(store) if row["event"] == event]


def _patch_write(
    monkeypatch: pytest.MonkeyPatch, before: Callable[[int], None], after: Callable[[int], None]
) -> list[int]:
    """delta-rs's write, with ``before(n)``/``after(n)`` around the n-th registry commit."""
    calls: list[int] = []

    def write(table: Any, data: pa.Table, *args: Any, **kwargs: Any) -> None:
        if not str(getattr(table, "table_uri", table)).rstrip("/").endswith("/registry"):
            _real_write(table, data, *args, **kwargs)
            return
        calls.append(len(calls) + 1)
        before(calls[-1])
        _real_write(table, data, *args, **kwargs)
        after(calls[-1])

    monkeypatch.setattr(_tables, "write_deltalake", write)
    return calls


def _nothing(attempt: int) -> None:
    return None


def test_a_commit_that_raises_after_landing_is_not_committed_again(
    registry: RegistryClient, store_uri: str, model_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lost connection after the object store took the commit: the change is in."""

    def lose_the_answer(attempt: int) -> None:
        if attempt == 1:
            raise OSError("connection reset by peer after the commit was sent")

    calls = _patch_write(monkeypatch, _nothing, lose_the_answer)
    version = registry.register_model(model_dir, "churn")

    assert version.version == 1
    assert calls == [1], "the change was committed again after its commit landed"
    assert [row["version"] for row in _events(store_uri, "version_created")] == [1]
    assert [row["seq"] for row in _registry_rows(store_uri)] == [1, 2]


def test_a_commit_that_failed_without_landing_is_made_again(
    registry: RegistryClient, store_uri: str, model_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail_before_writing(attempt: int) -> None:
        if attempt == 1:
            raise OSError("connection refused")

    calls = _patch_write(monkeypatch, fail_before_writing, _nothing)
    assert registry.register_model(model_dir, "churn").version == 1
    assert calls == [1, 2]
    assert [row["version"] for row in _events(store_uri, "version_created")] == [1]


def test_a_failed_commit_that_cannot_be_read_back_says_it_may_have_landed(
    registry: RegistryClient, model_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def store_unreachable(*args: Any, **kwargs: Any) -> None:
        raise OSError("connection refused")

    def fail_then_lose_the_store(attempt: int) -> None:
        monkeypatch.setattr(DeltaTable, "update_incremental", store_unreachable)
        raise OSError("connection reset by peer")

    calls = _patch_write(monkeypatch, fail_then_lose_the_store, _nothing)
    with pytest.raises(StoreError, match=r"connection reset by peer.*may have landed"):
        registry.register_model(model_dir, "churn")
    assert calls == [1]


@pytest.mark.slow
def test_a_commit_raced_by_another_process_is_decided_again(
    registry: RegistryClient, store_uri: str, model_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process registers between our read and our commit: ours becomes version 2."""
    registry.create_registered_model("churn")

    def another_process_first(attempt: int) -> None:
        if attempt == 1:
            _compete(store_uri, "register", "churn", model_dir)

    calls = _patch_write(monkeypatch, another_process_first, _nothing)
    assert registry.register_model(model_dir, "churn").version == 2
    assert calls == [1, 2]
    assert [row["version"] for row in _events(store_uri, "version_created")] == [1, 2]
    seqs = [row["seq"] for row in _registry_rows(store_uri)]
    assert seqs == list(range(1, len(seqs) + 1))


@pytest.mark.slow
def test_a_rule_broken_on_the_fresh_state_raises_the_registry_error(
    registry: RegistryClient, store_uri: str, model_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name was free when read, taken when committing: the rule refuses, as it would
    have had the other process been first all along."""

    def another_process_first(attempt: int) -> None:
        if attempt == 1:
            _compete(store_uri, "create", "churn", model_dir)

    _patch_write(monkeypatch, another_process_first, _nothing)
    with pytest.raises(InvalidInputError, match="'churn' already exists"):
        registry.create_registered_model("churn")
    assert len(_events(store_uri, "model_created")) == 1


@pytest.mark.slow
def test_attempts_exhausted_give_a_clear_store_error(
    registry: RegistryClient, store_uri: str, model_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.create_registered_model("churn")
    monkeypatch.setattr(_optimistic, "_ATTEMPTS", 3)
    monkeypatch.setattr(_optimistic, "_FIRST_PAUSE_SECONDS", 0.0)

    def another_process_first(attempt: int) -> None:
        _compete(store_uri, "tag", "churn", model_dir)

    calls = _patch_write(monkeypatch, another_process_first, _nothing)
    with pytest.raises(StoreError, match=r"'registry' .* committed first on each of 3") as raised:
        registry.register_model(model_dir, "churn")
    assert "Nothing of this change was committed" in str(raised.value)
    assert calls == [1, 2, 3]
    assert _events(store_uri, "version_created") == []


def _register_in_forked_child(store: str, model_dir: str) -> None:
    client = TrackingClient(store)
    registry = RegistryClient(client)
    version = registry.register_model(model_dir, "churn").version
    registry.transition_model_version_stage("churn", version, "Production")
    client.close()


@pytest.mark.slow
def test_a_forked_child_changes_the_registry_through_its_helper(
    registry: RegistryClient, store_uri: str, model_dir: str, tmp_path: Path
) -> None:
    """delta-rs cannot run in a child forked after the parent used it: the child's
    optimistic commits go through its helper process, with the same rules."""
    registry.register_model(model_dir, "churn")
    registry.transition_model_version_stage("churn", 1, "Production")
    child = start_worker(
        _register_in_forked_child, store_uri, model_dir, stderr_dir=tmp_path, method="fork"
    )
    child.join(timeout=300)
    stages = {v.version: v.current_stage for v in registry.search_model_versions("name='churn'")}
    assert stages == {1: "Archived", 2: "Production"}


def race_registry(
    store: str,
    *,
    journal: str,
    model_dir: str,
    stderr_dir: Path,
    processes: int = 4,
    rounds: int = 8,
    storage_options: dict[str, str] | None = None,
) -> None:
    """``processes`` processes register and promote versions of one model at once on
    ``store``; then every version of the registry table is replayed and checked: version
    numbers unique and gapless, Staging and Production never held by two versions, one
    version per alias, event sequence numbers unique.

    ``storage_options`` are delta-rs's, to read an object store's table.
    """
    TrackingClient(store).close()  # create the tables once, before the race
    # The registry's rules must hold by Delta's commits alone: on a local store, the
    # registry table's commit lock is held by this process for the whole race (a
    # change waiting for it would time out; other stores have no lock).
    with table_lock(parse_store_uri(store), "registry"):
        run_workers(
            register_and_promote,
            [(store, journal, w, model_dir, rounds) for w in range(processes)],
            stderr_dir=stderr_dir,
        )

    path = f"{store.rstrip('/')}/registry"
    table = DeltaTable(path, storage_options=storage_options)
    final = RegistryState.from_table(table.to_pyarrow_table())
    versions = sorted(final.models["raced"].versions)
    assert versions == list(range(1, processes * rounds + 1))
    checked = 0
    for number in range(table.version() + 1):
        snapshot = DeltaTable(path, version=number, storage_options=storage_options)
        state = RegistryState.from_table(snapshot.to_pyarrow_table())
        if "raced" not in state.models:
            continue
        for stage in ("Staging", "Production"):
            holders = [v for v in state.models["raced"].live_versions() if v.stage == stage]
            assert len(holders) <= 1, (number, stage, holders)
        assert len(set(state.models["raced"].aliases.values())) <= 1
        checked += 1
    assert checked >= processes * rounds * 2
    seqs = table.to_pyarrow_table()["seq"].to_pylist()
    assert sorted(seqs) == list(range(1, len(seqs) + 1))


@pytest.mark.slow
def test_concurrent_processes_keep_versions_unique_and_stages_exclusive(
    tmp_path: Path, store_uri: str, model_dir: str
) -> None:
    race_registry(
        store_uri, journal=str(tmp_path / "journal"), model_dir=model_dir, stderr_dir=tmp_path
    )


@pytest.mark.slow
def test_concurrent_processes_on_an_s3_store_keep_versions_unique_and_stages_exclusive(
    tmp_path: Path, model_dir: str, s3_server: S3Server, s3_env: dict[str, str]
) -> None:
    # No lock of any kind on S3: each commit lands only if its log entry is new there
    # (conditional puts, chosen in s3_env), which the spawned workers inherit.
    store = s3_server.new_prefix("s3")
    race_registry(
        store,
        journal=str(tmp_path / "journal"),
        model_dir=model_dir,
        stderr_dir=tmp_path,
        storage_options=s3_server.env,
    )
    # The processes did race: S3 refused the log entries of those that came second.
    assert s3_server.refused_conditional_puts(store) > 0
