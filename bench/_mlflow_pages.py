"""MLflow 3.17's run page, metric chart and compared curves, as the browser rows open them.

Each page is an address after the server's root (the UI's hash routes) and the CSS
selector of what the page is for once it is drawn, for ``ui_latency``'s in-page marks.
Every selector matches only after the data behind it has arrived: while MLflow loads, it
shows skeletons, empty chart cards and plotly frames without traces, which none of them
match.

All addresses carry ``workflowType=machine_learning``: the sidebar's "Model training"
mode, which MLflow reads from the address before its saved choice (a fresh browser has
none and would open in its GenAI mode, with a different sidebar and its extra calls).
"""

from __future__ import annotations

import json
import urllib.parse

__all__ = ["mlflow_page_addresses"]

MODE = "workflowType=machine_learning"
# What a chart card of MLflow's charts is called (the run page's "Model metrics" tab and
# the metric page use the same cards); its <h4 title> is the metric's key.
CHART_CARD = "[data-testid=experiment-view-compare-runs-card]"
# A plotly line with at least one segment ("M x,y L x,y ..."): plotly adds the trace's
# path only when it draws the trace's points, never for an empty or pending series.
DRAWN_LINE = "path.js-line[d*='L']"
# The params table's column headers (MLflow's own component id, fixed per release).
PARAMS_HEADER = "[data-component-id$='runviewparamstable.tsx_244']"


def _css_string(text: str) -> str:
    """``text`` as a double-quoted CSS string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _js_json(value: object) -> str:
    """``JSON.stringify(value)``: what MLflow puts in its addresses (no spaces)."""
    return json.dumps(value, separators=(",", ":"))


def _encode_uri_component(text: str) -> str:
    """JavaScript's ``encodeURIComponent``."""
    return urllib.parse.quote(text, safe="!~*'()")


def run_overview_page(experiment_id: str, run: str) -> tuple[str, str]:
    """The run page's Overview tab, until a row of its params table shows.

    The run, its params included, arrives in one GraphQL call (``GetRun``); until then the
    page is a skeleton, and the params table (found by its column headers) gets rows only
    from that answer. A row, not the header: the header is the same for every run.
    """
    address = f"#/experiments/{experiment_id}/runs/{run}?{MODE}"
    drawn = f"[role=table]:has({PARAMS_HEADER}) [role=row]:not(.table-isHeader) [role=cell]"
    return address, drawn


def model_metrics_page(experiment_id: str, run: str, key: str) -> tuple[str, str]:
    """The run page's "Model metrics" tab, until the chart of ``key`` has its line drawn.

    This is where MLflow 3.17 shows one run's curve: the metric names on the run page
    link here (the older metric page, ``#/metric``, is where the compare page's metric
    names lead). The tab draws one card per metric; each card asks the server for a sample of
    its whole history (``get-history-bulk-interval``, 320 points, first to last step)
    when it scrolls into view, shows an empty frame until the answer, then draws. The
    cards are in key order, so a key sorting before ``m0`` (as ``curve`` does) is in the
    first row, in view.
    """
    address = f"#/experiments/{experiment_id}/runs/{run}/model-metrics?{MODE}"
    drawn = f"{CHART_CARD}:has(h4[title={_css_string(key)}]) .scatterlayer .trace {DRAWN_LINE}"
    return address, drawn


def metric_page(runs: list[str], experiment_ids: list[str], key: str) -> tuple[str, str]:
    """The metric page of ``key`` for ``runs``, until all their curves are drawn.

    MLflow's compare page (``#/compare-runs``) draws no curves: parallel coordinates and
    tables of params and metrics. Its metrics table links each key to this page, at this
    address, which overlays that metric's curves of the compared runs. It fetches each
    run (``runs/get``), a sample of all their histories of the key in one call
    (``get-history-bulk-interval``, at most 320 points a run) and each run's full history
    (``get-history``, 25,000 points a page); it draws every curve at once when the
    sample is in, and redraws as full histories arrive. Each run gets two traces, its
    line and, after it, a faint copy of it (stroke opacity 0.15), so the
    ``2 * len(runs) - 1``-th trace is the last run's line.
    """
    address = (
        f"#/metric?runs={_js_json(runs)}"
        f"&metric={_encode_uri_component(_js_json(key))}"
        f"&experiments={_js_json(experiment_ids)}"
        f"&plot_metric_keys={_encode_uri_component(_js_json([key]))}"
        "&plot_layout={}&x_axis=step&y_axis_scale=linear&line_smoothness=1"
        "&show_point=false&deselected_curves=[]&last_linear_y_axis_range=[]"
        f"&{MODE}"
    )
    drawn = (
        f"{CHART_CARD}:has(h4[title={_css_string(key)}]) "
        f".scatterlayer .trace:nth-child({2 * len(runs) - 1}) {DRAWN_LINE}"
    )
    return address, drawn


def mlflow_page_addresses(
    experiment_id: str,
    run_page: str,
    chart_run: str,
    compare_runs: list[str],
    compare_experiment_ids: list[str],
    chart_key: str = "curve",
    compare_key: str = "m0",
) -> dict[str, tuple[str, str]]:
    """MLflow's "run", "chart" and "compare" pages: page -> (address after the server's
    root, CSS selector of what shows once drawn).

    ``experiment_id`` holds both ``run_page`` and ``chart_run`` (the run page's address
    names it); ``compare_experiment_ids`` are the experiments of ``compare_runs``, as
    MLflow's compare page passes them on.
    """
    return {
        "run": run_overview_page(experiment_id, run_page),
        "chart": model_metrics_page(experiment_id, chart_run, chart_key),
        "compare": metric_page(compare_runs, compare_experiment_ids, compare_key),
    }
