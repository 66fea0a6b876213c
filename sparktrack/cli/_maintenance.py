"""``sparktrack gc``: compact the store's Delta tables and optionally vacuum old files."""

from __future__ import annotations

from typing import Annotated

import typer

from sparktrack.cli._app import cli_errors, cli_state
from sparktrack.cli._output import echo_json, echo_table

__all__ = ["gc"]


@cli_errors
def gc(
    ctx: typer.Context,
    vacuum_hours: Annotated[
        int | None,
        typer.Option(
            "--vacuum-hours",
            metavar="H",
            min=0,
            help=(
                "Also delete data files the current table versions no longer use and that "
                "are older than H hours. Readers of older versions (time travel, queries "
                "running now) fail once their files are gone: Delta's default is 168. "
                "Default: no vacuum."
            ),
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the per-table report as JSON.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Change nothing: print how many files each table has, how many "
            "compaction would rewrite and how many files vacuum would delete.",
        ),
    ] = False,
) -> None:
    """Compact the store's tables; optionally vacuum old files.

    Logging commits many small files and reads slow down as they pile up; compaction
    rewrites each table into few large files and prints the file counts before/after.
    """
    state = cli_state(ctx)
    client = state.client()
    report = client.maintain(vacuum_retention_hours=vacuum_hours, dry_run=dry_run)
    if as_json:
        echo_json(
            {
                "store": client.store.uri,
                "vacuum_hours": vacuum_hours,
                "dry_run": dry_run,
                "tables": report,
            }
        )
        return
    if dry_run:
        _echo_plan(client.store.uri, vacuum_hours, report)
        return
    echo_table(
        ["TABLE", "FILES BEFORE", "FILES AFTER", "VACUUMED", "VERSION"],
        [
            [
                name,
                stats.get("files_before"),
                stats.get("files_after"),
                stats.get("vacuumed_files"),
                stats.get("version"),
            ]
            for name, stats in report.items()
        ],
        empty=f"Store {client.store.uri} has no tables to maintain.",
    )
    if report:
        before = sum(int(s.get("files_before", 0)) for s in report.values())
        after = sum(int(s.get("files_after", 0)) for s in report.values())
        vacuumed = sum(int(s.get("vacuumed_files", 0)) for s in report.values())
        summary = f"\n{len(report)} tables: {before} data files -> {after}"
        if vacuum_hours is not None:
            summary += f"; vacuumed {vacuumed} files older than {vacuum_hours}h"
        typer.echo(summary)


def _echo_plan(uri: str, vacuum_hours: int | None, plan: dict[str, dict[str, int]]) -> None:
    echo_table(
        ["TABLE", "FILES", "TO REWRITE", "TO VACUUM", "VERSION"],
        [
            [
                name,
                stats.get("files_before"),
                stats.get("files_rewritten"),
                stats.get("vacuumed_files") if vacuum_hours is not None else "-",
                stats.get("version"),
            ]
            for name, stats in plan.items()
        ],
        empty=f"Store {uri} has no tables to maintain.",
    )
    if plan:
        rewritten = sum(int(s.get("files_rewritten", 0)) for s in plan.values())
        summary = f"\nDry run, nothing changed: gc would rewrite {rewritten} data files"
        if vacuum_hours is not None:
            vacuumed = sum(int(s.get("vacuumed_files", 0)) for s in plan.values())
            summary += f" and vacuum {vacuumed} files older than {vacuum_hours}h"
        typer.echo(summary)
