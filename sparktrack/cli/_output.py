"""Rendering shared by the commands: plain-text tables, JSON, times, durations, errors.

No rich, no colours: output must stay readable when piped, logged or read in a CI log.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import typer

__all__ = [
    "as_datetime",
    "echo_error",
    "echo_json",
    "echo_table",
    "format_cell",
    "format_duration",
    "format_size",
    "is_missing",
    "iso_time",
    "jsonable",
    "render_table",
    "short_time",
]

# Cells wider than this are cut, except in the last column, which may run on: long
# artifact URIs stay whole and a narrow terminal is not pushed into wrapping rows.
MAX_CELL_WIDTH = 40
_EMPTY = "-"


def is_missing(value: Any) -> bool:
    """None, NaN, NaT and pandas' NA: what pandas hands back for "no value"."""
    if value is None:
        return True
    try:
        missing = value != value  # NaN, NaT and NA are the values unequal to themselves
        return bool(missing)
    except (TypeError, ValueError):  # NA's comparison raises when coerced to bool
        return True


def as_datetime(value: Any) -> datetime | None:
    """A UTC datetime from epoch milliseconds (MLflow's unit), a Timestamp or a datetime."""
    if is_missing(value):
        return None
    if isinstance(value, datetime):  # pandas.Timestamp is a datetime subclass
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def iso_time(value: Any) -> str | None:
    """ISO-8601 in UTC with milliseconds, e.g. ``2024-05-01T12:00:03.120Z`` (JSON output)."""
    moment = as_datetime(value)
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def short_time(value: Any) -> str:
    """Seconds precision for tables; still ISO-8601 so it sorts and parses."""
    moment = as_datetime(value)
    return _EMPTY if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_duration(seconds: float | None) -> str:
    """``850ms``, ``12.4s``, ``3m04s``, ``2h05m``, ``3d04h``."""
    if seconds is None or is_missing(seconds) or seconds < 0:
        return _EMPTY
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def format_size(size: int | None) -> str:
    if size is None:
        return _EMPTY
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{int(amount)} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def format_cell(value: Any) -> str:
    """One table cell: floats to 6 significant digits, missing values as ``-``."""
    if isinstance(value, bool):
        return str(value).lower()
    if is_missing(value):
        return _EMPTY
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime):
        return short_time(value)
    return str(value)


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())  # a newline inside a cell would break the row
    return text if len(text) <= width else text[: width - 3] + "..."


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    max_width: int = MAX_CELL_WIDTH,
) -> str:
    """Left-aligned columns separated by two spaces, with a dashed rule under the header."""
    last = len(headers) - 1
    cells = [
        [_cut(format_cell(value), max_width if i < last else 10**6) for i, value in enumerate(row)]
        for row in rows
    ]
    widths = [
        max([len(header), *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, empty: str) -> None:
    """Print a table, or ``empty`` (a sentence) when there are no rows."""
    if not rows:
        typer.echo(empty)
        return
    typer.echo(render_table(headers, rows))


def jsonable(value: Any) -> Any:
    """Plain JSON types, recursively.

    Times become ISO-8601 strings. NaN and infinities become the strings ``"NaN"``,
    ``"Infinity"`` and ``"-Infinity"`` (the protobuf JSON convention): bare NaN is not
    JSON, and strict parsers such as ``jq`` reject it.
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return iso_time(value)
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if value is None or isinstance(value, str | int | bool):
        return value
    if is_missing(value):
        return None
    return str(value)


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(jsonable(data), indent=2, allow_nan=False))


def echo_error(message: str) -> None:
    """The one way failures are reported: ``error: <message>`` on stderr, no traceback."""
    typer.echo(f"error: {message}", err=True)
