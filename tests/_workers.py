"""Code run in child processes by the concurrency and crash tests."""

from __future__ import annotations

import os
import sys
import threading
from typing import Any


def log_concurrently(store: str, journal: str, worker: int, threads: int, metrics: int) -> None:
    """One process: ``threads`` threads, each with its own run, plus a shared run."""
    os.environ["SPARKTRACK_JOURNAL_DIR"] = journal
    from sparktrack import TrackingClient

    client = TrackingClient(store)
    experiment_id = client.get_or_create_experiment("concurrency").experiment_id
    shared = client.create_run(experiment_id, run_name=f"shared-{worker}").info.run_id

    def work(thread: int) -> None:
        run_id = client.create_run(experiment_id, run_name=f"w{worker}-t{thread}").info.run_id
        client.log_params(run_id, {f"p{i}": i for i in range(10)})
        for step in range(metrics):
            client.log_metric(run_id, "m", float(step), step=step)
            client.log_metric(shared, f"t{thread}", float(step), step=step)
        client.set_terminated(run_id)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    client.set_terminated(shared)
    client.close()


def log_together(
    store: str, journal: str, worker: int, barrier: Any, threads: int, metrics: int
) -> None:
    """``log_concurrently``, once every worker is ready: they open the store (and
    create its tables) and commit at the same moment, so their commits collide."""
    barrier.wait(timeout=120)
    log_concurrently(store, journal, worker, threads, metrics)


def register_and_promote(store: str, journal: str, worker: int, model_dir: str, rounds: int):
    """One process racing others: register versions and promote random ones."""
    import random

    os.environ["SPARKTRACK_JOURNAL_DIR"] = journal
    from sparktrack import TrackingClient
    from sparktrack.registry import RegistryClient

    client = TrackingClient(store)
    registry = RegistryClient(client)
    chance = random.Random(worker)
    mine = []
    for _ in range(rounds):
        mine.append(registry.register_model(model_dir, "raced").version)
        stage = chance.choice(["Production", "Staging", "Production", "Archived"])
        registry.transition_model_version_stage("raced", chance.choice(mine), stage)
        registry.set_registered_model_alias("raced", "champion", chance.choice(mine))
    print(" ".join(map(str, mine)), flush=True)
    client.close()


def log_until_killed(store: str, flush_interval: str, segment_bytes: str) -> None:
    """Log forever, printing what each returned call acknowledged; the test kills us."""
    os.environ["SPARKTRACK_FLUSH_INTERVAL_SECONDS"] = flush_interval
    # Heartbeats reach other processes only when committed: the timeout must cover the
    # commit interval (the settings refuse anything shorter).
    os.environ["SPARKTRACK_HEARTBEAT_TIMEOUT_SECONDS"] = str(2 * (30 + float(flush_interval)))
    from sparktrack import TrackingClient
    from sparktrack.store import _writer

    # Small segments make the journal rotate (and drop committed segments) while we log.
    _writer._SEGMENT_BYTES = int(segment_bytes)

    client = TrackingClient(store)
    run_id = client.create_run(run_name="doomed").info.run_id
    client.log_param(run_id, "alpha", 0.5)
    print(f"RUN {run_id}", flush=True)
    step = 0
    while True:
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
        print(f"ACK {step}", flush=True)
        step += 1


if __name__ == "__main__":
    log_until_killed(sys.argv[1], sys.argv[2], sys.argv[3])


def log_metric_batches(store: str, journal: str, key: str, batches: int, ready: Any) -> None:
    """One process committing ``batches`` metrics to a run of its own, one commit each
    (the run has the param ``writer=<key>``); ``ready`` is set once the store is open."""
    os.environ["SPARKTRACK_JOURNAL_DIR"] = journal
    from sparktrack import TrackingClient

    client = TrackingClient(store)
    experiment_id = client.get_or_create_experiment("race").experiment_id
    run_id = client.create_run(experiment_id, run_name=key).info.run_id
    client.log_param(run_id, "writer", key)
    client.flush()
    ready.set()
    for step in range(batches):
        client.log_metric(run_id, key, float(step), step=step)
        client.flush()
    client.set_terminated(run_id)
    client.close()
