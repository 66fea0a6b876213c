"""``sparktrack doctor``: check the environment without starting Spark.

Every check reports ok, warn, fail or info with what it found and, when not ok, how
to fix it. Only versions and files are inspected (no ``import pyspark``, no JVM for
Spark): the doctor must work exactly when Spark itself would not.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Annotated, Literal

import deltalake
import typer

from sparktrack.cli._app import CliState, cli_errors, cli_state, store_exists
from sparktrack.cli._output import echo_json
from sparktrack.errors import SparktrackError
from sparktrack.session import delta_package
from sparktrack.store import TABLE_NAMES, filesystem_for, parse_store_uri
from sparktrack.tracking import TrackingClient

__all__ = ["Check", "doctor", "run_checks"]

Status = Literal["ok", "warn", "fail", "info"]
PROBE_NAME = ".doctor-probe"
JAVA_WANTED = 17
MIN_PYTHON = (3, 11)
_JAVA_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    message: str  # what was found
    fix: str | None = None  # what to do about it, when not ok


def _version(distribution: str) -> str | None:
    """The installed version of a distribution, without importing it."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _major_minor(version: str) -> tuple[int, int] | None:
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else None


# -- the checks ----------------------------------------------------------------------
def check_python() -> Check:
    found = ".".join(str(p) for p in sys.version_info[:3])
    if sys.version_info >= MIN_PYTHON:
        return Check("python", "ok", f"Python {found} ({sys.executable})")
    return Check(
        "python",
        "fail",
        f"Python {found}; sparktrack needs 3.11 or newer",
        "create the environment with Python 3.11+, e.g. `python3.11 -m venv .venv`",
    )


def _java_command() -> tuple[str | None, str]:
    # Spark's launcher prefers $JAVA_HOME/bin/java over PATH; look where it will look.
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        return str(Path(java_home) / "bin" / "java"), "JAVA_HOME"
    return shutil.which("java"), "PATH"


def check_java() -> Check:
    fix = (
        f"install a Java {JAVA_WANTED} JDK (e.g. `apt install openjdk-{JAVA_WANTED}-jdk-headless`) "
        "and put it on PATH or set JAVA_HOME; only Spark needs Java, logging does not"
    )
    java, origin = _java_command()
    if java is None or not Path(java).exists():
        where = (
            f"JAVA_HOME={os.environ.get('JAVA_HOME')!r} has no bin/java"
            if (origin == "JAVA_HOME")
            else "no `java` on PATH"
        )
        return Check("java", "warn", where, fix)
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("java", "warn", f"`{java} -version` did not run: {exc}", fix)
    output = done.stderr + done.stdout  # java -version prints to stderr
    match = _JAVA_VERSION.search(output)
    if match is None:
        first = output.strip().splitlines()[0] if output.strip() else "no output"
        return Check("java", "warn", f"cannot read the version of {java}: {first}", fix)
    major = int(match[1]) if match[1] != "1" else int(match[2] or 0)  # "1.8" is Java 8
    found = f"Java {major} ({java}, from {origin})"
    if major == JAVA_WANTED:
        return Check("java", "ok", found)
    return Check(
        "java",
        "warn",
        f"{found}; Spark 3.5 with Sparkling Water is tested on Java {JAVA_WANTED}",
        fix,
    )


def check_pyspark() -> Check:
    found = _version("pyspark")
    fix = "pip install 'pyspark==3.5.7' (Sparkling Water and delta-spark 3.3 need Spark 3.5)"
    if found is None:
        return Check("pyspark", "fail", "pyspark is not installed", fix)
    if _major_minor(found) != (3, 5):
        return Check("pyspark", "fail", f"pyspark {found}; sparktrack needs 3.5.x", fix)
    return Check("pyspark", "ok", f"pyspark {found}")


def check_delta_spark() -> Check:
    found = _version("delta-spark")
    fix = "pip install 'delta-spark>=3.3.2,<3.4' (the Delta line built for Spark 3.5)"
    if found is None:
        return Check("delta-spark", "fail", "delta-spark is not installed", fix)
    if _major_minor(found) != (3, 3):
        return Check("delta-spark", "fail", f"delta-spark {found}; sparktrack needs 3.3.x", fix)
    spark = _version("pyspark")
    if spark is None or _major_minor(spark) != (3, 5):
        return Check(
            "delta-spark",
            "fail",
            f"delta-spark {found} is built for Spark 3.5 but pyspark is {spark or 'missing'}",
            "pip install 'pyspark==3.5.7'",
        )
    return Check("delta-spark", "ok", f"delta-spark {found}, matches pyspark {spark}")


def check_deltalake() -> Check:
    fix = "pip install 'deltalake>=1.1,<2' (it writes the store; logging needs it)"
    # Imported with the store, before any command runs: a missing or broken deltalake
    # stops `sparktrack` itself, so only its version is left to check here.
    found = getattr(deltalake, "__version__", None) or _version("deltalake") or "unknown"
    release = _major_minor(found)
    if release is None or not (1, 1) <= release < (2, 0):
        return Check("deltalake", "warn", f"deltalake {found}; sparktrack is tested on 1.x", fix)
    return Check("deltalake", "ok", f"deltalake {found}")


def ivy_jar_paths() -> list[Path]:
    """Where Spark's --packages resolution leaves the Delta jars (``~/.ivy2/jars``)."""
    group, artifact, version = delta_package().split(":")
    jars = Path.home() / ".ivy2" / "jars"
    # delta-spark pulls delta-storage of the same version; both must be cached.
    return [
        jars / f"{group}_{artifact}-{version}.jar",
        jars / f"{group}_delta-storage-{version}.jar",
    ]


def check_delta_jars() -> Check:
    missing = [path for path in ivy_jar_paths() if not path.is_file()]
    if not missing:
        return Check("delta-jars", "ok", f"{delta_package()} is in {ivy_jar_paths()[0].parent}")
    names = ", ".join(path.name for path in missing)
    return Check(
        "delta-jars",
        "warn",
        f"{names} not in {missing[0].parent}; will be downloaded from Maven Central at "
        "first Spark start",
        "allow access to repo1.maven.org for the first Spark start, or copy the jars into "
        f"{missing[0].parent} (offline clusters: pass them with --jars)",
    )


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _probe(client: TrackingClient) -> None:
    """Write, read back and delete ``<store>/.doctor-probe`` through the store's file system."""
    # The store's artifact file-system factory knows every scheme (abfss through
    # fsspec): reuse it, do not duplicate it.
    filesystem, base = filesystem_for(parse_store_uri(client.store.uri))
    target = f"{base.rstrip('/')}/{PROBE_NAME}"
    payload = uuid.uuid4().hex.encode()
    with filesystem.open_output_stream(target) as out:
        out.write(payload)
    try:
        with filesystem.open_input_stream(target) as stream:
            read_back = bytes(stream.read())
    finally:
        filesystem.delete_file(target)
    if read_back != payload:
        raise SparktrackError(f"read back different bytes from {target}")


def check_store(state: CliState) -> Check:
    try:
        uri, source = state.store_uri, state.store_source
        exists = store_exists(uri)
    except SparktrackError as exc:
        return Check("store", "fail", str(exc), "fix --store, SPARKTRACK_STORE or the config file")
    where = f"{uri} (from {source})"
    location = None if uri.startswith("memory://") else parse_store_uri(uri)
    if not exists and location is not None and location.local_path is not None:
        # Creating a store just to check it would leave one behind wherever doctor ran.
        parent = _nearest_existing(Path(location.local_path))
        if os.access(parent, os.W_OK):
            return Check(
                "store",
                "warn",
                f"no store at {where} yet; it is created when a run is logged",
                "pass `sparktrack --store URI doctor` to check an existing store",
            )
        return Check(
            "store",
            "fail",
            f"no store at {where}, and {parent} is not writable",
            "choose a writable folder with --store or SPARKTRACK_STORE",
        )
    try:
        client = state.client(must_exist=False)
        if location is not None:
            _probe(client)
        versions = ", ".join(f"{t} v{client.store.version(t)}" for t in TABLE_NAMES)
    except Exception as exc:  # whatever went wrong, doctor must report it, not crash
        return Check(
            "store",
            "fail",
            f"{where} is not usable: {exc}",
            "check the URI, credentials and permissions for the store location",
        )
    return Check("store", "ok", f"{where} is readable and writable; tables: {versions}")


def check_h2o() -> Check:
    found = _version("h2o-pysparkling-3-5")
    if found is None:
        return Check(
            "h2o",
            "info",
            "h2o-pysparkling-3-5 is not installed (only needed for H2O models)",
            "pip install 'sparktrack[h2o]'",
        )
    return Check("h2o", "info", f"h2o-pysparkling-3-5 {found}")


def run_checks(state: CliState) -> list[Check]:
    simple: list[Callable[[], Check]] = [
        check_python,
        check_java,
        check_pyspark,
        check_delta_spark,
        check_deltalake,
        check_delta_jars,
    ]
    checks = [check() for check in simple]
    checks.append(check_store(state))
    checks.append(check_h2o())
    return checks


@cli_errors
def doctor(
    ctx: typer.Context,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='Print {"ok": bool, "checks": [{name, status, message, fix}]} as JSON.',
        ),
    ] = False,
) -> None:
    """Check the environment: Java, Spark/Delta versions, jars and the store.

    Checks Python, Java, pyspark, delta-spark, deltalake, the Delta jars in the ivy
    cache, that the store is readable and writable, and Sparkling Water. Does not
    start Spark. Exit code 1 if any check failed (warnings do not fail).
    """
    checks = run_checks(cli_state(ctx))
    failed = any(check.status == "fail" for check in checks)
    if as_json:
        echo_json({"ok": not failed, "checks": [asdict(check) for check in checks]})
    else:
        width = max(len(check.name) for check in checks)
        for check in checks:
            line = f"{check.status:<4}  {check.name.ljust(width)}  {check.message}"
            if check.fix and check.status != "ok":
                line += f"; {'hint' if check.status == 'info' else 'fix'}: {check.fix}"
            typer.echo(line)
        counts = {s: sum(c.status == s for c in checks) for s in ("ok", "warn", "fail")}
        typer.echo(
            f"\n{counts['ok']} ok, {counts['warn']} warning{'' if counts['warn'] == 1 else 's'}, "
            f"{counts['fail']} failed"
        )
    if failed:
        raise typer.Exit(1)
