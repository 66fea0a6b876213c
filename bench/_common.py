"""Small helpers shared by the benchmarks: timing, spread, balanced order, machine and
source description, tables, the raw results files, the tables of the benchmarks page,
and the frame of a benchmark script (its common flags, whether MLflow takes part,
publishing a run).

Kept free of third-party imports so every benchmark can use it in any venv.

Raw results: every run writes one JSON file, ``bench/results/<benchmark>-<UTC date and
time>-<commit>.json`` (``bench/out/`` for --quick smoke runs, which git ignores), with
every repeat's timing, the machine (CPU, cores, load), the versions (Python, Java,
packages) and the git commit it ran at with a dirty flag.

Published tables: each benchmark owns a block of the documentation's benchmarks page
(``docs/benchmarks.md``) between ``<!-- bench:<name> -->`` and ``<!-- /bench:<name> -->``.
``--update-readme`` on a benchmark, or ``python bench/_common.py readme
bench/results/<file>.json`` for a stored result, replaces that block with the result's
table, its notes and a line naming the commit, the date, the machine and the results
file. Only a full run from a clean tree (nothing changed but the documentation and
bench/results/) may go there. (The option and the command keep their names from when
the tables were in the README.)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

__all__ = [
    "BENCH_PAGE",
    "OUT_DIR",
    "RESULTS_DIR",
    "MlflowChoice",
    "ReadmeRefused",
    "Stopwatch",
    "add_run_arguments",
    "balanced_order",
    "check_readme_allowed",
    "choose_mlflow",
    "format_rate",
    "format_seconds",
    "format_spread",
    "load_average",
    "machine_description",
    "machine_line",
    "markdown_table",
    "median",
    "package_versions",
    "partial_reasons",
    "percentile",
    "print_summary",
    "publish",
    "refuse_partial_readme_run",
    "run_main",
    "say",
    "source_tree",
    "spread",
    "stopwatch",
    "time_call",
    "update_readme",
    "write_results",
]

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
BENCH_PAGE = REPO / "docs" / "benchmarks.md"  # where the tables are published
RESULTS_DIR = BENCH_DIR / "results"  # committed: what the published figures come from
OUT_DIR = BENCH_DIR / "out"  # git-ignored: smoke runs
# Files whose changes do not change what is measured: the documentation (the figures
# among it) and the raw results.
_NOT_MEASURED = ("README.md", "docs/", "mkdocs.yml", "bench/results/")

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


def spread(values: Sequence[float]) -> dict[str, float]:
    """min, quartiles, median and max of the repeats: how far one figure can be trusted."""
    if not values:
        raise ValueError("spread of no values")
    return {
        "n": len(values),
        "min": min(values),
        "q1": percentile(values, 25),
        "median": median(values),
        "q3": percentile(values, 75),
        "max": max(values),
    }


def format_spread(values: Sequence[float] | dict[str, float]) -> str:
    """``median [min, max]`` in seconds, of values or of their ``spread``; the median
    alone for a single value."""
    summary = values if isinstance(values, dict) else spread(values)
    text = format_seconds(summary["median"])
    if summary["n"] > 1:
        text += f" [{format_seconds(summary['min'])}, {format_seconds(summary['max'])}]"
    return text


def balanced_order(variants: Sequence[T], repeat: int) -> list[T]:
    """The order of the variants in one repeat: as given, then reversed (A B, B A, A B...).

    Over each pair of repeats every variant runs once in each position, so a drift (the
    JVM warming up, a neighbour's job starting) weighs on no variant more than another.
    With an odd number of repeats the last one is unpaired: use even repeats.
    """
    return list(variants) if repeat % 2 == 0 else list(reversed(variants))


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
        "java": java_version(),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "executable": sys.executable,
        # Other work on a shared machine skews every figure; record how busy it was.
        "load_avg": load_average(),
    }


def java_version() -> str | None:
    """The first line of ``java -version`` (the java Spark starts: JAVA_HOME's, else PATH's)."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home, "bin", "java")) if java_home else "java"
    try:
        completed = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = (completed.stderr or completed.stdout).strip().splitlines()
    return lines[0] if lines else None


def package_versions(distributions: Sequence[str]) -> dict[str, str | None]:
    """Installed versions of the given distributions (None when one is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {}
    for name in distributions:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


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
    java = re.search(r'"([^"]+)"', machine.get("java") or "")
    java_text = f", Java {java.group(1)}" if java else ""
    return (
        f"Machine: {machine['cores']} cores, {ram}, {machine['cpu_model']}, "
        f"Python {machine['python']}{java_text}, {machine['platform']}{load_text}"
    )


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table with padded columns (readable as plain text too)."""
    cells = [[str(c).replace("|", "\\|") for c in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), separator, *(line(r) for r in cells[1:])])


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30, check=True
        ).stdout.rstrip()  # not lstrip: `git status --porcelain` lines start with a space
    except (OSError, subprocess.SubprocessError):
        return ""


def source_tree() -> dict[str, Any]:
    """The commit measured, and whether the tree differed from it (read-only git calls).

    ``dirty`` counts every change, untracked files included, except the documentation
    and bench/results/ (the figures themselves): a dirty figure cannot be reproduced
    from its commit.
    """
    commit = _git("rev-parse", "HEAD")
    changed = [
        line[3:]
        for line in _git("status", "--porcelain").splitlines()
        if not line[3:].startswith(_NOT_MEASURED)
    ]
    short = commit[:7]
    describe = f"commit {short}" if commit else "no git"
    if changed:
        describe += f" + {len(changed)} uncommitted files"
    return {
        "commit": commit,
        "commit_short": short,
        "dirty": bool(changed),
        "uncommitted_files": changed,
        "describe": describe,
    }


def write_results(name: str, payload: dict[str, Any], *, scratch: bool = False) -> Path:
    """Write one run's raw results and return the path.

    ``bench/results/<name>-<UTC date and time>-<commit>.json`` (``-dirty`` added when the
    tree differed from the commit); ``scratch`` (smoke runs) writes to git-ignored
    ``bench/out/`` instead. ``source_tree`` and ``machine`` are added when absent.
    """
    tree = payload.setdefault("source_tree", source_tree())
    payload.setdefault("machine", machine_description())
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    commit = tree.get("commit_short") or "nogit"
    if tree.get("dirty"):
        commit += "-dirty"
    folder = OUT_DIR if scratch else RESULTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{stamp}-{commit}.json"
    payload["results_file"] = str(path.relative_to(REPO))
    payload.setdefault("written_at_utc", stamp)
    path.write_text(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")
    return path


# =====================================================================================
# The tables of the benchmarks page (docs/benchmarks.md)
# =====================================================================================


class ReadmeRefused(Exception):
    """A result that must not be published (a smoke run, a subset, a dirty tree)."""


def check_readme_allowed(payload: dict[str, Any]) -> None:
    """Raise ReadmeRefused unless ``payload`` is a full run from a clean tree."""
    if payload.get("mode") != "full":
        raise ReadmeRefused(f"a {payload.get('mode')!r} run is a smoke test, not figures")
    if payload.get("partial"):
        raise ReadmeRefused(f"a partial run ({payload['partial']}) would leave rows out")
    tree = payload.get("source_tree") or {}
    if not tree.get("commit"):
        raise ReadmeRefused("the run has no git commit to name")
    if tree.get("dirty"):
        files = ", ".join(tree.get("uncommitted_files", [])[:10])
        raise ReadmeRefused(
            f"the tree differed from commit {tree['commit_short']} ({files}): commit first, "
            "then measure, so that the figures name the code they measured"
        )


def readme_block(payload: dict[str, Any]) -> str:
    """The published block for one result: its table, its notes and where it comes from."""
    tree = payload["source_tree"]
    machine = payload["machine"]
    stamp = payload.get("written_at_utc", "")
    date = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}" if len(stamp) >= 8 else "date unknown"
    lines = [payload["table_markdown"], ""]
    lines += [f"- {note}" for note in payload.get("notes", [])]
    lines += [
        "",
        f"Measured at commit `{tree['commit_short']}` on {date}. {machine_line(machine)}. "
        f"Raw results: `{payload['results_file']}`.",
    ]
    return "\n".join(lines)


def update_readme(marker: str, payload: dict[str, Any], readme: Path = BENCH_PAGE) -> None:
    """Replace the block ``<!-- bench:marker -->`` of the benchmarks page with this result's."""
    check_readme_allowed(payload)
    text = readme.read_text()
    pattern = re.compile(
        rf"(<!-- bench:{re.escape(marker)} -->\n).*?(\n<!-- /bench:{re.escape(marker)} -->)",
        re.DOTALL,
    )
    if not pattern.search(text):
        raise ReadmeRefused(f"{readme} has no <!-- bench:{marker} --> block")
    block = readme_block(payload)
    readme.write_text(pattern.sub(lambda m: m.group(1) + block + m.group(2), text, count=1))


# =====================================================================================
# The frame of a benchmark script
# =====================================================================================


def say(message: str = "") -> None:
    """Print a line at once: benchmarks run for minutes, their progress must show."""
    print(message, flush=True)


def add_run_arguments(parser: argparse.ArgumentParser, *, quick: str, keep_tmp: str) -> None:
    """The flags of every benchmark measured against MLflow: --quick (``quick`` says what
    it scales down), --skip-mlflow, --update-readme, --keep-tmp (``keep_tmp`` says what
    stays)."""
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument(
        "--skip-mlflow",
        action="store_true",
        help="measure sparktrack only (automatic when mlflow is not installed)",
    )
    parser.add_argument(
        "--update-readme",
        action="store_true",
        help="put the results into docs/benchmarks.md (a full run from a clean tree only)",
    )
    parser.add_argument("--keep-tmp", action="store_true", help=keep_tmp)


def refuse_partial_readme_run(
    parser: argparse.ArgumentParser, args: argparse.Namespace, subsets: dict[str, bool]
) -> None:
    """Stop at once when --update-readme comes with a run whose figures may not go into
    docs/benchmarks.md: --quick, --skip-mlflow, a subset flag given (``subsets``: flag -> given),
    or a tree that differs from its commit. A benchmark without an MLflow side has no
    --skip-mlflow to refuse."""
    if not args.update_readme:
        return
    flags = {"--quick": args.quick, **subsets}
    if hasattr(args, "skip_mlflow"):
        flags["--skip-mlflow"] = args.skip_mlflow
    if any(flags.values()):
        names = list(flags)
        parser.error(f"--update-readme takes a full run: no {', '.join(names[:-1])} or {names[-1]}")
    try:
        check_readme_allowed({"mode": "full", "source_tree": source_tree()})
    except ReadmeRefused as exc:
        parser.error(f"--update-readme: {exc}")


@dataclass(frozen=True)
class MlflowChoice:
    """Whether MLflow is installed, and whether this run measures it."""

    installed: bool
    used: bool

    @property
    def absence(self) -> str:
        """Why MLflow is not measured: ``not installed`` or ``skipped``."""
        return "not installed" if not self.installed else "skipped"


def choose_mlflow(args: argparse.Namespace) -> MlflowChoice:
    """MLflow takes part when installed and not skipped; --update-readme requires it
    (exits with status 2 otherwise)."""
    # find_spec: whether MLflow is there without paying for its import in this process.
    installed = importlib.util.find_spec("mlflow") is not None
    choice = MlflowChoice(installed, installed and not args.skip_mlflow)
    if args.update_readme and not choice.used:
        say("error: --update-readme needs MLflow (`make bench-setup` installs it)")
        raise SystemExit(2)
    return choice


def print_summary(table: str, notes: Sequence[str], machine: dict[str, Any]) -> None:
    """The result table, its notes and the machine line, on stdout."""
    say()
    say(table)
    say()
    for note in notes:
        say(f"- {note}")
    say()
    say(machine_line(machine))


def partial_reasons(*reasons: tuple[str, bool]) -> str | None:
    """Why a run is not a full one (the reasons that apply, of ``(reason, applies)``),
    or None: a partial run never goes into docs/benchmarks.md."""
    return "; ".join(reason for reason, applies in reasons if applies) or None


def publish(
    benchmark: str,
    *,
    quick: bool,
    partial: str | None,
    fields: dict[str, Any],
    table: str,
    notes: Sequence[str],
    elapsed: float,
    problems: Sequence[str] = (),
    failed: bool = False,
    update: bool = False,
    file_name: str | None = None,
) -> int:
    """Write a run's raw results and return the script's exit status.

    The results file (``bench/out/`` for a ``quick`` run) holds what names and classifies
    the run, the benchmark's own ``fields``, then the table and notes docs/benchmarks.md would
    show. Each problem is printed; the status is 1 when the run ``failed`` or has
    ``problems``; else, with ``update``, the table in docs/benchmarks.md is replaced (1 if that is
    refused), and 0. ``file_name`` names the file when it is not ``benchmark`` (a subset).
    """
    payload = {
        "benchmark": benchmark,
        "readme_marker": benchmark,
        "mode": "quick" if quick else "full",
        "partial": partial,
        **fields,
        "table_markdown": table,
        "notes": list(notes),
        "elapsed_s": elapsed,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    path = write_results(file_name or benchmark, payload, scratch=quick)
    say(f"results written to {path}")
    for problem in problems:
        say(f"error: {problem}")
    if failed or problems:
        return 1
    if update:
        try:
            update_readme(benchmark, payload)
        except ReadmeRefused as exc:
            say(f"docs/benchmarks.md not updated: {exc}")
            return 1
        say(f"docs/benchmarks.md block {benchmark} updated")
    return 0


def run_main(main: Callable[[], int]) -> NoReturn:
    """Exit with ``main()``'s status: 130 on Ctrl-C, 1 with the traceback on an error."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:
        traceback.print_exc()
        sys.exit(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Put a stored benchmark result into its table on docs/benchmarks.md."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    readme = sub.add_parser(
        "readme", help="replace a block of docs/benchmarks.md with a stored result"
    )
    readme.add_argument("results", type=Path, help="a bench/results/*.json file")
    args = parser.parse_args(argv)
    payload = json.loads(args.results.read_text())
    try:
        update_readme(payload.get("readme_marker") or payload["benchmark"], payload)
    except ReadmeRefused as exc:
        print(f"{BENCH_PAGE.relative_to(REPO)} not updated: {exc}", file=sys.stderr)
        return 1
    print(f"{BENCH_PAGE.relative_to(REPO)} block {payload['benchmark']} now shows {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
