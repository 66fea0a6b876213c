"""Small helpers shared by the benchmarks: timing, machine description, tables, JSON.

Kept free of third-party imports so every benchmark can use it in any venv.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "OUT_DIR",
    "Stopwatch",
    "format_rate",
    "format_seconds",
    "load_average",
    "machine_description",
    "machine_line",
    "markdown_table",
    "median",
    "percentile",
    "source_tree",
    "stopwatch",
    "time_call",
    "write_results",
]

OUT_DIR = Path(__file__).resolve().parent / "out"

T = TypeVar("T")


@dataclass
class Stopwatch:
    """Elapsed wall time of a ``with stopwatch()`` block, in seconds."""

    seconds: float = 0.0
    _started: float = field(default=0.0, repr=False)


@contextmanager
def stopwatch() -> Iterator[Stopwatch]:
    # perf_counter: monotonic and the highest resolution clock Python offers.
    watch = Stopwatch(_started=time.perf_counter())
    try:
        yield watch
    finally:
        watch.seconds = time.perf_counter() - watch._started


def time_call(fn: Callable[[], T]) -> tuple[float, T]:
    """(seconds, result) of one call."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation, like numpy's default."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def format_seconds(seconds: float) -> str:
    if seconds >= 100:
        return f"{seconds:.0f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} µs"


def format_rate(per_second: float, unit: str) -> str:
    if per_second >= 1e6:
        return f"{per_second / 1e6:.2f} M {unit}/s"
    if per_second >= 1e4:
        return f"{per_second / 1e3:.1f} k {unit}/s"
    return f"{per_second:,.0f} {unit}/s"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine_description() -> dict[str, Any]:
    # Cores available to this process (cgroup/affinity aware), not the host's total.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": cores,
        "ram_gib": _ram_gib(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "executable": sys.executable,
        # Other work on a shared machine skews every figure; record how busy it was.
        "load_avg": load_average(),
    }


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages, where the OS reports them."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def _load(values: Sequence[float]) -> str:
    return "/".join(f"{x:.1f}" for x in values)


def machine_line(machine: dict[str, Any]) -> str:
    ram = f"{machine['ram_gib']} GiB RAM" if machine.get("ram_gib") is not None else "RAM unknown"
    load_text = ""
    if machine.get("load_avg"):
        load_text = f", load avg {_load(machine['load_avg'])}"
        if machine.get("load_avg_end"):
            load_text += f" at start, {_load(machine['load_avg_end'])} at end"
    return (
        f"Machine: {machine['cores']} cores, {ram}, {machine['cpu_model']}, "
        f"Python {machine['python']}, {machine['platform']}{load_text}"
    )


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table with padded columns (readable as plain text too)."""
    cells = [[str(c).replace("|", "\\|") for c in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), separator, *(line(r) for r in cells[1:])])


def write_results(name: str, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``bench/out/<name>.json`` and return the path."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")
    return path


def source_tree() -> dict[str, Any]:
    """The commit measured, and the files changed on top of it (read-only git calls)."""
    repo = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=repo, capture_output=True, text=True, timeout=30, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "--short", "HEAD")
    changed = [
        line[3:]
        for line in git("status", "--porcelain").splitlines()
        if line[3:].startswith("sparktrack/")
    ]
    describe = f"commit {commit}" if commit else "no git"
    if changed:
        describe += f" + {len(changed)} uncommitted files in sparktrack/"
    return {"commit": commit, "uncommitted_sparktrack_files": changed, "describe": describe}
