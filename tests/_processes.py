"""Child processes for the tests: started one way, their stderr always kept and shown.

Tests run what users run in processes of its own: scripts, ``python -m tests._x``
children, the CLI, a server, ``multiprocessing`` workers, victims killed with SIGKILL.
Every child's stderr is captured (to a file while it runs: a pipe nobody reads fills up
and stalls the child) and every failure message carries its tail, so a red test says
why the child failed. Waits poll a condition until a deadline, never a fixed sleep.
"""

from __future__ import annotations

import faulthandler
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# A child's output is cut to its tail in failure messages, so that they stay readable.
TAIL_CHARS = 8000
# Java stack frames are left out of those tails: a Spark child's error is one line of
# them, followed by a hundred frames.
_JAVA_FRAME = re.compile(r"^\s+at |^\s*\.\.\. \d+ more")

Command = Sequence[str | Path]


def python(*arguments: str | Path) -> list[str]:
    """A command running this interpreter (the suite's venv) with ``arguments``."""
    return [sys.executable, *map(str, arguments)]


def child_env(
    base: Mapping[str, str] | None = None,
    *,
    sparktrack_settings: bool = True,
    **changes: str | None,
) -> dict[str, str]:
    """An environment for a child: ``base`` (default ``os.environ``), the project first
    on PYTHONPATH (so ``tests._x`` and this checkout's sparktrack import), then
    ``changes`` (None removes a variable). ``sparktrack_settings=False`` drops every
    ``SPARKTRACK_*`` variable first, as a user's shell has none.
    """
    env = dict(os.environ if base is None else base)
    if not sparktrack_settings:
        env = {name: value for name, value in env.items() if not name.startswith("SPARKTRACK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def readable(text: str, limit: int = TAIL_CHARS) -> str:
    """The tail of a child's output, without Java stack frames."""
    kept = "\n".join(line for line in text.splitlines() if not _JAVA_FRAME.match(line))
    return kept[-limit:] if kept else "(nothing)"


def result_line(stdout: str, prefix: str = "RESULT ") -> dict[str, Any] | None:
    """The JSON object on the last line of ``stdout`` starting with ``prefix`` (or None)."""
    lines = [line for line in stdout.splitlines() if line.startswith(prefix)]
    if not lines:
        return None
    found: dict[str, Any] = json.loads(lines[-1][len(prefix) :])
    return found


@dataclass(frozen=True)
class Finished:
    """A child that ran to its end: its command, exit status and whole output."""

    command: list[str]
    returncode: int
    stdout: str
    stderr: str

    def explain(self, what: str = "") -> str:
        """For an assertion message: what was expected, the exit status, both tails."""
        command = " ".join(self.command)
        shown = command if len(command) <= 200 else command[:200] + "..."
        return (
            f"{what + ': ' if what else ''}`{shown}` exited {self.returncode}\n"
            f"--- stdout (tail) ---\n{readable(self.stdout, 3000)}\n"
            f"--- stderr (tail) ---\n{readable(self.stderr)}"
        )


def run_child(
    command: Command,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 300,
    expect: int | None = 0,
) -> Finished:
    """Run ``command`` to its end and return its output.

    Fails when it outlives ``timeout`` seconds (it is killed first) or, unless
    ``expect`` is None, when its exit status is not ``expect``; the message shows the
    tails of its stdout and stderr.
    """
    args = [str(part) for part in command]
    try:
        done = subprocess.run(
            args,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        late = Finished(args, -1, _text(exc.stdout), _text(exc.stderr))
        raise AssertionError(late.explain(f"killed after {timeout:.0f} s")) from None
    finished = Finished(args, done.returncode, done.stdout, done.stderr)
    if expect is not None and finished.returncode != expect:
        raise AssertionError(finished.explain(f"expected exit status {expect}"))
    return finished


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


@dataclass
class Child:
    """A child running in the background; stdout is a pipe for the test to read."""

    command: list[str]
    process: subprocess.Popen[str]
    stderr_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def stderr(self, limit: int = TAIL_CHARS) -> str:
        """The tail of what the child wrote to stderr so far."""
        if not self.stderr_path.exists():
            return "(no stderr file)"
        return readable(self.stderr_path.read_text(errors="replace"), limit)

    def explain(self, what: str, stdout: str = "") -> str:
        """For an assertion message: what went wrong, the exit status, the output tails."""
        status = "still running" if self.running() else f"exit {self.process.returncode}"
        shown = f"--- stdout (tail) ---\n{readable(stdout, 3000)}\n" if stdout else ""
        return f"{what} ({status})\n{shown}--- stderr (tail) ---\n{self.stderr()}"

    def readline(self) -> str:
        """The child's next stdout line ('' once it closed its stdout)."""
        assert self.process.stdout is not None
        return self.process.stdout.readline()

    def expect_line(self, prefix: str) -> list[str]:
        """The child's next stdout line, split; fails unless it starts with ``prefix``."""
        line = self.readline()
        if not line.startswith(prefix):
            self.kill()
            raise AssertionError(self.explain(f"expected a line {prefix!r}, got {line!r}"))
        return line.split()

    def finish(self, timeout: float = 600, expect: int | None = 0) -> str:
        """Wait for the child to exit and return the rest of its stdout.

        Fails when it outlives ``timeout`` seconds (it is killed) or, unless ``expect``
        is None, exits with another status than ``expect``.
        """
        # Read through the pipe's file object, not with communicate(timeout=...): that
        # reads the descriptor and loses what readline() already buffered. A thread, so
        # that a child writing more than a pipe holds is never blocked while we wait.
        stdout = self.process.stdout
        assert stdout is not None
        chunks: list[str] = []
        reader = threading.Thread(target=lambda: chunks.append(stdout.read()), daemon=True)
        reader.start()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=60)
            reader.join(timeout=60)
            out = "".join(chunks)
            raise AssertionError(self.explain(f"ran for more than {timeout:.0f} s", out)) from None
        reader.join(timeout=60)  # the pipe closes once the child's own children let go too
        out = "".join(chunks)
        if expect is not None and self.process.returncode != expect:
            raise AssertionError(self.explain(f"expected exit status {expect}", out))
        return out

    def result(self, timeout: float = 600) -> dict[str, Any]:
        """The ``RESULT {json}`` line the child printed, once it exited with status 0."""
        out = self.finish(timeout)
        found = result_line(out)
        if found is None:
            raise AssertionError(self.explain("no RESULT line", out))
        return found

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or ``kill -9`` would, and reap the child.

        What it printed before stays readable (``finish``); waiting does not read it,
        so a grandchild still holding the pipe (a Spark driver's JVM) cannot stall this.
        """
        if self.running():
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM, then SIGKILL if the child is still there after ``timeout`` seconds."""
        if self.running():
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait(timeout=60)

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    command: Command,
    *,
    stderr_dir: Path,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    name: str = "child",
) -> Child:
    """Start ``command`` in the background, its stderr going to a file in ``stderr_dir``."""
    args = [str(part) for part in command]
    stderr_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = stderr_dir / f"{name}-{time.monotonic_ns()}.stderr"
    with stderr_path.open("w") as sink:
        process = subprocess.Popen(
            args,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=sink,
            text=True,
        )
    return Child(args, process, stderr_path)


def wait_for(
    condition: Callable[[], object],
    what: str,
    *,
    timeout: float = 60.0,
    interval: float = 0.05,
    child: Child | None = None,
) -> None:
    """Poll ``condition`` until it is true; fail at the deadline, or as soon as ``child``
    (running when the wait began, and expected to bring the condition about) exits."""
    deadline = time.monotonic() + timeout
    watching = child is not None and child.running()
    while not condition():
        if watching and child is not None and not child.running():
            raise AssertionError(child.explain(f"the child exited before {what}"))
        if time.monotonic() > deadline:
            message = f"timed out after {timeout:.0f} s waiting for {what}"
            raise AssertionError(child.explain(message) if child is not None else message)
        time.sleep(interval)


# -- multiprocessing workers ------------------------------------------------------------
def _with_stderr_to(path: str, target: Callable[..., Any], *args: Any) -> None:
    """In the worker: send this process's stderr to ``path``, then run ``target``."""
    with open(path, "w") as errors:
        os.dup2(errors.fileno(), 2)
    faulthandler.enable()  # a crash in native code leaves every thread's stack there
    target(*args)


@dataclass
class Worker:
    """A ``multiprocessing`` process whose stderr goes to a file."""

    process: multiprocessing.process.BaseProcess
    stderr_path: Path
    name: str = field(default="worker")

    def stderr(self, limit: int = TAIL_CHARS) -> str:
        if not self.stderr_path.exists():
            return "(no stderr file)"
        return readable(self.stderr_path.read_text(errors="replace"), limit)

    def join(self, timeout: float = 300) -> None:
        """Wait for the worker; fail unless it exited with status 0 in time."""
        self.process.join(timeout=timeout)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join(timeout=60)
            raise AssertionError(
                f"{self.name} still ran after {timeout:.0f} s\n--- stderr ---\n{self.stderr()}"
            )
        assert self.process.exitcode == 0, (
            f"{self.name} exited {self.process.exitcode}\n--- stderr ---\n{self.stderr()}"
        )


def start_worker(
    target: Callable[..., Any],
    *args: Any,
    stderr_dir: Path,
    method: str = "spawn",
    name: str = "worker",
) -> Worker:
    """Run ``target(*args)`` in a ``multiprocessing`` process started with ``method``.

    ``spawn`` by default: delta-rs is not fork-safe. ``target`` must be importable by
    name in the worker (a module-level function of a ``tests`` module).
    """
    stderr_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = stderr_dir / f"{name}-{time.monotonic_ns()}.stderr"
    context = multiprocessing.get_context(method)
    process = context.Process(target=_with_stderr_to, args=(str(stderr_path), target, *args))
    process.start()
    return Worker(process, stderr_path, name)


def run_workers(
    target: Callable[..., Any],
    arguments: Iterable[tuple[Any, ...]],
    *,
    stderr_dir: Path,
    timeout: float = 300,
) -> None:
    """Start one spawned worker per tuple of ``arguments`` at once; wait for all to succeed."""
    workers = [
        start_worker(target, *args, stderr_dir=stderr_dir, name=f"worker-{index}")
        for index, args in enumerate(arguments)
    ]
    try:
        for worker in workers:
            worker.join(timeout)
    finally:
        for worker in workers:  # those left after one failed: never outlive the test
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=60)
