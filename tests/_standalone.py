"""A Spark standalone cluster on loopback: one master, two workers, from pyspark's own
distribution (``spark-class org.apache.spark.deploy.master.Master`` / ``Worker``).

    with standalone_cluster(folder) as cluster:
        cluster.master_url       # spark://127.0.0.1:PORT, for spark-submit --master
        cluster.python           # the executors' Python: the data stack, not sparktrack

Unlike ``local-cluster[...]``, whose executors are started by the driver's own JVM and
inherit its environment, these executors are started by worker daemons: each runs in a
JVM of its own, in a working directory of its own (``<SPARK_WORKER_DIR>/<app>/<id>``),
with the workers' environment, which has no PYTHONPATH leading to this checkout.

Every port is picked by the OS (``--port 0 --webui-port 0``); the master's log says
which. Waits poll the master's JSON status against a deadline. The daemons' logs (and
the executors' stderr under the workers' folders) are shown in assertion messages, and
every process started here is stopped at the end, executors included.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import venv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests._processes import readable

# pyspark's wheel is a Spark distribution (bin/, jars/); found without importing pyspark,
# which tests/conftest.py (importing this module) leaves to the tests that use it.
_PYSPARK = importlib.util.find_spec("pyspark")
assert _PYSPARK is not None and _PYSPARK.origin is not None, "pyspark is not installed"
SPARK_HOME = Path(_PYSPARK.origin).resolve().parent
WORKERS = 2
# Per worker: one core (the machine has two) and room for one small executor.
WORKER_CORES = 1
WORKER_MEMORY = "1g"
EXECUTOR_MEMORY = "512m"
# JVMs start slowly on a busy 2-core machine.
START_DEADLINE_S = 180.0
STOP_DEADLINE_S = 30.0

_MASTER_URL = re.compile(r"Starting Spark master at (spark://[\w.\-]+:\d+)")
_MASTER_UI_PORT = re.compile(r"Successfully started service 'MasterUI' on port (\d+)")


@dataclass
class Daemon:
    """A master or worker JVM; its stdout and stderr go to one log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def running(self) -> bool:
        return self.process.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        """SIGTERM (a worker kills its executors on the way out), then SIGKILL whatever
        is left of the daemon's process group."""
        if self.running():
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_DEADLINE_S)
        # The daemon leads its own process group: its executors are in it too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)


@dataclass
class StandaloneCluster:
    """A running master and its workers (see the module's docstring)."""

    folder: Path
    python: Path
    master_url: str = ""
    web_ui: str = ""
    daemons: list[Daemon] = field(default_factory=list)

    def status(self) -> dict[str, Any]:
        """The master's JSON status (workers, applications), as its web UI serves it."""
        with urllib.request.urlopen(f"{self.web_ui}/json/", timeout=10) as answer:
            found: dict[str, Any] = json.load(answer)
        return found

    def alive_workers(self) -> int:
        try:
            return int(self.status().get("aliveworkers", 0))
        except (OSError, urllib.error.URLError, ValueError):
            return 0  # the web UI is not answering yet

    def logs(self, limit: int = 3000) -> str:
        """For assertion messages: the tail of each daemon's log and of each executor's
        stderr (the workers keep those in their folders)."""
        parts = [f"--- {d.name} log (tail) ---\n{readable(d.text(), limit)}" for d in self.daemons]
        for stderr in sorted(self.folder.glob("worker-*/app-*/*/stderr")):
            text = stderr.read_text(errors="replace")
            parts.append(
                f"--- {stderr.relative_to(self.folder)} (tail) ---\n{readable(text, limit)}"
            )
        return "\n".join(parts)

    def explain(self, what: str) -> str:
        return f"{what}\n{self.logs()}"

    def submit_command(
        self, script: Path, *arguments: str, conf: dict[str, str] | None = None
    ) -> list[str]:
        """``spark-submit`` of a Python ``script`` to this cluster, as a user submits it:
        the driver runs the suite's Python (``spark.pyspark.driver.python``), the
        executors the cluster's (``spark.pyspark.python``), each executor with one core
        and the smallest memory Spark accepts (450 MiB and up), the web UI on a port the
        OS picks. ``conf`` adds or overrides Spark confs."""
        confs = {
            "spark.pyspark.driver.python": sys.executable,
            "spark.pyspark.python": str(self.python),
            "spark.executor.memory": EXECUTOR_MEMORY,
            "spark.executor.cores": "1",
            "spark.cores.max": str(WORKERS * WORKER_CORES),
            "spark.driver.host": "127.0.0.1",
            "spark.ui.port": "0",
            **(conf or {}),
        }
        pairs = [part for name, value in confs.items() for part in ("--conf", f"{name}={value}")]
        return [
            str(SPARK_HOME / "bin" / "spark-submit"),
            *("--master", self.master_url),
            *pairs,
            str(script),
            *arguments,
        ]

    def submit_env(self, **changes: str) -> dict[str, str]:
        """The environment of ``spark-submit``: the user's shell without PYTHONPATH and
        sparktrack settings (``changes`` add some), bound to loopback."""
        return _daemon_env(self.folder, **changes)


def executor_python(folder: Path) -> Path:
    """A Python for the executors, as on a cluster whose image has the data stack
    (numpy, pandas, pyarrow: what pandas UDFs need) but not sparktrack.

    A virtualenv whose only addition is a ``.pth`` line naming the suite's
    site-packages: its packages import, but the ``.pth`` files there are not read, so an
    editable install of sparktrack (a ``.pth`` pointing at a checkout) stays invisible.
    """
    venv.create(folder, with_pip=False)
    interpreter = folder / "bin" / "python"
    purelib = subprocess.run(
        [str(interpreter), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "data_stack.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    probe = subprocess.run(
        [
            str(interpreter),
            "-c",
            "import importlib.util, numpy, pandas, pyarrow; "
            "assert importlib.util.find_spec('sparktrack') is None, 'sparktrack imports'",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=folder,  # not the checkout, whose sparktrack `-c` would find in the cwd
        env=_daemon_env(folder),
    )
    assert probe.returncode == 0, (
        f"the executors' Python at {interpreter} must have the data stack and lack "
        f"sparktrack:\n{probe.stderr}"
    )
    return interpreter


def _daemon_env(folder: Path, **changes: str) -> dict[str, str]:
    """A cluster daemon's environment: no PYTHONPATH (the checkout stays off the
    executors' path), no sparktrack settings, everything bound to loopback."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name != "PYTHONPATH" and not name.startswith(("SPARKTRACK_", "PYSPARK_"))
    }
    env.update(
        SPARK_HOME=str(SPARK_HOME),
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_LOCAL_DIRS=str(folder / "local"),
        SPARK_LOG_DIR=str(folder / "logs"),
        **changes,
    )
    return env


def _start_daemon(cluster: StandaloneCluster, name: str, main_class: str, *args: str) -> Daemon:
    log = cluster.folder / f"{name}.log"
    env = _daemon_env(cluster.folder)
    if name.startswith("worker"):
        env["SPARK_WORKER_DIR"] = str(cluster.folder / name)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(SPARK_HOME / "bin" / "spark-class"), main_class, *args],
            env=env,
            cwd=cluster.folder,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, stopped as one
        )
    daemon = Daemon(name, process, log)
    cluster.daemons.append(daemon)
    return daemon


def _wait(cluster: StandaloneCluster, condition: Any, what: str) -> Any:
    """Poll ``condition`` until it returns something true; fail at the deadline or as
    soon as a daemon exits, with the logs."""
    deadline = time.monotonic() + START_DEADLINE_S
    while not (found := condition()):
        dead = [d.name for d in cluster.daemons if not d.running()]
        if dead:
            raise AssertionError(cluster.explain(f"{', '.join(dead)} exited before {what}"))
        if time.monotonic() > deadline:
            raise AssertionError(
                cluster.explain(f"timed out after {START_DEADLINE_S:.0f} s waiting for {what}")
            )
        time.sleep(0.25)
    return found


@contextlib.contextmanager
def standalone_cluster(folder: Path) -> Iterator[StandaloneCluster]:
    """Start a master and ``WORKERS`` workers in ``folder``; stop them all on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    cluster = StandaloneCluster(folder, executor_python(folder / "executor-python"))
    try:
        master = _start_daemon(
            cluster,
            "master",
            "org.apache.spark.deploy.master.Master",
            *("--host", "127.0.0.1", "--port", "0", "--webui-port", "0"),
        )

        def announced() -> tuple[str, str] | None:
            text = master.text()
            url, ui = _MASTER_URL.search(text), _MASTER_UI_PORT.search(text)
            return (url.group(1), ui.group(1)) if url and ui else None

        url, ui_port = _wait(cluster, announced, "the master's URL and web UI port")
        cluster.master_url, cluster.web_ui = url, f"http://127.0.0.1:{ui_port}"
        for index in range(1, WORKERS + 1):
            _start_daemon(
                cluster,
                f"worker-{index}",
                "org.apache.spark.deploy.worker.Worker",
                *("--host", "127.0.0.1", "--port", "0", "--webui-port", "0"),
                *("--cores", str(WORKER_CORES), "--memory", WORKER_MEMORY),
                cluster.master_url,
            )
        _wait(cluster, lambda: cluster.alive_workers() == WORKERS, f"{WORKERS} workers ALIVE")
        yield cluster
    finally:
        for daemon in reversed(cluster.daemons):  # workers (and their executors) first
            daemon.stop()


if __name__ == "__main__":
    # By hand: start a cluster in the folder given and keep it until Ctrl-C or SIGTERM.
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with standalone_cluster(Path(sys.argv[1]).resolve()) as running:
        print(running.master_url, running.web_ui, running.python, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
