"""What an object store costs: tracking ingest and search on an S3 server against a
local folder, and eight drivers logging to one S3 store at once.

Workloads (sparktrack only; each measurement is one of bench/tracking_ingest.py's child
processes, run once against a folder on the local disk and once against an ``s3a://``
store on the S3 server, alternating):

  (a) runs x (start_run, log_params(20), log_metrics(5), end_run), then flush()
  (b) single log_metric calls, then flush()
  (c) search_runs with a filter and an order, cold (a fresh process) and warm, on a
      store populated once per side (untimed)
  (d) eight drivers at once on one S3 store, each running (a) with an eighth of the
      runs, released together: runs/s and Delta commits/s over the span from the first
      driver's start to the last one's flush

The S3 server is moto on loopback (``tests/_s3_server.py``: started here, stopped when
the benchmark ends), S3 commits are conditional puts (``object_store_commits:
conditional-put``). Figures are medians of the repeats with their range, the sides in a
balanced order (local then S3, then S3 then local); the ratio is S3 over local. moto is
a Python server on the same two cores: its latency is not AWS's, the ratio shows how
many round trips each workload makes more than what one costs on AWS.

Usage (from the repo root):

  .venv/bin/python bench/object_store.py --quick           # smoke run, < 3 minutes
  .venv/bin/python bench/object_store.py --update-readme   # full, then docs/benchmarks.md

Checked, or the benchmark exits 1: both sides stored every run, param and metric of
(a) and every point of (b), both searches return the same runs in the same order, and
(d) stored every run of every driver with all its params and metrics.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

# Run as a script, so this folder is on sys.path and the shared helpers import directly.
import tracking_ingest as ingest
from _common import (
    REPO,
    balanced_order,
    format_rate,
    format_seconds,
    format_spread,
    load_average,
    machine_description,
    markdown_table,
    median,
    package_versions,
    partial_reasons,
    print_summary,
    publish,
    refuse_partial_readme_run,
    run_main,
    say,
    source_tree,
    spread,
)

# The S3 server's starter is the test suite's (sparktrack-free, as this parent is until
# (d) checks the store): one way to start moto for both.
sys.path.insert(0, str(REPO))
from tests._s3_server import S3Server

BENCH_NAME = "object_store"
SIDES = ("local", "s3")
DRIVERS = 8
GATE_TIMEOUT_SECONDS = 300


@dataclasses.dataclass
class Sides:
    """Where each side's stores live, and the environment a worker needs for them."""

    server: S3Server
    root: Path

    @property
    def s3_env(self) -> dict[str, str]:
        return {**self.server.env, "SPARKTRACK_OBJECT_STORE_COMMITS": "conditional-put"}

    def worker_extra(self, side: str) -> dict[str, Any]:
        """run_worker's extra spec: nothing for the local folder (tracking_ingest's own
        default, a store in the workload's folder); a fresh S3 store and its settings."""
        if side == "local":
            return {}
        return {"store": self.server.new_prefix("s3a"), "env": self.s3_env}


def _run(
    side: str, task: str, workdir: Path, sizes: ingest.Sizes, extra: dict[str, Any]
) -> dict[str, Any]:
    return ingest.run_worker("sparktrack", task, workdir / side, sizes, **extra)


def bench_ingest(sides: Sides, sizes: ingest.Sizes, task: str, repeats: int) -> dict[str, Any]:
    """(a) or (b), alternating the sides; each repeat on fresh stores."""
    results: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    problems = []
    for repeat in range(repeats):
        for side in balanced_order(SIDES, repeat):
            workdir = sides.root / f"{task}-{repeat}"
            result = _run(side, task, workdir, sizes, sides.worker_extra(side))
            results[side].append(result)
            say(
                f"  ({task}) {side:<5} repeat {repeat + 1}/{repeats} "
                f"{format_seconds(result['seconds']):>9}"
            )
            if task == "a" and result["stored"] != ingest._a_expected(sizes):
                problems.append(f"(a) {side} repeat {repeat + 1} stored {result['stored']}")
            if task == "b" and result["history_points_checked"] != sizes.b_steps:
                problems.append(f"(b) {side} repeat {repeat + 1}: a metric's history is short")
    out: dict[str, Any] = {"problems": problems}
    for side, found in results.items():
        out[side] = {"seconds": spread([r["seconds"] for r in found]), "repeats": found}
    return out


def bench_search(sides: Sides, sizes: ingest.Sizes) -> dict[str, Any]:
    """(c): one populated store per side, then cold searches in fresh processes."""
    extras = {side: sides.worker_extra(side) for side in SIDES}
    workdir = sides.root / "c"
    experiments = {}
    for side in SIDES:
        populated = _run(side, "c_populate", workdir, sizes, extras[side])
        experiments[side] = populated["experiment_id"]
        say(f"  (c) {side:<5} populated {sizes.c_runs:,} runs (untimed)")
    found: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for repeat in range(sizes.c_repeats):
        for side in balanced_order(SIDES, repeat):
            extra = {**extras[side], "experiment_id": experiments[side]}
            search = _run(side, "c_search", workdir, sizes, extra)
            found[side].append(search)
            say(
                f"  (c) {side:<5} repeat {repeat + 1}/{sizes.c_repeats} cold "
                f"{format_seconds(search['cold_s'])}, warm median "
                f"{format_seconds(search['warm_median_s'])}, {search['rows']} rows"
            )
    out: dict[str, Any] = {side: ingest._searches(results) for side, results in found.items()}
    same = out["local"]["result_idx"] == out["s3"]["result_idx"]
    out["problems"] = [] if same else ["(c) the two stores return different runs or orders"]
    return out


def _open_gate(gate: Path, workers: int) -> None:
    deadline = time.monotonic() + GATE_TIMEOUT_SECONDS
    while len(list(gate.glob("ready-*"))) < workers:
        if time.monotonic() > deadline:
            raise ingest.WorkerFailed(f"(d) the drivers were not ready in {GATE_TIMEOUT_SECONDS} s")
        time.sleep(0.05)
    (gate / "go").touch()


def _table_versions(store: str) -> dict[str, int]:
    # sparktrack and delta-rs are imported by (d) alone: the rest of this parent only
    # starts processes and reads their results.
    from deltalake import DeltaTable

    from sparktrack.store import TABLE_NAMES, parse_store_uri

    location = parse_store_uri(store)
    return {name: DeltaTable(location.for_delta_rs(name)).version() for name in TABLE_NAMES}


def _stored(store: str) -> dict[str, int]:
    from sparktrack import TrackingClient

    client = TrackingClient(store)
    try:
        return ingest._stored_counts(client.search_runs(None, max_results=1_000_000))
    finally:
        client.close()


def _driver(
    index: int, extra: dict[str, Any], gate: Path, workdir: Path, sizes: ingest.Sizes
) -> dict[str, Any]:
    """One (d) driver: tracking_ingest's (a) on the shared store, once the gate opens."""
    spec = {**extra, "gate": str(gate), "worker_index": index}
    return ingest.run_worker("sparktrack", "a", workdir / f"driver-{index}", sizes, **spec)


def bench_drivers(sides: Sides, sizes: ingest.Sizes, repeats: int) -> dict[str, Any]:
    """(d): eight (a) workers on one fresh S3 store per repeat, released together."""
    per_driver = dataclasses.replace(sizes, a_runs=max(1, sizes.a_runs // DRIVERS))
    total = per_driver.a_runs * DRIVERS
    os.environ.update(sides.s3_env)  # this process opens the store, as the drivers do
    os.environ["SPARKTRACK_JOURNAL_DIR"] = str(sides.root / "d-journal")
    results = []
    problems = []
    for repeat in range(repeats):
        extra = sides.worker_extra("s3")
        store = extra["store"]
        _stored(store)  # the tables exist before the clock starts, for all drivers
        before = _table_versions(store)
        gate = sides.root / f"d-{repeat}-gate"
        gate.mkdir()

        with ThreadPoolExecutor(DRIVERS) as pool:
            futures = [
                pool.submit(_driver, index, extra, gate, sides.root / f"d-{repeat}", per_driver)
                for index in range(DRIVERS)
            ]
            _open_gate(gate, DRIVERS)
            drivers = [future.result() for future in futures]
        span = max(d["window"][1] for d in drivers) - min(d["window"][0] for d in drivers)
        after = _table_versions(store)
        commits = sum(after[name] - before[name] for name in after)
        stored = _stored(store)
        expected = {key: value * DRIVERS for key, value in ingest._a_expected(per_driver).items()}
        if stored != expected:
            problems.append(f"(d) repeat {repeat + 1} stored {stored}, expected {expected}")
        result = {
            "span_s": span,
            "runs": total,
            "commits": commits,
            "commits_per_table": {name: after[name] - before[name] for name in after},
            "runs_per_s": total / span,
            "commits_per_s": commits / span,
            "driver_seconds": [d["seconds"] for d in drivers],
        }
        results.append(result)
        say(
            f"  (d) repeat {repeat + 1}/{repeats}: {total} runs from {DRIVERS} drivers in "
            f"{format_seconds(span)}: {format_rate(result['runs_per_s'], 'runs')}, "
            f"{commits} commits ({format_rate(result['commits_per_s'], 'commits')})"
        )
    return {
        "runs_per_driver": per_driver.a_runs,
        "span": spread([r["span_s"] for r in results]),
        "runs_per_s": median([r["runs_per_s"] for r in results]),
        "commits_per_s": median([r["commits_per_s"] for r in results]),
        "repeats": results,
        "problems": problems,
    }


def _ratio(local: float, s3: float) -> str:
    return f"{s3 / local:,.1f}x"


def summary_rows(results: dict[str, Any], sizes: ingest.Sizes) -> list[list[str]]:
    rows = []
    if "a" in results:
        local, s3 = results["a"]["local"]["seconds"], results["a"]["s3"]["seconds"]
        rows.append(
            [
                f"(a) {sizes.a_runs:,} runs x {sizes.a_params} params x {sizes.a_metrics} metrics",
                f"{format_spread(local)} ({format_rate(sizes.a_runs / local['median'], 'runs')})",
                f"{format_spread(s3)} ({format_rate(sizes.a_runs / s3['median'], 'runs')})",
                _ratio(local["median"], s3["median"]),
            ]
        )
    if "b" in results:
        local, s3 = results["b"]["local"]["seconds"], results["b"]["s3"]["seconds"]
        calls = sizes.b_calls
        rows.append(
            [
                f"(b) {calls:,} single log_metric calls",
                f"{format_spread(local)} ({format_rate(calls / local['median'], 'points')})",
                f"{format_spread(s3)} ({format_rate(calls / s3['median'], 'points')})",
                _ratio(local["median"], s3["median"]),
            ]
        )
    if "c" in results:
        for key, label in (("cold", "cold, first call in a new process"), ("warm", "warm")):
            local, s3 = results["c"]["local"][key], results["c"]["s3"][key]
            rows.append(
                [
                    f"(c) search_runs over {sizes.c_runs:,} runs, {label}",
                    format_spread(local),
                    format_spread(s3),
                    _ratio(local["median"], s3["median"]),
                ]
            )
    if "d" in results:
        d = results["d"]
        runs = d["runs_per_driver"] * DRIVERS
        rows.append(
            [
                f"(d) {DRIVERS} drivers at once, {runs:,} runs in all",
                "—",
                f"{format_spread(d['span'])}: {format_rate(d['runs_per_s'], 'runs')}, "
                f"{format_rate(d['commits_per_s'], 'commits')}",
                "—",
            ]
        )
    return rows


def summary_notes(results: dict[str, Any], sizes: ingest.Sizes) -> list[str]:
    notes = [
        "S3 = moto in server mode on loopback (one Python process on the same 2 cores), "
        "conditional-put commits; local = a folder on the local disk. Ratio = S3 / local.",
        "(a), (b): timed until flush() returned, everything committed "
        f"({sizes.a_repeats} and {sizes.b_repeats} repeats per side, sides alternating).",
    ]
    if "c" in results:
        notes.append(
            f"(c) cold = open the store + first search in a fresh process, {sizes.c_repeats} "
            f"processes per side; warm = {ingest.SEARCH_WARM_REPEATS} more searches in each; "
            f"filter `{ingest.SEARCH_FILTER}`, order {ingest.SEARCH_ORDER}, store as populated."
        )
    if "d" in results:
        d = results["d"]
        per_table = d["repeats"][0]["commits_per_table"]
        notes.append(
            f"(d) each driver is (a) with {d['runs_per_driver']} runs, its own process and "
            "journal; released together; span = first driver's start to last driver's flush; "
            "commits = Delta versions added to the store's tables "
            f"(first repeat: {per_table})."
        )
    return notes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tracking_ingest's quick sizes")
    parser.add_argument(
        "--only", default="a,b,c,d", help="comma-separated workloads, from a,b,c,d (default: all)"
    )
    parser.add_argument(
        "--update-readme",
        action="store_true",
        help="put the results into docs/benchmarks.md (a full run from a clean tree only)",
    )
    parser.add_argument("--keep-tmp", action="store_true", help="keep the local stores and logs")
    args = parser.parse_args(argv)
    args.only = [w for w in "abcd" if w in {x.strip() for x in args.only.split(",")}]
    if not args.only:
        parser.error("--only takes a comma-separated subset of a,b,c,d")
    refuse_partial_readme_run(parser, args, {"--only": args.only != list("abcd")})
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = ingest.QUICK if args.quick else ingest.FULL
    machine = machine_description()
    say(f"object store benchmark ({'quick' if args.quick else 'full'}, {','.join(args.only)})")
    root = Path(tempfile.mkdtemp(prefix="sparktrack-bench-object-store-"))
    server = S3Server.start(root / "s3-server")
    sides = Sides(server, root)
    say(f"S3 server (moto) at {server.endpoint}")
    benches: dict[str, Callable[[], dict[str, Any]]] = {
        "a": lambda: bench_ingest(sides, sizes, "a", sizes.a_repeats),
        "b": lambda: bench_ingest(sides, sizes, "b", sizes.b_repeats),
        "c": lambda: bench_search(sides, sizes),
        "d": lambda: bench_drivers(sides, sizes, sizes.a_repeats),
    }
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    started = time.perf_counter()
    try:
        for workload in args.only:
            say(f"workload ({workload}) ...")
            try:
                results[workload] = benches[workload]()
            except (ingest.WorkerFailed, subprocess.TimeoutExpired) as exc:
                errors[workload] = str(exc)
                say(f"  ({workload}) FAILED: {exc}")
    finally:
        server.stop()
        if args.keep_tmp:
            say(f"temporary stores and logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    elapsed = time.perf_counter() - started
    machine["load_avg_end"] = load_average()
    problems = [problem for result in results.values() for problem in result["problems"]]
    table = markdown_table(
        ["workload", "local folder", "S3 (moto)", "S3 / local"], summary_rows(results, sizes)
    )
    notes = summary_notes(results, sizes)
    print_summary(table, notes, machine)
    partial = partial_reasons(
        (f"workloads {','.join(args.only)} only", args.only != list("abcd")),
        (f"failed: {', '.join(errors)}", bool(errors)),
        ("stores disagree", bool(problems)),
    )
    fields = {
        "sizes": sizes.__dict__,
        "drivers": DRIVERS,
        "workloads": args.only,
        "versions": package_versions(("sparktrack", "deltalake", "pyarrow", "moto", "obstore")),
        "source_tree": source_tree(),
        "machine": machine,
        "results": results,
        "errors": errors,
        "disagreements": problems,
    }
    return publish(
        BENCH_NAME,
        quick=args.quick,
        partial=partial,
        fields=fields,
        table=table,
        notes=notes,
        elapsed=elapsed,
        update=args.update_readme,
        failed=bool(errors),
        problems=problems,
    )


if __name__ == "__main__":
    run_main(main)
