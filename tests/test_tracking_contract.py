"""The tracking contract, run against every store back-end (in-memory and Delta)."""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sparktrack import (
    InvalidInputError,
    NotFoundError,
    ParamConflictError,
    SearchSyntaxError,
    TrackingClient,
)
from sparktrack.tracking import DatasetInput, Metric


def test_default_experiment_and_named_experiments(client: TrackingClient) -> None:
    run = client.create_run()
    assert run.info.experiment_id == "0"
    assert client.get_experiment("0").name == "Default"
    experiment_id = client.create_experiment("churn")
    assert client.get_experiment_by_name("churn").experiment_id == experiment_id
    names = [e.name for e in client.search_experiments()]
    assert names == ["Default", "churn"]
    with pytest.raises(InvalidInputError, match="'churn' already exists"):
        client.create_experiment("churn")


def test_deleted_experiment_is_hidden_and_cannot_take_runs(client: TrackingClient) -> None:
    experiment_id = client.create_experiment("old")
    client.delete_experiment(experiment_id)
    assert [e.name for e in client.search_experiments()] == []
    assert [e.name for e in client.search_experiments("DELETED_ONLY")] == ["old"]
    with pytest.raises(InvalidInputError, match="deleted"):
        client.create_run(experiment_id)
    client.restore_experiment(experiment_id)
    assert client.create_run(experiment_id).info.experiment_id == experiment_id


def test_unknown_experiment_id_is_not_found(client: TrackingClient) -> None:
    with pytest.raises(NotFoundError, match="'12345'"):
        client.create_run("12345")


def test_run_lifecycle_and_context_tags(client: TrackingClient) -> None:
    run = client.create_run(run_name="first", tags={"team": "ml"})
    fetched = client.get_run(run.info.run_id)
    assert fetched.info.status == "RUNNING"
    assert fetched.info.run_name == "first"
    assert fetched.info.end_time is None
    assert fetched.data.tags["team"] == "ml"
    assert fetched.data.tags["mlflow.runName"] == "first"
    assert fetched.data.tags["mlflow.user"]
    assert fetched.data.tags["mlflow.source.name"]
    assert "sparktrack.python.version" in fetched.data.tags
    client.set_terminated(run.info.run_id, "FAILED")
    ended = client.get_run(run.info.run_id)
    assert ended.info.status == "FAILED"
    assert ended.info.end_time is not None and ended.info.end_time >= ended.info.start_time


def test_resume_rename_delete_restore(client: TrackingClient) -> None:
    run_id = client.create_run().info.run_id
    client.set_terminated(run_id)
    assert client.resume_run(run_id).info.status == "RUNNING"
    assert client.get_run(run_id).info.end_time is None
    client.rename_run(run_id, "renamed")
    assert client.get_run(run_id).info.run_name == "renamed"
    assert client.get_run(run_id).data.tags["mlflow.runName"] == "renamed"
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    assert client.search_runs(None).empty
    assert len(client.search_runs(None, run_view_type="DELETED_ONLY")) == 1
    client.restore_run(run_id)
    assert len(client.search_runs(None)) == 1


def test_nested_run_records_parent(client: TrackingClient) -> None:
    parent = client.create_run().info.run_id
    child = client.create_run(parent_run_id=parent)
    assert child.info.parent_run_id == parent
    assert client.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == parent
    with pytest.raises(NotFoundError):
        client.create_run(parent_run_id="feedbeef" * 4)


def test_params_are_immutable(client: TrackingClient) -> None:
    run_id = client.create_run().info.run_id
    client.log_params(run_id, {"lr": 0.1, "depth": 5})
    client.log_param(run_id, "lr", 0.1)  # same value again: a no-op
    with pytest.raises(ParamConflictError) as raised:
        client.log_param(run_id, "lr", 0.2)
    message = str(raised.value)
    assert "'lr'" in message and "'0.1'" in message and "'0.2'" in message and run_id in message
    assert client.get_run(run_id).data.params == {"lr": "0.1", "depth": "5"}


def test_a_rejected_batch_logs_nothing(client: TrackingClient) -> None:
    run_id = client.create_run().info.run_id
    with pytest.raises(InvalidInputError, match="bad key!"):
        client.log_batch(
            run_id,
            metrics=[Metric("ok", 1.0, 0, 0)],
            params={"fine": 1, "bad key!": 2},
        )
    run = client.get_run(run_id)
    assert run.data.params == {} and run.data.metrics == {}


def test_metric_history_steps_and_latest_value(client: TrackingClient) -> None:
    run_id = client.create_run().info.run_id
    for step, loss in enumerate([0.9, 0.5, 0.3]):
        client.log_metric(run_id, "loss", loss, timestamp=1000 + step, step=step)
    client.log_metric(run_id, "loss", 0.7, timestamp=900, step=1)  # late write of an old step
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.9), (1, 0.7), (1, 0.5), (2, 0.3)]
    assert client.get_run(run_id).data.metrics["loss"] == 0.3


def test_nan_and_infinity_are_stored_as_ieee_values(client: TrackingClient) -> None:
    run_id = client.create_run().info.run_id
    client.log_metrics(run_id, {"nan": float("nan"), "pinf": math.inf, "ninf": -math.inf})
    metrics = client.get_run(run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["pinf"] == math.inf and metrics["ninf"] == -math.inf


@pytest.mark.parametrize(
    ("value", "step", "timestamp", "fragment"),
    [
        (True, 0, None, "bool is rejected"),
        ("0.5", 0, None, "type str"),
        (1.0, 1.5, None, "step 1.5"),
        (1.0, 2**63, None, "within int64"),
        (1.0, 0, -1, "timestamp -1"),
    ],
)
def test_bad_metrics_name_key_value_and_run(
    client: TrackingClient, value: object, step: object, timestamp: object, fragment: str
) -> None:
    run_id = client.create_run().info.run_id
    with pytest.raises(InvalidInputError) as raised:
        client.log_metric(run_id, "acc", value, timestamp=timestamp, step=step)  # type: ignore[arg-type]
    assert fragment in str(raised.value)
    assert "'acc'" in str(raised.value) and run_id in str(raised.value)


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("", "non-empty"),
        ("a" * 251, "limit is 250"),
        ("semi;colon", "characters other than"),
        ("../up", "normalised relative path"),
        ("/abs", "normalised relative path"),
    ],
)
def test_bad_keys_are_rejected(client: TrackingClient, key: str, fragment: str) -> None:
    run_id = client.create_run().info.run_id
    with pytest.raises(InvalidInputError, match=fragment):
        client.log_param(run_id, key, 1)


def test_value_limits(client: TrackingClient) -> None:
    run_id = client.create_run().info.run_id
    client.log_param(run_id, "ok", "x" * 6000)
    with pytest.raises(InvalidInputError, match="limit is 6000"):
        client.log_param(run_id, "long", "x" * 6001)
    client.set_tag(run_id, "ok", "x" * 8000)
    with pytest.raises(InvalidInputError, match="limit is 8000"):
        client.set_tag(run_id, "long", "x" * 8001)
    with pytest.raises(InvalidInputError, match="limit is 500"):
        client.create_experiment("e" * 501)


def test_unknown_run_is_not_found(client: TrackingClient) -> None:
    with pytest.raises(NotFoundError, match="abc123"):
        client.log_metric("abc123", "m", 1.0)
    with pytest.raises(NotFoundError, match="abc123"):
        client.get_run("abc123")
    with pytest.raises(InvalidInputError, match="not a valid run id"):
        client.get_run("no/slashes")


def test_tags_can_change_and_be_deleted(client: TrackingClient) -> None:
    run_id = client.create_run().info.run_id
    client.set_tag(run_id, "stage", "dev")
    client.set_tag(run_id, "stage", "prod")
    assert client.get_run(run_id).data.tags["stage"] == "prod"
    assert client.get_tags(run_id) == client.get_run(run_id).data.tags
    client.delete_tag(run_id, "stage")
    assert "stage" not in client.get_run(run_id).data.tags
    assert client.get_tags(run_id) == client.get_run(run_id).data.tags
    with pytest.raises(NotFoundError, match="'stage'"):
        client.delete_tag(run_id, "stage")
    with pytest.raises(NotFoundError):
        client.get_tags("0" * 32)


def test_artifacts_round_trip(client: TrackingClient, tmp_path: Path) -> None:
    run_id = client.create_run().info.run_id
    source = tmp_path / "report.txt"
    source.write_text("hello")
    folder = tmp_path / "plots"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.csv").write_text("x,y\n1,2\n")
    client.log_artifact(run_id, source)
    client.log_artifacts(run_id, folder, "plots")
    client.log_dict(run_id, {"a": 1}, "config/params.json")
    client.log_dict(run_id, {"a": 1}, "config/params.yaml")
    client.log_text(run_id, "notes", "notes.md")
    listed = [info.path for info in client.list_artifacts(run_id)]
    assert listed == ["config", "notes.md", "plots", "report.txt"]
    assert [i.path for i in client.list_artifacts(run_id, "plots/sub")] == ["plots/sub/a.csv"]
    assert client.read_artifact(run_id, "config/params.json").decode().strip().startswith("{")
    assert client.read_artifact(run_id, "config/params.yaml") == b"a: 1\n"
    downloaded = client.download_artifacts(run_id, "plots", tmp_path / "out")
    assert downloaded == tmp_path / "out" / "plots"
    assert (downloaded / "sub" / "a.csv").read_text() == "x,y\n1,2\n"
    with pytest.raises(InvalidInputError, match="stay inside"):
        client.log_text(run_id, "x", "../escape.txt")
    with pytest.raises(NotFoundError, match=r"missing\.txt"):
        client.log_artifact(run_id, tmp_path / "missing.txt")


def test_rejected_endings_and_renames_change_nothing(client: TrackingClient) -> None:
    run_id = client.create_run(run_name="before").info.run_id
    with pytest.raises(InvalidInputError, match="'BOGUS'"):
        client.set_terminated(run_id, "BOGUS")
    with pytest.raises(InvalidInputError, match="end_time 'soon'"):
        client.set_terminated(run_id, end_time="soon")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="8000"):
        client.rename_run(run_id, "x" * 9000)
    run = client.get_run(run_id)
    assert (run.info.status, run.info.run_name) == ("RUNNING", "before")
    assert run.data.tags["mlflow.runName"] == "before"
    client.set_terminated(run_id, "FAILED", end_time=123)
    assert (client.get_run(run_id).info.status, client.get_run(run_id).info.end_time) == (
        "FAILED",
        123,
    )


def _files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_download_artifacts_lays_files_out_as_mlflow_does(
    client: TrackingClient, tmp_path: Path
) -> None:
    run_id = client.create_run().info.run_id
    client.log_text(run_id, "top", "top.txt")
    client.log_text(run_id, "deep", "a/b/c.txt")
    client.log_text(run_id, "side", "a/side.txt")
    whole, folder, one = tmp_path / "whole", tmp_path / "folder", tmp_path / "one"
    for destination in (whole, folder, one):
        destination.mkdir()
    # The whole run: its tree directly under the destination (no run id folder).
    assert client.download_artifacts(run_id, "", whole) == whole
    assert _files_under(whole) == ["a/b/c.txt", "a/side.txt", "top.txt"]
    # A folder keeps its path: dst/a/...
    assert client.download_artifacts(run_id, "a", folder) == folder / "a"
    assert _files_under(folder) == ["a/b/c.txt", "a/side.txt"]
    # A file in a folder keeps its folders too: dst/a/b/c.txt.
    local = client.download_artifacts(run_id, "a/b/c.txt", one)
    assert local == one / "a" / "b" / "c.txt" and local.read_text() == "deep"
    assert _files_under(one) == ["a/b/c.txt"]
    # No destination: a new temporary folder, laid out the same way.
    fresh = client.download_artifacts(run_id, "a/side.txt")
    assert fresh.read_text() == "side" and fresh.parent.name == "a"
    assert fresh.parent.parent != tmp_path
    everything = client.download_artifacts(run_id)
    assert _files_under(everything) == ["a/b/c.txt", "a/side.txt", "top.txt"]
    shutil.rmtree(fresh.parent.parent)
    shutil.rmtree(everything)
    with pytest.raises(NotFoundError, match=r"'nope\.txt'"):
        client.download_artifacts(run_id, "nope.txt", tmp_path / "x")
    with pytest.raises(InvalidInputError, match="is a file"):
        client.download_artifacts(run_id, "top.txt", one / "a" / "b" / "c.txt")


def test_list_artifacts_of_a_file_or_missing_path_is_empty(client: TrackingClient) -> None:
    run_id = client.create_run().info.run_id
    client.log_text(run_id, "x", "folder/file.txt")
    assert client.list_artifacts(run_id, "folder/file.txt") == []
    assert client.list_artifacts(run_id, "missing") == []
    assert [f.path for f in client.list_artifacts(run_id, "folder")] == ["folder/file.txt"]


def test_log_figure_writes_a_png(client: TrackingClient) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots()
    axes.plot([1, 2, 3])
    run_id = client.create_run().info.run_id
    client.log_figure(run_id, figure, "curve.png")
    assert client.read_artifact(run_id, "curve.png").startswith(b"\x89PNG")
    with pytest.raises(InvalidInputError, match="matplotlib or plotly"):
        client.log_figure(run_id, object(), "x.png")


def _populate(client: TrackingClient) -> dict[str, str]:
    ids = {}
    for i, (lr, acc) in enumerate([(0.1, 0.8), (0.01, 0.9), (0.001, 0.85)]):
        run_id = client.create_run(run_name=f"r{i}").info.run_id
        client.log_params(run_id, {"lr": lr, "solver": "adam" if i else "sgd"})
        client.log_metric(run_id, "acc", acc)
        client.set_tag(run_id, "team", "a" if i < 2 else "b")
        client.set_terminated(run_id)
        ids[f"r{i}"] = run_id
    return ids


def test_search_runs_filters_orders_and_widens(client: TrackingClient) -> None:
    ids = _populate(client)
    frame = client.search_runs(None, "metrics.acc > 0.82", order_by=["metrics.acc DESC"])
    assert list(frame["run_id"]) == [ids["r1"], ids["r2"]]
    assert {"params.lr", "params.solver", "metrics.acc", "tags.team"} <= set(frame.columns)
    assert list(frame["metrics.acc"]) == [0.9, 0.85]
    assert str(frame["start_time"].dtype).startswith("datetime64")
    either = client.search_runs(None, "params.solver = 'sgd' OR tags.team = 'b'")
    assert set(either["run_id"]) == {ids["r0"], ids["r2"]}
    numeric = client.search_runs(None, "params.lr < 0.05", order_by=["params.lr"])
    assert list(numeric["run_id"]) == [ids["r2"], ids["r1"]]
    assert len(client.search_runs(None, max_results=2)) == 2
    by_name = client.search_runs(None, "attributes.run_name = 'r0'")
    assert list(by_name["run_id"]) == [ids["r0"]]


def test_search_runs_keeps_a_logged_nan_apart_from_a_missing_metric(
    client: TrackingClient,
) -> None:
    runs = {}
    for name, auc in [("nan", math.nan), ("never", None), ("low", 0.1), ("high", 0.9)]:
        run_id = client.create_run(run_name=name).info.run_id
        if auc is not None:
            client.log_metric(run_id, "auc", auc)
        runs[run_id] = name

    def names(filter_string: str, order_by: list[str] | None = None) -> list[str]:
        return [runs[r] for r in client.search_runs(None, filter_string, order_by=order_by).run_id]

    assert sorted(names("metrics.auc IS NOT NULL")) == ["high", "low", "nan"]
    assert names("metrics.auc IS NULL") == ["never"]
    assert names("", ["metrics.auc"]) == ["low", "high", "nan", "never"]
    assert names("", ["metrics.auc DESC"]) == ["high", "low", "nan", "never"]
    listed = client.search_runs(None, "metrics.auc IS NOT NULL", output_format="list")
    by_name = {run.info.run_name: run.data.metrics for run in listed}
    assert math.isnan(by_name["nan"]["auc"]) and by_name["low"] == {"auc": 0.1}


def test_search_runs_as_a_list_gives_what_get_run_gives(client: TrackingClient) -> None:
    parent = client.create_run(run_name="parent").info.run_id
    child = client.create_run(run_name="child", parent_run_id=parent).info.run_id
    client.log_params(child, {"lr": "0.1", "depth": "3"})
    client.log_metric(child, "loss", 0.5, step=0)
    client.log_metric(child, "loss", 0.25, step=1)
    client.log_metric(child, "nan", math.nan)
    client.set_tags(child, {"team": "a", "gone": "x"})
    client.delete_tag(child, "gone")
    client.rename_run(child, "renamed")
    client.set_terminated(child, "FAILED", end_time=123)
    listed = client.search_runs(None, order_by=["attributes.run_name"], output_format="list")
    assert [run.info.run_id for run in listed] == [parent, child]
    for run in listed:
        expected = client.get_run(run.info.run_id)
        assert run.info == expected.info
        assert run.data.params == expected.data.params
        assert run.data.tags == expected.data.tags
        assert run.data.metrics.keys() == expected.data.metrics.keys()
        for key, value in run.data.metrics.items():
            assert value == expected.data.metrics[key] or math.isnan(value)
    assert client.search_runs(None, "metrics.x > 1", output_format="list") == []
    with pytest.raises(InvalidInputError, match="output_format 'spark'"):
        client.search_runs(None, output_format="spark")  # type: ignore[call-overload]


def test_search_runs_returns_only_the_columns_named(client: TrackingClient) -> None:
    ids = _populate(client)
    full = client.search_runs(None, "metrics.acc > 0.82", order_by=["metrics.acc DESC"])
    named = client.search_runs(
        None,
        "metrics.acc > 0.82",
        order_by=["metrics.acc DESC"],
        columns=["metrics.acc", "tags.team", "params.absent"],
    )
    run_columns = [c for c in full.columns if "." not in c]
    assert list(named.columns) == [*run_columns, "metrics.acc", "tags.team"]
    pd.testing.assert_frame_equal(named, full[list(named.columns)])
    assert list(named["run_id"]) == [ids["r1"], ids["r2"]]
    bare = client.search_runs(None, columns=[])
    assert [c for c in bare.columns if "." in c] == []
    listed = client.search_runs(None, columns=["params.lr"], output_format="list")
    assert {run.info.run_name: run.data.params for run in listed} == {
        "r0": {"lr": "0.1"},
        "r1": {"lr": "0.01"},
        "r2": {"lr": "0.001"},
    }
    assert all(run.data.metrics == {} and run.data.tags == {} for run in listed)
    for bad in (["acc"], ["metrics."], ["runs.x"], [3]):
        with pytest.raises(InvalidInputError, match="columns entry"):
            client.search_runs(None, columns=bad)  # type: ignore[arg-type]


def test_search_runs_decides_numeric_param_order_over_the_searched_experiments(
    client: TrackingClient,
) -> None:
    experiment_id = client.create_experiment("params")
    runs = {}
    for depth in ["10", "9", "deep"]:
        runs[client.create_run(experiment_id, run_name=depth).info.run_id] = depth
        client.log_param(next(reversed(runs)), "depth", depth)
    client.delete_run(next(reversed(runs)))  # a deleted run's value still counts

    def order(filter_string: str) -> list[str]:
        frame = client.search_runs([experiment_id], filter_string, order_by=["params.depth"])
        return [runs[r] for r in frame.run_id]

    # "deep" makes depth text, whether or not the filter or the view keeps that run.
    assert order("") == ["10", "9"]
    assert order("params.depth != 'deep'") == ["10", "9"]


def test_search_runs_filters_on_dataset_inputs(client: TrackingClient) -> None:
    runs = {}
    for name, inputs in [
        ("both", [("train", "d1", "training"), ("holdout", "d2", "validation")]),
        ("train", [("train", "d1", "training")]),
        ("none", []),
    ]:
        run_id = client.create_run(run_name=name).info.run_id
        for dataset, digest, context in inputs:
            client.log_input(run_id, DatasetInput(dataset, digest, "memory", "{}", "{}"), context)
        runs[run_id] = name

    def names(filter_string: str) -> set[str]:
        return {runs[r] for r in client.search_runs(None, filter_string).run_id}

    assert names("datasets.name = 'train'") == {"both", "train"}
    assert names("datasets.digest = 'd2'") == {"both"}
    assert names("dataset.context = 'validation' AND datasets.name = 'train'") == {"both"}
    assert names("datasets.name != 'train'") == {"both"}
    assert names("datasets.name IS NULL") == {"none"}
    assert names("`datasets`.name ILIKE 'HOLD%'") == {"both"}


def test_inputs_of_several_runs_read_together(client: TrackingClient) -> None:
    both, one, none = (client.create_run().info.run_id for _ in range(3))
    train = DatasetInput("train", "d1", "memory", "{}", "{}", num_rows=5)
    for run_id in (both, one):
        client.log_input(run_id, train, "training")
        client.log_input(run_id, train, "training")  # again: still one input
    client.log_input(both, DatasetInput("holdout", "d2", "memory", "{}", "{}"), "validation")
    found = client.get_inputs_of([both, one, none, one])
    assert found == {run_id: client.get_inputs(run_id) for run_id in (both, one, none)}
    assert sorted(i.name for i in found[both]) == ["holdout", "train"]
    assert found[one] == [dataclasses.replace(train, context="training")] and found[none] == []
    with pytest.raises(NotFoundError):
        client.get_inputs_of([one, "f" * 32])


def test_search_runs_rejects_bad_input(client: TrackingClient) -> None:
    _populate(client)
    with pytest.raises(SearchSyntaxError, match=r"metrics\.acc >> 1"):
        client.search_runs(None, "metrics.acc >> 1")
    with pytest.raises(InvalidInputError, match="max_results"):
        client.search_runs(None, max_results=0)
    with pytest.raises(InvalidInputError, match="run_view_type"):
        client.search_runs(None, run_view_type="SOME")


def test_search_in_an_empty_store(client: TrackingClient) -> None:
    assert client.search_runs(None).empty
    assert client.search_runs(None, "datasets.name = 'x'", output_format="list") == []


def test_a_fresh_client_finds_artifacts_of_ended_runs(tmp_path: Path) -> None:
    """Lookups by run id must use the start event, whatever order the events come back in."""
    writer = TrackingClient(str(tmp_path / "store"))
    experiment_id = writer.create_experiment("artifacts")
    run_id = writer.create_run(experiment_id).info.run_id
    writer.set_terminated(run_id)
    writer.flush()
    writer.store.maintain()  # compaction may put the end event before the start event
    writer.log_text(run_id, "hello", "note.txt")
    writer.close()
    reader = TrackingClient(str(tmp_path / "store"))
    assert [a.path for a in reader.list_artifacts(run_id)] == ["note.txt"]
    assert reader.read_artifact(run_id, "note.txt") == b"hello"
    reader.close()
