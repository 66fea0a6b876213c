"""Projects without a JVM: the MLproject format, parameters, launch plans, plain Python
entry points run by ``sparktrack run`` (a real launcher process, a real job process),
failures, and git URIs cloned at a commit. Spark jobs: tests/test_projects_spark.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sparktrack import InvalidInputError, NotFoundError, TrackingClient
from sparktrack.projects import (
    LOG_ARTIFACT,
    ProjectRun,
    SparkSettings,
    Tags,
    load_project,
    run,
)
from sparktrack.tracking import SNAPSHOT_TAG
from tests._processes import child_env, python, result_line, run_child
from tests._project_files import commit_all, git, write_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = write_project(tmp_path / "project")
    git(folder, "init", "-q")
    commit_all(folder, "the project")
    return folder


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "store")


def _cli(store: str, *args: str, cwd: Path, expect: int | None = 0) -> tuple[str, str]:
    env = child_env(sparktrack_settings=False, SPARKTRACK_JOURNAL_DIR=str(cwd / "journal"))
    done = run_child(
        python("-m", "sparktrack.cli", "--store", store, "run", *args),
        env=env,
        cwd=cwd,
        expect=expect,
    )
    return done.stdout, done.stderr


# -- the MLproject format ----------------------------------------------------------------
def test_the_mlproject_is_read_as_mlflow_reads_it(project: Path) -> None:
    (project / "MLproject").rename(project / "mlproject")  # any case, as in MLflow
    read = load_project(project)

    assert read.name == "sparktrack-test-project"
    assert (read.env_type, read.env_spec) == ("python_env", "python_env.yaml")
    report = read.entry_point("report")
    assert report.parameters["label"].default is None  # `label: string`: required
    assert report.parameters["scale"].type == "float"
    assert report.parameters["scale"].default == "1.5"
    assert report.spark_disabled
    train = read.entry_point("train")
    assert read.spark is not None and train.spark is not None
    merged = read.spark.overridden_by(train.spark)
    assert merged.master == "local[2]"
    assert merged.conf == {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "3"}
    # A script of the project is an entry point of its own.
    assert read.entry_point("crash.py").command == "python crash.py"
    with pytest.raises(NotFoundError, match=r"no entry point 'nope'.*'train'"):
        read.entry_point("nope")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("entry_points: {main: {parameters: {a: number}, command: x}}", r"'a' has type 'number'"),
        ("entry_points: {main: {command: 'python t.py {b}'}}", r"uses \{b\}.*not a declared"),
        ("entry_points: {main: {parameters: {a: float}}}", r"'main' has no 'command'"),
        ("python_env: a.yaml\nconda_env: b.yaml", r"more than one environment"),
        ("spark: {master: local, confs: {}}", r"unknown key\(s\) 'confs' in 'spark'"),
        ("spark: {deploy_mode: remote}", r"deploy_mode is 'remote'"),
        ("spark: {conf: [a, b]}", r"spark.conf must be a mapping"),
        ("entry_points: [a, b]", r"entry_points must be a mapping"),
        ("name: [unclosed", r"not valid YAML"),
    ],
)
def test_an_invalid_mlproject_is_rejected_naming_what_is_wrong(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "MLproject").write_text(text)
    with pytest.raises(InvalidInputError, match=message):
        load_project(tmp_path)


# -- parameters: every error before anything is logged ------------------------------------
@pytest.mark.parametrize(
    ("entry", "params", "message"),
    [
        ("report", {}, r"needs a value for parameter\(s\) 'label'.*-P label=\.\.\."),
        ("report", {"label": "a", "lable": "b"}, r"no parameter 'lable' \(its parameters: label"),
        (
            "report",
            {"label": "a", "scale": "big"},
            r"'scale' \(type float\) got 'big'.*real number",
        ),
        ("report", {"label": "a", "scale": "nan"}, r"'scale' \(type float\) got 'nan'"),
        ("crash", {"code": "1.5"}, r"'code' \(type int\) got '1.5'.*whole number"),
        ("report", {"label": "a", "data": "missing.csv"}, r"'data' \(type path\).*existing file"),
        ("report", {"label": "a", "data": "s3://b/k"}, r"'data' \(type path\).*declare.*'uri'"),
        ("nope", {}, r"no entry point 'nope'"),
    ],
)
def test_parameter_errors_name_the_parameter_and_log_nothing(
    project: Path, store: str, entry: str, params: dict[str, str], message: str
) -> None:
    client = TrackingClient(store)
    try:
        with pytest.raises((InvalidInputError, NotFoundError), match=message):
            run(str(project), entry, params, client=client, echo=False)
        client.flush()
        assert client.search_runs(None).empty, "a rejected request created a run"
    finally:
        client.close()


def test_the_cli_reports_a_parameter_error_without_a_traceback(
    project: Path, store: str, tmp_path: Path
) -> None:
    _, stderr = _cli(store, str(project), "-e", "report", "-P", "scale=1", cwd=tmp_path, expect=1)
    assert stderr.startswith("error: entry point 'report' needs a value for parameter(s) 'label'")
    assert "Traceback" not in stderr


# -- how commands are launched --------------------------------------------------------------
def test_spark_options_go_in_order_of_precedence(project: Path, tmp_path: Path) -> None:
    from sparktrack.projects._submit import plan_launch

    settings = SparkSettings(master="local[2]", conf={"a": "1", "b": "1"}, py_files=("x.zip",))
    cli = SparkSettings(master="local[4]", conf={"b": "3"})
    plan = plan_launch("e", "python job.py --n 1", settings, cli)
    assert plan.spark_submit
    assert plan.argv[0].endswith("pyspark/bin/spark-submit")
    assert plan.argv[1:] == [
        *("--master", "local[2]", "--conf", "a=1", "--conf", "b=1", "--py-files", "x.zip"),
        *("--master", "local[4]", "--conf", "b=3", "job.py", "--n", "1"),
    ]
    # Options written in a spark-submit command sit between the MLproject's and the CLI's.
    plan = plan_launch("e", "spark-submit --conf b=2 --verbose job.py x", settings, cli)
    assert plan.argv[-9:] == [
        *("--conf", "b=2", "--verbose", "--master", "local[4]", "--conf", "b=3"),
        *("job.py", "x"),
    ]
    assert not plan_launch("e", "python job.py", None, SparkSettings()).spark_submit
    with pytest.raises(InvalidInputError, match=r"neither `spark-submit \.\.\.` nor `python"):
        plan_launch("e", "bash run.sh", settings, SparkSettings())
    with pytest.raises(InvalidInputError, match=r"does not run a script"):
        plan_launch("e", "python -m job", None, cli)


# -- plain Python entry points, through the CLI ------------------------------------------------
def test_a_plain_entry_point_runs_as_a_tracked_run(
    project: Path, store: str, tmp_path: Path
) -> None:
    (tmp_path / "input.csv").write_text("x\n")
    label = "two words; echo injected"
    stdout, stderr = _cli(
        store,
        str(project),
        "-e", "report",
        "-P", f"label={label}",
        "-P", "data=input.csv",  # relative to where the user runs sparktrack
        "--experiment", "projects",
        "--run-name", "plain",
        cwd=tmp_path,
    )  # fmt: skip
    result = result_line(stdout)
    assert result is not None, stdout + stderr
    assert result["label"] == label  # one argument, quoted: the `;` ran nothing
    assert "injected" not in stdout.replace(label, "")
    assert result["data"] == str(tmp_path / "input.csv")
    assert result["out"] == str(project / "out")  # a uri default: the project's folder
    assert result["cwd"] == str(project)

    client = TrackingClient(store)
    try:
        tracked = client.get_run(result["run_id"])
        assert tracked.info.status == "FINISHED"
        assert tracked.info.run_name == "plain"
        assert client.get_experiment(tracked.info.experiment_id).name == "projects"
        assert tracked.data.params == {
            "label": label,
            "data": str(tmp_path / "input.csv"),
            "out": str(project / "out"),
            "scale": "1.5",
        }
        assert tracked.data.metrics == {"version": 1.0, "scale": 1.5}
        tags = tracked.data.tags
        assert tags[Tags.URI] == str(project)
        assert tags[Tags.ENTRY_POINT] == "report"
        assert tags[Tags.COMMIT] == git(project, "rev-parse", "HEAD")
        assert tags["mlflow.source.git.commit"] == tags[Tags.COMMIT]
        assert tags[Tags.LAUNCHER] == "command"
        assert (tags[Tags.ENV], tags[Tags.ENV_SPEC]) == ("python_env", "python_env.yaml")
        assert tags["mlflow.source.type"] == "PROJECT"
        assert LOG_ARTIFACT not in [f.path for f in client.list_artifacts(tracked.info.run_id)]
        assert len(client.search_runs(None)) == 1  # the job joined the run: no second run
        # The source snapshot is the job's (report.py), not the launcher's command.
        snapshot = client.get_source_snapshot(tracked.info.run_id)
        assert tags[SNAPSHOT_TAG] == snapshot.digest
        assert snapshot.read() == (project / "report.py").read_bytes()
    finally:
        client.close()


def test_a_failing_job_is_a_failed_run_with_the_end_of_its_output(
    project: Path, store: str, tmp_path: Path
) -> None:
    client = TrackingClient(store)
    try:
        ended = run(str(project), "crash", {"code": 7}, client=client, echo=False)
        assert ended == ProjectRun(ended.run_id, "FAILED", 7, ended.argv)
        assert client.get_run(ended.run_id).info.status == "FAILED"
        log = client.read_artifact(ended.run_id, LOG_ARTIFACT).decode()
        assert log.strip() == "about to exit with 7"
    finally:
        client.close()

    _, stderr = _cli(store, str(project), "-e", "crash", cwd=tmp_path, expect=1)
    assert "FAILED: the job exited with status 3" in stderr
    assert f"artifact {LOG_ARTIFACT}" in stderr


def test_a_memory_store_is_refused_before_anything_runs(project: Path) -> None:
    from sparktrack import ConfigurationError
    from sparktrack.store import MemoryStore

    client = TrackingClient(MemoryStore())
    try:
        with pytest.raises(ConfigurationError, match=r"in-memory store"):
            run(str(project), "report", {"label": "x"}, client=client, echo=False)
    finally:
        client.close()


# -- git URIs, cloned at a commit ---------------------------------------------------------------
def test_a_git_uri_runs_the_project_at_the_commit_asked_for(tmp_path: Path, store: str) -> None:
    repo = tmp_path / "repo"
    write_project(repo / "jobs" / "report", version=1)
    git(repo, "init", "-q")
    first = commit_all(repo, "version 1")
    write_project(repo / "jobs" / "report", version=2)
    second = commit_all(repo, "version 2")
    uri = f"git+file://{repo}#jobs/report"

    client = TrackingClient(store)
    try:
        at_first = run(uri, "report", {"label": "a"}, version=first, client=client, echo=False)
        at_head = run(uri, "report", {"label": "b"}, client=client, echo=False)
        assert (at_first.status, at_head.status) == ("FINISHED", "FINISHED")
        old, new = client.get_run(at_first.run_id), client.get_run(at_head.run_id)
        assert old.data.metrics["version"] == 1.0
        assert new.data.metrics["version"] == 2.0
        assert old.data.tags[Tags.COMMIT] == first
        assert new.data.tags[Tags.COMMIT] == second
        assert old.data.tags[Tags.URI] == uri
        assert old.data.tags[Tags.VERSION] == first
        assert old.data.tags["mlflow.source.git.repoURL"] == f"file://{repo}"
        cloned_data = Path(old.data.params["data"])  # a path default: inside the clone
        assert cloned_data.name == "data.csv"
        assert not cloned_data.exists(), "the temporary clone was left behind"

        with pytest.raises(NotFoundError, match=r"version 'f00d' does not exist.*git said"):
            run(uri, "report", {"label": "a"}, version="f00d", client=client, echo=False)
        with pytest.raises(InvalidInputError, match=r"--version 'abc' applies to git URIs only"):
            run(str(repo), "report", {"label": "a"}, version="abc", client=client, echo=False)
    finally:
        client.close()


def test_a_project_outside_git_has_no_git_tags_of_the_launchers_folder(
    tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = write_project(tmp_path / "plain")  # no repository around it
    monkeypatch.chdir(Path(__file__).parent)  # the launcher runs inside a git work tree
    client = TrackingClient(store)
    try:
        ended = run(str(plain), "report", {"label": "x"}, client=client, echo=False)
        tags = client.get_run(ended.run_id).data.tags
    finally:
        client.close()
    assert ended.status == "FINISHED"
    leaked = {k for k in tags if k.startswith(("mlflow.source.git.", "sparktrack.git."))}
    assert not leaked, {k: tags[k] for k in leaked}
    assert Tags.COMMIT not in tags
