"""run_context_tags against real git repositories and real child interpreters (no mocks)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sparktrack.tracking._context import MAX_TAG_VALUE_LENGTH, run_context_tags
from tests._processes import child_env, run_child

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git CLI")

GIT_TAGS = {
    "mlflow.source.git.commit",
    "mlflow.source.git.branch",
    "mlflow.source.git.repoURL",
    "sparktrack.git.dirty",
}

# The child prints its first answer, how long the cached calls after it take, and whether
# asking pulled in pyspark (it must not).
SCRIPT = """\
import json, sys, time
from sparktrack.tracking._context import run_context_tags

first = run_context_tags()
timings = []
for _ in range(5):
    start = time.perf_counter()
    again = run_context_tags()
    timings.append(time.perf_counter() - start)
print(json.dumps({
    "tags": first,
    "same_again": again == first,
    "repeat_seconds": min(timings),
    "pyspark_imported": "pyspark" in sys.modules,
}))
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
    completed = subprocess.run(
        ["git", *args], cwd=repo, env=_git_env(), capture_output=True, text=True, check=True
    )
    return completed.stdout.strip()


def _run(
    command: list[str], cwd: Path, ceiling: Path, extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run a child interpreter printing SCRIPT's JSON, as a user's script would run."""
    env = child_env(
        _git_env(),
        PYSPARK_GATEWAY_PORT=None,
        SPARK_SUBMIT=None,
        JPY_SESSION_NAME=None,
        # Keep git from finding a repository above the test's folder, whatever the machine has.
        GIT_CEILING_DIRECTORIES=str(ceiling),
    )
    env.update(extra_env or {})
    completed = run_child(command, cwd=cwd, env=env, timeout=120)
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _run_script(
    script: Path, ceiling: Path, extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    return _run([sys.executable, script.name], script.parent, ceiling, extra_env)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A committed repository holding script.py, with data/ ignored."""
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "trunk")
    (root / "script.py").write_text(SCRIPT)
    (root / ".gitignore").write_text("data/\n")
    _git(root, "add", "script.py", ".gitignore")
    _git(root, "commit", "-q", "-m", "first")
    return root


def test_modified_repo_gives_commit_branch_dirty_and_source(repo: Path, tmp_path: Path) -> None:
    script = repo / "script.py"
    script.write_text(SCRIPT + "# an uncommitted edit\n")

    result = _run_script(script, tmp_path)
    tags = result["tags"]

    assert tags["mlflow.source.git.commit"] == _git(repo, "rev-parse", "HEAD")
    assert tags["mlflow.source.git.branch"] == "trunk"
    assert tags["sparktrack.git.dirty"] == "true"
    assert "mlflow.source.git.repoURL" not in tags  # no origin
    assert os.path.isabs(tags["mlflow.source.name"])
    assert os.path.realpath(tags["mlflow.source.name"]) == os.path.realpath(script)
    assert tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.user"]
    assert tags["sparktrack.host"]
    assert tags["sparktrack.python.version"] == ".".join(map(str, sys.version_info[:3]))
    packages = json.loads(tags["sparktrack.packages"])
    assert packages["pyspark"] and packages["numpy"]
    assert "mlflow" not in packages or packages["mlflow"]
    assert all(isinstance(value, str) for value in tags.values())
    assert not any(name.startswith("sparktrack.spark.") for name in tags)
    assert result["pyspark_imported"] is False


def test_clean_tree_is_not_dirty_even_with_ignored_files(repo: Path, tmp_path: Path) -> None:
    (repo / "data").mkdir()
    (repo / "data" / "output.csv").write_text("a,b\n")

    tags = _run_script(repo / "script.py", tmp_path)["tags"]

    assert tags["sparktrack.git.dirty"] == "false"
    assert tags["mlflow.source.git.commit"] == _git(repo, "rev-parse", "HEAD")


def test_untracked_file_counts_as_dirty(repo: Path, tmp_path: Path) -> None:
    (repo / "helpers.py").write_text("VALUE = 1\n")

    tags = _run_script(repo / "script.py", tmp_path)["tags"]

    assert tags["sparktrack.git.dirty"] == "true"


def test_origin_url_is_recorded_without_credentials(repo: Path, tmp_path: Path) -> None:
    _git(repo, "remote", "add", "origin", "https://ci:s3cr3t@example.com/team/models.git")

    tags = _run_script(repo / "script.py", tmp_path)["tags"]

    assert tags["mlflow.source.git.repoURL"] == "https://example.com/team/models.git"
    assert "s3cr3t" not in json.dumps(tags)


def test_git_state_comes_from_the_script_folder_not_the_cwd(repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    result = _run([sys.executable, str(repo / "script.py")], elsewhere, tmp_path)

    assert result["tags"]["mlflow.source.git.commit"] == _git(repo, "rev-parse", "HEAD")


def test_detached_head_has_commit_but_no_branch(repo: Path, tmp_path: Path) -> None:
    _git(repo, "checkout", "-q", "--detach")

    tags = _run_script(repo / "script.py", tmp_path)["tags"]

    assert tags["mlflow.source.git.commit"] == _git(repo, "rev-parse", "HEAD")
    assert "mlflow.source.git.branch" not in tags


def test_outside_a_repository_there_are_no_git_tags(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    script = folder / "script.py"
    script.write_text(SCRIPT)

    tags = _run_script(script, tmp_path)["tags"]

    assert not GIT_TAGS & tags.keys()
    assert os.path.realpath(tags["mlflow.source.name"]) == os.path.realpath(script)
    assert tags["mlflow.source.type"] == "LOCAL"


def test_interactive_source_uses_the_cwd_repository(repo: Path, tmp_path: Path) -> None:
    result = _run([sys.executable, "-c", SCRIPT], repo, tmp_path)
    tags = result["tags"]

    assert tags["mlflow.source.name"] == "<interactive>"
    assert tags["mlflow.source.git.commit"] == _git(repo, "rev-parse", "HEAD")


def test_second_call_is_served_from_cache(repo: Path, tmp_path: Path) -> None:
    result = _run_script(repo / "script.py", tmp_path)

    assert result["same_again"] is True
    # The fastest of five repeats, so one scheduler hiccup on a busy machine cannot fail it;
    # any repeated git call or metadata scan would take milliseconds every time.
    assert result["repeat_seconds"] < 0.001


def test_gateway_port_at_start_means_spark_submit_job(repo: Path, tmp_path: Path) -> None:
    result = _run_script(repo / "script.py", tmp_path, {"PYSPARK_GATEWAY_PORT": "45678"})

    assert result["tags"]["mlflow.source.type"] == "JOB"
    assert result["pyspark_imported"] is False


@pytest.mark.spark
def test_spark_application_tags_match_the_session(spark: Any) -> None:
    context = spark.sparkContext

    for tags in (run_context_tags(), run_context_tags(spark_session=spark)):
        assert tags["sparktrack.spark.app_id"] == context.applicationId
        assert tags["sparktrack.spark.app_name"] == context.appName
        assert tags["sparktrack.spark.master"] == context.master
        assert tags["sparktrack.spark.version"] == spark.version
        submitted = json.loads(tags["sparktrack.spark.submit_args"])
        assert submitted["argv"] == sys.argv[1:]
        assert submitted["deployMode"] == "client"
        assert all(key.startswith("spark.submit.") for key in submitted["conf"])


@pytest.mark.spark
def test_spark_submit_args_hide_secrets_and_long_values_are_cut(
    spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", [sys.argv[0], "--password", "hunter2", "--epochs", "3"])
    monkeypatch.setenv("PYSPARK_SUBMIT_ARGS", "--conf spark.api.token=abc123 pyspark-shell")

    submitted = json.loads(run_context_tags(spark_session=spark)["sparktrack.spark.submit_args"])

    assert submitted["argv"] == ["--password", "*********(redacted)", "--epochs", "3"]
    assert submitted["PYSPARK_SUBMIT_ARGS"] == [
        "--conf",
        "spark.api.token=*********(redacted)",
        "pyspark-shell",
    ]

    monkeypatch.setattr(sys, "argv", [sys.argv[0], "x" * (2 * MAX_TAG_VALUE_LENGTH)])
    assert len(run_context_tags()["sparktrack.spark.submit_args"]) == MAX_TAG_VALUE_LENGTH


# -- notebooks run headless (nbclient) ---------------------------------------------------
NOTEBOOK_CELL = """\
from sparktrack import TrackingClient

client = TrackingClient({store!r})
print(client.create_run().info.run_id)
client.close()
"""


def _notebook(path: Path, store: Path) -> None:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(NOTEBOOK_CELL.format(store=str(store)))]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, path)


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["jupyter-execute", "papermill"])
def test_headless_notebook_run_records_the_notebook_path(
    repo: Path, tmp_path: Path, launcher: str
) -> None:
    """nbclient tells the kernel nothing about the notebook; the launcher's command line
    names it. Launched from another folder, with a relative path, as users do."""
    from sparktrack import TrackingClient

    bin_dir = Path(sys.executable).parent
    if not (bin_dir / launcher).exists():
        pytest.fail(f"{launcher} is not installed: pip install -e '.[dev]'")
    store = tmp_path / "store"
    (repo / "notebooks").mkdir()
    notebook = repo / "notebooks" / "train.ipynb"
    _notebook(notebook, store)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    relative = os.path.relpath(notebook, outside)
    command = [str(bin_dir / launcher), relative]
    if launcher == "papermill":
        command.append(str(tmp_path / "executed.ipynb"))  # papermill INPUT OUTPUT
    env = child_env(
        {k: v for k, v in _git_env().items() if not k.startswith(("JPY_", "PAPERMILL"))},
        GIT_CEILING_DIRECTORIES=str(tmp_path),
    )
    run_child(command, cwd=outside, env=env, timeout=300)
    client = TrackingClient(str(store))
    (run_id,) = client.search_runs()["run_id"]
    tags = client.get_run(run_id).data.tags
    client.close()
    assert tags["mlflow.source.name"] == str(notebook)
    assert tags["mlflow.source.type"] == "NOTEBOOK"
    assert tags["mlflow.source.git.commit"] == _git(repo, "rev-parse", "HEAD")
