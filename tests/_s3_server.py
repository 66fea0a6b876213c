"""An S3- and DynamoDB-compatible server on loopback for the tests: moto in server mode.

Run as ``python -m tests._s3_server``, the child serves on 127.0.0.1 at a port the OS
picks, prints ``PORT <n>`` once it listens and serves until its stdin closes (so it
never outlives the test run that started it, even one that was killed).
``S3Server.start`` starts that child and creates a bucket; the ``s3_server`` fixture of
tests/conftest.py shares one for the whole run.

Clients find the server as users' clients find theirs: through the engines' usual
environment variables (``env``): ``AWS_ENDPOINT_URL`` (delta-rs/object_store, Arrow's
S3 file system, boto3), ``AWS_ALLOW_HTTP`` (object_store: plain http on loopback),
dummy ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` and ``AWS_REGION``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests._processes import Child, child_env, python

BUCKET = "sparktrack-tests"
REGION = "us-east-1"


@dataclass
class S3Server:
    """A running moto server with one bucket, and the environment that points at it."""

    child: Child
    endpoint: str
    bucket: str
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls, stderr_dir: Path, *, conditional_writes: bool = True) -> S3Server:
        """Start a server (one that ignores conditional writes if asked) with a bucket."""
        flags = [] if conditional_writes else ["--without-conditional-writes"]
        command = python("-m", "tests._s3_server", *flags)
        stderr_dir.mkdir(parents=True, exist_ok=True)
        stderr_path = stderr_dir / f"moto-server-{uuid.uuid4().hex[:8]}.stderr"
        with stderr_path.open("w") as sink:
            # stdin a pipe we hold: the server stops when it closes, with us if need be.
            process = subprocess.Popen(
                command,
                env=child_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=sink,
                text=True,
            )
        child = Child(command, process, stderr_path)
        # moto imports in a few seconds; readline returns '' if the child dies first.
        _, port = child.expect_line("PORT ")
        endpoint = f"http://127.0.0.1:{port}"
        env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION,
        }
        server = cls(child, endpoint, BUCKET, env)
        server.client("s3").create_bucket(Bucket=BUCKET)
        return server

    def client(self, service: str):  # type: ignore[no-untyped-def]
        """A boto3 client of ``service`` ("s3", "dynamodb") on this server."""
        import boto3  # the tests' dependency only; imported when a test needs the server

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )

    def refused_conditional_puts(self, store: str) -> int:
        """How many writes under ``store`` the server refused because the object existed
        (HTTP 412 to a conditional put), read from its request log."""
        prefix = store.split("://", 1)[1]
        log = self.child.stderr_path.read_text(errors="replace")
        return sum(
            1 for line in log.splitlines() if f'"PUT /{prefix}/' in line and '" 412 ' in line
        )

    def unconditional_commits(self, store: str) -> list[str]:
        """The Delta commit files under ``store`` written with a plain put (no
        ``If-None-Match``), which replaces a commit another writer made: the server
        logs each one (``_logging_unconditional_commits``)."""
        prefix = store.split("://", 1)[1]
        log = self.child.stderr_path.read_text(errors="replace")
        return [
            line.split(" ", 1)[1]
            for line in log.splitlines()
            if line.startswith(f"{_UNCONDITIONAL} /{prefix}/")
        ]

    def new_prefix(self, scheme: str = "s3a") -> str:
        """A fresh store URI in the bucket (each test gets a store of its own)."""
        return f"{scheme}://{self.bucket}/stores/{uuid.uuid4().hex[:12]}"

    def stop(self) -> None:
        assert self.child.process.stdin is not None
        self.child.process.stdin.close()
        self.child.stop()


def _without_conditional_writes(app: Any) -> Any:
    """``app`` as a server that ignores ``If-None-Match`` (some S3-compatible servers do):
    a conditional put then replaces an object that exists."""

    def ignoring(environ: dict[str, Any], start_response: Any) -> Any:
        environ.pop("HTTP_IF_NONE_MATCH", None)
        return app(environ, start_response)

    return ignoring


_UNCONDITIONAL = "UNCONDITIONAL-COMMIT-PUT"
_COMMIT_FILE = re.compile(r"/_delta_log/\d{20}\.json$")


def _logging_unconditional_commits(app: Any) -> Any:
    """``app`` logging to stderr each plain put of a Delta commit file."""

    def logging(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if (
            environ.get("REQUEST_METHOD") == "PUT"
            and _COMMIT_FILE.search(path)
            and "HTTP_IF_NONE_MATCH" not in environ
        ):
            print(f"{_UNCONDITIONAL} {path}", file=sys.stderr, flush=True)
        return app(environ, start_response)

    return logging


def _serve(conditional_writes: bool) -> None:
    # moto is a test dependency only: this runs in the server child alone.
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    app: Any = DomainDispatcherApplication(create_backend_app)
    if not conditional_writes:
        app = _without_conditional_writes(app)
    app = _logging_unconditional_commits(app)
    # Port 0: the OS picks a free one; threaded, as moto_server serves.
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"PORT {server.server_port}", flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or dies)
    server.shutdown()


if __name__ == "__main__":
    _serve(conditional_writes="--without-conditional-writes" not in sys.argv)
