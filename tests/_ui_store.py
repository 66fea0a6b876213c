"""The small store the UI's tests look at, built with the tracking API only (no JVM).

Three experiments: "churn" with five top-level runs (one with a 5,000-step curve, one
of every artifact kind and a dataset input), a parent with three nested runs, and a
sweep written the way ``sparktrack.sweeps`` tags its runs (eight trials: complete,
pruned and failed); "empty"; and "wide", one run with 2,500 params. The registry has
"churn-model" with two versions, the first in Staging.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field

import optuna
import pytest

from sparktrack.registry import RegistryClient
from sparktrack.sweeps import SweepTags
from sparktrack.tracking import DatasetInput, Metric, TrackingClient

T0 = 1_700_000_000_000  # every time in the store is fixed: the tests compare them
GIT_COMMIT, GIT_REPO = "mlflow.source.git.commit", "mlflow.source.git.repoURL"
WIDE_KEYS = 2_500  # params of the one run of experiment "wide": the column chooser's case

MLMODEL = """\
artifact_path: model
flavors:
  spark:
    pyspark_version: 3.5.7
  python_function:
    loader_module: sparktrack.models
run_id: {run_id}
signature:
  inputs: '[{{"name": "age", "type": "double"}}, {{"name": "plan", "type": "string"}}]'
  outputs: '[{{"name": "prediction", "type": "double"}}]'
utc_time_created: '2023-11-14 22:13:20.000000'
"""


def tiny_png() -> bytes:
    """A 2x2 red PNG, written by hand so the store needs no imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    pixels = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )


@dataclass
class UiStore:
    uri: str
    experiment_id: str = ""
    empty_experiment_id: str = ""
    wide_experiment_id: str = ""
    runs: dict[str, str] = field(default_factory=dict)  # name -> run id
    parent_id: str = ""
    child_ids: list[str] = field(default_factory=list)
    sweep_id: str = ""
    trial_ids: list[str] = field(default_factory=list)
    long_steps: int = 5_000


def _run(client: TrackingClient, experiment_id: str, name: str, start: int, **kw: object) -> str:
    run = client.create_run(experiment_id, run_name=name, start_time=start, **kw)  # type: ignore[arg-type]
    return run.info.run_id


def build_ui_store(uri: str) -> UiStore:
    """Build the store at ``uri`` and say what is in it."""
    built = UiStore(uri)
    client = TrackingClient(uri)
    try:
        eid = client.create_experiment("churn")
        built.experiment_id = eid
        built.empty_experiment_id = client.create_experiment("empty")
        built.wide_experiment_id = wide = client.create_experiment("wide")
        many = _run(client, wide, "many-params", T0)
        keys = {f"p{index:04d}": index for index in range(WIDE_KEYS)}
        client.log_params(many, keys)
        client.set_terminated(many, "FINISHED", T0 + 1_000)
        for index, (lr, depth) in enumerate([(0.1, 3), (0.01, 5), (0.1, 7), (0.3, 5), (0.05, 3)]):
            name = f"lr-{index}"
            start = T0 + index * 60_000
            team = "growth" if index % 2 else "core"
            run_id = _run(client, eid, name, start, tags={"team": team})
            built.runs[name] = run_id
            client.log_params(run_id, {"lr": lr, "depth": depth, "optimizer": "adam"})
            steps = built.long_steps if index == 0 else 20
            batch = []
            for step in range(steps):
                at = start + step * 100
                batch.append(Metric("loss", 1.0 / (step + 1) + lr, at, step))
                batch.append(Metric("acc", 0.5 + index * 0.05 + step / (steps * 10), at, step))
            for offset in range(0, len(batch), 2_000):
                client.log_batch(run_id, batch[offset : offset + 2_000])
            client.set_terminated(run_id, "FINISHED", start + steps * 100)
        artifacts = built.runs["lr-0"]
        client.set_tags(
            artifacts, {GIT_COMMIT: "0123abc", GIT_REPO: "https://git.example/acme/churn.git"}
        )
        client.log_text(artifacts, "hello from the run\nline two\n", "notes.txt")
        client.log_dict(artifacts, {"lr": 0.1, "layers": [64, 32]}, "config.json")
        client.log_dict(artifacts, {"stages": ["clean", "train"], "seed": 7}, "params.yaml")
        table = "plan,age,churned\nbasic,31,no\npremium,45,yes\n"
        client.log_text(artifacts, table, "data/sample.csv")
        client.log_bytes(artifacts, tiny_png(), "plots/roc.png")
        client.log_text(artifacts, MLMODEL.format(run_id=artifacts), "model/MLmodel")
        client.log_text(artifacts, "<script>alert('x')</script>", "report.html")
        client.log_bytes(artifacts, bytes(range(256)), "weights.bin")
        # What ran, as every run records it where snapshots are on: this process's.
        client.snapshot_source(artifacts)
        client.log_input(
            artifacts,
            DatasetInput(
                name="customers",
                digest="d1g35t",
                source_type="delta",
                source=json.dumps({"path": "/data/customers", "version": 3}),
                schema=json.dumps({"fields": [{"name": "age", "type": "double"}]}),
                num_rows=1_000,
            ),
            "training",
        )

        parent = _run(client, eid, "tuning", T0 + 600_000)
        built.parent_id = parent
        for index in range(3):
            child = _run(client, eid, f"tuning-{index}", T0 + 601_000 + index, parent_run_id=parent)
            client.log_params(child, {"lr": 0.1 * (index + 1)})
            client.log_metric(child, "acc", 0.7 + index / 100, T0 + 602_000, 0)
            client.set_terminated(child, "FINISHED", T0 + 603_000)
            built.child_ids.append(child)
        client.set_terminated(parent, "FINISHED", T0 + 604_000)

        _sweep(client, eid, built)

        registry = RegistryClient(client)
        registry.register_model(f"runs:/{artifacts}/model", "churn-model")
        registry.register_model(f"runs:/{artifacts}/model", "churn-model")
        registry.transition_model_version_stage("churn-model", 1, "Staging")
        client.flush()
    finally:
        client.close()
    return built


def _sweep(client: TrackingClient, eid: str, built: UiStore) -> None:
    tags = {
        SweepTags.ROLE: "sweep",
        SweepTags.NAME: "churn-sweep",
        SweepTags.METRIC: "auc",
        SweepTags.MODE: "max",
        SweepTags.STRATEGY: "tpe",
        SweepTags.SPACE: "fingerprint",
    }
    sweep = _run(client, eid, "churn-sweep", T0 + 700_000, tags=tags)
    built.sweep_id = sweep
    distributions = {
        "reg": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True),
        "depth": optuna.distributions.IntDistribution(2, 8),
    }
    to_json = optuna.distributions.distribution_to_json
    as_json = json.dumps({k: to_json(v) for k, v in distributions.items()})
    states = ["complete"] * 5 + ["pruned", "failed", "complete"]
    for number, state in enumerate(states):
        params = {"reg": 10 ** -(number % 4), "depth": 2 + number % 6}
        start = T0 + 701_000 + number * 1_000
        trial = _run(
            client,
            eid,
            f"trial-{number}",
            start,
            parent_run_id=sweep,
            tags={
                SweepTags.ROLE: "trial",
                SweepTags.TRIAL: str(number),
                SweepTags.STATE: state,
                SweepTags.PARAMS: json.dumps(params, sort_keys=True),
                SweepTags.DISTRIBUTIONS: as_json,
            },
        )
        client.log_params(trial, params)
        if state == "complete":
            auc = 0.6 + 0.03 * params["depth"] - 0.05 * (number % 4)
            client.log_metric(trial, "auc", auc, start + 500, 0)
        client.set_terminated(trial, "FAILED" if state == "failed" else "FINISHED", start + 900)
        built.trial_ids.append(trial)
    client.set_terminated(sweep, "FINISHED", T0 + 720_000)


def build_module_store(tmp_path_factory: pytest.TempPathFactory, name: str) -> UiStore:
    """``build_ui_store`` in a folder of its own, its journal there too (module fixtures)."""
    root = tmp_path_factory.mktemp(name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPARKTRACK_JOURNAL_DIR", str(root / "journal"))
        return build_ui_store(str(root / "store"))
