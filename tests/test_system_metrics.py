"""The driver host's CPU and memory as MLflow's system/* metrics, when asked for."""

from __future__ import annotations

import logging
import threading
import time

import pytest

import sparktrack
from sparktrack.tracking import _system_metrics

DEADLINE_S = 60


def _samplers_alive() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("sparktrack-system")]


@pytest.fixture
def sampling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARKTRACK_SYSTEM_METRICS", "true")
    monkeypatch.setenv("SPARKTRACK_SYSTEM_METRICS_INTERVAL_SECONDS", "0.05")
    sparktrack.set_store("memory://")  # a client with these settings


def test_no_system_metrics_unless_asked_for() -> None:
    with sparktrack.start_run() as run:
        assert _samplers_alive() == []
    sparktrack.flush()
    assert not any(
        k.startswith("system/") for k in sparktrack.get_run(run.info.run_id).data.metrics
    )


def test_a_run_samples_its_host_until_it_ends(sampling: None) -> None:
    with sparktrack.start_run() as run:
        deadline = time.monotonic() + DEADLINE_S
        key = "system/cpu_utilization_percentage"
        while len(sparktrack.get_metric_history(run.info.run_id, key)) < 2:
            assert time.monotonic() < deadline, "no two samples within the deadline"
            time.sleep(0.05)
    assert _samplers_alive() == []
    run_id = run.info.run_id
    history = {k: sparktrack.get_metric_history(run_id, k) for k in _system_metrics.SYSTEM_METRICS}
    steps = [m.step for m in history["system/cpu_utilization_percentage"]]
    assert steps == list(range(len(steps))) and len(steps) >= 3  # two, and the last one
    for key, values in history.items():
        assert [m.step for m in values] == steps, key
    assert all(0 <= m.value <= 100 for m in history["system/cpu_utilization_percentage"])
    assert all(0 < m.value <= 100 for m in history["system/system_memory_usage_percentage"])
    assert all(m.value > 0 for m in history["system/system_memory_usage_megabytes"])


def test_without_psutil_the_run_goes_on_with_one_warning(
    sampling: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sparktrack")
    monkeypatch.setattr(_system_metrics, "_warned", threading.Event())

    def missing() -> None:
        raise ModuleNotFoundError("No module named 'psutil'")

    monkeypatch.setattr(_system_metrics, "_psutil", missing)
    for _ in range(2):
        with sparktrack.start_run() as run:
            sparktrack.log_metric("m", 1.0)
    sparktrack.flush()
    assert sparktrack.get_run(run.info.run_id).data.metrics == {"m": 1.0}
    warned = [r.getMessage() for r in caplog.records if r.name == "sparktrack"]
    assert len(warned) == 1 and "psutil" in warned[0], warned
