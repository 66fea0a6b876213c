"""MLflow's own client against ``sparktrack server``, as MLflow users run it.

The server runs as a real process (``sparktrack server --port 0`` on a store of the
test's), and client code runs in MLflow's environment (``.venv-mlflow``, made by
``make setup-mlflow``): MLflow is the client users bring, never a dependency of
sparktrack, so it is never imported into the suite's own interpreter. Both ends'
stderr is shown when something fails.

    with running_server(store, stderr_dir=tmp) as server:
        found = run_mlflow(server, "import mlflow; emit(mlflow.search_experiments()[0].name)")

Client code gets ``emit(value)``, which prints the ``RESULT {json}`` line that
``run_mlflow`` returns (the last one, when it emits several).
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests._processes import ROOT, Child, Finished, child_env, python, run_child, start

__all__ = [
    "MlflowServer",
    "client_env",
    "mlflow_python",
    "run_mlflow",
    "run_mlflow_child",
    "running_server",
]

SETUP_HINT = "run `make setup-mlflow` (tests/mlflow-requirements.txt into .venv-mlflow)"

_PRELUDE = textwrap.dedent(
    """\
    import json as _json

    def emit(value):
        print("RESULT " + _json.dumps(value, default=str), flush=True)
    """
)


def mlflow_python() -> Path:
    """The interpreter of MLflow's environment; fails the test (never skips) without it.

    Looked for next to the suite's own venv (``make`` names them ``.venv`` and
    ``.venv-mlflow``), then in the checkout.
    """
    candidates = [Path(sys.prefix + "-mlflow"), ROOT / ".venv-mlflow"]
    for venv in candidates:
        interpreter = venv / "bin" / "python"
        if interpreter.exists():
            return interpreter
    looked = ", ".join(str(c) for c in candidates)
    pytest.fail(f"MLflow's client environment is missing (looked in {looked}): {SETUP_HINT}")


@dataclass(frozen=True)
class MlflowServer:
    """A running ``sparktrack server``: its URL, store and process."""

    url: str
    store: Path
    child: Child
    token: str | None = None

    def stderr(self) -> str:
        """The tail of the server's stderr (its log and any traceback)."""
        return self.child.stderr()

    def explain(self, what: str) -> str:
        """For an assertion message: ``what``, then the server's stderr tail."""
        return self.child.explain(f"{what}\n(the server at {self.url})")


def client_env(
    server: MlflowServer, base: Mapping[str, str] | None = None, **changes: str | None
) -> dict[str, str]:
    """The environment of an MLflow client pointed at ``server``.

    No PYTHONPATH (this checkout must not be importable there: the client side is
    MLflow alone) and no SPARKTRACK_* settings; MLflow's telemetry off.
    """
    env = {
        name: value
        for name, value in (os.environ if base is None else base).items()
        if not name.startswith(("SPARKTRACK_", "MLFLOW_")) and name != "PYTHONPATH"
    }
    env.update(
        MLFLOW_TRACKING_URI=server.url,
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        # Headless: matplotlib draws figures without a display.
        MPLBACKEND="Agg",
    )
    if server.token is not None:
        env["MLFLOW_TRACKING_TOKEN"] = server.token
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@contextmanager
def running_server(
    store: Path,
    *,
    stderr_dir: Path,
    token: str | None = None,
    arguments: Sequence[str] = (),
) -> Iterator[MlflowServer]:
    """Start ``sparktrack server --port 0`` on ``store``; stop it when the block ends.

    Args:
        store: The store's folder (created by the server if missing).
        stderr_dir: Where the server's stderr file goes.
        token: Start it with this token (``$SPARKTRACK_SERVER_TOKEN``); the clients
            of ``run_mlflow`` send it.
        arguments: More options for ``sparktrack server`` (``--no-ui``).
    """
    mlflow_python()  # before starting anything: a missing client fails at once
    env = child_env(
        sparktrack_settings=False,
        SPARKTRACK_JOURNAL_DIR=str(stderr_dir / "server-journal"),
        SPARKTRACK_SERVER_TOKEN=token,
        SPARKTRACK_SNAPSHOTS="false",
    )
    command = python("-m", "sparktrack.cli", "server", "--store", store, "--port", "0", *arguments)
    child = start(command, stderr_dir=stderr_dir, env=env, name="sparktrack-server")
    try:
        # Announced once the socket listens: connections made from now on queue.
        url = child.expect_line("sparktrack server at ")[-1]
        yield MlflowServer(url=url, store=store, child=child, token=token)
    finally:
        child.stop()


def run_mlflow_child(
    server: MlflowServer,
    arguments: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 300,
    expect: int | None = 0,
) -> Finished:
    """Run MLflow's interpreter with ``arguments`` against ``server`` (``-m pytest ...``).

    Fails when it exits otherwise than ``expect``: the message shows its output and
    the server's stderr.
    """
    command = [mlflow_python(), *arguments]
    try:
        return run_child(
            command,
            env=env if env is not None else client_env(server),
            cwd=cwd,
            timeout=timeout,
            expect=expect,
        )
    except AssertionError as failure:
        raise AssertionError(server.explain(str(failure))) from None


def run_mlflow(
    server: MlflowServer,
    code: str,
    *,
    cwd: str | Path | None = None,
    timeout: float = 300,
    env: Mapping[str, str] | None = None,
) -> Any:
    """Run ``code`` with MLflow's client against ``server``; return what it ``emit``-ted.

    Each call pays MLflow's import (seconds): group scenarios into few calls.
    """
    finished = run_mlflow_child(
        server, ["-c", _PRELUDE + textwrap.dedent(code)], env=env, cwd=cwd, timeout=timeout
    )
    lines = [line for line in finished.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise AssertionError(server.explain(finished.explain("the client emitted nothing")))
    return json.loads(lines[-1][len("RESULT ") :])
