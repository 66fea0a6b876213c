"""A run's source snapshot as text, for ``sparktrack runs source``."""

from __future__ import annotations

import sys

import typer

from sparktrack.cli._output import format_size, render_table
from sparktrack.tracking import SourceSnapshot

__all__ = ["echo_file", "echo_snapshot"]


def echo_snapshot(snapshot: SourceSnapshot) -> None:
    """Print the manifest as a summary, then the file of what ran (if it has one)."""
    manifest = snapshot.manifest
    source = manifest.get("source", {})
    lines = [
        f"Source snapshot {snapshot.digest} of run {snapshot.run_id}",
        f"  source  {source.get('name', '-')} ({source.get('type', '-')})",
    ]
    git = manifest.get("git")
    if git:
        lines.append(f"  git     {git.get('commit') or '(no commit yet)'} in {git.get('root')}")
    files = manifest.get("files", {})
    table = render_table(
        ["FILE", "ROLE", "SIZE", "NOTE"],
        [
            [name, entry.get("role", ""), format_size(entry.get("size")), entry.get("note", "")]
            for name, entry in sorted(files.items())
        ],
    )
    lines += ["", "Files"] + ["  " + line for line in table.splitlines()]
    for name, why in sorted(manifest.get("omitted", {}).items()):
        lines.append(f"  (left out: {name}: {why})")
    typer.echo("\n".join(lines))
    if snapshot.main:
        typer.echo(f"\n--- {snapshot.main} ---")
        echo_file(snapshot, snapshot.main)


def echo_file(snapshot: SourceSnapshot, name: str) -> None:
    """Write one file's bytes to stdout as they are (``| git apply`` must work)."""
    data = snapshot.read(name)
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    if data and not data.endswith(b"\n") and sys.stdout.isatty():
        sys.stdout.buffer.write(b"\n")
    sys.stdout.buffer.flush()
