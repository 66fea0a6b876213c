"""``sparktrack.monitor``: new data against a model's baseline, as monitoring runs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from sparktrack.config import load_settings
from sparktrack.errors import InvalidInputError
from sparktrack.models import load_model
from sparktrack.monitoring._baseline import read_profile
from sparktrack.monitoring._columns import model_columns
from sparktrack.monitoring._compare import compare_column, compare_metrics
from sparktrack.monitoring._pass import ObservedWindow, observe
from sparktrack.monitoring._profile import profile_frame, summarised_columns
from sparktrack.monitoring._profile_format import ColumnProfile, Profile
from sparktrack.monitoring._report import html_report
from sparktrack.monitoring._scoring_log import default_timestamp_col, scored_by
from sparktrack.monitoring._thresholds import Status, resolve_thresholds, worst
from sparktrack.registry import RegistryClient
from sparktrack.tracking import RunStatus, TrackingClient, get_client

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["MonitorResult", "monitor"]

_UNSAFE_KEY = re.compile(r"[^\w.\-/ :]")


@dataclass
class MonitorResult:
    """What a monitoring pass found.

    Attributes:
        status: The worst status of every column and metric of every window.
        columns: One row per (window, column): ``psi``, ``js``, ``ks``, ``chi2``,
            ``chi2_p``, missing rates, ``null_delta``, ``unseen``, ``status`` and
            ``reasons``.
        decay: One row per (window, metric): ``training``, ``current``, ``decay``,
            ``status`` (empty without labels).
        run_ids: The monitoring run of each window, in time order.
        reports: Each window's JSON report (``drift_report.json``).
    """

    status: Status
    columns: pd.DataFrame
    decay: pd.DataFrame
    run_ids: list[str] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)

    @property
    def run_id(self) -> str | None:
        """The latest window's monitoring run (the only one without a time window)."""
        return self.run_ids[-1] if self.run_ids else None

    def alerts(self) -> pd.DataFrame:
        """The rows of ``columns`` whose status is ALERT.

        Returns:
            Those rows.
        """
        return self.columns[self.columns["status"] == "ALERT"]


def _baseline(
    model: Any,
    model_uri: str,
    reference: DataFrame | Profile | None,
    feature_names: list[str] | None,
    label_col: str | None,
    client: TrackingClient | None,
) -> Profile:
    if isinstance(reference, Profile):
        return reference
    if reference is None:
        return read_profile(model_uri, client)
    label = label_col if label_col is not None and label_col in reference.columns else None
    return profile_frame(model, reference, feature_names=feature_names, label_col=label)


def _model_tags(model_uri: str, client: TrackingClient) -> dict[str, str]:
    tags = {"sparktrack.monitor.model": model_uri}
    if model_uri.startswith("models:/"):
        version = RegistryClient(client).resolve(model_uri)
        tags["sparktrack.monitor.model"] = model_uri[len("models:/") :].split("/")[0].split("@")[0]
        tags["sparktrack.monitor.version"] = str(version.version)
    return tags


def _metric_key(prefix: str, name: str) -> str:
    return prefix + _UNSAFE_KEY.sub("_", name)


def _log_window(
    client: TrackingClient,
    experiment_id: str,
    tags: dict[str, str],
    report: dict[str, Any],
    page: str,
) -> str:
    run = client.create_run(
        experiment_id,
        run_name=f"monitor {report['window']}",
        tags={
            **tags,
            "sparktrack.monitor.window": report["window"],
            "sparktrack.monitor.status": report["status"],
        },
    )
    run_id = run.info.run_id
    metrics: dict[str, float] = {}
    for row in report["columns"]:
        name = row["column"]
        if row["role"] == "prediction":
            for stat in ("psi", "js", "ks"):
                if row[stat] is not None:
                    metrics[f"drift.prediction.{stat}"] = row[stat]
            continue
        for stat, prefix in (("psi", "drift.psi."), ("js", "drift.js."), ("ks", "drift.ks.")):
            if row[stat] is not None:
                metrics[_metric_key(prefix, name)] = row[stat]
        if row["chi2_p"] is not None:
            metrics[_metric_key("drift.chi2_p.", name)] = row["chi2_p"]
        metrics[_metric_key("drift.null_delta.", name)] = row["null_delta"]
        if row["unseen"] is not None:
            metrics[_metric_key("drift.unseen.", name)] = row["unseen"]
    for decay in report["decay"]:
        metrics[_metric_key("decay.", decay["metric"])] = decay["decay"]
        metrics[_metric_key("current.", decay["metric"])] = decay["current"]
    client.log_metrics(run_id, metrics)
    client.log_dict(run_id, report, "drift_report.json")
    client.log_text(run_id, page, "drift_report.html")
    client.set_terminated(run_id, RunStatus.FINISHED)
    return run_id


def _window_report(
    model_uri: str,
    profile: Profile,
    window: ObservedWindow,
    baselines: dict[str, ColumnProfile],
    roles: dict[str, str],
    thresholds: Mapping[str, Any] | None,
) -> dict[str, Any]:
    overall, per_column = resolve_thresholds(thresholds)
    rows = [
        compare_column(
            name,
            roles[name],
            baseline,
            window.columns[name],
            profile.quantile_probabilities,
            {**overall, **per_column.get(name, {})},
        )
        for name, baseline in baselines.items()
    ]
    decay = compare_metrics(profile.metrics, window.metrics, overall["decay"])
    status = worst([r["status"] for r in rows] + [d["status"] for d in decay])
    first = next(iter(window.columns.values()), None)
    return {
        "model_uri": model_uri,
        "window": window.label,
        "window_start": window.start,
        "window_end": window.end,
        "rows": first.count if first is not None else 0,
        "status": status,
        "columns": rows,
        "decay": decay,
        "training_metrics": profile.metrics,
        "metrics": window.metrics,
        "skipped": profile.skipped,
        "thresholds": {k: list(v) for k, v in overall.items()},
    }


def monitor(
    model_uri: str,
    df: DataFrame,
    *,
    label_col: str | None = None,
    reference: DataFrame | Profile | None = None,
    timestamp_col: str | None = None,
    window: str | None = None,
    thresholds: Mapping[str, Any] | None = None,
    experiment_name: str | None = None,
    client: TrackingClient | None = None,
) -> MonitorResult:
    """Compare new data with a model's baseline: data drift, prediction drift, decay.

        result = sparktrack.monitor("models:/churn/Production", scored_df, label_col="churned")
        result.status            # "OK", "WARN" or "ALERT"
        result.columns           # the drift table (pandas)

    The model scores ``df`` and one Spark pass counts it in the baseline's bins: per
    input column PSI, Jensen-Shannon distance, KS (numeric) or chi-squared
    (categorical), the change in missing values and the share of unseen categories;
    the same for the predictions; with labels, the model's metrics against training.
    Each window is logged as a run of the monitoring experiment with metrics
    ``drift.psi.<column>``, ``drift.prediction.psi``, ``decay.<metric>``, ..., tags
    ``sparktrack.monitor.*`` and ``drift_report.json`` / ``drift_report.html``.

    Args:
        model_uri: The model: ``models:/<name>/<version|stage>``, ``models:/<name>@<alias>``,
            ``runs:/<run_id>/<path>``, or a folder.
        df: The new data (Spark), with the model's input columns; or a scoring log
            (``read_scoring_log``), whose rows of the model's version are used (for a
            ``models:/`` URI) and whose ``sparktrack_*`` columns are no features.
        label_col: The column of true outcomes in ``df``, for performance decay.
        reference: The baseline instead of the model's ``profile.json``: a DataFrame
            (profiled now) or a ``Profile``.
        timestamp_col: A timestamp column of ``df``: the pass is made per time window.
            With ``window`` and a scoring log, ``sparktrack_scored_at`` by default.
        window: The windows' length: ``1d`` (default with ``timestamp_col``), ``6h``,
            ``30m``, ``1w``, ``2 days``...
        thresholds: Overrides of ``DEFAULT_THRESHOLDS``: ``{"psi": (warn, alert)}``,
            or per column ``{"age": {"ks": (0.2, 0.3)}}``.
        experiment_name: The experiment of the runs; default the
            ``monitoring_experiment`` setting (``monitoring``).
        client: The store; by default the fluent API's.

    Returns:
        The statuses, the drift and decay tables, the runs logged.

    Raises:
        NotFoundError: No model at ``model_uri``, or it has no profile and no
            ``reference`` was given (the message says how to make one).
        InvalidInputError: ``label_col`` or ``timestamp_col`` is not in ``df``, ``df``
            lacks an input column of the baseline, a threshold or the window is invalid.
    """
    timestamp_col = default_timestamp_col(df, timestamp_col, window)
    if window is not None and timestamp_col is None:
        raise InvalidInputError(
            f"window={window!r} needs timestamp_col=: the column whose time places each row"
        )
    if timestamp_col is not None and timestamp_col not in df.columns:
        raise InvalidInputError(
            f"timestamp column {timestamp_col!r} is not in the data, whose columns are "
            f"{sorted(df.columns)}"
        )
    if label_col is not None and label_col not in df.columns:
        raise InvalidInputError(
            f"label column {label_col!r} is not in the data, whose columns are "
            f"{sorted(df.columns)}; pass label_col= one of them, or leave it out"
        )
    resolve_thresholds(thresholds)  # bad thresholds fail before any Spark job
    client = client if client is not None else get_client()
    loaded = load_model(model_uri, client=client)
    signature = loaded.signature
    names = signature.input_names if signature is not None else None
    profile = _baseline(loaded.spark_model, model_uri, reference, names, label_col, client)
    tags = _model_tags(model_uri, client)
    version = tags.get("sparktrack.monitor.version")
    df = scored_by(
        df,
        loaded.spark_model,
        tags["sparktrack.monitor.model"] if version is not None else None,
        int(version) if version is not None else None,
        timestamp_col,
    )
    missing = [c for c in profile.features if c not in df.columns]
    if missing:
        raise InvalidInputError(
            f"the data lacks the model's input columns {missing}; it has {sorted(df.columns)}"
        )
    scored = loaded.spark_model.transform(df)
    columns = model_columns(
        loaded.spark_model,
        scored,
        list(profile.features),
        label_col if profile.label is not None or profile.metrics else None,
        exclude=(timestamp_col,) if timestamp_col else (),
    )
    baselines = {**profile.features, profile.prediction_column: profile.prediction}
    roles = {name: "feature" for name in profile.features}
    roles[profile.prediction_column] = "prediction"
    windows = observe(
        scored,
        profile,
        columns,
        {n: b for n, b in baselines.items() if n in summarised_columns(columns)},
        timestamp_col=timestamp_col,
        window=window,
    )
    settings = load_settings()
    experiment = client.get_or_create_experiment(experiment_name or settings.monitoring_experiment)
    reports, run_ids = [], []
    for observed in windows:
        report = _window_report(model_uri, profile, observed, baselines, roles, thresholds)
        page = html_report(report, baselines, observed.columns)
        run_ids.append(_log_window(client, experiment.experiment_id, tags, report, page))
        reports.append(report)
    column_rows = [{"window": r["window"], **row} for r in reports for row in r["columns"]]
    decay_rows = [{"window": r["window"], **row} for r in reports for row in r["decay"]]
    return MonitorResult(
        status=worst([r["status"] for r in reports]),
        columns=pd.DataFrame(column_rows),
        decay=pd.DataFrame(
            decay_rows, columns=["window", "metric", "training", "current", "decay", "status"]
        ),
        run_ids=run_ids,
        reports=reports,
    )
