"""What differs between two runs, as text, for ``sparktrack runs diff``."""

from __future__ import annotations

from typing import Any

import typer

from sparktrack.cli._output import render_table
from sparktrack.tracking import Change, RunDiff

__all__ = ["echo_run_diff"]

# Each section's title, in the order a reader checks them.
_SECTIONS = (
    ("params", "Params"),
    ("metrics", "Metrics (latest)"),
    ("code", "Code"),
    ("datasets", "Datasets (digest)"),
    ("packages", "Packages"),
    ("environment", "Environment"),
    ("spark_conf", "Spark conf"),
)


def _shown(value: Any) -> str:
    return "(none)" if value is None else str(value)


def echo_run_diff(diff: RunDiff) -> None:
    """Print each section that differs as a table (KEY, A, B), then the code's diff."""
    lines = [f"A = run {diff.run_a}", f"B = run {diff.run_b}"]
    if diff.identical:
        lines.append("\nNo differences.")
    for attribute, title in _SECTIONS:
        changes: list[Change] = getattr(diff, attribute)
        if not changes:
            continue
        rows = [[c.key, _shown(c.a), _shown(c.b)] for c in changes]
        table = render_table(["KEY", "A", "B"], rows)
        lines += ["", f"{title}: {len(changes)} differ"]
        lines += ["  " + line for line in table.splitlines()]
    for note in diff.missing:
        lines.append(f"\nNot compared: {note}")
    typer.echo("\n".join(lines))
    if diff.code_diff:
        typer.echo("\nCode diff:\n" + diff.code_diff.rstrip("\n"))
