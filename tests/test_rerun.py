"""``sparktrack rerun`` and ``sparktrack runs diff``: a run repeated from its recorded code.

Every launch is a real child process (the CLI, then the job), with snapshots on, as a
user's shell has them; the code is a real git repository with uncommitted changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparktrack import TrackingClient
from sparktrack.projects import Tags
from tests._processes import child_env, python, result_line, run_child
from tests._project_files import commit_all, git, write_project


def _cli(store: Path, *args: str, cwd: Path, expect: int | None = 0) -> tuple[str, str]:
    env = child_env(sparktrack_settings=False, SPARKTRACK_JOURNAL_DIR=str(cwd / "journal"))
    done = run_child(
        python("-m", "sparktrack.cli", "--store", str(store), *args),
        env=env,
        cwd=cwd,
        expect=expect,
    )
    return done.stdout, done.stderr


def _report(store: Path, project: Path, cwd: Path, *params: str) -> str:
    """Run the project's ``report`` entry point; the run's id."""
    args = [a for p in params for a in ("-P", p)]
    stdout, stderr = _cli(store, "run", str(project), "-e", "report", *args, cwd=cwd)
    result = result_line(stdout)
    assert result is not None, stdout + stderr
    return str(result["run_id"])


def _rerun(store: Path, run_id: str, *args: str, cwd: Path) -> str:
    stdout, stderr = _cli(store, "rerun", run_id, *args, cwd=cwd)
    result = result_line(stdout)
    assert result is not None, stdout + stderr
    return str(result["run_id"])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = write_project(tmp_path / "project", version=1)
    git(folder, "init", "-q")
    commit_all(folder, "version 1")
    return folder


def test_a_project_run_is_repeated_from_its_snapshot_or_its_commit_and_diffed(
    project: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    first = _report(store, project, tmp_path, "label=a", "scale=2")
    # An uncommitted change, run, then undone: only the snapshot still has it.
    write_project(project, version=7)
    dirty = _report(store, project, tmp_path, "label=a", "scale=3")
    git(project, "checkout", "--", "report.py")

    again = _rerun(store, dirty, cwd=tmp_path)
    committed = _rerun(store, dirty, "--code", "commit", cwd=tmp_path)
    changed = _rerun(store, first, "-P", "scale=5", cwd=tmp_path)

    client = TrackingClient(str(store))
    try:
        runs = {name: client.get_run(run_id) for name, run_id in locals().items()
                if name in ("first", "dirty", "again", "committed", "changed")}  # fmt: skip
        metrics = {name: run.data.metrics for name, run in runs.items()}
        assert metrics["first"] == {"version": 1.0, "scale": 2.0}
        assert metrics["dirty"] == {"version": 7.0, "scale": 3.0}
        assert metrics["again"] == metrics["dirty"]  # the uncommitted change, from the snapshot
        assert metrics["committed"] == {"version": 1.0, "scale": 3.0}  # the commit alone
        assert metrics["changed"] == {"version": 1.0, "scale": 5.0}
        assert runs["again"].data.params == runs["dirty"].data.params
        for name, of, code in (("again", dirty, "snapshot"), ("committed", dirty, "commit")):
            tags = runs[name].data.tags
            assert (tags[Tags.RERUN_OF], tags[Tags.RERUN_CODE]) == (of, code)
            assert tags[Tags.URI] == str(project)  # the project, not the rebuilt copy
            assert runs[name].info.status == "FINISHED"
            assert runs[name].info.run_name == f"{runs['dirty'].info.run_name}-rerun"
        assert client.get_source_snapshot(again).read() == client.get_source_snapshot(dirty).read()
    finally:
        client.close()

    # What differs: a param, a metric, and the changed line of code.
    stdout, _ = _cli(store, "runs", "diff", first, dirty, "--json", cwd=tmp_path)
    found = json.loads(stdout)
    assert found["params"] == [{"key": "scale", "a": "2", "b": "3"}]
    assert found["metrics"] == [
        {"key": "scale", "a": 2.0, "b": 3.0},
        {"key": "version", "a": 1.0, "b": 7.0},
    ]
    # The scripts' diff comes first (then that of their uncommitted changes, git.diff).
    script_diff = found["code_diff"].split("--- a/git.diff")[0].splitlines()
    assert script_diff[:2] == ["--- a/report.py", "+++ b/report.py"]
    removed = [line for line in script_diff if line.startswith("-  ")]
    added = [line for line in script_diff if line.startswith("+  ")]
    assert removed == ['-    sparktrack.log_metric("version", 1)']
    assert added == ['+    sparktrack.log_metric("version", 7)']
    assert not found["identical"] and found["missing"] == []
    # A faithful re-run differs in nothing that ran: same params, metrics, code.
    stdout, _ = _cli(store, "runs", "diff", dirty, again, "--json", cwd=tmp_path)
    same = json.loads(stdout)
    assert (same["params"], same["metrics"], same["code_diff"]) == ([], [], "")
    assert same["packages"] == [] and same["datasets"] == []
    text, _ = _cli(store, "runs", "diff", first, dirty, cwd=tmp_path)
    assert "Params: 1 differ" in text and "Code diff:" in text, text


SCRIPT = """\
import json

import sparktrack

with sparktrack.start_run() as run:
    sparktrack.log_metric("answer", ANSWER)
print("RESULT " + json.dumps({"run_id": run.info.run_id}), flush=True)
"""


def test_a_script_run_is_repeated_and_errors_name_what_to_do(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "jobs").mkdir(parents=True)
    script = repo / "jobs" / "train.py"
    script.write_text(SCRIPT.replace("ANSWER", "41"))
    git(repo, "init", "-q")
    commit_all(repo, "41")
    script.write_text(SCRIPT.replace("ANSWER", "42"))  # uncommitted
    store = tmp_path / "store"
    env = child_env(sparktrack_settings=False, SPARKTRACK_STORE=str(store))
    ran = result_line(run_child(python(str(script)), env=env, cwd=tmp_path).stdout)
    assert ran is not None
    original = str(ran["run_id"])
    script.write_text(SCRIPT.replace("ANSWER", "43"))  # the folder moved on

    again = _rerun(store, original, cwd=tmp_path)
    committed = _rerun(store, original, "--code", "commit", cwd=tmp_path)
    client = TrackingClient(str(store))
    try:
        assert client.get_run(again).data.metrics == {"answer": 42.0}
        assert client.get_run(committed).data.metrics == {"answer": 41.0}
        assert client.get_run(again).data.tags[Tags.RERUN_OF] == original
        assert client.get_run(again).data.tags["mlflow.source.name"] == str(script)
    finally:
        client.close()

    # Mistakes are refused before anything runs, each saying what to do instead.
    _, said = _cli(store, "rerun", original, "-P", "x=1", cwd=tmp_path, expect=1)
    assert "declares no parameters" in said
    _, said = _cli(store, "rerun", "0" * 32, cwd=tmp_path, expect=1)
    assert "does not exist" in said
    outside = tmp_path / "outside.py"
    outside.write_text(SCRIPT.replace("ANSWER", "1"))
    quiet = {**env, "SPARKTRACK_SNAPSHOTS": "false"}
    bare = result_line(run_child(python(str(outside)), env=quiet, cwd=tmp_path).stdout)
    assert bare is not None
    _, said = _cli(store, "rerun", str(bare["run_id"]), cwd=tmp_path, expect=1)
    assert "no source snapshot" in said and "--code commit" in said
    _, said = _cli(store, "rerun", str(bare["run_id"]), "--code", "commit", cwd=tmp_path, expect=1)
    assert "no git commit" in said
