"""The ``sparktrack`` command line, driven in-process (CliRunner) and as a real process."""

from __future__ import annotations

import json
import math
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import sparktrack
from sparktrack.cli import _doctor as doctor_module
from sparktrack.cli import app
from sparktrack.tracking import TrackingClient
from tests._processes import child_env, python, run_child

T0 = 1_700_000_000_000  # fixed run start times (ms) make "newest first" deterministic
EXPECTED_CHECKS = {
    "python",
    "java",
    "pyspark",
    "delta-spark",
    "deltalake",
    "delta-jars",
    "store",
    "h2o",
}


@dataclass(frozen=True)
class Populated:
    store: str
    runs: dict[str, str]  # run name -> run id
    experiments: dict[str, str]  # experiment name -> id


@pytest.fixture
def populated(tmp_path: Path) -> Populated:
    """Experiments churn (3 finished runs), fraud (1 running run), old (deleted, empty)."""
    store = str(tmp_path / "store")
    client = TrackingClient(store)
    churn = client.create_experiment("churn")
    fraud = client.create_experiment("fraud")
    old = client.create_experiment("old")
    client.delete_experiment(old)
    runs = {}
    for i, (lr, auc) in enumerate([(0.1, 0.80), (0.01, 0.93), (0.001, 0.88)]):
        run = client.create_run(churn, run_name=f"lr-{i}", start_time=T0 + i * 1000)
        run_id = run.info.run_id
        client.log_params(run_id, {"lr": lr, "model": "logreg"})
        client.log_metric(run_id, "auc", auc)
        client.log_metric(run_id, "loss", 1 - auc, step=1)
        client.set_tag(run_id, "team", "risk")
        client.set_terminated(run_id, end_time=T0 + i * 1000 + 2500)
        runs[f"lr-{i}"] = run_id
    gbt = client.create_run(fraud, run_name="gbt", start_time=T0 + 10_000)
    client.log_param(gbt.info.run_id, "depth", 6)
    client.log_metric(gbt.info.run_id, "f1", 0.7)
    client.log_text(gbt.info.run_id, "hello", "notes/readme.txt")
    client.log_text(gbt.info.run_id, "{}", "config.json")
    runs["gbt"] = gbt.info.run_id
    client.flush()
    client.close()
    return Populated(store, runs, {"churn": churn, "fraud": fraud, "old": old})


def invoke(store: str | None, *args: str, env: dict[str, str] | None = None) -> Result:
    prefix = ["--store", store] if store is not None else []
    return CliRunner().invoke(app, [*prefix, *args], env=env, catch_exceptions=False)


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_cli_error(result: Result, *fragments: str) -> None:
    """Exit code 1, ``error: ...`` on stderr naming each fragment, and no traceback."""
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
    assert "Traceback" not in result.output


# -- help, version, usage -------------------------------------------------------------
@pytest.mark.parametrize(
    "command",
    [
        [],
        ["experiments"],
        ["experiments", "list"],
        ["runs"],
        ["runs", "list"],
        ["runs", "search"],
        ["runs", "show"],
        ["gc"],
        ["doctor"],
        ["models"],
        ["models", "list"],
        ["models", "show"],
        ["models", "register"],
        ["models", "stage"],
        ["models", "alias"],
        ["models", "history"],
        ["models", "serve"],
        ["serve"],
    ],
    ids=lambda c: " ".join(c) or "root",
)
def test_help_for_every_command(command: list[str]) -> None:
    result = invoke(None, *command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout


def test_version() -> None:
    result = invoke(None, "--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"sparktrack {sparktrack.__version__}"


@pytest.mark.parametrize(
    ("args", "fragment", "where"),
    [
        (["runs", "list", "--max", "0"], "invalid value for '--max'", "sparktrack runs list"),
        (["runs", "nope"], "no such command 'nope'", "sparktrack runs"),
        (["gc", "--vacuum-hours", "-1"], "invalid value for '--vacuum-hours'", "sparktrack gc"),
        (["--nope", "runs", "list"], "no such option: --nope", "sparktrack"),
        (["runs", "show"], "missing argument 'RUN_ID'", "sparktrack runs show"),
    ],
)
def test_usage_errors_exit_2_in_the_error_style(
    populated: Populated, args: list[str], fragment: str, where: str
) -> None:
    """Usage errors look like every other error (``error: ...``) but exit 2, with where
    ``--help`` is; the command's own failures exit 1."""
    result = CliRunner().invoke(app, ["--store", populated.store, *args], prog_name="sparktrack")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {fragment}"), result.stderr
    assert result.stderr.splitlines()[-1] == f"Try '{where} --help' for help.", result.stderr
    assert "Usage:" not in result.output


# -- experiments --------------------------------------------------------------------
def test_experiments_list(populated: Populated) -> None:
    listed = as_json(invoke(populated.store, "experiments", "list", "--json"))
    assert [e["name"] for e in listed] == ["churn", "fraud"]
    churn = listed[0]
    assert churn["experiment_id"] == populated.experiments["churn"]
    assert churn["lifecycle_stage"] == "active"
    assert churn["creation_time"].endswith("Z")
    assert churn["artifact_location"]

    everything = as_json(invoke(populated.store, "experiments", "list", "--all", "--json"))
    stages = {e["name"]: e["lifecycle_stage"] for e in everything}
    assert stages == {"churn": "active", "fraud": "active", "old": "deleted"}

    table = invoke(populated.store, "experiments", "list")
    assert table.exit_code == 0
    header, rule, *rows = table.stdout.splitlines()
    assert header.split()[:3] == ["ID", "NAME", "STAGE"]
    assert set(rule) <= {"-", " "}
    assert [row.split()[1] for row in rows] == ["churn", "fraud"]


# -- runs list -------------------------------------------------------------------------
def test_runs_list_newest_first(populated: Populated) -> None:
    listed = as_json(invoke(populated.store, "runs", "list", "--json"))
    assert [r["run_name"] for r in listed] == ["gbt", "lr-2", "lr-1", "lr-0"]
    lr0 = listed[-1]
    assert lr0["run_id"] == populated.runs["lr-0"]
    assert lr0["status"] == "FINISHED"
    assert lr0["duration_seconds"] == pytest.approx(2.5)
    assert lr0["start_time"] == "2023-11-14T22:13:20.000Z"
    assert lr0["metrics"] == {"auc": pytest.approx(0.80), "loss": pytest.approx(0.20)}
    assert lr0["params"] == {"lr": "0.1", "model": "logreg"}
    assert lr0["tags"]["team"] == "risk"
    assert listed[0]["status"] == "RUNNING"
    assert listed[0]["end_time"] is None


def test_runs_list_experiment_and_max(populated: Populated) -> None:
    churn = as_json(invoke(populated.store, "runs", "list", "-e", "churn", "--json"))
    assert [r["run_name"] for r in churn] == ["lr-2", "lr-1", "lr-0"]
    both = as_json(
        invoke(
            populated.store, "runs", "list", "-e", "churn", "-e", "fraud", "--max", "2", "--json"
        )
    )
    assert [r["run_name"] for r in both] == ["gbt", "lr-2"]
    missing = invoke(populated.store, "runs", "list", "--experiment", "nope")
    assert_cli_error(missing, "'nope'", "does not exist")


def test_runs_list_table(populated: Populated) -> None:
    result = invoke(populated.store, "runs", "list")
    assert result.exit_code == 0, result.output
    header, _, *rows = result.stdout.splitlines()
    assert header.split() == [
        "RUN",
        "ID",
        "NAME",
        "STATUS",
        "START",
        "DURATION",
        "metrics.auc",
        "metrics.loss",
        "metrics.f1",
    ]
    lr0 = next(row for row in rows if row.startswith(populated.runs["lr-0"]))
    assert lr0.split()[1:5] == ["lr-0", "FINISHED", "2023-11-14T22:13:20Z", "2.5s"]
    assert lr0.split()[5:] == ["0.8", "0.2", "-"]


# -- runs search -----------------------------------------------------------------------
def test_runs_search_filter_and_order(populated: Populated) -> None:
    found = as_json(
        invoke(
            populated.store,
            "runs",
            "search",
            "metrics.auc > 0.85 AND params.model = 'logreg'",
            "--order-by",
            "metrics.auc DESC",
            "--json",
        )
    )
    assert [r["run_name"] for r in found] == ["lr-1", "lr-2"]
    assert found[0]["metrics"]["auc"] == pytest.approx(0.93)

    ascending = as_json(
        invoke(populated.store, "runs", "search", "", "-o", "params.lr", "-n", "2", "--json")
    )
    assert [r["run_name"] for r in ascending] == ["lr-2", "lr-1"]  # gbt has no lr: last


def test_runs_search_experiment_and_columns(populated: Populated) -> None:
    result = invoke(
        populated.store,
        "runs",
        "search",
        "attributes.status = 'FINISHED'",
        "-e",
        "churn",
        "--columns",
        "params.lr,tag.team",
        "--columns",
        "user_id",
    )
    assert result.exit_code == 0, result.output
    header, _, *rows = result.stdout.splitlines()
    assert header.split()[-3:] == ["params.lr", "tags.team", "USER_ID"]
    assert len(rows) == 3
    assert rows[0].split()[-3:-1] == ["0.001", "risk"]

    limited = as_json(
        invoke(populated.store, "runs", "search", "", "-e", "churn", "-c", "metrics.auc", "--json")
    )
    assert all(set(r["metrics"]) == {"auc"} and r["params"] == {} for r in limited)

    bad = invoke(populated.store, "runs", "search", "", "--columns", "colour")
    assert_cli_error(bad, "'colour'", "metrics.<key>")


def test_runs_search_default_columns_follow_the_query(populated: Populated) -> None:
    result = invoke(populated.store, "runs", "search", "params.lr < 0.05", "-o", "metrics.loss")
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0].split()
    assert header[6:8] == ["metrics.loss", "params.lr"]
    assert "metrics.auc" in header


def test_runs_search_bad_filter(populated: Populated) -> None:
    result = invoke(populated.store, "runs", "search", "metrics.auc >> 0.9")
    assert_cli_error(result, "'>'", "position 13", "metrics.auc >> 0.9")

    result = invoke(populated.store, "runs", "search", "metrics.auc > 0.9 AMD params.lr = '1'")
    assert_cli_error(result, "'AMD'")

    result = invoke(populated.store, "runs", "search", "", "--order-by", "metrics.auc SIDEWAYS")
    assert_cli_error(result, "SIDEWAYS")


def test_runs_search_empty_result(populated: Populated) -> None:
    result = invoke(populated.store, "runs", "search", "metrics.auc > 2")
    assert result.exit_code == 0
    assert result.stdout.strip() == "No runs matched."
    assert as_json(invoke(populated.store, "runs", "search", "metrics.auc > 2", "--json")) == []


def test_nan_metrics_print_the_same_way_in_list_search_and_show(tmp_path: Path) -> None:
    """A logged NaN or infinity is a value everywhere; a metric never logged is absent."""
    store = str(tmp_path / "store")
    client = TrackingClient(store)
    run_id = client.create_run(run_name="odd", start_time=T0).info.run_id
    client.log_metrics(run_id, {"auc": math.nan, "loss": math.inf, "gain": -math.inf})
    other = client.create_run(run_name="plain", start_time=T0 + 1000).info.run_id
    client.log_metric(other, "auc", 0.5)
    client.flush()
    client.close()
    expected = {"auc": "NaN", "gain": "-Infinity", "loss": "Infinity"}

    shown = as_json(invoke(store, "runs", "show", run_id, "--json"))
    assert shown["metrics"] == expected
    listed = as_json(invoke(store, "runs", "list", "--json"))
    assert [(r["run_name"], r["metrics"]) for r in listed] == [
        ("plain", {"auc": 0.5}),
        ("odd", expected),
    ]
    found = as_json(invoke(store, "runs", "search", "metrics.auc IS NOT NULL", "--json"))
    assert [r["metrics"] for r in found] == [{"auc": 0.5}, expected]
    limited = as_json(invoke(store, "runs", "search", "", "-c", "metrics.auc", "--json"))
    assert [r["metrics"] for r in limited] == [{"auc": 0.5}, {"auc": "NaN"}]

    # Tables print a logged NaN as `runs show` does, and "-" only for a missing metric.
    table = invoke(store, "runs", "list")
    assert table.exit_code == 0, table.output
    header, _, *rows = table.stdout.splitlines()
    assert header.split()[6:] == ["metrics.auc", "metrics.gain", "metrics.loss"]
    assert [row.split()[5:] for row in rows] == [["0.5", "-", "-"], ["nan", "-inf", "inf"]]
    text = invoke(store, "runs", "show", run_id)
    assert "auc   nan" in text.stdout


# -- runs show -------------------------------------------------------------------------
def test_runs_show_json(populated: Populated) -> None:
    run_id = populated.runs["gbt"]
    shown = as_json(invoke(populated.store, "runs", "show", run_id, "--json"))
    assert shown["info"]["run_id"] == run_id
    assert shown["info"]["experiment_name"] == "fraud"
    assert shown["info"]["status"] == "RUNNING"
    assert shown["info"]["parent_run_id"] is None
    assert shown["params"] == {"depth": "6"}
    assert shown["metrics"] == {"f1": pytest.approx(0.7)}
    assert shown["tags"] == {}
    assert shown["system_tags"]["mlflow.runName"] == "gbt"
    assert shown["artifacts"] == [
        {"path": "config.json", "is_dir": False, "file_size": 2},
        {"path": "notes", "is_dir": True, "file_size": None},
    ]


def test_runs_show_text(populated: Populated) -> None:
    result = invoke(populated.store, "runs", "show", populated.runs["lr-1"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith(f"Run {populated.runs['lr-1']}\n")
    assert "  experiment    churn (id " in text
    assert "  duration      2.5s" in text
    sections = [line for line in text.splitlines() if line and not line.startswith(" ")]
    assert sections[1:] == ["Params", "Metrics (latest)", "Tags", "System tags", "Artifacts"]
    user_tags = text.index("\nTags\n")
    system_tags = text.index("\nSystem tags\n")
    assert user_tags < text.index("  team  risk") < system_tags < text.index("  mlflow.runName")
    assert "  auc   0.93" in text


def test_runs_show_abridges_long_and_multiline_values(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    client = TrackingClient(store)
    run_id = client.create_run(run_name="long").info.run_id
    long_param = "x" * 6000
    notes = "first line of the notes\n" + "\n".join(f"line {i}" for i in range(2, 13))
    client.log_param(run_id, "query", long_param)
    client.log_param(run_id, "short", "kept")
    client.set_tag(run_id, "notes", notes)
    client.flush()
    client.close()

    text = invoke(store, "runs", "show", run_id).stdout
    assert "x" * 6000 not in text and "line 12" not in text
    assert f"  query  {'x' * 120} ... [6,000 characters; --json shows all]" in text
    assert f"  notes  first line of the notes ... [{len(notes):,} characters on 12 lines; " in text
    assert "  short  kept\n" in text
    assert max(len(line) for line in text.splitlines()) < 200
    shown = as_json(invoke(store, "runs", "show", run_id, "--json"))
    assert shown["params"]["query"] == long_param and shown["tags"]["notes"] == notes


def test_runs_show_groups_what_the_run_cost_under_spark(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    client = TrackingClient(store)
    run_id = client.create_run(run_name="costly").info.run_id
    cost = {
        "spark.jobs": 2.0,
        "spark.tasks": 14.0,
        "spark.executor_run_time_ms": 3227.0,
        "spark.shuffle_read_bytes": 2048.0,
    }
    client.log_metrics(run_id, {"auc": 0.9, **cost})
    client.flush()
    client.close()

    text = invoke(store, "runs", "show", run_id).stdout
    sections = [line for line in text.splitlines() if line and not line.startswith(" ")]
    assert sections[1:4] == ["Params", "Metrics (latest)", "Spark"]
    metrics, spark = text.split("\nSpark\n")
    assert "  auc  0.9" in metrics and "spark." not in metrics
    assert spark.index("  jobs") < spark.index("  tasks") < spark.index("  executor run time")
    assert "  executor run time  3.2s\n" in spark and "  shuffle read       2.0 KiB\n" in spark
    shown = as_json(invoke(store, "runs", "show", run_id, "--json"))
    assert shown["metrics"] == {"auc": 0.9, **cost}


def test_runs_show_unknown_run(populated: Populated) -> None:
    unknown = "0" * 32
    assert_cli_error(invoke(populated.store, "runs", "show", unknown), unknown, "does not exist")


# -- store selection -----------------------------------------------------------------
def test_missing_store_is_an_error_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    assert_cli_error(invoke(str(missing), "runs", "list"), "no sparktrack store", str(missing))
    assert not missing.exists()


def test_store_from_environment(populated: Populated) -> None:
    result = invoke(None, "runs", "list", "--json", env={"SPARKTRACK_STORE": populated.store})
    assert len(as_json(result)) == 4
    # --store wins over the environment.
    result = invoke(populated.store, "runs", "list", "--json", env={"SPARKTRACK_STORE": "/nope"})
    assert len(as_json(result)) == 4


# -- gc --------------------------------------------------------------------------------
def test_gc_compacts_every_table(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    client = TrackingClient(store)
    run_id = client.create_run(client.create_experiment("gc")).info.run_id
    client.flush()
    for step in range(10):  # one commit per call: many small files per table
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
        client.set_tag(run_id, f"t{step}", step)
        client.log_param(run_id, f"p{step}", step)
        client.flush()
    client.set_terminated(run_id)
    client.flush()
    client.close()

    report = as_json(invoke(store, "gc", "--json"))["tables"]
    for table in ("runs", "params", "metrics", "tags"):
        assert report[table]["files_before"] >= 2, (table, report[table])
        assert report[table]["files_after"] == 1, (table, report[table])
        assert report[table]["vacuumed_files"] == 0

    vacuumed = as_json(invoke(store, "gc", "--vacuum-hours", "0", "--json"))["tables"]
    assert vacuumed["metrics"]["files_before"] == 1
    assert vacuumed["metrics"]["vacuumed_files"] >= 10

    text = invoke(store, "gc")
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines()[0].split()[:3] == ["TABLE", "FILES", "BEFORE"]
    # The store still reads back after compaction and vacuum.
    shown = as_json(invoke(store, "runs", "show", run_id, "--json"))
    assert shown["metrics"] == {"loss": pytest.approx(0.1)}
    assert len(shown["params"]) == 10


def test_gc_dry_run_reports_what_gc_would_do_and_changes_nothing(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    client = TrackingClient(store)
    run_id = client.create_run(client.create_experiment("gc")).info.run_id
    for step in range(6):  # one commit per call: many small files per table
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
        client.flush()
    client.close()
    tree = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())

    planned = as_json(invoke(store, "gc", "--dry-run", "--json"))
    assert planned["dry_run"] is True
    assert planned["tables"]["metrics"]["files_before"] >= 6
    assert planned["tables"]["metrics"]["files_rewritten"] >= 6
    after = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert after == tree  # no commit, no checkpoint, no file written or deleted

    done = as_json(invoke(store, "gc", "--json"))["tables"]
    assert done["metrics"]["version"] > planned["tables"]["metrics"]["version"]
    # The files compaction replaced are what a vacuum without retention would delete.
    plan = as_json(invoke(store, "gc", "--dry-run", "--vacuum-hours", "0", "--json"))["tables"]
    vacuumed = as_json(invoke(store, "gc", "--vacuum-hours", "0", "--json"))["tables"]
    for table in ("runs", "metrics"):
        assert plan[table]["vacuumed_files"] == vacuumed[table]["vacuumed_files"], table
    assert vacuumed["metrics"]["vacuumed_files"] >= 6
    text = invoke(store, "gc", "--dry-run")
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines()[0].split()[:3] == ["TABLE", "FILES", "TO"]
    assert "nothing changed" in text.stdout


# -- doctor ----------------------------------------------------------------------------
def test_doctor_json(populated: Populated) -> None:
    result = invoke(populated.store, "doctor", "--json")
    report = json.loads(result.stdout)
    checks = {check["name"]: check for check in report["checks"]}
    assert set(checks) == EXPECTED_CHECKS
    assert all(c["status"] in {"ok", "warn", "fail", "info"} for c in checks.values())
    assert checks["store"]["status"] == "ok", checks["store"]
    assert "experiments v" in checks["store"]["message"]
    assert checks["python"]["status"] == "ok"
    assert checks["h2o"]["status"] == "info"
    failed = any(c["status"] == "fail" for c in checks.values())
    assert report["ok"] is not failed
    assert result.exit_code == (1 if failed else 0)
    assert not (Path(populated.store) / doctor_module.PROBE_NAME).exists()


def test_doctor_fails_with_exit_1(populated: Populated, monkeypatch: pytest.MonkeyPatch) -> None:
    real = doctor_module._version
    monkeypatch.setattr(
        doctor_module, "_version", lambda dist: "4.0.0" if dist == "pyspark" else real(dist)
    )
    result = invoke(populated.store, "doctor")
    assert result.exit_code == 1
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if line[:1].isalpha()}
    assert lines["pyspark"].startswith("fail")
    assert "fix: pip install" in lines["pyspark"]
    assert lines["delta-spark"].startswith("fail")
    assert lines["store"].startswith("ok")


def test_doctor_missing_store_warns_without_creating_it(tmp_path: Path) -> None:
    missing = tmp_path / "not-yet"
    report = json.loads(invoke(str(missing), "doctor", "--json").stdout)
    store = next(c for c in report["checks"] if c["name"] == "store")
    assert store["status"] == "warn"
    assert not missing.exists()


# -- a real process ---------------------------------------------------------------------
def test_real_process_json_output(populated: Populated) -> None:
    command = python("-m", "sparktrack.cli", "--store", populated.store)
    done = run_child(
        [*command, "runs", "search", "metrics.auc > 0.85", "-o", "metrics.auc", "--json"],
        env=child_env(),
        timeout=120,
    )
    found = json.loads(done.stdout)
    assert [r["run_id"] for r in found] == [populated.runs["lr-2"], populated.runs["lr-1"]]

    failed = run_child([*command, "runs", "show", "f" * 32], env=child_env(), timeout=120, expect=1)
    assert failed.stderr.startswith("error: run ")
    assert "Traceback" not in failed.stderr


@pytest.mark.slow
def test_s3_store_without_credentials_is_one_clear_error(tmp_path: Path) -> None:
    """No credentials anywhere and an instance-metadata endpoint that never answers (as
    off EC2): one StoreError line, none of the AWS SDK's WARN lines, within seconds."""
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and name != "RUST_LOG"
    }
    env.update(
        AWS_EC2_METADATA_SERVICE_ENDPOINT=f"http://127.0.0.1:{silent.getsockname()[1]}",
        HOME=str(tmp_path),  # no ~/.aws
        # The usual choice on AWS S3: the store checks conditional writes first (obstore).
        SPARKTRACK_OBJECT_STORE_COMMITS="conditional-put",
    )
    started = time.monotonic()
    try:
        done = run_child(
            python("-m", "sparktrack.cli", "--store", "s3a://bucket/x", "runs", "list"),
            env=env,
            cwd=tmp_path,
            timeout=120,
            expect=1,
        )
    finally:
        silent.close()
    elapsed = time.monotonic() - started
    assert done.stderr.startswith(
        "error: cannot open store 's3a://bucket/x': no AWS credentials were found. Set "
        "AWS_ACCESS_KEY_ID"
    ), done.stderr
    assert "WARN" not in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    assert elapsed < 30, f"took {elapsed:.1f} s"


# -- models ----------------------------------------------------------------------------
def test_models_register_stage_alias_history(populated: Populated, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    store = populated.store
    for _ in range(2):
        result = invoke(store, "models", "register", str(folder), "churn", "--tag", "team=risk")
        assert result.exit_code == 0, result.output
    assert "Registered models:/churn/2" in result.stdout
    assert invoke(store, "models", "stage", "churn", "1", "production").exit_code == 0
    promoted = invoke(store, "models", "stage", "churn", "2", "Production")
    assert promoted.stdout.splitlines() == [
        "churn version 2: now Production",
        "churn version 1: Production -> Archived",
    ]
    assert invoke(store, "models", "alias", "churn", "champion", "1").exit_code == 0

    listed = as_json(invoke(store, "models", "list", "--json"))
    assert [(m["name"], m["versions"], m["aliases"]) for m in listed] == [
        ("churn", 2, {"champion": 1})
    ]
    table = invoke(store, "models", "list").stdout
    assert "churn" in table and "champion->1" in table
    shown = as_json(invoke(store, "models", "show", "churn", "--json"))
    assert [(v["version"], v["current_stage"], v["tags"]) for v in shown["versions"]] == [
        (2, "Production", {"team": "risk"}),
        (1, "Archived", {"team": "risk"}),
    ]
    one = as_json(invoke(store, "models", "show", "churn", "--version", "@champion", "--json"))
    assert one["version"] == 1 and one["aliases"] == ["champion"]
    production = as_json(invoke(store, "models", "show", "churn", "-v", "Production", "--json"))
    assert production["version"] == 2

    history = as_json(invoke(store, "models", "history", "churn", "--json"))
    assert [(h["version"], h["kind"], h["from_value"], h["to_value"]) for h in history] == [
        (1, "registered", None, "None"),
        (2, "registered", None, "None"),
        (1, "stage", "None", "Production"),
        (1, "stage", "Production", "Archived"),
        (2, "stage", "None", "Production"),
        (1, "alias", None, "1"),
    ]
    assert all(h["user_id"] and h["timestamp"].endswith("Z") for h in history)
    text = invoke(store, "models", "history", "churn", "--version", "1").stdout
    assert "Production" in text and "alias champion" in text
    assert invoke(store, "models", "alias", "churn", "champion", "--delete").exit_code == 0
    assert_cli_error(
        invoke(store, "models", "history", "churn", "--version", "99"),
        "'churn' has no version 99",
    )
    assert as_json(invoke(store, "models", "list", "--json"))[0]["aliases"] == {}


def test_models_errors_name_the_problem(populated: Populated, tmp_path: Path) -> None:
    assert_cli_error(invoke(populated.store, "models", "show", "nope"), "'nope' does not exist")
    assert_cli_error(
        invoke(populated.store, "models", "register", str(tmp_path), "churn"), "no MLmodel file"
    )
    assert_cli_error(
        invoke(populated.store, "models", "stage", "nope", "1", "Live"), "'Live' is not a stage"
    )
    assert "No registered models" in invoke(populated.store, "models", "list").stdout
