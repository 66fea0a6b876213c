"""search_runs, the CLI and ``sparktrack gc`` on a store of a million runs.

A store of 1,000,000 runs (20 params, 5 metrics of 10 steps each, 5 or 6 tags, 20%
nested, 4 experiments) is built in bulk with Spark (bench/_spark_bulk_store.py) once
and kept under bench/out/ in a folder named by its shape, so a second run measures at
once. Then, each in fresh processes, in a balanced order:

  search 100      ``search_runs`` without a JVM, filter
                  ``params.p0 = 'a3' and metrics.m0 > 0.5``, order ``metrics.m1 DESC``,
                  the first 100 runs
  search all      the same query, every matching run (about 71,000)
  search spark    the first query with ``output_format="spark"`` (in ``local[2]`` the
                  driver's search fills the DataFrame; on a cluster Spark computes it:
                  the DataFrame built and its run ids collected, in a process whose
                  SparkSession is already up)
  cli             ``sparktrack runs search FILTER -o 'metrics.m1 DESC' -n 100``, the
                  whole command (interpreter start and imports included)
  gc              ``sparktrack gc`` on a copy of the store (once: it rewrites every table)

Cold: the first call in a new process, opening the store included (imports excluded,
except for the CLI); warm: ``warm`` more calls in the same process. Peak memory: the
process's peak resident set (``getrusage``), the JVM's for the Spark variant beside it.
Every variant must return the same runs in the same order (the first 100 of "all" are
"100"), or the script exits 1.

Usage (from the repo root; building the store takes minutes, each measurement less):

  PYTHONPATH=$PWD .venv/bin/python bench/million_runs.py
  PYTHONPATH=$PWD .venv/bin/python bench/million_runs.py --quick   # 20,000 runs, smoke

Results: a markdown table on stdout and the raw results in
bench/results/million_runs-<date>-<commit>.json (--quick: bench/out/).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from _bulk_store import BulkShape
from _common import (
    OUT_DIR,
    balanced_order,
    format_seconds,
    format_spread,
    load_average,
    machine_description,
    markdown_table,
    median,
    print_summary,
    publish,
    refuse_partial_readme_run,
    run_main,
    say,
)

BENCHMARK = "million_runs"
FILTER = "params.p0 = 'a3' and metrics.m0 > 0.5"
ORDER = ["metrics.m1 DESC"]
FIRST = 100
ALL = 10_000_000  # more than any store here holds: every matching run
COMMIT_ROUNDS = 50
CHILD_TIMEOUT_SECONDS = 3600
TARGETS = {"warm": 1.0, "cold": 5.0, "rss_mib": 1024.0}
# Bumped when the builder changes what it writes: a cached store of another version
# is built again.
BUILDER_VERSION = 1


def shape_for(runs: int) -> BulkShape:
    return BulkShape(runs=runs, params=20, metrics=5, steps=10, experiments=4)


def store_dir(shape: BulkShape) -> Path:
    """Where the store of ``shape`` is kept between runs of the benchmark."""
    key = (
        f"{shape.runs}r-{shape.params}p-{shape.metrics}m-{shape.steps}s-"
        f"{shape.experiments}e-{shape.seed}-v{BUILDER_VERSION}"
    )
    return OUT_DIR / "million-stores" / key


def _peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# =====================================================================================
# Child processes: each measures one thing and prints one JSON line last
# =====================================================================================


def _child_build(spec: dict[str, Any]) -> dict[str, Any]:
    from _spark_bulk_store import build_store_with_spark

    from sparktrack.session import spark_session

    shape = BulkShape(**spec["shape"])
    started = time.perf_counter()
    spark = spark_session(
        "million-runs-build",
        master="local[2]",
        extra_conf={"spark.driver.memory": "4g", "spark.sql.shuffle.partitions": "8"},
    )
    session_s = time.perf_counter() - started
    tables = build_store_with_spark(spec["store"], shape, spark, say=say)
    spark.stop()
    return {"session_s": session_s, "tables_s": tables, "seconds": time.perf_counter() - started}


def _run_ids(frame: Any) -> list[str]:
    return [str(r) for r in frame["run_id"]]


def _child_search(spec: dict[str, Any]) -> dict[str, Any]:
    import sparktrack

    def search() -> Any:
        return sparktrack.search_runs(
            search_all_experiments=True,
            filter_string=FILTER,
            order_by=ORDER,
            max_results=spec["max_results"],
        )

    started, cpu = time.perf_counter(), time.process_time()
    sparktrack.set_store(spec["store"])
    frame = search()
    cold, cold_cpu = time.perf_counter() - started, time.process_time() - cpu
    warm, warm_cpu = [], []
    for _ in range(spec["warm"]):
        began, cpu = time.perf_counter(), time.process_time()
        search()
        warm.append(time.perf_counter() - began)
        warm_cpu.append(time.process_time() - cpu)
    return {
        "cold_s": cold,
        "cold_cpu_s": cold_cpu,
        "warm_s": warm,
        "warm_cpu_s": warm_cpu,
        "rows": len(frame),
        "columns": len(frame.columns),
        "run_ids": _run_ids(frame)[:FIRST],
        "peak_rss_mib": _peak_rss_mib(),
    }


def _jvm_rss_mib() -> float | None:
    """Resident memory of this process's children now (the Spark driver's JVM)."""
    import psutil  # the benchmark's only use of psutil: the JVM is not a finished child

    children = psutil.Process().children(recursive=True)
    return sum(c.memory_info().rss for c in children) / 2**20 if children else None


def _child_spark(spec: dict[str, Any]) -> dict[str, Any]:
    import sparktrack
    from sparktrack.session import spark_session

    started = time.perf_counter()
    spark = spark_session("million-runs-search", master="local[2]")
    session_s = time.perf_counter() - started

    def search() -> Any:
        # Spark computes the rows when they are used: building the DataFrame runs only
        # the job that names its columns, so the measure includes reading the rows.
        frame = sparktrack.search_runs(
            search_all_experiments=True,
            filter_string=FILTER,
            order_by=ORDER,
            max_results=spec["max_results"],
            output_format="spark",
            spark=spark,
        )
        return frame.select("run_id").collect()

    started = time.perf_counter()
    sparktrack.set_store(spec["store"])
    rows = search()
    cold = time.perf_counter() - started
    warm = []
    for _ in range(spec["warm"]):
        began = time.perf_counter()
        search()
        warm.append(time.perf_counter() - began)
    result = {
        "session_s": session_s,
        "cold_s": cold,
        "warm_s": warm,
        "rows": len(rows),
        "run_ids": [r["run_id"] for r in rows][:FIRST],
        "peak_rss_mib": _peak_rss_mib(),
        "jvm_rss_mib": _jvm_rss_mib(),
    }
    spark.stop()
    return result


def _child_commits(spec: dict[str, Any]) -> dict[str, Any]:
    """Commit rounds of one writer: ``runs_per_round`` finished runs of the store's shape
    each (a sweep's driver committing the trials that finished), ``rounds`` times."""
    import sparktrack
    from sparktrack import Metric

    client = sparktrack.TrackingClient(spec["store"])
    experiment = client.get_or_create_experiment("commits").experiment_id
    client.flush()
    seconds = []
    for round_number in range(spec["rounds"]):
        began = time.perf_counter()
        for trial in range(spec["runs_per_round"]):
            run = client.create_run(experiment).info.run_id
            params = {f"p{j}": f"v{(trial * (j + 1)) % 17}" for j in range(20)}
            metrics = [
                Metric(f"m{k}", float(step) / (k + 1), 0, step)
                for k in range(5)
                for step in range(10)
            ]
            client.log_batch(run, metrics=metrics, params=params, tags={"round": str(round_number)})
            client.set_terminated(run)
        client.flush()
        seconds.append(time.perf_counter() - began)
    client.close()
    return {"round_s": seconds, "peak_rss_mib": _peak_rss_mib()}


CHILDREN = {
    "build": _child_build,
    "search": _child_search,
    "spark": _child_spark,
    "commits": _child_commits,
}


def _child_main(spec: dict[str, Any]) -> None:
    result = CHILDREN[spec["task"]](spec)
    print(json.dumps(result), flush=True)


# =====================================================================================
# The parent: build once, run the children, judge, publish
# =====================================================================================


class ChildFailed(RuntimeError):
    pass


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKTRACK_")}
    env["PYTHONWARNINGS"] = "ignore"
    return env


def run_child(task: str, **spec: Any) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        json.dumps({"task": task, **spec}),
    ]
    completed = subprocess.run(
        command,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode != 0:
        raise ChildFailed(f"{task} exited with {completed.returncode}:\n{completed.stderr[-4000:]}")
    lines = completed.stdout.strip().splitlines()
    return dict(json.loads(lines[-1]))


def run_command(command: list[str]) -> dict[str, Any]:
    """Wall time, exit status and peak memory of a command (its own process)."""
    # Output to files, not pipes: nothing reads a pipe while wait4 waits, and a command
    # that fills one would wait forever.
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=_env(), stdout=stdout, stderr=stderr, text=True)
        # wait4 gives this child's own resource usage, its peak resident set among it.
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        stdout.seek(0)
        stderr.seek(0)
        out, err = stdout.read(), stderr.read()
    code = os.waitstatus_to_exitcode(status)
    process.returncode = code
    if code != 0:
        raise ChildFailed(f"{' '.join(command)} exited with {code}:\n{err[-4000:]}")
    return {"seconds": seconds, "peak_rss_mib": usage.ru_maxrss / 1024, "stdout": out}


def ensure_store(shape: BulkShape) -> dict[str, Any]:
    """The store of ``shape``, built now unless a complete one is kept from before."""
    path = store_dir(shape)
    marker = path / "built.json"
    if marker.exists():
        built = json.loads(marker.read_text())
        say(f"store of {shape.runs:,} runs reused from {path} (built in {built['seconds']:.0f} s)")
        return {**built, "reused": True}
    if path.exists():
        shutil.rmtree(path)  # an interrupted build
    path.mkdir(parents=True)
    say(f"building a store of {shape.runs:,} runs with Spark in {path} ...")
    built = run_child("build", store=str(path), shape=asdict(shape))
    built["load_avg"] = load_average()
    built["bytes"] = _tree_bytes(path)
    marker.write_text(json.dumps(built, indent=2) + "\n")
    say(f"built in {built['seconds']:.0f} s")
    return {**built, "reused": False}


def _tree_bytes(path: Path) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for table in sorted(p for p in path.iterdir() if (p / "_delta_log").is_dir()):
        sizes[table.name] = sum(f.stat().st_size for f in table.rglob("*") if f.is_file())
    return sizes


def _files(path: Path) -> dict[str, int]:
    """Data files of each table's current version (files gc replaced but kept not counted)."""
    from deltalake import DeltaTable  # the project's venv only, like the children's imports

    return {
        table.name: len(DeltaTable(str(table)).file_uris())
        for table in sorted(p for p in path.iterdir() if (p / "_delta_log").is_dir())
    }


# -- the measurements -----------------------------------------------------------------
SEARCHES = {
    "search 100": ("search", FIRST),
    "search all": ("search", ALL),
    "search spark": ("spark", FIRST),
}
LAYOUTS = ("as built", "after gc")


def measure_searches(store: Path, variants: list[str], repeats: int, warm: int) -> dict[str, Any]:
    """Each search variant in ``repeats`` fresh processes, in a balanced order."""
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for repeat in range(repeats):
        for name in balanced_order(variants, repeat):
            task, max_results = SEARCHES[name]
            result = run_child(task, store=str(store), max_results=max_results, warm=warm)
            say(
                f"  {name} #{repeat + 1}: cold {format_seconds(result['cold_s'])}, warm "
                f"{format_spread(result['warm_s'])}, {result['rows']:,} runs, peak "
                f"{result['peak_rss_mib']:.0f} MiB"
            )
            found[name].append(result)
    return found


def cli_command(store: Path) -> list[str]:
    return [
        *(sys.executable, "-m", "sparktrack.cli", "--store", str(store)),
        *("runs", "search", FILTER, "--order-by", ORDER[0], "--max", str(FIRST), "--json"),
    ]


def measure_cli(store: Path, repeats: int) -> list[dict[str, Any]]:
    results = []
    for repeat in range(repeats):
        result = run_command(cli_command(store))
        result["run_ids"] = [r["run_id"] for r in json.loads(result.pop("stdout"))]
        say(
            f"  cli #{repeat + 1}: {format_seconds(result['seconds'])}, "
            f"peak {result['peak_rss_mib']:.0f} MiB"
        )
        results.append(result)
    return results


def run_gc(store: Path, *options: str) -> dict[str, Any]:
    """``sparktrack gc`` on ``store``: time, memory, files and bytes before and after."""
    before = {"files": _files(store), "bytes": _tree_bytes(store)}
    command = [sys.executable, "-m", "sparktrack.cli", "--store", str(store), "gc", "--json"]
    result = run_command([*command, *options])
    result["report"] = json.loads(result.pop("stdout"))
    result.update(before=before, after={"files": _files(store), "bytes": _tree_bytes(store)})
    say(
        f"  gc {' '.join(options)}: {format_seconds(result['seconds'])}, "
        f"peak {result['peak_rss_mib']:.0f} MiB"
    )
    return result


def gc_copy(store: Path) -> tuple[Path, dict[str, Any]]:
    """A copy of ``store`` maintained by ``sparktrack gc`` (measured), then gc'd again
    with ``--vacuum-hours 0`` (measured: a routine pass that also deletes old files)."""
    copy = store.parent / f"{store.name}-gc"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(store, copy)
    (copy / "built.json").unlink()
    first = run_gc(copy)
    again = run_gc(copy, "--vacuum-hours", "0")
    return copy, {"gc": first, "gc_vacuum": again}


def measure_commits(scratch: Path, rounds: int) -> dict[str, Any]:
    """Commit rounds of 1 and of 100 finished runs into a new local store."""
    found = {}
    for runs_per_round in (1, 100):
        store = scratch / f"commits-{runs_per_round}"
        if store.exists():
            shutil.rmtree(store)
        result = run_child(
            "commits", store=str(store), rounds=rounds, runs_per_round=runs_per_round
        )
        shutil.rmtree(store)
        say(f"  {runs_per_round} runs a round: {format_spread(result['round_s'])} a round")
        found[str(runs_per_round)] = result
    return found


def check_agreement(answers: list[tuple[str, list[str]]]) -> list[str]:
    """Every variant's first runs must be the same, in the same order."""
    problems = []
    reference = answers[0][1] if answers else []
    for name, ids in answers:
        if ids != reference:
            problems.append(f"{name} returned other runs than {answers[0][0]} (first: {ids[:3]})")
    if not reference:
        problems.append("the searches returned no run")
    return sorted(set(problems))


def _answers(layouts: dict[str, dict[str, Any]]) -> list[tuple[str, list[str]]]:
    answers = []
    for layout, measured in layouts.items():
        for name, results in measured["searches"].items():
            answers += [(f"{name} ({layout})", r["run_ids"]) for r in results]
        answers += [(f"cli ({layout})", r["run_ids"]) for r in measured["cli"]]
    return answers


def _met(ok: bool) -> str:
    return "yes" if ok else "no"


def _cpu(values: list[float]) -> str:
    return f"CPU {format_seconds(sorted(values)[len(values) // 2])}"


def _search_rows(label: str, name: str, results: list[dict[str, Any]]) -> list[list[str]]:
    cold = [r["cold_s"] for r in results]
    warm = [s for r in results for s in r["warm_s"]]
    rss = max(r["peak_rss_mib"] for r in results)
    jvm = [r["jvm_rss_mib"] for r in results if r.get("jvm_rss_mib")]
    memory = f"{rss:.0f} MiB" + (f" (+ JVM {max(jvm):.0f} MiB)" if jvm else "")
    returned = f"{results[0]['rows']:,}"
    cold_text = format_spread(cold)
    warm_text = format_spread(warm)
    if "cold_cpu_s" in results[0]:
        cold_text += f"; {_cpu([r['cold_cpu_s'] for r in results])}"
        warm_text += f"; {_cpu([s for r in results for s in r['warm_cpu_s']])}"
    if name == "search spark":  # the targets are the JVM-free path's
        return [
            [f"{name}, cold ({label})", returned, cold_text, memory, "—", "—"],
            [f"{name}, warm ({label})", returned, warm_text, "", "—", "—"],
        ]
    cold_met = max(cold) <= TARGETS["cold"] and rss <= TARGETS["rss_mib"]
    cold_target = f"≤ {TARGETS['cold']:.0f} s, ≤ {TARGETS['rss_mib']:.0f} MiB"
    warm_met = max(warm) <= TARGETS["warm"]
    warm_target = f"≤ {TARGETS['warm']:.0f} s"
    return [
        [f"{name}, cold ({label})", returned, cold_text, memory, cold_target, _met(cold_met)],
        [f"{name}, warm ({label})", returned, warm_text, "", warm_target, _met(warm_met)],
    ]


def summary_rows(
    layouts: dict[str, dict[str, Any]], gc: dict[str, Any] | None, commits: dict[str, Any]
) -> list[list[str]]:
    rows = []
    for runs_per_round, result in commits.items():
        seconds = result["round_s"]
        rate = (
            f"{format_spread(seconds)} a round, {int(runs_per_round) / median(seconds):,.0f} runs/s"
        )
        label = f"commit round of {runs_per_round} finished run(s), one writer"
        rows.append([label, runs_per_round, rate, f"{result['peak_rss_mib']:.0f} MiB", "—", "—"])
    for label, measured in layouts.items():
        for name, results in measured["searches"].items():
            rows += _search_rows(label, name, results)
        cli = measured["cli"]
        seconds = format_spread([r["seconds"] for r in cli])
        memory = f"{max(r['peak_rss_mib'] for r in cli):.0f} MiB"
        rows.append(
            [f"cli `runs search`, whole command ({label})", f"{FIRST}", seconds, memory, "—", "—"]
        )
    if gc is not None:
        for key, text in (("gc", "`sparktrack gc`"), ("gc_vacuum", "then `gc --vacuum-hours 0`")):
            memory = f"{gc[key]['peak_rss_mib']:.0f} MiB"
            rows.append([f"{text}, once", "", format_seconds(gc[key]["seconds"]), memory, "—", "—"])
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 runs, 2 repeats: a smoke test")
    parser.add_argument("--runs", type=int, default=None, help="runs in the store (1,000,000)")
    parser.add_argument("--repeats", type=int, default=4, help="fresh processes per variant")
    parser.add_argument("--warm", type=int, default=3, help="warm calls per process")
    parser.add_argument("--skip-spark", action="store_true", help="no output_format='spark'")
    parser.add_argument("--skip-gc", action="store_true", help="no gc, no searches after it")
    parser.add_argument(
        "--update-readme",
        action="store_true",
        help="put the results into docs/benchmarks.md (a full run from a clean tree only)",
    )
    args = parser.parse_args(argv)
    subsets = {
        "--runs": args.runs is not None,
        "--skip-spark": args.skip_spark,
        "--skip-gc": args.skip_gc,
    }
    refuse_partial_readme_run(parser, args, subsets)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    machine = machine_description()
    runs = args.runs or (20_000 if args.quick else 1_000_000)
    repeats = 2 if args.quick else args.repeats
    shape = shape_for(runs)
    built = ensure_store(shape)
    stores = {"as built": store_dir(shape)}
    gc = None
    if not args.skip_gc:
        say("gc, on a copy:")
        stores["after gc"], gc = gc_copy(stores["as built"])
    variants = [name for name in SEARCHES if not (args.skip_spark and name == "search spark")]
    layouts: dict[str, dict[str, Any]] = {}
    for label, store in stores.items():
        say(f"{label}: {', '.join(variants)}; {repeats} processes each, {args.warm} warm calls")
        layouts[label] = {
            "store": str(store),
            "files": _files(store),
            "searches": measure_searches(store, variants, repeats, args.warm),
        }
        say(f"{label}: cli")
        layouts[label]["cli"] = measure_cli(store, repeats)
    if "after gc" in stores:
        shutil.rmtree(stores["after gc"])
    say("commit rounds of one writer, new local store:")
    commits = measure_commits(stores["as built"].parent, 10 if args.quick else COMMIT_ROUNDS)
    problems = check_agreement(_answers(layouts))
    machine["load_avg_end"] = load_average()
    table = markdown_table(
        [f"at {runs:,} runs", "runs returned", "time", "peak memory", "target", "met?"],
        summary_rows(layouts, gc, commits),
    )
    notes = summary_notes(shape, built, gc)
    print_summary(table, notes, machine)
    subset = args.runs is not None or args.skip_spark or args.skip_gc
    return publish(
        BENCHMARK,
        quick=args.quick,
        partial="a subset" if subset else None,
        fields={
            "shape": asdict(shape),
            "build": built,
            "layouts": layouts,
            "gc": gc,
            "commits": commits,
            "machine": machine,
            "targets": TARGETS,
        },
        table=table,
        notes=notes,
        elapsed=time.perf_counter() - started,
        problems=problems,
        update=args.update_readme,
    )


def summary_notes(shape: BulkShape, built: dict[str, Any], gc: dict[str, Any] | None) -> list[str]:
    sizes = built.get("bytes", {})
    size_text = ", ".join(
        f"{name} {size / 2**20:,.0f} MiB" for name, size in sizes.items() if size > 2**20
    )
    notes = [
        f"Store: {shape.runs:,} runs, {shape.params} params, {shape.metrics} metrics of "
        f"{shape.steps} steps, 5-6 tags each, 20% nested, {shape.experiments} experiments; "
        f"built with Spark (`local[2]`, `bench/_spark_bulk_store.py`) in {built['seconds']:.0f} s "
        f"({size_text}). As built: files of 2.5 million rows in the order runs were logged; "
        "after gc: clustered by run_id as `sparktrack gc` leaves them.",
        f"Query: filter `{FILTER}`, order `{ORDER[0]}`, every experiment; 100 runs, or every "
        "match.",
        "Cold = open the store + the first search in a new process (imports excluded; the "
        "CLI row is the whole command); warm = the next calls in that process, the same query. "
        "CPU = the process's CPU time (user + system, all threads), the median: on a shared "
        "machine it shows the work when the wall time shows the wait. Peak memory = the "
        "process's peak resident set (the JVM's beside it for `spark`).",
        '`search spark`: the first query with `output_format="spark"`, in a process whose '
        "SparkSession (`local[2]`) is already up; in local mode the driver's search fills "
        "the DataFrame (on a cluster Spark computes the search).",
        "Commit rounds: a writer logs N runs (20 params, 5 metrics x 10 steps, 1 tag, "
        "start and end), then `flush()`, which commits every table at once (one Delta commit "
        f"per table), {COMMIT_ROUNDS} rounds, in a new store on the local disk.",
    ]
    if gc is not None:
        before, after = gc["gc"]["before"], gc["gc"]["after"]
        vacuumed = gc["gc_vacuum"]["after"]["bytes"]
        kept = ", ".join(
            f"{name} {size / 2**20:,.0f} MiB" for name, size in vacuumed.items() if size > 2**20
        )
        notes.append(
            f"gc: {sum(before['files'].values())} data files -> {sum(after['files'].values())} "
            f"(metrics {before['files'].get('metrics', 0)} -> {after['files'].get('metrics', 0)}); "
            "the second pass, with `--vacuum-hours 0`, shows a routine run on a maintained "
            "store (little to compact, old files deleted); after it the tables take "
            f"{kept} (gc writes snappy-compressed files)."
        )
    return notes


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child_main(json.loads(sys.argv[2]))
        sys.exit(0)
    run_main(main)
