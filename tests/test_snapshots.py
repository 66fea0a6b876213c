"""Source snapshots: scripts run as child processes in a real git work tree, a notebook
run by a real Jupyter kernel, the Spark conf of the suite's session, faults injected
where the artifact store meets pyarrow's file system."""

from __future__ import annotations

import base64
import builtins
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pytest

import sparktrack
from sparktrack import TrackingClient
from sparktrack.config import load_settings
from sparktrack.errors import ConfigurationError, NotFoundError
from sparktrack.tracking import SNAPSHOT_TAG, _snapshot_parts
from sparktrack.tracking._context_source import NOTEBOOK, Source
from sparktrack.tracking._snapshot_code import code_parts
from sparktrack.tracking._snapshot_parts import requirements_part
from sparktrack.tracking._snapshot_spark import REDACTED, redacted_conf
from tests._processes import child_env, run_child

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git CLI")

# The user's script: one run, a param, and its id for the test.
SCRIPT = """\
import sparktrack
import helper

with sparktrack.start_run() as run:
    sparktrack.log_param("answer", helper.ANSWER)
print("RUN", run.info.run_id)
"""


def _git_env() -> dict[str, str]:
    # Independent of the machine's git config (signing, hooks, default branch name).
    return {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, env=_git_env(), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)} failed:\n{done.stderr}"
    return done.stdout.strip()


@dataclass(frozen=True)
class ScriptRuns:
    """Two runs of one script from a dirty work tree, each in a process of its own."""

    repo: Path
    store: str
    run_ids: tuple[str, str]
    untracked_size: int


@pytest.fixture(scope="module")
def script_runs(tmp_path_factory: pytest.TempPathFactory) -> ScriptRuns:
    root = tmp_path_factory.mktemp("snapshots")
    repo = root / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "trunk")
    (repo / "train.py").write_text(SCRIPT)
    (repo / "helper.py").write_text("ANSWER = 41\n")
    _git(repo, "add", "train.py", "helper.py")
    _git(repo, "commit", "-q", "-m", "first")
    # Dirty: an edit to a tracked module the script imports, and a file git does not know.
    (repo / "helper.py").write_text("ANSWER = 42\n")
    (repo / "notes.txt").write_text("try a deeper tree\n")
    store = str(root / "store")
    env = child_env(
        _git_env(),
        sparktrack_settings=False,
        SPARKTRACK_STORE=store,
        SPARKTRACK_JOURNAL_DIR=str(root / "journal"),
        SPARKTRACK_SNAPSHOTS="true",
        GIT_CEILING_DIRECTORIES=str(root),
    )
    run_ids = []
    for _ in range(2):
        done = run_child([sys.executable, "train.py"], cwd=repo, env=env, timeout=180)
        lines = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("RUN ")]
        assert lines, done.explain("the script printed no run id")
        run_ids.append(lines[0])
    return ScriptRuns(repo, store, (run_ids[0], run_ids[1]), len("try a deeper tree\n"))


@pytest.fixture
def script_client(script_runs: ScriptRuns) -> Iterator[TrackingClient]:
    client = TrackingClient(script_runs.store)
    yield client
    client.close()


def test_a_script_run_in_its_own_process_stores_the_script(
    script_runs: ScriptRuns, script_client: TrackingClient
) -> None:
    run_id = script_runs.run_ids[0]
    snapshot = script_client.get_source_snapshot(run_id)
    assert script_client.get_run(run_id).data.tags[SNAPSHOT_TAG] == snapshot.digest
    assert snapshot.main == "train.py"
    assert snapshot.read() == SCRIPT.encode()
    assert snapshot.manifest["source"] == {
        "name": str(script_runs.repo / "train.py"),
        "type": "LOCAL",
    }
    requirements = snapshot.read("requirements.txt").decode().splitlines()
    assert any(line.startswith(("pyspark==", "pyspark @")) for line in requirements)
    environment = json.loads(snapshot.read("environment.json"))
    assert environment["python"] == ".".join(map(str, sys.version_info[:3]))
    assert environment["pyspark"] == metadata.version("pyspark")
    # Without a Spark session there is no Spark conf to record.
    assert "spark-conf.json" not in snapshot.files


def test_a_dirty_tree_gives_its_diff_and_its_untracked_files(
    script_runs: ScriptRuns, script_client: TrackingClient, tmp_path: Path
) -> None:
    snapshot = script_client.get_source_snapshot(script_runs.run_ids[0])
    assert snapshot.manifest["git"]["commit"] == _git(script_runs.repo, "rev-parse", "HEAD")
    untracked = snapshot.read("untracked.txt").decode()
    assert untracked == f"{script_runs.untracked_size}\tnotes.txt\n"
    # The diff is a real patch: applied to a clean checkout of the commit, it gives the
    # tree that ran.
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(script_runs.repo), str(clone))
    (tmp_path / "git.diff").write_bytes(snapshot.read("git.diff"))
    _git(clone, "apply", str(tmp_path / "git.diff"))
    assert (clone / "helper.py").read_text() == "ANSWER = 42\n"


def test_runs_of_the_same_script_share_one_snapshot(
    script_runs: ScriptRuns, script_client: TrackingClient
) -> None:
    digests = {script_client.get_tags(run_id)[SNAPSHOT_TAG] for run_id in script_runs.run_ids}
    folders = list((Path(script_runs.store) / "artifacts" / "snapshots").iterdir())
    assert len(digests) == 1
    assert [folder.name for folder in folders] == list(digests)


def test_the_cli_prints_lists_and_extracts_a_snapshot(
    script_runs: ScriptRuns, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from sparktrack.cli import app

    run_id = script_runs.run_ids[1]

    def cli(*args: str) -> str:
        result = CliRunner().invoke(app, ["--store", script_runs.store, *args])
        assert result.exit_code == 0, result.output
        return result.output

    digest = json.loads(cli("runs", "source", run_id, "--json"))["digest"]
    shown = cli("runs", "source", run_id)
    assert f"Source snapshot {digest} of run {run_id}" in shown
    assert shown.endswith(f"--- train.py ---\n{SCRIPT}")
    assert cli("runs", "source", run_id, "git.diff").startswith("diff --git a/helper.py")
    assert digest[:12] in cli("runs", "list").splitlines()[2]
    assert f"snapshot      {digest}" in cli("runs", "show", run_id)
    cli("runs", "source", run_id, "--extract", str(tmp_path / "out"))
    extracted = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert extracted == sorted(
        [
            "manifest.json",
            "train.py",
            "git.diff",
            "untracked.txt",
            "requirements.txt",
            "environment.json",
        ]
    )
    missing = CliRunner().invoke(app, ["--store", script_runs.store, "runs", "source", run_id, "x"])
    assert missing.exit_code == 1
    assert "has no file 'x'" in missing.output


# -- a notebook, run by a real kernel ----------------------------------------------------
SAVED_CELL = "import sparktrack\nsparktrack.set_store({store!r})"
UNSAVED_CELL = """\
with sparktrack.start_run() as run:
    sparktrack.log_metric("m", 1.0)
sparktrack.flush()
print(run.info.run_id)
"""


@pytest.mark.slow
def test_a_notebook_run_stores_the_saved_notebook_and_the_cells_the_kernel_ran(
    tmp_path: Path,
) -> None:
    """The user edited a cell without saving: the file lags what the kernel ran."""
    import nbclient
    import nbformat

    store = str(tmp_path / "store")
    path = tmp_path / "analysis.ipynb"
    saved = nbformat.v4.new_notebook()
    saved.cells = [nbformat.v4.new_code_cell(SAVED_CELL.format(store=store))]
    saved.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(saved, path)
    running = nbformat.read(path, as_version=4)
    running.cells.append(nbformat.v4.new_code_cell(UNSAVED_CELL))
    env = child_env(
        sparktrack_settings=False,
        SPARKTRACK_JOURNAL_DIR=str(tmp_path / "journal"),
        SPARKTRACK_SNAPSHOTS="true",
        JPY_SESSION_NAME=str(path),  # what jupyter_server tells the kernels it starts
    )
    client = nbclient.NotebookClient(
        running, timeout=240, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute(env=env)
    printed = [o["text"] for o in running.cells[1].outputs if o.get("name") == "stdout"]
    assert printed, f"the cell printed no run id: {running.cells[1].outputs}"
    run_id = printed[0].strip()

    reader = TrackingClient(store)
    try:
        tags = reader.get_tags(run_id)
        snapshot = reader.get_source_snapshot(run_id)
        assert tags["sparktrack.source.notebook"] == str(path)
        assert snapshot.main == "analysis.ipynb"
        assert snapshot.read() == path.read_bytes()
        history = snapshot.read("history.py").decode()
        assert history == (
            f"# In[1]:\n{SAVED_CELL.format(store=store)}\n\n# In[2]:\n{UNSAVED_CELL.rstrip()}\n"
        )
    finally:
        reader.close()


def test_a_saved_notebook_that_holds_every_cell_run_needs_no_history(tmp_path: Path) -> None:
    import nbformat

    path = tmp_path / "n.ipynb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("y = 2")]
    nbformat.write(notebook, path)
    same = code_parts(Source(str(path), NOTEBOOK, str(tmp_path)), ("x = 1", "y = 2\n"))
    assert [part.name for part in same.parts] == ["n.ipynb"]
    edited = code_parts(Source(str(path), NOTEBOOK, str(tmp_path)), ("x = 1", "y = 3"))
    assert [part.name for part in edited.parts] == ["n.ipynb", "history.py"]


def test_a_script_is_read_once_per_process_a_notebook_whenever_saved_anew(
    tmp_path: Path,
) -> None:
    script, notebook = tmp_path / "job.py", tmp_path / "nb.ipynb"
    script.write_text("print(1)\n")
    notebook.write_text('{"cells": []}')

    def read(path: Path, kind: str) -> bytes:
        return code_parts(Source(str(path), kind, str(tmp_path)), None).parts[0].data

    assert read(script, "LOCAL") == b"print(1)\n"
    assert read(notebook, NOTEBOOK) == b'{"cells": []}'
    script.write_text("print(2)\n")
    notebook.write_text('{"cells": [], "metadata": {}}')
    assert read(script, "LOCAL") == b"print(1)\n"  # the code this process loaded
    assert read(notebook, NOTEBOOK) == b'{"cells": [], "metadata": {}}'


def test_the_package_list_follows_what_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = requirements_part()
    assert requirements_part() is before  # unchanged site folders: not listed again
    info = tmp_path / "freshly_installed-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: freshly-installed\nVersion: 1.2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    listed = requirements_part()
    assert "freshly-installed==1.2\n" in listed.data.decode()
    # Another distribution in a folder that holds some: listed again.
    info = tmp_path / "installed_later-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: installed-later\nVersion: 0.1\n")
    assert "installed-later==0.1\n" in requirements_part().data.decode()


def test_the_package_list_is_not_read_again_when_a_folder_without_packages_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Spark puts the folder of the files addFile fetched on sys.path; Sparkling Water
    # adds a file there on every fit. Listing the packages again each time cost ~50 ms
    # of CPU per run, while the fit ran.
    user_files = tmp_path / "userFiles"
    user_files.mkdir()
    monkeypatch.syspath_prepend(str(user_files))
    before = requirements_part()
    listed: list[object] = []
    real = _snapshot_parts.metadata.distributions

    def counted() -> Any:
        listed.append(None)
        return real()

    monkeypatch.setattr(_snapshot_parts.metadata, "distributions", counted)
    for index in range(3):
        (user_files / f"model-{index}.mojo").write_bytes(b"mojo")
        assert requirements_part() is before
    assert listed == []


def test_a_source_that_is_no_file_that_ran_is_not_copied() -> None:
    """An embedded launcher's source name is the interpreter: never stored as the script."""
    assert code_parts(Source(sys.executable, "LOCAL"), None).parts == ()


# -- a Databricks notebook, exported through the workspace API its context names ---------
class _Context:
    """What ``dbutils...getContext()`` answers on Databricks (Scala Options: ``.get()``)."""

    def __init__(self, api_url: str) -> None:
        self._values = {"notebookPath": "/Users/ana@example.com/churn", "apiUrl": api_url}
        self._values["apiToken"] = "dapi-secret"

    def __getattr__(self, name: str) -> Any:
        value = self._values[name]
        return lambda: type("Option", (), {"get": lambda _self: value})()


class _DbUtils:
    def __init__(self, api_url: str) -> None:
        context = _Context(api_url)
        notebook = type("N", (), {"getContext": lambda _self: context})()
        dbutils = type("D", (), {"notebook": lambda _self: notebook})()
        entry_point = type("E", (), {"getDbutils": lambda _self: dbutils})()
        self.notebook = type("NB", (), {"entry_point": entry_point})()


def test_a_databricks_notebook_is_exported_through_its_workspace_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    requests: list[tuple[str, str | None]] = []
    source = b"# Databricks notebook source\nprint('churn')\n"

    class Workspace(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append((self.path, self.headers.get("Authorization")))
            body = json.dumps(
                {"content": base64.b64encode(source).decode(), "file_type": "py"}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Workspace)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        monkeypatch.setattr(builtins, "dbutils", _DbUtils(url), raising=False)
        code = code_parts(Source("/Users/ana@example.com/churn", NOTEBOOK), None)
    finally:
        server.shutdown()
        server.server_close()
    assert [(part.name, part.data) for part in code.parts] == [("churn.py", source)]
    assert code.main == "churn.py"
    assert requests == [
        (
            "/api/2.0/workspace/export?path=%2FUsers%2Fana%40example.com%2Fchurn&format=SOURCE",
            "Bearer dapi-secret",
        )
    ]


# -- the Spark conf, redacted ------------------------------------------------------------
def test_secret_looking_confs_are_redacted() -> None:
    conf = {
        "spark.hadoop.fs.s3a.secret.key": "s3-secret",
        "spark.hadoop.fs.s3a.access.key": "AKIA",
        "spark.hadoop.fs.azure.account.key.acct.dfs.core.windows.net": "azure-key",
        "spark.ssl.keyStorePassword": "pw",
        "spark.myapp.apiToken": "t",
        "spark.myapp.credentialsJson": "{}",
        "spark.myapp.hidden": "h",
        "spark.redaction.regex": "(?i)hidden",
        "spark.jars": "https://user:pw@repo.example.com/a.jar",
        "spark.app.id": "local-1",
        "spark.driver.port": "4040",
        "spark.master": "local[2]",
    }
    assert redacted_conf(conf) == {
        "spark.hadoop.fs.azure.account.key.acct.dfs.core.windows.net": REDACTED,
        "spark.hadoop.fs.s3a.access.key": REDACTED,
        "spark.hadoop.fs.s3a.secret.key": REDACTED,
        "spark.jars": f"https://{REDACTED}@repo.example.com/a.jar",
        "spark.master": "local[2]",
        "spark.myapp.apiToken": REDACTED,
        "spark.myapp.credentialsJson": REDACTED,
        "spark.myapp.hidden": REDACTED,
        "spark.redaction.regex": "(?i)hidden",
        "spark.ssl.keyStorePassword": REDACTED,
    }


@pytest.mark.spark
def test_the_sessions_conf_is_stored_with_secrets_redacted(spark: Any, store_uri: str) -> None:
    spark.conf.set("spark.hadoop.fs.s3a.secret.key", "hunter2")
    spark.conf.set("spark.sql.shuffle.partitions", "7")
    client = TrackingClient(store_uri)
    try:
        run = client.create_run(snapshot=True)
        client.flush()
        snapshot = client.get_source_snapshot(run.info.run_id)
    finally:
        spark.conf.unset("spark.hadoop.fs.s3a.secret.key")
        spark.conf.unset("spark.sql.shuffle.partitions")
    conf = json.loads(snapshot.read("spark-conf.json"))
    environment = json.loads(snapshot.read("environment.json"))
    client.close()
    assert conf["spark.hadoop.fs.s3a.secret.key"] == REDACTED
    assert conf["spark.sql.shuffle.partitions"] == "7"  # set at runtime, recorded too
    assert conf["spark.master"] == spark.sparkContext.master
    assert "spark.app.id" not in conf
    assert environment["spark"] == spark.version
    assert environment["java_version"] == spark.sparkContext._jvm.System.getProperty("java.version")
    assert all(b"hunter2" not in snapshot.read(name) for name in snapshot.files)


# -- opting out ------------------------------------------------------------------------
def test_a_run_started_with_snapshot_false_has_none(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARKTRACK_SNAPSHOTS", "true")
    sparktrack.set_store(store_uri)
    with sparktrack.start_run(snapshot=False) as run:
        pass
    with sparktrack.start_run() as kept:
        pass
    sparktrack.flush()
    client = sparktrack.get_client()
    assert SNAPSHOT_TAG not in client.get_tags(run.info.run_id)
    assert SNAPSHOT_TAG in client.get_tags(kept.info.run_id)
    with pytest.raises(NotFoundError, match="snapshot=False"):
        client.get_source_snapshot(run.info.run_id)
    with pytest.raises(NotFoundError, match="does not exist"):
        client.get_source_snapshot("0" * 32)


def test_the_setting_turns_snapshots_off_for_every_run(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARKTRACK_SNAPSHOTS", "false")
    client = TrackingClient(store_uri)
    run = client.create_run()
    explicit = client.create_run(snapshot=True)  # an argument wins over the setting
    client.flush()
    assert SNAPSHOT_TAG not in client.get_tags(run.info.run_id)
    assert SNAPSHOT_TAG in client.get_tags(explicit.info.run_id)
    client.close()


def test_a_resumed_run_gets_a_snapshot_only_when_asked(store_uri: str) -> None:
    """A job attaching to a run its launcher created records what the job runs."""
    client = TrackingClient(store_uri)
    run_id = client.create_run(snapshot=False).info.run_id
    client.set_terminated(run_id)
    client.resume_run(run_id)
    client.flush()
    assert SNAPSHOT_TAG not in client.get_tags(run_id)
    client.resume_run(run_id, snapshot=True)
    client.flush()
    assert client.get_source_snapshot(run_id).digest == client.get_tags(run_id)[SNAPSHOT_TAG]
    client.close()


# -- the snapshot is stored off the run's thread, and its failure costs the run nothing --
class _GatedFileSystem(pafs.FileSystemHandler):
    """The local file system, whose writes under ``snapshots/`` wait or fail on demand."""

    def __init__(self) -> None:
        self.local = pafs.LocalFileSystem()
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False

    def open_output_stream(self, path: str, metadata: Any = None) -> Any:
        if "/snapshots/" in path:
            self.gate.wait(60)
            if self.fail:
                raise OSError(28, "No space left on device", path)
        return self.local.open_output_stream(path, metadata=metadata)

    def get_type_name(self) -> str:
        return "gated-local"

    def equals(self, other: Any) -> bool:
        return other is self

    def normalize_path(self, path: str) -> str:
        return self.local.normalize_path(path)

    def get_file_info(self, paths: list[str]) -> Any:
        return self.local.get_file_info(paths)

    def get_file_info_selector(self, selector: Any) -> Any:
        return self.local.get_file_info(selector)

    def create_dir(self, path: str, recursive: bool) -> None:
        self.local.create_dir(path, recursive=recursive)

    def delete_dir(self, path: str) -> None:
        self.local.delete_dir(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self.local.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        raise OSError("not in tests")

    def delete_file(self, path: str) -> None:
        self.local.delete_file(path)

    def move(self, src: str, dest: str) -> None:
        self.local.move(src, dest)

    def copy_file(self, src: str, dest: str) -> None:
        self.local.copy_file(src, dest)

    def open_input_stream(self, path: str) -> Any:
        return self.local.open_input_stream(path)

    def open_input_file(self, path: str) -> Any:
        return self.local.open_input_file(path)

    def open_append_stream(self, path: str, metadata: Any = None) -> Any:
        return self.local.open_append_stream(path, metadata=metadata)


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> _GatedFileSystem:
    """Stores opened from now on reach their artifacts through a gated file system."""
    handler = _GatedFileSystem()
    monkeypatch.setattr(pafs, "LocalFileSystem", lambda: pafs.PyFileSystem(handler))
    return handler


def test_creating_a_run_does_not_wait_for_its_snapshot(
    store_uri: str, gated: _GatedFileSystem
) -> None:
    gated.gate.clear()
    client = TrackingClient(store_uri)
    try:
        run = client.create_run(snapshot=True)
        client.log_metric(run.info.run_id, "m", 1.0)
        client.set_terminated(run.info.run_id)
        # The run is whole and readable while its snapshot still waits to be written.
        assert client.get_run(run.info.run_id).data.metrics == {"m": 1.0}
        assert SNAPSHOT_TAG not in client.get_tags(run.info.run_id)
    finally:
        gated.gate.set()
    client.flush()
    assert SNAPSHOT_TAG in client.get_tags(run.info.run_id)
    client.close()


def test_a_failed_snapshot_write_loses_nothing_else_of_the_run(
    store_uri: str, gated: _GatedFileSystem, caplog: pytest.LogCaptureFixture
) -> None:
    gated.fail = True
    client = TrackingClient(store_uri)
    with caplog.at_level(logging.WARNING, logger="sparktrack"):
        run = client.create_run(snapshot=True, tags={"team": "churn"})
        run_id = run.info.run_id
        client.log_param(run_id, "depth", 5)
        client.log_metric(run_id, "auc", 0.9)
        client.set_terminated(run_id)
        client.flush()
    client.close()
    assert f"could not store the source snapshot of run {run_id}" in caplog.text
    assert "No space left on device" in caplog.text

    reopened = TrackingClient(store_uri)  # what another process reads
    stored = reopened.get_run(run_id)
    assert stored.info.status == "FINISHED"
    assert stored.data.params == {"depth": "5"}
    assert stored.data.metrics == {"auc": 0.9}
    assert stored.data.tags["team"] == "churn"
    assert SNAPSHOT_TAG not in stored.data.tags
    snapshots = Path(store_uri) / "artifacts" / "snapshots"
    assert not list(snapshots.glob("*/manifest.json"))
    # Once the store takes writes again, the next run's snapshot is stored.
    gated.fail = False
    again = reopened.create_run(snapshot=True)
    reopened.flush()
    assert reopened.get_source_snapshot(again.info.run_id).main
    reopened.close()


def test_a_setting_that_is_not_a_boolean_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARKTRACK_SNAPSHOTS", "sometimes")
    with pytest.raises(ConfigurationError, match=r"'snapshots' is 'sometimes'.*true or false"):
        load_settings()


@pytest.mark.spark
def test_an_autologged_fit_gets_the_snapshot_of_the_script_that_ran_it(
    spark: Any, store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Autolog creates its runs through the client, as start_run and sweeps do."""
    from pyspark.ml.feature import StandardScaler, VectorAssembler

    monkeypatch.setenv("SPARKTRACK_SNAPSHOTS", "true")
    sparktrack.set_store(store_uri)
    sparktrack.autolog()
    frame = VectorAssembler(inputCols=["a"], outputCol="v").transform(
        spark.createDataFrame([(1.0,), (2.0,), (4.0,)], "a double")
    )
    StandardScaler(inputCol="v", outputCol="s").fit(frame)
    sparktrack.flush()
    run_id = sparktrack.last_active_run().info.run_id
    snapshot = sparktrack.get_client().get_source_snapshot(run_id)
    assert snapshot.manifest["source"]["name"] == os.path.abspath(sys.argv[0])
    assert "spark-conf.json" in snapshot.files
