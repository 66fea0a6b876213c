"""The monitoring reports: ``drift_report.json`` and a self-contained ``drift_report.html``.

The HTML page needs nothing but itself: inline CSS, each column's baseline and new
distributions drawn as inline SVG bars, no scripts, no fonts or styles fetched.
"""

from __future__ import annotations

import html
import math
from typing import Any

from sparktrack.monitoring._profile_format import ColumnProfile

__all__ = ["html_report"]

_COLORS = {"OK": "#2e7d32", "WARN": "#ef6c00", "ALERT": "#c62828"}
_BASELINE, _CURRENT = "#90a4ae", "#1e88e5"


def _number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return html.escape(str(value))


def _bars(baseline: ColumnProfile, current: ColumnProfile) -> str:
    """Both distributions as proportions per bin, side by side, in one SVG."""
    labels = baseline.bin_labels()
    expected, actual = baseline.histogram(), current.histogram()
    total_e, total_a = sum(expected) or 1, sum(actual) or 1
    shares = [(e / total_e, a / total_a) for e, a in zip(expected, actual, strict=True)]
    top = max((max(pair) for pair in shares), default=0) or 1
    width, height, slot = 28, 120, 34
    parts = []
    for i, ((e, a), label) in enumerate(zip(shares, labels, strict=True)):
        x = i * slot
        for offset, share, color in ((0, e, _BASELINE), (width / 2, a, _CURRENT)):
            bar = height * share / top
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{height - bar:.1f}" width="{width / 2:.1f}" '
                f'height="{bar:.1f}" fill="{color}"><title>{html.escape(label)}: '
                f"{share:.1%}</title></rect>"
            )
    svg_width = max(len(shares) * slot, 60)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{svg_width}" height="{height + 2}" '
        f'role="img">{"".join(parts)}</svg>'
    )


_STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;"
    "text-align:right}td:first-child,th:first-child{text-align:left}"
    ".status{font-weight:bold;color:#fff;padding:1px 6px;border-radius:3px}"
    ".col{display:inline-block;margin:0 2em 2em 0;vertical-align:top}"
    ".key span{display:inline-block;width:1em;height:1em;margin:0 4px 0 12px}"
)


def _status(status: str) -> str:
    return f'<span class="status" style="background:{_COLORS[status]}">{status}</span>'


def html_report(
    report: dict[str, Any],
    baselines: dict[str, ColumnProfile],
    observed: dict[str, ColumnProfile],
) -> str:
    """One window's report as an HTML page.

    Args:
        report: The window's JSON report (``drift_report.json``).
        baselines: The baseline's profile of each column.
        observed: The same columns in the new data.
    """
    stats = ("psi", "js", "ks", "chi2_p", "null_delta", "unseen")
    head = "".join(f"<th>{s}</th>" for s in ("column", "role", "kind", *stats, "status", "why"))
    rows = []
    for row in report["columns"]:
        cells = [row["column"], row["role"], row["kind"]]
        rows.append(
            "<tr>"
            + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
            + "".join(f"<td>{_number(row[s])}</td>" for s in stats)
            + f"<td>{_status(row['status'])}</td><td>{html.escape(row['reasons'])}</td></tr>"
        )
    decay = ""
    if report["decay"]:
        decay_rows = "".join(
            f"<tr><td>{html.escape(d['metric'])}</td><td>{_number(d['training'])}</td>"
            f"<td>{_number(d['current'])}</td><td>{_number(d['decay'])}</td>"
            f"<td>{_status(d['status'])}</td></tr>"
            for d in report["decay"]
        )
        decay = (
            "<h2>Model metrics (performance decay)</h2><table><tr><th>metric</th>"
            "<th>training</th><th>now</th><th>decay</th><th>status</th></tr>"
            f"{decay_rows}</table>"
        )
    charts = "".join(
        f'<div class="col"><h3>{html.escape(name)}</h3>{_bars(baselines[name], observed[name])}'
        "</div>"
        for name in baselines
    )
    title = f"Drift report: {report['model_uri']}"
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>Window {html.escape(report['window'])}: {report['rows']} rows. "
        f"Overall {_status(report['status'])}</p>"
        f"<h2>Drift per column</h2><table><tr>{head}</tr>{''.join(rows)}</table>{decay}"
        "<h2>Distributions</h2>"
        f'<p class="key"><span style="background:{_BASELINE}"></span>baseline'
        f'<span style="background:{_CURRENT}"></span>new data (share of rows per bin)</p>'
        f"{charts}</body></html>"
    )
