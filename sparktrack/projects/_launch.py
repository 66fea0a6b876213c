"""Running the job's process: its output streamed live, its tail kept, Ctrl-C passed on.

The job runs in a session (and process group) of its own, so the launcher alone
receives the terminal's Ctrl-C and decides what happens: it interrupts the whole group
(spark-submit's JVM, the Python driver, local executors and their Python workers) with
SIGINT, as a Ctrl-C in the foreground would, so a Python job still commits what it
logged; whatever is left after ``grace_seconds`` is killed with SIGKILL. SIGTERM to the
launcher (a scheduler stopping it) is treated as Ctrl-C.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import selectors
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

__all__ = ["LaunchResult", "launch"]

_CHUNK = 65536
# How long select() waits before checking whether the job ended: a job that exited while
# a straggler it started keeps the pipe open must not hold the launcher.
_POLL_SECONDS = 0.25


@dataclass(frozen=True)
class LaunchResult:
    """How the job's process ended.

    Attributes:
        returncode: Its exit status (negative: the signal that ended it); None when
            the launcher was interrupted and killed it.
        interrupted: Ctrl-C or SIGTERM reached the launcher while the job ran.
        log_tail: The end of its output (stdout and stderr, interleaved as written).
    """

    returncode: int | None
    interrupted: bool
    log_tail: str


def launch(
    argv: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    echo: TextIO | None,
    tail_bytes: int = 64 * 1024,
    grace_seconds: float = 10.0,
) -> LaunchResult:
    """Run ``argv`` to its end, streaming its output to ``echo``.

    Args:
        argv: The command.
        cwd: Its working folder.
        env: Its environment.
        echo: Where its output goes as it comes (None: nowhere).
        tail_bytes: How much of the end of its output to keep.
        grace_seconds: After Ctrl-C, how long the job's processes get to stop before
            they are killed.

    Returns:
        How it ended.

    Raises:
        OSError: The command could not be started.
    """
    tail = _Tail(tail_bytes)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with _sigterm_as_interrupt():
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: see the module docstring
        )
        assert process.stdout is not None
        try:
            for chunk in _output(process):
                tail.add(chunk)
                if echo is not None:
                    echo.write(decoder.decode(chunk))
                    echo.flush()
            returncode = process.wait()
        except KeyboardInterrupt:
            _stop_group(process, grace_seconds)
            tail.add(_rest(process))
            return LaunchResult(None, True, tail.text())
        finally:
            process.stdout.close()
    return LaunchResult(returncode, False, tail.text())


def _output(process: subprocess.Popen[bytes]) -> Iterator[bytes]:
    """The process's output as it comes, until it closes it or exits with nothing left."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            if selector.select(timeout=_POLL_SECONDS):
                chunk = os.read(fd, _CHUNK)
                if not chunk:
                    return
                yield chunk
            elif process.poll() is not None:
                return


def _rest(process: subprocess.Popen[bytes]) -> bytes:
    """What the stopped job wrote that was not read yet (it is dead: nothing blocks)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    os.set_blocking(fd, False)
    chunks = []
    try:
        while chunk := os.read(fd, _CHUNK):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    return b"".join(chunks)


def _stop_group(process: subprocess.Popen[bytes], grace_seconds: float) -> None:
    """SIGINT to the job's process group, SIGKILL to what is left after the grace period."""
    group = process.pid  # the leader of its own session: its pid is the group id
    _signal_group(group, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired, KeyboardInterrupt):
        process.wait(timeout=grace_seconds)  # a second Ctrl-C: no more waiting
    # Also when the leader is gone: the Python driver or an executor may outlive it.
    _signal_group(group, signal.SIGKILL)
    process.wait()


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # every process of the group exited
        os.killpg(group, signum)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt while the job runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Tail:
    """The last ``limit`` bytes of a stream."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.cut = False

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > self.limit:
            del self.data[: len(self.data) - self.limit]
            self.cut = True

    def text(self) -> str:
        text = self.data.decode("utf-8", errors="replace")
        if not self.cut:
            return text
        _, _, whole_lines = text.partition("\n")  # the first line is only partly there
        return f"[... earlier output left out: the last {self.limit // 1024} KiB follow]\n" + (
            whole_lines
        )
