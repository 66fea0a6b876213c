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

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

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
    def start(cls, stderr_dir: Path) -> S3Server:
        command = python("-m", "tests._s3_server")
        stderr_dir.mkdir(parents=True, exist_ok=True)
        stderr_path = stderr_dir / f"moto-server-{os.getpid()}.stderr"
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

    def new_prefix(self, scheme: str = "s3a") -> str:
        """A fresh store URI in the bucket (each test gets a store of its own)."""
        return f"{scheme}://{self.bucket}/stores/{uuid.uuid4().hex[:12]}"

    def stop(self) -> None:
        assert self.child.process.stdin is not None
        self.child.process.stdin.close()
        self.child.stop()


def _serve() -> None:
    # moto is a test dependency only: this runs in the server child alone.
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print(f"PORT {port}", flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or dies)
    server.stop()


if __name__ == "__main__":
    os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
    _serve()
