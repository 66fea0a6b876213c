"""Delta store specifics: the table layout, heartbeats, compaction, replay, configuration."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from deltalake import DeltaTable

from sparktrack import TrackingClient
from sparktrack.config import DEFAULTS, load_settings, spark_conf_name
from sparktrack.errors import ConfigurationError
from sparktrack.store import TABLES
from sparktrack.store._tables import DeltaTables
from sparktrack.tracking import DatasetInput, RunStatus
from sparktrack.tracking._clock import event_time_us
from tests._processes import wait_for

ROOT = Path(__file__).parent.parent


def test_store_holds_one_delta_table_per_entity_with_the_documented_schema(
    store_uri: str,
) -> None:
    client = TrackingClient(store_uri)
    client.flush()
    for name, schema in TABLES.items():
        table = DeltaTable(f"{store_uri}/{name}")
        assert table.schema().to_arrow() == schema, name
        protocol = table.protocol()
        assert (protocol.min_reader_version, protocol.min_writer_version) == (1, 2)
    layout = (ROOT / "docs" / "store.md").read_text()  # the public table layout
    for name, schema in TABLES.items():
        for field in schema:
            assert f"`{field.name}`" in layout, f"docs/store.md lacks {name}.{field.name}"
    client.close()


def test_log_calls_are_batched_into_few_commits(store_uri: str) -> None:
    client = TrackingClient(store_uri)
    run_id = client.create_run().info.run_id
    before = DeltaTable(f"{store_uri}/metrics").version()
    for step in range(2000):
        client.log_metric(run_id, "m", float(step), step=step)
    client.flush()
    assert DeltaTable(f"{store_uri}/metrics").version() - before <= 2
    client.close()


def test_runs_ended_back_to_back_are_committed_in_few_rounds(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each end asks for a commit soon; a round per run would add a log entry per run to
    # every table, and delta-rs lists the whole log at each later commit.
    monkeypatch.setenv("SPARKTRACK_FLUSH_INTERVAL_SECONDS", "2")
    client = TrackingClient(store_uri)
    runs = DeltaTable(f"{store_uri}/runs")
    client.create_run()
    client.flush()
    runs.update_incremental()
    before = runs.version()
    for _ in range(20):
        run_id = client.create_run().info.run_id
        client.set_terminated(run_id, RunStatus.FINISHED)
        time.sleep(0.03)  # long enough for a round of its own, were rounds not spaced

    def all_ended() -> bool:
        runs.update_incremental()
        return runs.to_pyarrow_table(filters=[("event", "=", "end")]).num_rows == 20

    wait_for(all_ended, "the ended runs' commits", timeout=30)
    assert runs.version() - before <= 4, "one commit round per run ended"
    client.close()


@pytest.mark.usefixtures("commit_only_on_flush")
def test_compaction_keeps_a_run_tables_log_to_two_hours(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # delta-rs's commits cost more the more entries the log holds: the writer's
    # compaction drops entries past the run tables' retention (experiments keep 30 days).
    monkeypatch.setenv("SPARKTRACK_COMPACT_EVERY_COMMITS", "4")
    client = TrackingClient(store_uri)
    run_ids = []
    for _ in range(6):
        run_ids.append(
            client.create_run(experiment_id=client.create_experiment(f"e{_}")).info.run_id
        )
        client.flush()
    logs = {name: Path(store_uri, name, "_delta_log") for name in ("runs", "experiments")}
    hours_ago = time.time() - 3 * 3600
    for log in logs.values():
        for entry in log.glob("*.json"):
            os.utime(entry, (hours_ago, hours_ago))
    before = {name: sorted(log.glob("*.json")) for name, log in logs.items()}
    for run_id in run_ids[:4]:  # four more commits: the writer compacts runs
        client.log_param(run_id, "p", "v")
        client.set_terminated(run_id, RunStatus.FINISHED)
        client.flush()
    after = {name: sorted(log.glob("*.json")) for name, log in logs.items()}
    assert before["runs"][0] not in after["runs"], "old entries of the runs log were kept"
    assert set(before["experiments"]) <= set(after["experiments"])
    assert DeltaTable(f"{store_uri}/runs").version() == int(after["runs"][-1].stem)
    statuses = {client.get_run(r).info.status for r in run_ids[:4]}
    assert statuses == {RunStatus.FINISHED}
    experiments = [e.experiment_id for e in client.search_experiments()]
    assert len(client.search_runs(experiments, output_format="list")) == 6
    client.close()


@pytest.mark.usefixtures("commit_only_on_flush")
def test_reading_runs_just_logged_sees_everything_and_commits_nothing(store_uri: str) -> None:
    # What a tracking server does for each client: log to a run, then read it back.
    client = TrackingClient(store_uri)
    run_id = client.create_run(tags={"team": "ml"}).info.run_id
    other = client.create_run().info.run_id
    client.log_param(other, "p", "other")
    client.flush()
    tables = ("runs", "params", "metrics", "tags", "inputs")
    before = {name: DeltaTable(f"{store_uri}/{name}").version() for name in tables}
    client.log_params(run_id, {"lr": "0.1", "depth": "3"})
    for step in range(3):
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
    client.set_tag(run_id, "stage", "dev")
    client.delete_tag(run_id, "team")
    client.log_input(run_id, DatasetInput("train", "d1", "delta", "/data/train", "{}"), "training")
    client.rename_run(run_id, "renamed")

    run = client.get_run(run_id)
    assert (run.info.status, run.info.run_name) == (RunStatus.RUNNING, "renamed")
    assert run.data.params == {"lr": "0.1", "depth": "3"}
    assert run.data.metrics == {"loss": pytest.approx(1 / 3)}
    assert client.get_tags(run_id) == run.data.tags and "team" not in run.data.tags
    assert run.data.tags["stage"] == "dev"
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [0, 1, 2]
    assert [i.digest for i in client.get_inputs(run_id)] == ["d1"]
    assert client.get_run(other).data.params == {"p": "other"}
    after = {name: DeltaTable(f"{store_uri}/{name}").version() for name in tables}
    assert after == before, "reading a run committed nothing"

    client.flush()  # committed now: the same run, each row once
    assert client.get_run(run_id) == run
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [0, 1, 2]
    assert len(client.get_inputs(run_id)) == 1
    client.close()


@pytest.mark.usefixtures("commit_only_on_flush")
def test_a_commit_landing_right_after_a_read_of_a_run_loses_nothing_from_it(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rows queued are taken before the table is read: a commit that lands between
    # the read and the look at the queue must not leave rows in neither.
    client = TrackingClient(store_uri)
    run_id = client.create_run().info.run_id
    client.flush()
    for step in range(5):
        client.log_metric(run_id, "m", float(step), step=step)
    read = DeltaTables.read_with_landed
    landed_after_read: list[bool] = []

    def read_then_commit(self: DeltaTables, *args: Any, **kwargs: Any) -> Any:
        found = read(self, *args, **kwargs)
        if not landed_after_read:
            client.flush()  # what the writer's thread may do at this very moment
            landed_after_read.append(True)
        return found

    monkeypatch.setattr(DeltaTables, "read_with_landed", read_then_commit)
    assert [m.step for m in client.get_metric_history(run_id, "m")] == [0, 1, 2, 3, 4]
    assert landed_after_read
    client.close()


def test_a_run_without_heartbeats_is_reported_and_stored_killed(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARKTRACK_HEARTBEAT_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("SPARKTRACK_HEARTBEAT_INTERVAL_SECONDS", "0.2")
    monkeypatch.setenv("SPARKTRACK_FLUSH_INTERVAL_SECONDS", "0.2")  # beats visible soon
    client = TrackingClient(store_uri)
    alive = client.create_run(run_name="alive").info.run_id
    # A run whose driver vanished on another machine: a start event and silence.
    ghost_started = int(time.time() * 1000) - 60_000
    client.store.append(
        "runs",
        [
            {
                "run_id": "ghost0001",
                "experiment_id": "0",
                "event": "start",
                "status": "RUNNING",
                "run_name": "ghost",
                "start_time": ghost_started,
                "artifact_uri": "x",
                "event_time": event_time_us() - 60_000_000,
            }
        ],
    )
    # Wait until the live run has been alive longer than the timeout: only its
    # heartbeats can keep it RUNNING now.
    started = client.get_run(alive).info.start_time
    wait_for(lambda: _last_beat(client, alive) - started >= 1500, "heartbeats 1.5 s after start")
    ghost = client.get_run("ghost0001")
    assert ghost.info.status == "KILLED"
    assert ghost.info.end_time == ghost_started
    assert client.get_run(alive).info.status == "RUNNING"  # its heartbeats kept it alive
    client.flush()
    events = DeltaTable(f"{store_uri}/runs").to_pandas()
    stored = events[(events["run_id"] == "ghost0001") & (events["event"] == "end")]
    assert list(stored["status"]) == ["KILLED"]  # the verdict is stored, once
    client.search_runs(None)
    client.flush()
    events = DeltaTable(f"{store_uri}/runs").to_pandas()
    assert ((events["run_id"] == "ghost0001") & (events["event"] == "end")).sum() == 1
    client.close()


def test_a_client_that_records_no_verdicts_reports_a_dead_run_killed_and_stores_nothing(
    store_uri: str,
) -> None:
    writer = TrackingClient(store_uri)
    an_hour_ago = int(time.time() * 1000) - 3_600_000
    writer.store.append(
        "runs",
        [
            {
                "run_id": "ghost0002",
                "experiment_id": "0",
                "event": "start",
                "status": "RUNNING",
                "run_name": "ghost",
                "start_time": an_hour_ago,
                "artifact_uri": "x",
                "event_time": an_hour_ago * 1000,
            }
        ],
    )
    writer.close()
    version = DeltaTable(f"{store_uri}/runs").version()
    reader = TrackingClient(store_uri, record_verdicts=False)
    assert reader.get_run("ghost0002").info.status == "KILLED"
    assert reader.get_run("ghost0002").info.end_time == an_hour_ago
    found = reader.search_runs(None, "attributes.run_name = 'ghost'")
    assert list(found["status"]) == ["KILLED"]
    reader.flush()
    reader.close()
    assert DeltaTable(f"{store_uri}/runs").version() == version  # nothing stored
    events = DeltaTable(f"{store_uri}/runs").to_pandas()
    assert list(events[events["run_id"] == "ghost0002"]["event"]) == ["start"]
    # A client that records verdicts stores the same one.
    recorder = TrackingClient(store_uri)
    assert recorder.get_run("ghost0002").info.status == "KILLED"
    recorder.close()
    events = DeltaTable(f"{store_uri}/runs").to_pandas()
    assert sorted(events[events["run_id"] == "ghost0002"]["status"]) == ["KILLED", "RUNNING"]


def _last_beat(client: TrackingClient, run_id: str) -> int:
    client.flush()
    beats = client.store.scan("heartbeats", run_ids=[run_id])["time"].to_pylist()
    return max(beats, default=0)


def test_search_judges_each_run_by_its_own_heartbeats(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARKTRACK_HEARTBEAT_TIMEOUT_SECONDS", "30")
    monkeypatch.setenv("SPARKTRACK_HEARTBEAT_INTERVAL_SECONDS", "5")
    client = TrackingClient(store_uri)
    long_ago = int(time.time() * 1000) - 600_000
    runs = [f"run{i:04d}" for i in range(400)]
    # Several commits, so the tables have several files, as in real stores.
    for first in range(0, len(runs), 100):
        client.store.append(
            "runs",
            [
                {
                    "run_id": run_id,
                    "experiment_id": "0",
                    "event": "start",
                    "status": "RUNNING",
                    "run_name": run_id,
                    "start_time": long_ago + i,
                    "artifact_uri": "x",
                    "event_time": event_time_us() - 600_000_000 + i,
                }
                for i, run_id in enumerate(runs[first : first + 100], start=first)
            ],
        )
        client.flush()
    beating = runs[::3]
    now = int(time.time() * 1000)
    for half in (beating[::2], beating[1::2]):
        client.store.append("heartbeats", [{"run_id": r, "time": now} for r in half])
        client.flush()
    frame = client.search_runs(None)
    status = dict(zip(frame["run_id"], frame["status"], strict=True))
    assert status == {r: "RUNNING" if r in beating else "KILLED" for r in runs}
    client.close()


def test_dictionary_scans_hold_the_same_rows(store_uri: str) -> None:
    client = TrackingClient(store_uri)
    run_id = client.create_run(tags={"team": "a"}).info.run_id
    client.log_batch(run_id, params={"lr": "0.1"})
    client.log_metric(run_id, "m", 1.0)
    client.set_terminated(run_id)
    client.flush()
    for table, schema in TABLES.items():
        encoded = client.store.scan(table, dictionary=True)
        assert encoded.cast(schema).equals(client.store.scan(table)), table
    client.close()


def test_gc_compacts_many_small_commits(store_uri: str) -> None:
    client = TrackingClient(store_uri)
    run_id = client.create_run().info.run_id
    for step in range(12):
        client.log_metric(run_id, "m", float(step), step=step)
        client.flush()
    assert len(DeltaTable(f"{store_uri}/metrics").file_uris()) >= 12
    report = client.store.maintain(vacuum_retention_hours=0)
    assert report["metrics"]["files_before"] >= 12
    assert report["metrics"]["files_after"] == 1
    assert report["metrics"]["vacuumed_files"] >= 12
    assert len(client.get_metric_history(run_id, "m")) == 12
    client.close()


def test_gc_writes_compressed_files(store_uri: str) -> None:
    # Spark and delta-rs's appends compress; files gc rewrote once took half again the space.
    client = TrackingClient(store_uri)
    for _ in range(3):
        run_id = client.create_run(tags={"team": "ml"}).info.run_id
        client.log_batch(run_id, params={"lr": "0.1"})
        client.log_metric(run_id, "m", 1.0)
        client.set_terminated(run_id)
        client.flush()
    client.store.maintain(vacuum_retention_hours=0)
    for table in ("runs", "params", "metrics", "tags"):
        for uri in DeltaTable(f"{store_uri}/{table}").file_uris():
            metadata = pq.ParquetFile(uri).metadata
            codecs = {
                metadata.row_group(g).column(c).compression
                for g in range(metadata.num_row_groups)
                for c in range(metadata.num_columns)
            }
            assert "UNCOMPRESSED" not in codecs, (table, uri, codecs)
    client.close()


def test_defaults_match_the_documented_config_file() -> None:
    documented = yaml.safe_load((ROOT / "conf" / "sparktrack.yaml").read_text())
    assert documented == DEFAULTS


def test_settings_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "my.yaml"
    config.write_text("store: /from/file\nflush_interval_seconds: 7\n")
    monkeypatch.setenv("SPARKTRACK_CONFIG", str(config))
    assert load_settings().store == "/from/file"
    assert load_settings().flush_interval_seconds == 7.0
    monkeypatch.setenv("SPARKTRACK_STORE", "/from/env")
    assert load_settings().store == "/from/env"
    assert load_settings(store="/explicit").store == "/explicit"
    expected = "spark.sparktrack.heartbeatTimeoutSeconds"
    assert spark_conf_name("heartbeat_timeout_seconds") == expected


def test_bad_configuration_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("stroe: /typo\n")
    monkeypatch.setenv("SPARKTRACK_CONFIG", str(config))
    with pytest.raises(ConfigurationError, match="'stroe'"):
        load_settings()
    monkeypatch.setenv("SPARKTRACK_CONFIG", str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigurationError, match=r"missing\.yaml"):
        load_settings()
    monkeypatch.delenv("SPARKTRACK_CONFIG")
    monkeypatch.setenv("SPARKTRACK_FLUSH_MAX_RECORDS", "many")
    with pytest.raises(ConfigurationError, match="'many'"):
        load_settings()


def test_unsupported_store_scheme_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="ftp"):
        TrackingClient("ftp://host/store")


def test_reads_of_a_local_store_never_call_back_into_python_from_arrow_threads(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # delta-rs's default file system for Arrow is written in Python: Arrow's I/O threads
    # call into it, and one still reading ahead when the interpreter exits aborts the
    # process after its work is done. A local store's reads must not go through it.
    import deltalake.fs

    calls: list[str] = []
    for method in ("open_input_file", "open_input_stream", "get_file_info"):
        original = getattr(deltalake.fs.DeltaStorageHandler, method)

        def record(self: object, *args: object, _name: str = method, _f=original) -> object:
            calls.append(_name)
            return _f(self, *args)

        monkeypatch.setattr(deltalake.fs.DeltaStorageHandler, method, record)
    client = TrackingClient(store_uri)
    run_id = client.create_run(run_name="read back").info.run_id
    client.log_params(run_id, {"alpha": "0.5"})
    client.log_metric(run_id, "loss", 0.25, step=1)
    client.set_tag(run_id, "team", "ml")
    client.flush()
    run = client.get_run(run_id)
    assert (run.data.params, run.data.metrics, run.data.tags["team"]) == (
        {"alpha": "0.5"},
        {"loss": 0.25},
        "ml",
    )
    found = client.search_runs(filter_string="params.alpha = '0.5'", output_format="list")
    assert [r.info.run_id for r in found] == [run_id]
    client.close()
    assert calls == []
