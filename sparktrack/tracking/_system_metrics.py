"""The driver host's CPU and memory while a run is active: MLflow's system metrics.

Off unless the ``system_metrics`` setting is on (``SPARKTRACK_SYSTEM_METRICS=true``).
Then a daemon thread per fluent run samples the host with psutil every
``system_metrics_interval_seconds`` and logs MLflow's names at steps 0, 1, 2, ...:
``system/cpu_utilization_percentage``, ``system/system_memory_usage_megabytes`` and
``system/system_memory_usage_percentage``; one last sample when the run ends. psutil is
optional (``pip install 'sparktrack[system-metrics]'``): without it, one warning and
no system metrics. Failures never reach the run: one warning per process.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sparktrack.tracking._client import TrackingClient

__all__ = ["SYSTEM_METRICS", "start_sampling", "stop_sampling"]

_log = logging.getLogger("sparktrack")
SYSTEM_METRICS = (
    "system/cpu_utilization_percentage",
    "system/system_memory_usage_megabytes",
    "system/system_memory_usage_percentage",
)
"""The metrics a run's host is sampled as (MLflow's names)."""
# How long ending a run waits for its sampler's last sample.
_STOP_WAIT_SECONDS = 5.0
_warned = threading.Event()


def _warn_once(what: str, exc: BaseException) -> None:
    if _warned.is_set():
        return
    _warned.set()
    _log.warning(
        "sparktrack could not %s: %s: %s; runs get no system/* metrics where this happens "
        "(further failures are not reported)",
        what,
        type(exc).__name__,
        exc,
    )


def _psutil() -> Any:
    # An optional dependency (the system-metrics extra), imported only when the setting
    # is on: most users never sample their host.
    import psutil

    return psutil


class _Sampler:
    """Samples the host for one run until ``stop``."""

    def __init__(self, client: TrackingClient, run_id: str, interval: float) -> None:
        self._client = client
        self._run_id = run_id
        self._interval = interval
        self._psutil = _psutil()
        self._psutil.cpu_percent(None)  # the first call only starts the CPU clock
        self._step = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"sparktrack-system-metrics-{run_id[:8]}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            self._sample()
        self._sample()  # the run's end

    def _sample(self) -> None:
        try:
            memory = self._psutil.virtual_memory()
            used = memory.total - memory.available
            self._client.log_metrics(
                self._run_id,
                {
                    "system/cpu_utilization_percentage": self._psutil.cpu_percent(None),
                    "system/system_memory_usage_megabytes": used / 2**20,
                    "system/system_memory_usage_percentage": memory.percent,
                },
                step=self._step,
            )
            self._step += 1
        except Exception as exc:
            _warn_once(f"sample the host's CPU and memory for run {self._run_id}", exc)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(_STOP_WAIT_SECONDS)


# The sampler of each fluent run still active, by run id.
_samplers: dict[str, _Sampler] = {}


def start_sampling(client: TrackingClient, run_id: str) -> None:
    """Start sampling the host for a run the fluent API just made active, if asked to."""
    settings = client.settings
    if not settings.system_metrics:
        return
    try:
        _samplers[run_id] = _Sampler(client, run_id, settings.system_metrics_interval_seconds)
    except Exception as exc:  # psutil missing or failing: the run goes on without
        _warn_once("start sampling the host's CPU and memory (pip install psutil)", exc)


def stop_sampling(run_id: str) -> None:
    """Stop sampling for a fluent run that ended, after one last sample."""
    sampler = _samplers.pop(run_id, None)
    if sampler is not None:
        sampler.stop()


def _start_over_in_child() -> None:
    # After fork, in the child: the parent's sampler threads do not exist here.
    _samplers.clear()


os.register_at_fork(after_in_child=_start_over_in_child)
