"""I/O failures at the store boundary reach users as StoreError naming the path and the fix.

Tests run as root, where permissions do not stop writes: a path is made unwritable by
putting a regular file where a folder is expected (or a folder under a file).
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from sparktrack import StoreError, TrackingClient
from sparktrack.cli import app
from sparktrack.registry import RegistryClient
from sparktrack.store import _tables
from tests._processes import child_env, python, run_child


def invoke(store: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["--store", store, *args], catch_exceptions=False)


def assert_cli_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    assert "Traceback" not in result.output


@pytest.fixture
def store_with_a_model(store_uri: str, tmp_path: Path) -> str:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    client = TrackingClient(store_uri)
    client.create_run()
    RegistryClient(client).register_model(str(folder), "churn")
    client.close()
    return store_uri


def break_locks(store: str) -> None:
    """Make the store's lock folder unusable: a file where the folder should be."""
    locks = Path(store) / ".locks"
    for child in locks.iterdir():
        child.unlink()
    locks.rmdir()
    locks.write_text("")


def test_cli_gc_on_an_unwritable_store_prints_an_error(store_with_a_model: str) -> None:
    break_locks(store_with_a_model)
    assert_cli_error(invoke(store_with_a_model, "gc"), store_with_a_model, "writable")


def test_cli_registry_changes_need_no_lock_folder(store_with_a_model: str) -> None:
    """Registry changes commit by Delta's commit protocol alone (no lock file)."""
    break_locks(store_with_a_model)
    result = invoke(store_with_a_model, "models", "stage", "churn", "1", "Production")
    assert result.exit_code == 0, result.output


def test_cli_registry_changes_on_an_unwritable_store_print_an_error(
    store_with_a_model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(_tables, "write_deltalake", read_only)
    assert_cli_error(
        invoke(store_with_a_model, "models", "stage", "churn", "1", "Production"),
        store_with_a_model,
        "Read-only file system",
        "writable",
    )
    assert_cli_error(
        invoke(store_with_a_model, "models", "register", str(tmp_path / "model"), "churn"),
        store_with_a_model,
    )


def test_cli_error_as_a_real_process(store_with_a_model: str) -> None:
    break_locks(store_with_a_model)
    done = run_child(
        python("-m", "sparktrack.cli", "--store", store_with_a_model, "gc"),
        env=child_env(),
        expect=1,
    )
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr, done.stderr


def test_log_text_into_an_unwritable_artifact_folder_raises_store_error(store_uri: str) -> None:
    client = TrackingClient(store_uri)
    run_id = client.create_run().info.run_id
    (Path(store_uri) / "artifacts").write_text("")  # the artifact tree's root is a file
    with pytest.raises(StoreError, match="artifacts") as failed:
        client.log_text(run_id, "hello", "notes/readme.txt")
    assert "writable" in str(failed.value)
    assert isinstance(failed.value.__cause__, OSError)
    client.close()


def test_an_unwritable_journal_folder_fails_the_log_call_not_the_reads(
    store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("SPARKTRACK_JOURNAL_DIR", str(blocker / "journal"))
    client = TrackingClient(store_uri)
    assert len(client.search_runs(None)) == 0  # reading needs no journal
    with pytest.raises(StoreError) as failed:
        client.create_run()
    message = str(failed.value)
    assert str(blocker / "journal") in message and "SPARKTRACK_JOURNAL_DIR" in message
    assert isinstance(failed.value.__cause__, OSError)
    client.close()


def test_a_store_under_a_file_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(StoreError) as failed:
        TrackingClient(str(blocker / "store"))
    assert str(blocker / "store") in str(failed.value)
    assert "SPARKTRACK_STORE" in str(failed.value)
