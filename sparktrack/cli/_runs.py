"""``sparktrack runs list|search|show``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from sparktrack.cli._app import cli_errors, cli_state
from sparktrack.cli._output import (
    as_datetime,
    echo_json,
    echo_table,
    format_cell,
    format_duration,
    format_size,
    is_missing,
    iso_time,
    render_table,
    short_time,
)
from sparktrack.errors import InvalidInputError, NotFoundError
from sparktrack.search import ATTRIBUTES, parse_filter, parse_order_by, referenced_columns
from sparktrack.tracking import Run, TrackingClient

__all__ = ["runs_app"]

runs_app = typer.Typer(
    name="runs",
    help="List, search and inspect runs.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

KINDS = ("metrics", "params", "tags")
# Tags the tracking layer sets itself; `runs show` lists them after the user's own.
SYSTEM_TAG_PREFIXES = ("mlflow.", "sparktrack.")
# How many metric columns a table gets when --columns does not say.
DEFAULT_METRIC_COLUMNS = 3
# Columns every runs table starts with (frame column, header).
_BASE_COLUMNS = [
    ("run_id", "RUN ID"),
    ("run_name", "NAME"),
    ("status", "STATUS"),
    ("start_time", "START"),
    ("duration", "DURATION"),
]
_SHOWN = {"run_id", "run_name", "status", "start_time", "end_time", "duration"}
# What a --columns entry may start with, mapped to the frame's column prefix ("" for
# run attributes); the same aliases the filter grammar accepts.
_COLUMN_PREFIXES = {
    "metrics": "metrics.",
    "metric": "metrics.",
    "params": "params.",
    "param": "params.",
    "tags": "tags.",
    "tag": "tags.",
    "attributes": "",
    "attribute": "",
    "attr": "",
    "run": "",
}

ExperimentOption = Annotated[
    list[str] | None,
    typer.Option(
        "--experiment",
        "-e",
        metavar="NAME",
        help="Only runs of this experiment (by name); repeat for several. Default: all.",
        show_default=False,
    ),
]
MaxOption = Annotated[
    int, typer.Option("--max", "-n", metavar="N", min=1, help="Return at most this many runs.")
]
JsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help=(
            "Print JSON instead of a table: times ISO-8601 UTC, durations in seconds, "
            "metrics/params/tags as objects."
        ),
    ),
]


# -- helpers ---------------------------------------------------------------------------
def _experiment_ids(client: TrackingClient, names: Sequence[str] | None) -> list[str] | None:
    """Experiment names to ids; None (all experiments) when no name was given."""
    if not names:
        return None
    ids = []
    for name in names:
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise NotFoundError(
                f"experiment {name!r} does not exist in store {client.store.uri!r}; "
                "list experiments with `sparktrack experiments list --all`"
            )
        ids.append(experiment.experiment_id)
    return ids


def _clean(value: Any) -> Any:
    return None if is_missing(value) else value


def _duration_seconds(start: Any, end: Any, *, running: bool = False) -> float | None:
    """End minus start; for a running run (``running``), the time elapsed so far."""
    started = as_datetime(start)
    ended = as_datetime(end)
    if ended is None and running:
        ended = datetime.now(UTC)
    if started is None or ended is None:
        return None
    return (ended - started).total_seconds()


def _row(run: Run) -> dict[str, Any]:
    """A run as one flat table row: attributes, then ``metrics.<key>`` and the like.

    Built from the Run, not from a DataFrame row: only the Run tells a logged NaN
    metric (a float NaN here) from one the run never logged (no entry).
    """
    row: dict[str, Any] = dict(run.info.__dict__)
    for kind, values in _data(run).items():
        row.update({f"{kind}.{key}": value for key, value in values.items()})
    return row


def _data(run: Run) -> dict[str, Mapping[str, Any]]:
    return {"metrics": run.data.metrics, "params": run.data.params, "tags": run.data.tags}


def _record(run: Run, keep: Mapping[str, set[str]] | None = None) -> dict[str, Any]:
    """A run as JSON-ready nested data; ``keep`` limits the keys per kind."""
    info = run.info
    record: dict[str, Any] = {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "status": info.status,
        "lifecycle_stage": info.lifecycle_stage,
        "user_id": info.user_id,
        "start_time": iso_time(info.start_time),
        "end_time": iso_time(info.end_time),
        # Scripts get facts: no end time, no duration (tables show time elapsed so far).
        "duration_seconds": _duration_seconds(info.start_time, info.end_time),
        "artifact_uri": info.artifact_uri,
    }
    for kind, values in _data(run).items():
        # A logged NaN stays (echo_json prints it as "NaN", as `runs show --json` does).
        record[kind] = {
            key: value for key, value in sorted(values.items()) if keep is None or key in keep[kind]
        }
    return record


def _cell(row: Mapping[str, Any], column: str) -> Any:
    if column == "duration":
        return format_duration(
            _duration_seconds(
                row.get("start_time"), row.get("end_time"), running=row.get("status") == "RUNNING"
            )
        )
    if column in ("start_time", "end_time"):
        return short_time(row.get(column))
    value = row.get(column)
    if column.startswith("metrics.") and isinstance(value, float):
        # As `runs show` prints it: a logged NaN reads "nan" (format_cell would say "-").
        return f"{value:.6g}"
    return value


def _echo_runs_table(rows: Sequence[Mapping[str, Any]], extra: Sequence[str]) -> None:
    headers = [header for _, header in _BASE_COLUMNS] + [
        c.upper() if c in ATTRIBUTES else c for c in extra
    ]
    columns = [column for column, _ in _BASE_COLUMNS] + list(extra)
    echo_table(
        headers,
        [[_cell(row, column) for column in columns] for row in rows],
        empty="No runs matched.",
    )


def _top_metrics(runs: Sequence[Run], exclude: Iterable[str], limit: int) -> list[str]:
    """The metrics most ``runs`` have (then by name): a table's default columns."""
    skip = set(exclude)
    present = Counter(f"metrics.{key}" for run in runs for key in run.data.metrics)
    metrics = sorted((c for c in present if c not in skip), key=lambda c: (-present[c], c))
    return metrics[: max(limit, 0)]


def _parse_columns(specs: Sequence[str]) -> list[str]:
    """``--columns params.lr,metrics.auc`` (repeatable) to frame column names."""
    columns: list[str] = []
    for spec in specs:
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            prefix, dot, key = part.partition(".")
            key = key.strip("`\"'")
            if dot and prefix in _COLUMN_PREFIXES and key:
                column = _COLUMN_PREFIXES[prefix] + key
            else:
                column = part
            if not column.startswith(("metrics.", "params.", "tags.")) and (
                column not in ATTRIBUTES
            ):
                raise InvalidInputError(
                    f"--columns: {part!r} is not a run column; use metrics.<key>, "
                    f"params.<key>, tags.<key> or one of {', '.join(sorted(ATTRIBUTES))}"
                )
            if column not in columns:
                columns.append(column)
    return columns


def _kept_keys(columns: Sequence[str]) -> dict[str, set[str]]:
    keep: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for column in columns:
        kind, _, key = column.partition(".")
        if kind in keep:
            keep[kind].add(key)
    return keep


# -- commands --------------------------------------------------------------------------
@runs_app.command("list")
@cli_errors
def list_runs(
    ctx: typer.Context,
    experiment: ExperimentOption = None,
    max_results: MaxOption = 50,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first.

    Columns: run id, name, status, start, duration and a few metrics: the ones most
    of the listed runs have (`runs search --columns` picks them).
    """
    client = cli_state(ctx).client()
    runs = client.search_runs(
        experiment_ids=_experiment_ids(client, experiment),
        max_results=max_results,
        order_by=["attributes.start_time DESC"],
        output_format="list",
    )
    if as_json:
        echo_json([_record(run) for run in runs])
        return
    _echo_runs_table([_row(run) for run in runs], _top_metrics(runs, (), DEFAULT_METRIC_COLUMNS))


@runs_app.command("search")
@cli_errors
def search_runs(
    ctx: typer.Context,
    filter_string: Annotated[
        str,
        typer.Argument(
            metavar="FILTER",
            help=(
                "MLflow filter, e.g. \"metrics.auc > 0.9 AND params.model = 'gbt'\" or "
                "\"attributes.status = 'FINISHED'\". Pass '' to match every run."
            ),
            show_default=False,
        ),
    ],
    order_by: Annotated[
        list[str] | None,
        typer.Option(
            "--order-by",
            "-o",
            metavar="CLAUSE",
            help="Sort clause such as 'metrics.auc DESC'; repeat for tie-breakers. "
            "Default: newest first.",
            show_default=False,
        ),
    ] = None,
    experiment: ExperimentOption = None,
    max_results: MaxOption = 50,
    columns: Annotated[
        list[str] | None,
        typer.Option(
            "--columns",
            "-c",
            metavar="COLS",
            help=(
                "Comma-separated extra columns, e.g. params.lr,metrics.auc,tags.team,user_id. "
                "Default: the columns the filter and order use, plus a few metrics. "
                "With --json, limits the metrics/params/tags printed."
            ),
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Search runs with an MLflow filter.

    The filter and --order-by use the MLflow grammar: metrics.<key>, params.<key>,
    tags.<key> and attributes (status, run_name, start_time, ...).
    """
    client = cli_state(ctx).client()
    runs = client.search_runs(
        experiment_ids=_experiment_ids(client, experiment),
        filter_string=filter_string,
        max_results=max_results,
        order_by=order_by or None,
        output_format="list",
    )
    chosen = _parse_columns(columns) if columns else None
    if as_json:
        echo_json([_record(run, _kept_keys(chosen) if chosen else None) for run in runs])
        return
    if chosen is None:
        # The client already accepted both strings, so parsing them again cannot fail.
        order = parse_order_by(order_by or None)
        referenced = [key.ident.column for key in order]
        referenced += sorted(referenced_columns(parse_filter(filter_string), order))
        # datasets.* are lists of a run's inputs, not one value a cell could show.
        shown = (c for c in referenced if c not in _SHOWN and not c.startswith("datasets."))
        chosen = list(dict.fromkeys(shown))
        room = DEFAULT_METRIC_COLUMNS - sum(c.startswith("metrics.") for c in chosen)
        chosen += _top_metrics(runs, chosen, room)
    _echo_runs_table([_row(run) for run in runs], chosen)


@runs_app.command("show")
@cli_errors
def show_run(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The run's id (32 hex digits).")],
    as_json: JsonOption = False,
) -> None:
    """Show one run: info, params, metrics, tags and artifacts.

    Metrics are the latest value per key; tags set by mlflow./sparktrack. are listed
    separately, after the user's tags. Artifacts are the top level of the run's folder.
    """
    client = cli_state(ctx).client()
    run = client.get_run(run_id)
    artifacts = client.list_artifacts(run_id)
    try:
        experiment_name: str | None = client.get_experiment(run.info.experiment_id).name
    except NotFoundError:
        experiment_name = None
    if as_json:
        echo_json(_run_json(run, experiment_name, artifacts))
        return
    _echo_run_text(run, experiment_name, artifacts)


def _split_tags(tags: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    user = {k: v for k, v in sorted(tags.items()) if not k.startswith(SYSTEM_TAG_PREFIXES)}
    system = {k: v for k, v in sorted(tags.items()) if k.startswith(SYSTEM_TAG_PREFIXES)}
    return user, system


def _run_json(run: Run, experiment_name: str | None, artifacts: Sequence[Any]) -> dict[str, Any]:
    info = run.info
    user_tags, system_tags = _split_tags(run.data.tags)
    return {
        "info": {
            "run_id": info.run_id,
            "run_name": _clean(info.run_name),
            "experiment_id": info.experiment_id,
            "experiment_name": experiment_name,
            "status": info.status,
            "lifecycle_stage": info.lifecycle_stage,
            "user_id": _clean(info.user_id),
            "parent_run_id": _clean(info.parent_run_id),
            "start_time": iso_time(info.start_time),
            "end_time": iso_time(info.end_time),
            "duration_seconds": _duration_seconds(info.start_time, info.end_time),
            "artifact_uri": info.artifact_uri,
        },
        "params": dict(sorted(run.data.params.items())),
        "metrics": dict(sorted(run.data.metrics.items())),
        "tags": user_tags,
        "system_tags": system_tags,
        "artifacts": [
            {"path": a.path, "is_dir": a.is_dir, "file_size": a.file_size} for a in artifacts
        ],
    }


# A param holds up to 6,000 characters and a tag 8,000, on many lines: the text view
# shows the start of the first line; --json shows every value whole.
MAX_SHOWN_CHARACTERS = 120


def _abridged(text: str) -> str:
    lines = text.splitlines() or [""]
    if len(lines) == 1 and len(text) <= MAX_SHOWN_CHARACTERS:
        return text
    shown = lines[0][:MAX_SHOWN_CHARACTERS].rstrip()
    size = f"{len(text):,} characters" + (f" on {len(lines)} lines" if len(lines) > 1 else "")
    return f"{shown} ... [{size}; --json shows all]"


def _section(title: str, pairs: Mapping[str, Any], empty: str = "(none)") -> list[str]:
    lines = ["", title]
    if not pairs:
        return [*lines, f"  {empty}"]
    width = max(len(key) for key in pairs)
    return lines + [
        f"  {key.ljust(width)}  {_abridged(format_cell(value))}" for key, value in pairs.items()
    ]


def _echo_run_text(run: Run, experiment_name: str | None, artifacts: Sequence[Any]) -> None:
    info = run.info
    running = info.status == "RUNNING"
    experiment = (
        f"{experiment_name} (id {info.experiment_id})" if experiment_name else (info.experiment_id)
    )
    overview = {
        "name": _clean(info.run_name),
        "experiment": experiment,
        "status": info.status,
        "lifecycle": info.lifecycle_stage,
        "user": _clean(info.user_id),
        "parent run": _clean(info.parent_run_id),
        "start": short_time(info.start_time),
        "end": short_time(info.end_time),
        "duration": format_duration(
            _duration_seconds(info.start_time, info.end_time, running=running)
        )
        + (" (running)" if running else ""),
        "artifact uri": info.artifact_uri,
    }
    user_tags, system_tags = _split_tags(run.data.tags)
    lines = [f"Run {info.run_id}"]
    lines += [f"  {key.ljust(12)}  {format_cell(value)}" for key, value in overview.items()]
    lines += _section("Params", dict(sorted(run.data.params.items())))
    # Formatted here: a logged NaN is a value ("nan"), while format_cell reads NaN as absent.
    metrics = {key: f"{value:.6g}" for key, value in sorted(run.data.metrics.items())}
    lines += _section("Metrics (latest)", metrics)
    lines += _section("Tags", user_tags)
    if system_tags:
        lines += _section("System tags", system_tags)
    lines += ["", "Artifacts"]
    if artifacts:
        table = render_table(
            ["PATH", "SIZE"],
            [[a.path + ("/" if a.is_dir else ""), format_size(a.file_size)] for a in artifacts],
        )
        lines += ["  " + line for line in table.splitlines()]
    else:
        lines.append("  (none)")
    typer.echo("\n".join(lines))
